"""`proctor deployments ls | pause NAME | resume NAME | delete NAME`, and runs of deployments.

NAME is `flow_name/deployment_name`, a deployment name alone when only one flow uses it, or a
deployment id. `proctor run NAME [--watch]` (in `run.py`) creates a run through `run_deployment`
here, so both commands resolve names the same way.

Exit codes: 0 done, 1 the server could not be reached or refused, 2 bad usage (no such
deployment, an ambiguous name).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .api import ApiUrl, api_client, call_api, utc_time
from .output import EXIT_FAILED, OutputOption, check_output, fail, print_json, table_console

if TYPE_CHECKING:
    from ..client import ProctorClient

app = typer.Typer(help="List, pause, resume and delete deployments on the server.",
                  no_args_is_help=True)

_ID = re.compile(r"^[0-9a-f]{32}$")
#: Final state types a watched run can end in, and whether they count as success (exit 0).
_ENDS = {"SUCCESS": True, "CACHED": True, "SKIPPED": True, "FAILED": False,
         "TRIGGER_FAILED": False, "TIMED_OUT": False, "CRASHED": False, "CANCELLED": False}
#: Seconds a watched run may wait for an agent before `watch_run` says so.
NO_AGENT_HINT_AFTER = 10.0
Name = Annotated[str, typer.Argument(metavar="NAME", help="flow_name/deployment_name, a "
                                     "deployment name, or an id.", show_default=False)]


def resolve_deployment(client: ProctorClient, reference: str) -> dict[str, Any]:
    """The deployment `reference` names (see the module docstring); exits 2 when none does."""
    from ..client import ApiError

    if _ID.match(reference):
        try:
            return client.read_deployment(reference)
        except ApiError as exc:
            if exc.status != 404:
                raise
    flow_name, sep, name = reference.rpartition("/")
    if not name:
        fail(f"{reference!r} names no deployment; use flow_name/deployment_name, e.g. "
             f"etl/nightly")
    try:
        return client.read_deployment_by_name(name, flow_name if sep else None)
    except ApiError as exc:
        if exc.status == 404:
            fail(f"no deployment {reference!r} on {client.api_url}; list them with "
                 f"`proctor deployments ls`")
        if exc.status == 409:
            fail(f"{reference!r} is ambiguous: {exc.detail}; use flow_name/{name}")
        raise


def _find(api_url: str | None, reference: str) -> tuple[ProctorClient, dict[str, Any]]:
    client = api_client(api_url)
    return client, call_api(resolve_deployment, client, reference)


@app.command("ls")
def list_deployments(
    flow: str = typer.Option(None, "--flow", help="Only deployments of this flow (name)."),
    output: str = OutputOption,
    api_url: str = ApiUrl,
) -> None:
    """List deployments: schedule, work queue, paused or not, next run."""
    from rich.table import Table

    output = check_output(output)
    client = api_client(api_url)
    deployments = call_api(client.list_deployments, flow_name=flow)
    if output == "json":
        print_json(deployments)
        return
    table = Table(title=f"{len(deployments)} deployment(s)")
    for column in ("Deployment", "Schedule", "Queue", "Status", "Next run (UTC)", "Entrypoint"):
        table.add_column(column, overflow="fold")
    for d in deployments:
        next_run = "-"
        if d.get("schedule") and not d.get("paused"):
            upcoming = call_api(client.read_scheduled_runs, d["id"], limit=1)
            if upcoming:
                next_run = utc_time(upcoming[0].get("expected_start_time"))
        table.add_row(f"{d['flow_name']}/{d['name']}", d.get("schedule_description") or "-",
                      d["work_queue_name"], "paused" if d.get("paused") else "active",
                      next_run, d["entrypoint"])
    table_console().print(table)


@app.command("pause")
def pause(reference: Name, api_url: str = ApiUrl) -> None:
    """Pause a deployment: its scheduled runs already due are cancelled (they stay listed, with
    a message), its future ones removed until it is resumed."""
    client, deployment = _find(api_url, reference)
    done = call_api(client.pause_deployment, deployment["id"])
    typer.echo(f"Paused {done['flow_name']}/{done['name']}.")


@app.command("resume")
def resume(reference: Name, api_url: str = ApiUrl) -> None:
    """Resume a paused deployment: the scheduler plans its runs again."""
    client, deployment = _find(api_url, reference)
    done = call_api(client.resume_deployment, deployment["id"])
    typer.echo(f"Resumed {done['flow_name']}/{done['name']}.")


@app.command("delete")
def delete(
    reference: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_url: str = ApiUrl,
) -> None:
    """Delete a deployment and its runs that have not started (past runs stay)."""
    client, deployment = _find(api_url, reference)
    label = f"{deployment['flow_name']}/{deployment['name']}"
    if not yes:
        typer.confirm(f"Delete deployment {label} and its unstarted runs?", abort=True)
    call_api(client.delete_deployment, deployment["id"])
    typer.echo(f"Deleted {label}.")


def run_deployment(
    reference: str, params: dict[str, Any], watch: bool, api_url: str | None
) -> None:
    """`proctor run NAME`: create a run of the deployment now; with `watch`, follow it to its
    end and exit 0 when it succeeded, 1 when it did not."""
    client, deployment = _find(api_url, reference)
    label = f"{deployment['flow_name']}/{deployment['name']}"
    run = call_api(client.create_deployment_run, deployment["id"], params or None)
    typer.echo(f"Created flow run {run['id']} of {label} on work queue "
               f"{deployment['work_queue_name']!r}.")
    if not watch:
        typer.echo(f"Follow it with `proctor runs logs {run['id']} --follow`.")
        return
    final = watch_run(client, run["id"], queue=deployment["work_queue_name"])
    if not _ENDS.get(final, False):
        raise typer.Exit(EXIT_FAILED)


def watch_run(
    client: ProctorClient, run_id: str, interval: float = 0.5, queue: str | None = None
) -> str:
    """Print the run's state changes and log lines until it ends; its final state type.

    Log lines may still arrive just after the final state (the run's last line is written
    after it), so the logs are read until a read brings nothing new, for up to two seconds.
    A run no agent takes for `NO_AGENT_HINT_AFTER` seconds gets a hint on stderr once: the
    usual cause is that no agent serves its work queue.
    """
    seen_states: set[str] = set()
    log_offset = 0
    hint_at: float | None = time.monotonic() + NO_AGENT_HINT_AFTER

    def new_logs() -> list[tuple[float, str]]:
        nonlocal log_offset
        lines: list[tuple[float, str]] = []
        while True:
            page = call_api(client.read_logs, run_id, offset=log_offset, limit=1000)
            log_offset += len(page)
            lines += [(line["timestamp"], f"{utc_time(line['timestamp'])} | "
                       f"{line['level_name']:<7} | {line['logger']} - {line['message']}")
                      for line in page]
            if len(page) < 1000:
                return lines

    def new_states() -> list[tuple[float, str]]:
        lines: list[tuple[float, str]] = []
        for state in call_api(client.read_flow_run_states, run_id):
            if state["id"] not in seen_states:
                seen_states.add(state["id"])
                message = f": {state['message']}" if state.get("message") else ""
                lines.append((state["timestamp"], f"{utc_time(state['timestamp'])} | state   | "
                              f"{state['name']}{message}"))
        return lines

    def show(lines: list[tuple[float, str]]) -> int:
        for _, text in sorted(lines, key=lambda item: item[0]):  # stable: states first on ties
            typer.echo(text)
        return len(lines)

    while True:
        run = call_api(client.read_flow_run, run_id)  # first: what follows is at least as new
        final = run.get("state_type") or (run.get("state") or {}).get("type")
        show(new_states() + new_logs())
        if final in _ENDS:
            break
        if hint_at is not None and time.monotonic() > hint_at and final in ("SCHEDULED", "LATE"):
            hint_at = None
            typer.echo(f"No agent has taken the run yet: is one running on work queue "
                       f"{queue or '?'!r}? Start one with `proctor agent start --queue "
                       f"{queue or 'default'}`.", err=True)
        time.sleep(interval)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        time.sleep(min(interval, 0.3))
        if not show(new_logs()):
            break
    state = run.get("state") or {}
    typer.echo(f"Flow run {run_id} ended {state.get('name', final)}"
               f"{': ' + state['message'] if state.get('message') else ''}")
    return str(final)
