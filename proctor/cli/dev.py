"""`proctor dev`: the whole system on one machine, for the workshop and for trying things out.

It starts the server (a `proctor server start` subprocess on 127.0.0.1, with its scheduler),
deploys the workshop's examples, runs one agent on the `default` work queue in this process,
and prints where to look. Stopping it stops everything, in order: the agent first (its runs are
let finish for a few seconds, then cancelled; it then tells the server it is offline) and the
server last, so that everything the agent reports on its way out still reaches the server.

What makes "everything" true, whatever ends this command:

- The port is taken here, before anything starts (`proctor.cli.ports.reserve_port`), and the
  listening socket is handed to the server child (`--fd`). A port already in use ends the command
  at once, naming the process that holds it; nothing is deployed and no agent starts. And the
  server that answers "ready" is surely the child started here, never an older one that kept
  the port (a terminal closed earlier used to leave one behind, and a second `make run`
  deployed into it and added a second agent).
- SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed) all stop the agent and then the
  server the same way. The server runs in a session of its own, so that a Ctrl-C typed in the
  terminal reaches this process only, which decides the order.
- What cannot be caught (SIGKILL of this process, a crash) is covered by the child itself: it
  is started with `--parent-pid` and ends when this process ends (`proctor.cli.lifeline`: the
  Linux parent-death signal, and a thread watching the parent elsewhere). The child is started
  from the main thread, which lives as long as the command, since Linux sends the parent-death
  signal when the thread that started the child ends.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .output import EXIT_FAILED, fail, proctor_command

if TYPE_CHECKING:
    import socket

    from ..agent import Agent

#: (file in the examples folder, flow attribute, on the `--interval` schedule). Every step of
#: the workshop, the failing ones too (so the dashboard shows a failure and its traceback); a
#: flow with a schedule of its own (05) keeps it.
EXAMPLES: tuple[tuple[str, str, bool], ...] = (
    ("00_etl.py", "flow", True),
    ("01_parallel.py", "flow", False),
    ("02_parameters.py", "etl", False),
    ("03_errors_and_triggers.py", "flow", False),
    ("04_hooks.py", "flow", False),
    ("05_schedules.py", "flow", False),
    ("06_server.py", "flow", False),
    ("07_dask.py", "flow", False),
)
DEPLOYMENT_NAME = "workshop"
HOST = "127.0.0.1"
#: The signals that stop `proctor dev` in order (agent, then server).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived before the agent was running; unwinds like Ctrl-C does."""

    def __init__(self, signal_name: str) -> None:
        self.signal_name = signal_name
        super().__init__(signal_name)


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP while `proctor dev` runs: before the agent runs, each raises
    `StopRequested` (unwinding to the code that stops the server); while the agent runs, it asks
    the agent to stop (the agent handles SIGINT and SIGTERM itself then, SIGHUP comes here);
    once the server is being stopped, further signals are ignored, so they cannot interrupt
    that."""

    def __init__(self) -> None:
        self.agent: Agent | None = None
        self.quiet = False
        self._previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.quiet:
            return
        if self.agent is not None:
            self.agent.request_stop()
            return
        self.quiet = True
        raise StopRequested(signal.Signals(signum).name)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


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
    from .ports import PortInUse, PortUnavailable, reserve_port

    try:
        schedule = schedule_from_cli(interval=interval)
    except ScheduleError as exc:
        fail(str(exc))
    url = f"http://{HOST}:{port}"
    try:
        listener = reserve_port(HOST, port)
    except (PortInUse, PortUnavailable) as exc:
        fail(str(exc), EXIT_FAILED)
    stops = _StopSignals()
    server: subprocess.Popen | None = None
    try:
        try:
            server = start_server(listener)
        finally:
            listener.close()  # the child has its own copy; the port is free when it ends
        wait_for_health(server, url)
        say(f"Server ready: web UI at {url}/ (process {server.pid}; API docs at {url}/docs)")
        for line in deploy_examples(url, examples, schedule):
            say(line)
        say("Agent on work queue 'default'; Ctrl-C stops everything.")
        say(first_steps(url))
        stops.agent = dev_agent(url, shutdown_grace)
        stops.agent.start()
    except StopRequested as exc:
        say(f"Interrupted ({exc.signal_name}).")
    except KeyboardInterrupt:
        say("Interrupted.")
    finally:
        stops.quiet = True
        if server is not None:
            stop_server(server)
        stops.restore()
    say("Stopped.")


def api_option(url: str) -> str:
    """` --api-url URL` when `url` is not the commands' default server, else nothing."""
    from .api import DEFAULT_API_URL

    return "" if url == DEFAULT_API_URL else f" --api-url {url}"


def first_steps(url: str) -> str:
    """What to type next, in commands that work as printed (`proctor` may not be on PATH)."""
    proctor = proctor_command()
    anywhere = proctor if proctor == "proctor" else str(Path(proctor).resolve())
    lines = []
    if proctor != "proctor":
        lines.append(f"`proctor` is not on your PATH: type {proctor} (or first "
                     f"`source {Path(proctor).parent}/activate`).")
    api = api_option(url)
    lines += [
        "Next, in another terminal:",
        f"  {proctor} runs ls{api}                 # what ran",
        f"  {anywhere} deploy flows.py:etl --name mine --interval 1h{api}",
        "      # typed in your own project folder: this agent runs it there",
        f"  open {url}/flows                  # Run now, and watch it live",
    ]
    return "\n".join(lines)


def say(line: str) -> None:
    """Print a line; a terminal that was closed (SIGHUP) must not stop the shutdown."""
    try:
        typer.echo(line)
    except OSError:
        pass


def start_server(listener: socket.socket) -> subprocess.Popen:
    """`proctor server start` serving on `listener`, in its own session (see the docstring),
    ending when this process ends."""
    fd = listener.fileno()
    command = [sys.executable, "-m", "proctor.cli.main", "server", "start", "--fd", str(fd),
               "--parent-pid", str(os.getpid()), "--log-level", "warning"]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True,
                            pass_fds=(fd,))


def wait_for_health(server: subprocess.Popen, url: str, timeout: float = 30.0) -> None:
    """Return once `/api/health` answers; stop the command if the server exits or never does.

    Only the child can answer: it alone listens on the socket reserved for it."""
    from ..client import ProctorClient
    from ..core.errors import ProctorError

    deadline = time.monotonic() + timeout
    with ProctorClient(url, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                fail(f"the server exited with code {server.returncode} before it answered "
                     f"(its error is above)", EXIT_FAILED)
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
            when = (deployment.get("schedule_description")
                    or f"on demand: {proctor_command()} run {shlex.quote(label)} --watch"
                    f"{api_option(url)}")
            lines.append(f"  {label:<32} {reference:<32} {when}")
    return lines


def dev_agent(url: str, shutdown_grace: float) -> Agent:
    """The agent of `proctor dev`: the `default` queue, quick polls; started by the caller."""
    from ..agent import Agent, AgentSettings
    from .agent import agent_logging

    agent_logging()
    return Agent(AgentSettings(api_url=url, work_queue="default", poll_interval=1.0,
                               heartbeat_interval=5.0, shutdown_grace=shutdown_grace,
                               cancel_grace=5.0, name="dev-agent"))


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
