"""`proctor runs ls | inspect ID | logs ID [--follow] | cancel ID | sync`: flow runs on the server.

The server is `--api-url` or `PROCTOR_API_URL` (default http://127.0.0.1:4200). Exit codes: 0
when the server answered, 1 when it could not be reached or refused, 2 on bad usage.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import typer

from .api import ApiUrl, api_client, call_api, utc_time
from .output import (
    EXIT_FAILED,
    EXIT_USAGE,
    OutputOption,
    check_output,
    fail,
    print_json,
    table_console,
)

if TYPE_CHECKING:
    from ..client import ProctorClient

app = typer.Typer(help="Read flow runs, their task runs, states and logs from the server; "
                  "cancel them.",
                  no_args_is_help=True)

STATE_TYPES = ("SCHEDULED", "PENDING", "LATE", "PAUSED", "RUNNING", "RETRYING", "SUCCESS",
               "CACHED", "MAPPED", "SKIPPED", "FAILED", "TRIGGER_FAILED", "TIMED_OUT", "CRASHED",
               "CANCELLED")
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


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
    output: str = OutputOption,
    api_url: str = ApiUrl,
) -> None:
    """List flow runs, newest first (full ids: any command takes one, a prefix or a name)."""
    from rich.table import Table

    output = check_output(output)
    states = [s.upper() for s in state or []]
    bad = [s for s in states if s not in STATE_TYPES]
    if bad:
        fail(f"--state {bad[0]!r} is not a state type; use one of {', '.join(STATE_TYPES)}")
    client = api_client(api_url)
    runs = call_api(client.list_flow_runs, flow_name=flow, state=states or None,
                    tag=tag or None, limit=limit)
    if output == "json":
        print_json(runs)
        return
    table = Table(title=f"{len(runs)} flow run(s)")
    table.add_column("ID", no_wrap=True, min_width=32)
    for column in ("Name", "Flow", "State", "Started (UTC)", "Duration"):
        table.add_column(column, overflow="fold")
    for run in runs:
        table.add_row(run["id"], run.get("name") or "-", run["flow_name"] or "-",
                      (run.get("state") or {}).get("name") or "-",
                      utc_time(run.get("start_time")), _duration(run.get("start_time"),
                                                             run.get("end_time")))
    table_console().print(table)


def run_id_of(client: ProctorClient, typed: str) -> str:
    """The id of the run `typed` names (an id, a prefix of one, or a run name); exit 2 with
    the reason when none or several do."""
    from .refs import RunNotFound, resolve_run

    try:
        return call_api(resolve_run, client, typed)
    except RunNotFound as exc:
        fail(str(exc), EXIT_USAGE)


RunRef = typer.Argument(..., metavar="RUN", help="The flow run: its id, the first characters "
                        "of it, or its name.")


@app.command("inspect")
def inspect_run(run_ref: str = RunRef, output: str = OutputOption,
                api_url: str = ApiUrl) -> None:
    """Show one flow run: parameters, state history and its task runs."""
    from rich.table import Table

    output = check_output(output)
    client = api_client(api_url)
    run_id = run_id_of(client, run_ref)
    run = call_api(client.read_flow_run, run_id)
    states = call_api(client.read_flow_run_states, run_id)
    tasks = call_api(client.read_task_runs, run_id)
    if output == "json":
        print_json({**run, "states": states, "task_runs": tasks})
        return
    out = table_console()
    state = run.get("state") or {}
    out.print(f"Flow run {run['id']} of flow {run['flow_name']!r}: "
              f"{state.get('name', '-')} {state.get('message') or ''}", highlight=False)
    out.print(f"Parameters: {run.get('parameters')}", highlight=False)
    history = Table(title="State history")
    for column in ("Time (UTC)", "State", "Message"):
        history.add_column(column)
    for s in states:
        history.add_row(utc_time(s["timestamp"]), s["name"], s.get("message") or "")
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
    run_ref: str = RunRef,
    level: str = typer.Option("INFO", "--level", help="Minimum level: DEBUG, INFO, WARNING, "
                              "ERROR."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines until "
                                "the run finishes."),
    api_url: str = ApiUrl,
) -> None:
    """Print a flow run's logs in the order the server received them (and follow them while
    it runs)."""
    if level.upper() not in LEVELS:
        fail(f"--level {level!r} is not a level; use one of {', '.join(LEVELS)}")
    client = api_client(api_url)
    follower = LogFollower(client, run_id_of(client, run_ref), LEVELS[level.upper()])
    while True:
        lines = follower.next_page()
        if lines:
            typer.echo("\n".join(
                f"{utc_time(line['timestamp'])} | {line['level_name']:<7} | "
                f"{line['logger']} - {line['message']}" for line in lines))
        if follower.moved:
            continue  # more may be stored already: ask again at once
        if not follow or follower.done():
            return
        time.sleep(FOLLOW_POLL_S)


#: Lines asked for per request (the server's largest page).
LOG_PAGE = 1000
#: How long a follower that has every stored line waits before asking again, in seconds.
FOLLOW_POLL_S = 0.5
#: How long after seeing the run finished a follower still waits for its last lines (they may
#: travel in a later batch than the final state), in seconds.
FOLLOW_GRACE_S = 2.0
FINAL_TYPES = frozenset({"SUCCESS", "FAILED", "CANCELLED", "CRASHED", "TIMED_OUT",
                         "TRIGGER_FAILED", "SKIPPED"})


class LogFollower:
    """Reads a run's log lines page by page with the server's cursor (`after_seq`): each line
    once, in the order the server stored them, whatever their timestamps. It remembers the
    cursor only, so following a run of any length takes the same memory."""

    def __init__(self, client: ProctorClient, run_id: str, min_level: int) -> None:
        self.client = client
        self.run_id = run_id
        self.min_level = min_level
        self.after_seq = 0
        #: Did the last page move the cursor (so more lines may be waiting)?
        self.moved = False
        self._finished_at: float | None = None

    def next_page(self) -> list[dict]:
        lines, next_after_seq = call_api(self.client.follow_logs, self.run_id, self.after_seq,
                                         level=self.min_level, limit=LOG_PAGE)
        self.moved = next_after_seq != self.after_seq
        self.after_seq = next_after_seq
        return lines

    def done(self) -> bool:
        """Is the run finished, and has it been for long enough that its last lines are in?
        (Asked only once every stored line has been read.)"""
        if self._finished_at is None:
            run = call_api(self.client.read_flow_run, self.run_id)
            if (run.get("state") or {}).get("type") in FINAL_TYPES:
                self._finished_at = time.monotonic()
            return False
        return time.monotonic() - self._finished_at >= FOLLOW_GRACE_S


@app.command("cancel")
def cancel_run(run_ref: str = RunRef, api_url: str = ApiUrl) -> None:
    """Cancel a flow run: at once if it has not started, else its agent stops it."""
    client = api_client(api_url)
    run = call_api(client.cancel_flow_run, run_id_of(client, run_ref))
    state = run.get("state") or {}
    if state.get("type") == "CANCELLED":
        typer.echo(f"Flow run {run['id']} ({run.get('flow_name') or '-'}) is cancelled.")
    else:
        typer.echo(f"Cancellation of flow run {run['id']} ({run.get('flow_name') or '-'}) "
                   f"requested: it is {state.get('name', '-')}; its agent stops it and reports "
                   f"it Cancelled.")


@app.command("sync")
def sync_outbox(
    api_url: str = ApiUrl,
    timeout: float = typer.Option(60.0, "--timeout", min=1.0, help="Seconds to keep trying."),
) -> None:
    """Send what recorded runs could not deliver to this server (kept in its own folder of
    $PROCTOR_HOME/outbox) to it.

    Runs that record to a server keep their events on disk when the server is down or refuses
    their key; the next recorded run sends them first. This sends them now, without a run.
    """
    from ..client import api_url_from_env
    from ..recording.api import ApiRecorder
    from ..recording.outbox import outbox_dir
    from .api import DEFAULT_API_URL

    url = api_url or api_url_from_env() or DEFAULT_API_URL
    outbox = outbox_dir(url)
    recorder = ApiRecorder(url, close_timeout=timeout)
    waiting = recorder.pending()
    if not waiting:
        recorder.close()
        typer.echo(f"Nothing to send: no recorded event waits in {outbox}.")
        return
    if recorder.close():
        typer.echo(f"Sent the events of earlier runs to {url}; {outbox} is empty.")
        return
    fail(f"could not deliver everything to {url} within {timeout:g}s (is the server up, is "
         f"PROCTOR_API_KEY its key?); what is left stays in {outbox}", EXIT_FAILED)
