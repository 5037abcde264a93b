"""`proctor agent start --queue default [--limit 4] ...` and `proctor agent ls`.

The agent runs in the foreground until Ctrl-C (or SIGTERM): it then claims nothing more, gives
back what it claimed but did not start, lets running runs finish for `--shutdown-grace` seconds
and stops the rest (reported Cancelled); a second Ctrl-C stops them at once. How it works:
`proctor.agent`. Relative entrypoints resolve against the directory the agent starts in, and
only code under the agent's code roots runs (`--code-root`, default that directory).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .api import ApiUrl, api_client, call_api, utc_time
from .output import OutputOption, check_output, fail, print_json, table_console

app = typer.Typer(help="Run agents that execute the server's scheduled runs.",
                  no_args_is_help=True)


@app.command("start")
def start(
    queue: Annotated[str, typer.Option("--queue", "-q", help="The work queue to take runs "
                                       "from.")] = "default",
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="How many runs at "
                                       "once.")] = 4,
    label: Annotated[list[str] | None, typer.Option("--label", help="A label of this agent; "
                                                    "repeat for several.",
                                                    show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="The agent's name (default: "
                                             "host-pid).", show_default=False)] = None,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.01, help="Seconds "
                                                 "between looks at the queue.")] = 2.0,
    heartbeat_interval: Annotated[float, typer.Option(
        "--heartbeat-interval", min=0.05, help="Seconds between heartbeats; keep it well "
        "under the server's PROCTOR_AGENT_TIMEOUT.")] = 5.0,
    shutdown_grace: Annotated[float, typer.Option(
        "--shutdown-grace", min=0, help="On Ctrl-C, seconds to let running runs finish "
        "before stopping them.")] = 30.0,
    cancel_grace: Annotated[float, typer.Option(
        "--cancel-grace", min=0, help="Seconds between SIGTERM and SIGKILL when a run is "
        "stopped.")] = 10.0,
    code_root: Annotated[list[str] | None, typer.Option(
        "--code-root", help="A folder whose flows this agent may run (repeat for several; "
        "default: the current directory). Entrypoints elsewhere, symlinks resolved, are "
        "refused.", show_default=False)] = None,
    deployed_folders: Annotated[bool, typer.Option(
        "--deployed-folders/--no-deployed-folders", help="Also run flows under the folders "
        "`proctor deploy` was run from on this machine ($PROCTOR_HOME/deployed-folders).")] = True,
    api_url: str = ApiUrl,
) -> None:
    """Take due runs from a work queue and run each in its own process, until Ctrl-C."""
    from pathlib import Path

    from ..agent import Agent, AgentSettings
    from ..core.errors import ProctorError

    client = api_client(api_url)  # checks the URL; the agent keeps its own client
    url = client.api_url
    client.close()
    try:
        settings = AgentSettings(
            api_url=url, work_queue=queue, limit=limit, labels=tuple(label or ()), name=name,
            poll_interval=poll_interval, heartbeat_interval=heartbeat_interval,
            cancel_grace=cancel_grace, shutdown_grace=shutdown_grace,
            code_roots=tuple(Path(root) for root in code_root or ()),
            trust_deployed_folders=deployed_folders,
        )
        agent = Agent(settings)
    except ProctorError as exc:
        fail(str(exc))
    agent_logging()
    agent.start()


def agent_logging() -> None:
    """Show the agent's own log lines on stderr (its runs' logs go to the server)."""
    import logging

    logger = logging.getLogger("proctor.agent")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | agent - "
                                               "%(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@app.command("ls")
def list_agents(output: str = OutputOption, api_url: str = ApiUrl) -> None:
    """List the agents the server has heard from, with their last heartbeat."""
    from rich.table import Table

    output = check_output(output)
    client = api_client(api_url)
    agents = call_api(client.list_agents)
    if output == "json":
        print_json(agents)
        return
    table = Table(title=f"{len(agents)} agent(s)")
    for column in ("Name", "Queue", "Labels", "Last heartbeat (UTC)", "Status"):
        table.add_column(column, overflow="fold")
    for a in agents:
        table.add_row(a["name"], a["work_queue_name"], ", ".join(a.get("labels") or []) or "-",
                      utc_time(a.get("last_heartbeat")), a.get("status") or "-")
    table_console().print(table)
