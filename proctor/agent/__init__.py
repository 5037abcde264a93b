"""Agents: processes that take due runs from a work queue of the server and run them.

    proctor agent start --queue default --limit 4

An agent claims runs (the server moves each to PENDING and marks it as this agent's, so two
agents never run the same one), starts each in a fresh `python -m proctor.agent.execute`
process, heartbeats so the server knows its runs are alive, stops runs whose cancellation was
requested, and reports what a run's own process could not: CRASHED when it died, CANCELLED when
it was stopped. The agent process itself never imports user code. Details in `agent.py`.
"""

from .agent import Agent, AgentSettings, Tick

__all__ = ["Agent", "AgentSettings", "Tick"]
