"""`python -m proctor.agent.execute ...`: run one claimed flow run, in the process the agent made.

    python -m proctor.agent.execute --flow-run-id ID --entrypoint file.py:flow \\
        --parameters '{"n": 5}' --api-url http://127.0.0.1:4200

The flow is loaded with the CLI's loader (relative paths resolve against this process's working
directory, which the agent sets to its own) and run with `flow_run_id=ID` and `api_url=URL`, so
the engine records into the run the server already has rather than a new one.

When the flow cannot even start (its file is gone, does not import, its parameters are refused)
the run is reported FAILED here with the reason, since no engine ran to report it.

A run never outlives its agent: this process lives in a session of its own (so a Ctrl-C meant
for the agent does not reach it), hence a watchdog thread checks that the agent is still its
parent and, once it is not (the agent was killed), kills this process group. The server's reaper
then reports the run CRASHED when the agent's heartbeats stop, and no half-orphaned run goes on
writing states the server has already given up on.

Exit codes: 0 the run succeeded, 1 it did not, 2 it could not start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_NOT_STARTED = 0, 1, 2


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m proctor.agent.execute",
                                     description="Run one flow run claimed by an agent.")
    parser.add_argument("--flow-run-id", required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--parameters", default="{}")
    parser.add_argument("--api-url", required=True)
    return parser.parse_args(argv)


def report_not_started(api_url: str, flow_run_id: str, message: str) -> None:
    """Mark the run FAILED with `message`; a server that cannot be told is only printed to."""
    from ..client import ProctorClient
    from ..core.errors import ProctorError

    print(f"flow run {flow_run_id} could not start: {message}", file=sys.stderr)
    try:
        with ProctorClient(api_url) as client:
            client.set_flow_run_state(
                flow_run_id, {"type": "FAILED", "message": message[:20_000]}, force=True
            )
    except ProctorError as exc:
        print(f"could not report it to {api_url}: {exc}", file=sys.stderr)


def run(flow_run_id: str, entrypoint: str, parameters: dict[str, Any], api_url: str) -> int:
    """Load and run the flow; the exit code of this process."""
    from ..cli.loader import load_flow
    from ..core.errors import ProctorError
    from ..flows import Flow

    try:
        flow = load_flow(entrypoint).flow
    except ProctorError as exc:
        report_not_started(api_url, flow_run_id, f"cannot load {entrypoint}: {exc}")
        return EXIT_NOT_STARTED
    try:
        if isinstance(flow, Flow):
            # A deployment's schedule lives on the server: one run here, never a loop.
            state = flow.run(parameters=parameters, api_url=api_url, flow_run_id=flow_run_id,
                             run_on_schedule=False)
        else:
            state = flow.run_with(parameters, api_url=api_url, flow_run_id=flow_run_id)
    except ProctorError as exc:  # refused before the engine started (parameters, executor)
        report_not_started(api_url, flow_run_id, f"{type(exc).__name__}: {exc}")
        return EXIT_NOT_STARTED
    return EXIT_OK if state.is_successful() else EXIT_FAILED


def watch_parent(interval: float = 0.5) -> None:
    """Kill this process group when the parent that started it is gone (POSIX only)."""
    if not hasattr(os, "killpg"):
        return
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        print("the agent that started this flow run is gone: stopping", file=sys.stderr)
        if os.getpgrp() == os.getpid():  # our own group (the agent made it): workers too
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="proctor-agent-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    watch_parent()
    try:
        parameters = json.loads(args.parameters)
    except ValueError as exc:
        report_not_started(args.api_url, args.flow_run_id, f"--parameters is not JSON: {exc}")
        return EXIT_NOT_STARTED
    if not isinstance(parameters, dict):
        report_not_started(args.api_url, args.flow_run_id, "--parameters must be a JSON object")
        return EXIT_NOT_STARTED
    return run(args.flow_run_id, args.entrypoint, parameters, args.api_url)


if __name__ == "__main__":
    sys.exit(main())
