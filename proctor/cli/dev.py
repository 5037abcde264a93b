"""`proctor dev`: the whole system on one machine, for the workshop and for trying things out.

It starts the server (a `proctor server start` subprocess on 127.0.0.1, with its scheduler),
deploys the workshop's examples, runs one agent on the `default` work queue in this process,
and prints where to look. Ctrl-C stops the agent first (its runs are let finish for a few
seconds, then cancelled) and the server last, so that everything the agent reports on its way
out still reaches the server. The server runs in a session of its own for that reason: a Ctrl-C
typed in the terminal reaches this process only.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .output import EXIT_FAILED, fail

#: (file in the examples folder, flow attribute, schedule: an interval or None)
EXAMPLES: tuple[tuple[str, str, bool], ...] = (
    ("00_etl.py", "flow", True),
    ("01_parallel.py", "flow", False),
    ("02_parameters.py", "etl", False),
)
DEPLOYMENT_NAME = "workshop"


def dev_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="The server's port.")] = 4200,
    examples: Annotated[Path, typer.Option(help="The folder of the workshop examples.")] = Path(
        "examples"),
    interval: Annotated[str, typer.Option(help="How often the scheduled example runs.")] = "30s",
    shutdown_grace: Annotated[float, typer.Option(
        "--shutdown-grace", min=0, help="On Ctrl-C, seconds to let running runs finish.")] = 5.0,
) -> None:
    """Start a server, deploy the workshop examples and run an agent, until Ctrl-C."""
    from ..schedules import ScheduleError, schedule_from_cli

    try:
        schedule = schedule_from_cli(interval=interval)
    except ScheduleError as exc:
        fail(str(exc))
    url = f"http://127.0.0.1:{port}"
    server = start_server(port)
    try:
        wait_for_health(server, url)
        typer.echo(f"Server ready: web UI at {url}/ (process {server.pid}; API docs at {url}/docs)")
        for line in deploy_examples(url, examples, schedule):
            typer.echo(line)
        typer.echo("Agent on work queue 'default'; Ctrl-C stops everything.")
        run_agent(url, shutdown_grace)
    except KeyboardInterrupt:
        typer.echo("Interrupted.")
    finally:
        stop_server(server)
    typer.echo("Stopped.")


def start_server(port: int) -> subprocess.Popen:
    """`proctor server start` on 127.0.0.1:`port`, in its own session (see the docstring)."""
    command = [sys.executable, "-m", "proctor.cli.main", "server", "start", "--host",
               "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)


def wait_for_health(server: subprocess.Popen, url: str, timeout: float = 30.0) -> None:
    """Return once `/api/health` answers; stop the command if the server exits or never does."""
    from ..client import ProctorClient
    from ..core.errors import ProctorError

    deadline = time.monotonic() + timeout
    with ProctorClient(url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                fail(f"the server exited with code {server.returncode} (is port "
                     f"{url.rsplit(':', 1)[1]} already taken? try --port)", EXIT_FAILED)
            try:
                client.health()
                return
            except ProctorError:
                time.sleep(0.1)
    stop_server(server)
    fail(f"the server did not answer {url}/api/health within {timeout:.0f}s", EXIT_FAILED)


def deploy_examples(url: str, folder: Path, schedule: Any) -> list[str]:
    """Deploy the examples that exist in `folder`; one line of text per deployment."""
    from ..core.errors import ProctorError
    from ..deploy import build_deployment
    from .api import call_api
    from .loader import load_flow

    if not folder.is_dir():
        return [f"No examples folder at {folder}: nothing deployed (use --examples DIR)."]
    from ..client import ProctorClient

    lines = ["Deployed:"]
    with ProctorClient(url) as client:
        for file, attribute, scheduled in EXAMPLES:
            reference = f"{(folder / file).as_posix()}:{attribute}"
            try:
                loaded = load_flow(reference)
                body = build_deployment(loaded.flow, DEPLOYMENT_NAME,
                                        schedule=schedule if scheduled else None,
                                        entrypoint=loaded.reference)
            except ProctorError as exc:
                lines.append(f"  {reference}: not deployed: {exc}")
                continue
            deployment, _ = call_api(client.upsert_deployment, body)
            label = f"{deployment['flow_name']}/{deployment['name']}"
            when = schedule.describe() if scheduled else f"on demand: proctor run {label} --watch"
            lines.append(f"  {label:<32} {reference:<32} {when}")
    return lines


def run_agent(url: str, shutdown_grace: float) -> None:
    """One agent on the `default` queue, in this process, until Ctrl-C."""
    from ..agent import Agent, AgentSettings
    from .agent import agent_logging

    agent_logging()
    agent = Agent(AgentSettings(api_url=url, work_queue="default", poll_interval=1.0,
                                heartbeat_interval=5.0, shutdown_grace=shutdown_grace,
                                cancel_grace=5.0, name="dev-agent"))
    agent.start()


def stop_server(server: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the server (uvicorn shuts down cleanly on it), SIGKILL if it lingers."""
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(grace)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(grace)
