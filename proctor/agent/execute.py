"""`python -m proctor.agent.execute ...`: run one claimed flow run, in the process the agent made.

    python -m proctor.agent.execute --flow-run-id ID --entrypoint /abs/file.py:flow \\
        --parameters-file RUN_DIR/parameters.json --result-file RUN_DIR/result.json \\
        --api-url http://127.0.0.1:4200

The flow is loaded with the CLI's loader (the agent has already resolved the entrypoint and
checked it against its code roots; this process runs in the deployment's working directory) and
run with `flow_run_id=ID` and `api_url=URL`, so the engine records into the run the server
already has rather than a new one.

Parameters come in a file (or on stdin with `--parameters-file -`), never on the command line:
a command line is limited in size and shown by `ps` to every user of the machine. The agent
writes the file in a folder only its user can read, and this process deletes it once read.

The run's final state is also written to `--result-file` (type and message, as JSON) the moment
it is known: if the server cannot be told (it is down), the agent still learns the truth from
the file instead of guessing from the exit code. And this process keeps trying to deliver its
events for as long as its agent lets it (no flush timeout), so a server that comes back late
still gets the true end of the run.

Stopping: SIGTERM (what the agent sends to cancel, or when it stops) and SIGINT/SIGHUP end the
run CANCELLED, with the reason the agent wrote in `stop-reason` beside the result file.

A run never outlives its agent: this process lives in a session of its own (so a Ctrl-C meant
for the agent does not reach it), hence a watchdog thread checks that the agent is still its
parent and, once it is not (the agent was killed), kills this process group. The server's reaper
then reports the run CRASHED when the agent's heartbeats stop, and no half-orphaned run goes on
writing states the server has already given up on.

Exit codes: 0 the run succeeded, 1 it did not, 2 it could not start, 130 it was stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_NOT_STARTED, EXIT_STOPPED = 0, 1, 2, 130
#: Beside the result file: why the agent stopped the run (written before its SIGTERM).
STOP_REASON_FILE = "stop-reason"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m proctor.agent.execute",
                                     description="Run one flow run claimed by an agent.")
    parser.add_argument("--flow-run-id", required=True)
    parser.add_argument("--entrypoint", required=True)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--parameters-file", default=None,
                        help="a JSON object of parameters; '-' reads it from stdin")
    source.add_argument("--parameters", default=None, help="(small) parameters as JSON")
    parser.add_argument("--result-file", default=None)
    parser.add_argument("--scheduled-start", type=float, default=None,
                        help="when the server scheduled the run (epoch seconds)")
    parser.add_argument("--api-url", required=True)
    return parser.parse_args(argv)


def write_result(path: str | None, state_type: str, message: str) -> None:
    """Write the run's final state where the agent reads it (atomically)."""
    if not path:
        return
    target = Path(path)
    temporary = target.with_suffix(".tmp")
    try:
        temporary.write_text(json.dumps({"type": state_type, "message": message[:20_000]}),
                             encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        print(f"could not write the run's result to {target}: {exc}", file=sys.stderr)


def report_not_started(
    api_url: str, flow_run_id: str, message: str, result_file: str | None = None
) -> None:
    """Mark the run FAILED with `message`; a server that cannot be told is only printed to (the
    agent reports it from the result file)."""
    from ..client import ProctorClient
    from ..core.errors import ProctorError

    print(f"flow run {flow_run_id} could not start: {message}", file=sys.stderr)
    write_result(result_file, "FAILED", message)
    try:
        with ProctorClient(api_url) as client:
            client.set_flow_run_state(flow_run_id, {"type": "FAILED", "message": message[:20_000]})
    except ProctorError as exc:
        print(f"could not report it to {api_url}: {exc}", file=sys.stderr)


def result_writer(path: str | None) -> Any:
    """An engine observer that writes the flow run's final (or paused) state to `path`."""
    from ..engine.observers import RunObserver

    class ResultWriter(RunObserver):
        def flow_run_transition(self, flow_run: Any, old: Any, new: Any) -> None:
            if new.is_finished() or new.is_paused():
                write_result(path, new.type.value, new.message or "")

    return ResultWriter()


def run(
    flow_run_id: str,
    entrypoint: str,
    parameters: dict[str, Any],
    api_url: str,
    result_file: str | None = None,
    scheduled_start: float | None = None,
) -> int:
    """Load and run the flow; the exit code of this process."""
    from ..cli.loader import load_flow
    from ..core.errors import ProctorError

    try:
        flow = load_flow(entrypoint).flow
    except ProctorError as exc:
        report_not_started(api_url, flow_run_id, f"cannot load {entrypoint}: {exc}", result_file)
        return EXIT_NOT_STARTED
    observers = [result_writer(result_file)]
    from ..core.context_values import context

    when = {} if scheduled_start is None else {"scheduled_start_time": scheduled_start}
    try:
        with context(**when):  # proctor.context.date / today: the run's scheduled time
            state = _run_flow(flow, parameters, api_url, flow_run_id, observers)
    except ProctorError as exc:  # refused before the engine started (parameters, executor)
        report_not_started(api_url, flow_run_id, f"{type(exc).__name__}: {exc}", result_file)
        return EXIT_NOT_STARTED
    return EXIT_OK if state.is_successful() else EXIT_FAILED


def _run_flow(flow: Any, parameters: dict[str, Any], api_url: str, flow_run_id: str,
              observers: list) -> Any:
    from ..flows import Flow

    if isinstance(flow, Flow):
        # A deployment's schedule lives on the server: one run here, never a loop.
        return flow.run(parameters=parameters, api_url=api_url, flow_run_id=flow_run_id,
                        run_on_schedule=False, observers=observers)
    return flow.run_with(parameters, api_url=api_url, flow_run_id=flow_run_id,
                         observers=observers)


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


def read_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The run's parameters (file, stdin, or the legacy `--parameters` JSON); the file is
    deleted once read. Raises ValueError with what is wrong."""
    if args.parameters_file == "-":
        text = sys.stdin.read()
    elif args.parameters_file:
        path = Path(args.parameters_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the parameters file {path}: {exc}") from exc
        path.unlink(missing_ok=True)
    else:
        text = args.parameters or "{}"
    try:
        parameters = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the parameters are not JSON: {exc}") from exc
    if not isinstance(parameters, dict):
        raise ValueError("the parameters must be a JSON object")
    return parameters


def _stop_reason(result_file: str | None) -> str:
    if result_file:
        try:
            text = (Path(result_file).parent / STOP_REASON_FILE).read_text(encoding="utf-8")
            if text.strip():
                return text.strip()
        except OSError:
            pass
    return "stopped by its agent (SIGTERM)"


def main(argv: list[str] | None = None) -> int:
    from ..engine.interrupts import install_stop_signals, reason_of

    args = _arguments(argv)
    watch_parent()
    # Deliver the run's events for as long as the agent lets this process live (whatever the
    # environment says: a limit here would turn a server outage into a false Crashed).
    os.environ["PROCTOR_API_FLUSH_TIMEOUT"] = "inf"
    try:
        parameters = read_parameters(args)
    except ValueError as exc:
        report_not_started(args.api_url, args.flow_run_id, str(exc), args.result_file)
        return EXIT_NOT_STARTED
    install_stop_signals({"SIGTERM": lambda: _stop_reason(args.result_file)})
    try:
        return run(args.flow_run_id, args.entrypoint, parameters, args.api_url,
                   args.result_file, scheduled_start=args.scheduled_start)
    except KeyboardInterrupt as exc:
        print(f"flow run {args.flow_run_id} stopped: {reason_of(exc)}", file=sys.stderr)
        sys.stderr.flush()
        # Tasks still running on threads would hold the interpreter at exit; the run is
        # recorded as stopped, so leave without them.
        os._exit(EXIT_STOPPED)


if __name__ == "__main__":
    sys.exit(main())
