"""`proctor runs ls | inspect ID | logs ID [--follow]`: read flow runs from the server's API.

The server is `--api-url` or `PROCTOR_API_URL` (default http://127.0.0.1:4200). Exit codes: 0
when the server answered, 1 when it could not be reached or refused, 2 on bad usage.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import typer

from .output import EXIT_FAILED, fail

app = typer.Typer(help="Read flow runs, their task runs, states and logs from the server.",
                  no_args_is_help=True)

DEFAULT_API_URL = "http://127.0.0.1:4200"
ApiUrl = typer.Option(None, "--api-url", help="The server (default: $PROCTOR_API_URL or "
                      f"{DEFAULT_API_URL}).")
STATE_TYPES = ("SCHEDULED", "PENDING", "LATE", "PAUSED", "RUNNING", "RETRYING", "SUCCESS",
               "CACHED", "MAPPED", "SKIPPED", "FAILED", "TRIGGER_FAILED", "TIMED_OUT", "CRASHED",
               "CANCELLED")
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _client(api_url: str | None):
    from ..client import ProctorClient, api_url_from_env
    from ..core.errors import ProctorError

    try:
        return ProctorClient(api_url or api_url_from_env() or DEFAULT_API_URL)
    except ProctorError as exc:
        fail(str(exc))


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    """Call the API; turn its failures into a one-line error and exit code 1 (404: 2)."""
    from ..client import ApiError, ServerUnreachable

    try:
        return fn(*args, **kwargs)
    except ServerUnreachable as exc:
        fail(f"the server is not reachable: {exc}. Start it with `proctor server start` or "
             f"set --api-url / PROCTOR_API_URL", EXIT_FAILED)
    except ApiError as exc:
        fail(str(exc.detail), 2 if exc.status in (404, 422) else EXIT_FAILED)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    return f"{(end or time.time()) - start:.2f}s"


@app.command("ls")
def list_runs(
    flow: str = typer.Option(None, "--flow", help="Only runs of this flow (name)."),
    state: list[str] = typer.Option(None, "--state", help="Only runs in this state type "
                                    "(repeatable), e.g. FAILED."),
    tag: list[str] = typer.Option(None, "--tag", help="Only runs with every one of these tags."),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="How many runs (newest first)."),
    api_url: str = ApiUrl,
) -> None:
    """List flow runs, newest first."""
    from rich.console import Console
    from rich.table import Table

    states = [s.upper() for s in state or []]
    bad = [s for s in states if s not in STATE_TYPES]
    if bad:
        fail(f"--state {bad[0]!r} is not a state type; use one of {', '.join(STATE_TYPES)}")
    client = _client(api_url)
    runs = _call(client.list_flow_runs, flow_name=flow, state=states or None, tag=tag or None,
                 limit=limit)
    table = Table(title=f"{len(runs)} flow run(s)")
    for column in ("ID", "Flow", "State", "Started (UTC)", "Duration"):
        table.add_column(column)
    for run in runs:
        table.add_row(run["id"], run["flow_name"] or "-",
                      (run.get("state") or {}).get("name") or "-",
                      _when(run.get("start_time")), _duration(run.get("start_time"),
                                                             run.get("end_time")))
    Console().print(table)


@app.command("inspect")
def inspect_run(run_id: str = typer.Argument(..., help="The flow run id."),
                api_url: str = ApiUrl) -> None:
    """Show one flow run: parameters, state history and its task runs."""
    from rich.console import Console
    from rich.table import Table

    client = _client(api_url)
    run = _call(client.read_flow_run, run_id)
    states = _call(client.read_flow_run_states, run_id)
    tasks = _call(client.read_task_runs, run_id)
    out = Console()
    state = run.get("state") or {}
    out.print(f"Flow run {run['id']} of flow {run['flow_name']!r}: "
              f"{state.get('name', '-')} {state.get('message') or ''}", highlight=False)
    out.print(f"Parameters: {run.get('parameters')}", highlight=False)
    history = Table(title="State history")
    for column in ("Time (UTC)", "State", "Message"):
        history.add_column(column)
    for s in states:
        history.add_row(_when(s["timestamp"]), s["name"], s.get("message") or "")
    out.print(history)
    table = Table(title=f"{len(tasks)} task run(s)")
    for column in ("Task", "State", "Duration", "Message"):
        table.add_column(column)
    for t in tasks:
        key = t["task_key"] + ("" if t.get("map_index") is None else f"[{t['map_index']}]")
        ts = t.get("state") or {}
        table.add_row(key, ts.get("name", "-"), _duration(t.get("start_time"), t.get("end_time")),
                      (ts.get("message") or "")[:120])
    out.print(table)


@app.command("logs")
def run_logs(
    run_id: str = typer.Argument(..., help="The flow run id."),
    level: str = typer.Option("INFO", "--level", help="Minimum level: DEBUG, INFO, WARNING, "
                              "ERROR."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until "
                                "the run finishes."),
    api_url: str = ApiUrl,
) -> None:
    """Print a flow run's logs (and follow them while it runs)."""
    if level.upper() not in LEVELS:
        fail(f"--level {level!r} is not a level; use one of {', '.join(LEVELS)}")
    client = _client(api_url)
    seen: set[str] = set()
    offset = 0
    while True:
        page = _call(client.read_logs, run_id, level=LEVELS[level.upper()], offset=offset,
                     limit=1000)
        for line in page:
            if line["id"] in seen:
                continue
            seen.add(line["id"])
            typer.echo(f"{_when(line['timestamp'])} | {line['level_name']:<7} | "
                       f"{line['logger']} - {line['message']}")
        offset += len(page)
        if len(page) == 1000:
            continue
        if not follow:
            return
        run = _call(client.read_flow_run, run_id)
        if (run.get("state") or {}).get("type") in ("SUCCESS", "FAILED", "CANCELLED", "CRASHED",
                                                     "TIMED_OUT", "TRIGGER_FAILED", "SKIPPED"):
            if not _call(client.read_logs, run_id, level=LEVELS[level.upper()], offset=offset,
                         limit=1):
                return
            continue
        time.sleep(0.5)
