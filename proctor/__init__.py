"""Proctor: write tasks, wire them into flows, run them anywhere, and watch every state.

    from proctor import task, Flow

    @task
    def push():
        return {"Firstname": "Hello", "Name": "World"}

    @task
    def pull(value):
        print("Received value:", value)

    with Flow("XCom demo") as flow:
        pull(push())

    flow.run()
"""

from .core.apply_map import apply_map
from .core.bindings import mapped, unmapped
from .core.context import get_run_context
from .core.context_values import context
from .core.control_flow import case, ifelse, merge, switch
from .core.errors import ProctorError
from .core.flatten import flatten
from .core.graph import DateTimeParameter, Parameter
from .core.imperative import Edge
from .core.resources import resource_manager
from .core.states import State, StateType
from .core.tags import tags
from .core.task import Task, task
from .engine.dynamic import TaskFuture
from .engine.logs import get_run_logger
from .flows import Flow, FlowFunction, flow

__version__ = "0.1.0"

__all__ = [
    "task",
    "Task",
    "flow",
    "Flow",
    "FlowFunction",
    "Parameter",
    "DateTimeParameter",
    "unmapped",
    "mapped",
    "flatten",
    "apply_map",
    "context",
    "tags",
    "resource_manager",
    "Edge",
    "case",
    "switch",
    "ifelse",
    "merge",
    "get_run_logger",
    "get_run_context",
    "State",
    "StateType",
    "TaskFuture",
    "ProctorError",
    "__version__",
]
