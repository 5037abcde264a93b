"""`proctor run FILE:FLOW`: run a flow from a file, with a progress bar and a summary table.

`proctor run DEPLOYMENT [--watch]` instead asks the server for a run of a deployment (an agent
runs it). The reference is a deployment when it does not mention `.py` and names no existing
file or directory: `etl/nightly` (flow/deployment), `nightly`, or a deployment id.

Exit codes: 0 when the flow run did not fail, 1 when it failed, 2 for bad usage (a reference,
parameter or executor that is wrong), so scripts and CI can tell the three apart; 130 when it
was stopped (Ctrl-C, SIGTERM, a closed terminal, a cancel from the server), after the run was
recorded CANCELLED with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import EXIT_FAILED, fail

if TYPE_CHECKING:
    from ..core.states import State
    from ..engine.executor import Executor
    from .progress import RunProgress

#: Keywords of `FlowFunction.run` itself: a @flow parameter with one of these names cannot be
#: passed through it as a keyword.


def run_command(
    reference: Annotated[
        str,
        typer.Argument(
            metavar="FILE:FLOW|DEPLOYMENT",
            help="The Python file and the flow in it, e.g. flows.py:etl. Without ':FLOW' the "
            "file must define exactly one flow. Or a deployment on the server, e.g. "
            "etl/nightly: an agent runs it.",
            show_default=False,
        ),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="A flow parameter; repeat for several. VALUE is read as JSON when it is JSON "
            "(n=5 is a number, xs=[1,2] a list), else taken as a string.",
            show_default=False,
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            metavar="NAME[:N]",
            help="Where tasks run: local, threads[:N], processes[:N], dask (a local Dask "
            "cluster), dask:N (N local workers) or dask:ADDRESS (a running scheduler, e.g. "
            "dask:tcp://127.0.0.1:8786). Default: the flow's own executor, else "
            "$PROCTOR_EXECUTOR, else local.",
            show_default=False,
        ),
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", "-w", help="For a deployment: follow the run's states and logs "
                     "until it ends; exit 0 when it succeeded, 1 when not."),
    ] = False,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", help="For a deployment: the server (default: "
                     "$PROCTOR_API_URL or http://127.0.0.1:4200).", show_default=False),
    ] = None,
) -> None:
    """Run a flow defined in a Python file and show how each task ended (or run a deployment).

    Exits 0 when the flow run succeeds, 1 when it fails, 2 on bad usage.
    """
    from contextlib import nullcontext

    from rich.console import Console

    from ..core.errors import ExecutorError, FlowLoadError, ParameterError, ProctorError
    from ..executors import resolve_executor
    from .loader import load_flow
    from .params import ParamSyntaxError, parse_params
    from .progress import (
        RunProgress,
        console_logging,
        make_progress,
        state_line,
        summary_table,
    )

    # Everything that can be checked without running user code is checked first.
    try:
        params = parse_params(param or ())
    except ParamSyntaxError as exc:
        fail(str(exc))
    if is_deployment_reference(reference):
        from .deployments import run_deployment

        if executor is not None:
            fail("--executor applies to a flow file; a deployment's runs execute where its "
                 "agent runs them")
        run_deployment(reference, params, watch, api_url)
        return
    if watch or api_url is not None:
        fail("--watch and --api-url apply to a deployment (e.g. etl/nightly), not to a file")
    try:
        chosen = resolve_executor(executor) if executor is not None else None
    except ExecutorError as exc:
        fail(str(exc))
    try:
        loaded = load_flow(reference)
    except FlowLoadError as exc:
        fail(str(exc))

    flow = loaded.flow
    out, err = Console(), Console(stderr=True)
    # A live bar only on a terminal: piped into a file or CI log it would be noise.
    progress = make_progress(err) if err.is_terminal else None
    observer = RunProgress(progress, f"flow {flow.name}", on_start=run_page_announcer(err))
    from ..engine.interrupts import install_stop_signals, reason_of

    restore = install_stop_signals()
    try:
        with console_logging(err), progress or nullcontext():
            state = run_flow(flow, params, chosen, observer)
    except (ParameterError, ExecutorError) as exc:
        fail(str(exc))
    except ProctorError as exc:  # the flow could not start (a definition problem)
        fail(f"flow {flow.name!r} from {loaded.reference} could not run: {exc}", EXIT_FAILED)
    except KeyboardInterrupt as exc:
        from ..client import api_url_from_env

        recorded = api_url_from_env()
        where = f", and so recorded on {recorded}" if recorded else ""
        err.print(f"Flow run {flow.name!r} stopped ({reason_of(exc)}): it ended "
                  f"Cancelled{where}.", highlight=False, soft_wrap=True)
        exit_interrupted()
    finally:
        restore()

    # Tracebacks of failed tasks were logged (to stderr) as they happened; the table sums up.
    rows = list(observer.rows.values())
    out.print(summary_table(rows, title=f"Flow run {flow.name!r}"))
    out.print(state_line(flow.name, state))
    if state.is_failed():
        raise typer.Exit(EXIT_FAILED)


def run_page_announcer(err: Any) -> Any:
    """When the run is recorded (`PROCTOR_API_URL`), a function that prints, as the run starts,
    where to watch it in the web UI (`PROCTOR_UI_URL`, else the server's own address)."""
    import os

    from ..client import api_url_from_env

    url = api_url_from_env()
    if url is None:
        return None
    ui = (os.environ.get("PROCTOR_UI_URL") or url).rstrip("/")

    def announce(run_id: str) -> None:
        err.print(f"Recording to {url}; watch the run at {ui}/runs/{run_id}", highlight=False,
                  soft_wrap=True)

    return announce


def exit_interrupted() -> None:
    """Leave with status 130 now. Tasks still running on threads would hold the interpreter
    at exit (their pool joins them), so the process leaves without waiting for them: the run
    was already recorded as stopped."""
    import os
    import sys
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_INTERRUPTED)


#: The exit status of a stopped run (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130


def is_deployment_reference(reference: str) -> bool:
    """True for `etl/nightly` or `nightly`; False for anything that looks like or is a file."""
    from pathlib import Path

    from .loader import split_reference

    if ".py" in reference:
        return False
    path, _ = split_reference(reference)
    return not (Path(reference).exists() or (path and Path(path).exists()))


def run_flow(
    flow: Any, params: dict[str, Any], executor: Executor | None, observer: RunProgress
) -> State:
    """Run a `Flow` or a `FlowFunction` with `params`, reporting to `observer`."""
    from ..flows import Flow

    if isinstance(flow, Flow):
        return flow.run(parameters=params, executor=executor, observers=[observer])
    return flow.run_with(params, executor=executor, observers=[observer])
