"""The agent: a loop that takes due runs from one work queue and runs each in its own process.

One iteration, `run_once(now)`, is a numbered pipeline with every clock read passed in, so tests
drive the agent one step at a time against a real server:

1. heartbeat (every `heartbeat_interval`): say we are alive and which runs we run (claimed,
   started, or still to report); stop the runs the server lists for cancellation, and kill at
   once those it says it ended or gave to someone else (the fence: a run the server declared
   crashed must not go on beside its retry);
2. reap: collect processes that ended and report what their run could not (see below);
3. escalate: SIGKILL processes asked to stop more than `cancel_grace` seconds ago;
4. claim (when slots are free and a poll is due): up to `limit - running` due runs;
5. launch the claimed runs, or release them when the agent is stopping.

Only code under the agent's code roots runs (`agent.code_roots`): an entrypoint elsewhere is
refused, and the run ends FAILED without its file being imported. Each run gets a private
folder holding its parameters (never on a command line) and the result file its process
writes the moment the run ends.

What the agent reports itself, when the server does not know the end yet:
- the state the run's process wrote to its result file (the server was down when it ended);
- a process asked to stop (cancellation, or shutdown) ends CANCELLED;
- a process that exited with nothing written ends CRASHED (it died, was killed from outside,
  or the interpreter broke before the engine could record an end); the server retries it when
  the deployment allows.
Final states are never forced: a run that ended meanwhile keeps its true end.

Stopping (`request_stop`, what SIGINT and SIGTERM do): claim nothing more; release runs claimed
but not started, so another agent takes them at once; let running runs finish for up to
`shutdown_grace` seconds (still heartbeating, so the server does not declare them crashed); then
stop the rest (SIGTERM, SIGKILL after `cancel_grace`) and report them CANCELLED. A second signal
skips the waiting. Runs that had started are not put back in the queue: they may have done part
of their work, and running it twice is for the flow's retries to decide, not the agent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client import ApiError, ProctorClient
from ..core.errors import ProctorError
from ..core.ids import new_id
from ..core.states import FINISHED_TYPES
from .code_roots import CodeRootError, normalize_roots, resolve_entrypoint
from .deployed_folders import deployed_folders
from .processes import FlowRunProcess, execute_command

_log = logging.getLogger("proctor.agent")
_FINISHED = {t.value for t in FINISHED_TYPES}
#: A run in one of these has ended, as far as its agent is concerned.
_SETTLED = _FINISHED | {"PAUSED"}
#: What `Agent._api` answers instead of raising.
UNREACHABLE, REFUSED = object(), object()


@dataclass(frozen=True)
class AgentSettings:
    """How an agent behaves; every duration in seconds."""

    api_url: str
    work_queue: str = "default"
    limit: int = 4
    labels: tuple[str, ...] = ()
    name: str | None = None
    poll_interval: float = 2.0
    heartbeat_interval: float = 5.0
    cancel_grace: float = 10.0
    shutdown_grace: float = 30.0
    workdir: Path | None = None
    #: Folders whose code this agent may run (default: `workdir`); see `agent.code_roots`.
    code_roots: tuple[Path, ...] = ()
    #: Also run code under the folders deployed from on this machine (`agent.deployed_folders`).
    trust_deployed_folders: bool = True

    def __post_init__(self) -> None:
        if self.limit < 1 or self.limit > 100:
            raise ProctorError(f"limit={self.limit}: an agent runs 1 to 100 runs at once")
        for option in ("poll_interval", "heartbeat_interval", "cancel_grace", "shutdown_grace"):
            if getattr(self, option) < 0:
                raise ProctorError(f"{option} must not be negative")


@dataclass
class Tick:
    """What one iteration did, by flow-run id: for logs and tests."""

    started: list[str] = field(default_factory=list)
    finished: dict[str, str] = field(default_factory=dict)  # id -> final state type
    released: list[str] = field(default_factory=list)
    stopping: list[str] = field(default_factory=list)


class Agent:
    """Polls one work queue and runs what it claims in subprocesses (see the module docstring)."""

    def __init__(
        self, settings: AgentSettings, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.id = new_id()
        self.name = settings.name or f"{socket.gethostname()}-{os.getpid()}"
        self.workdir = (settings.workdir or Path.cwd()).resolve()
        self.code_roots = normalize_roots(settings.code_roots, self.workdir)
        self.client = ProctorClient(settings.api_url)
        self.env = env
        self.running: dict[str, FlowRunProcess] = {}
        self.claimed: deque[dict[str, Any]] = deque()
        self.stopping = False
        self.hurry = False  # a second stop request: do not wait for running runs
        self._next_heartbeat = 0.0
        self._next_claim = 0.0
        self._unreported: list[tuple[str, dict[str, Any], bool]] = []
        self._cancel_seen: set[str] = set()
        self._wake = threading.Event()
        self._server_down = False

    # -- the loop -------------------------------------------------------------------------------
    def run_once(self, now: float) -> Tick:
        """One iteration of the pipeline in the module docstring."""
        tick = Tick()
        self._retry_reports()
        if now >= self._next_heartbeat:
            self._heartbeat(now, tick)
        self._reap(now, tick)
        for proc in self.running.values():
            if proc.escalate(now, self.settings.cancel_grace):
                _log.warning("flow run %s did not stop within %.0fs: killed", proc.flow_run_id,
                             self.settings.cancel_grace)
        if not self.stopping and now >= self._next_claim:
            self.claim(now)
        self.launch(now, tick)
        return tick

    def request_stop(self) -> None:
        """Begin stopping (safe from a signal handler); a second call stops without waiting."""
        if self.stopping:
            self.hurry = True
        self.stopping = True
        self._wake.set()

    def start(self, clock: Callable[[], float] = time.time) -> None:
        """Run until stopped by `request_stop` (or SIGINT/SIGTERM in the main thread), then shut
        down as the module docstring says."""
        restore = self._install_signal_handlers()
        _log.info("agent %s polling work queue %r of %s (up to %d runs at once)", self.name,
                  self.settings.work_queue, self.settings.api_url, self.settings.limit)
        tick_every = max(0.01, min(0.25, self.settings.poll_interval))
        try:
            while not self.stopping:
                self.run_once(clock())
                self._wake.wait(tick_every)
            self._shutdown(clock, tick_every)
        finally:
            restore()
            self.client.close()

    def _shutdown(self, clock: Callable[[], float], tick_every: float) -> None:
        self.run_once(clock())  # releases whatever was claimed but not started
        if self.running:
            _log.info("agent stopping: waiting up to %.0fs for %d run(s) to finish (Ctrl-C again "
                      "to stop them now)", self.settings.shutdown_grace, len(self.running))
        deadline = clock() + self.settings.shutdown_grace
        self._wake.clear()
        while self.running:
            now = clock()
            if self.hurry or now >= deadline:
                for proc in self.running.values():
                    proc.request_stop(f"agent {self.name} stopped before the run finished", now)
            self.run_once(now)
            self._wake.wait(tick_every)
            self._wake.clear()
        self._retry_reports()
        self._api(self.client.agent_offline, self.id)  # shown offline now, not a timeout later
        _log.info("agent %s stopped", self.name)

    def _install_signal_handlers(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            self.request_stop()

        for sig in previous:
            signal.signal(sig, handler)

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    # -- 1. heartbeat ---------------------------------------------------------------------------
    def holding(self) -> list[str]:
        """The runs this agent has: running, claimed and not started, or still to report."""
        ids = set(self.running)
        ids.update(claim["flow_run"]["id"] for claim in self.claimed)
        ids.update(run_id for run_id, _, _ in self._unreported)
        return sorted(ids)

    def _heartbeat(self, now: float, tick: Tick) -> None:
        self._next_heartbeat = now + self.settings.heartbeat_interval
        answer = self._api(self.client.agent_heartbeat, self.id, self.name,
                           self.settings.work_queue, self.settings.labels, self.holding())
        if not isinstance(answer, dict):
            return
        for run_id in answer.get("cancel") or []:
            self._cancel(run_id, now, tick)
        for run_id in answer.get("stop") or []:
            self._fence(run_id, tick)
        for run_id in answer.get("released") or []:
            _log.warning("flow run %s was claimed for this agent but the answer never came; "
                         "the server gave it back to the queue", run_id)

    def _fence(self, run_id: str, tick: Tick) -> None:
        """The server ended this run (or gave it to another agent): kill it now, without a
        state of its own (the server's stands), so that it never runs beside its retry."""
        proc = self.running.get(run_id)
        if proc is not None and not proc.fenced:
            _log.warning("flow run %s (%s): the server has ended it or given it to another "
                         "agent; killing its process %d", run_id, proc.label, proc.pid)
            proc.fence()
            tick.stopping.append(run_id)
        for claim in list(self.claimed):
            if claim["flow_run"]["id"] == run_id:
                self.claimed.remove(claim)
        self._unreported = [item for item in self._unreported if item[0] != run_id]

    def _cancel(self, run_id: str, now: float, tick: Tick) -> None:
        proc = self.running.get(run_id)
        if proc is not None:
            if proc.stop_requested_at is None:
                _log.info("cancelling flow run %s (%s): stopping its process %d", run_id,
                          proc.label, proc.pid)
                proc.request_stop("cancelled on request", now)
                tick.stopping.append(run_id)
            return
        for claim in list(self.claimed):
            if claim["flow_run"]["id"] == run_id:
                self.claimed.remove(claim)
                self._report(run_id, "CANCELLED", "cancelled before it started")
                return
        if run_id in self._cancel_seen:
            return
        self._cancel_seen.add(run_id)
        run = self._api(self.client.read_flow_run, run_id)
        if isinstance(run, dict) and run.get("state_type") not in _FINISHED:
            self._report(run_id, "CANCELLED", "cancelled on request")

    # -- 2. reap --------------------------------------------------------------------------------
    def _reap(self, now: float, tick: Tick) -> None:
        for run_id, proc in list(self.running.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.running[run_id]
            tick.finished[run_id] = self._settle(proc, code)

    def _settle(self, proc: FlowRunProcess, code: int) -> str:
        """Report what the ended process could not; the run's final state type."""
        try:
            return self._conclude(proc, code)
        finally:
            proc.cleanup()

    def _conclude(self, proc: FlowRunProcess, code: int) -> str:
        run_id = proc.flow_run_id
        if proc.fenced:
            _log.info("flow run %s (%s): its process was stopped; the server's end stands",
                      run_id, proc.label)
            return "?"
        run = self._api(self.client.read_flow_run, run_id)
        state = run.get("state_type") if isinstance(run, dict) else None
        if state in _SETTLED:
            _log.info("flow run %s (%s) ended: %s", run_id, proc.label, state)
            return state
        # The server does not know how the run ended (or could not be asked): say it.
        result = proc.result()
        if result is not None:
            self._report(run_id, result["type"], result.get("message") or "")
            _log.info("flow run %s (%s) ended %s (reported by its agent)", run_id, proc.label,
                      result["type"])
            return result["type"]
        if proc.stop_requested_at is not None:
            self._report(run_id, "CANCELLED", proc.stop_reason)
            _log.info("flow run %s (%s) cancelled: %s", run_id, proc.label, proc.stop_reason)
            return "CANCELLED"
        how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
        self._report(run_id, "CRASHED", f"its process {proc.pid} {how} before the run finished")
        _log.error("flow run %s (%s) crashed: process %s", run_id, proc.label, how)
        return "CRASHED"

    # -- 4. claim -------------------------------------------------------------------------------
    def claim(self, now: float) -> list[str]:
        """Claim up to the free slots' worth of due runs; the ids claimed (not started yet)."""
        free = self.settings.limit - len(self.running) - len(self.claimed)
        if free <= 0:
            return []
        claims = self._api(self.client.claim_runs, self.settings.work_queue, self.id, free)
        if not isinstance(claims, list):
            self._next_claim = now + self.settings.poll_interval
            return []
        self.claimed.extend(claims)
        # A full batch means more may be waiting: ask again as soon as a slot frees up.
        self._next_claim = now if len(claims) >= free else now + self.settings.poll_interval
        return [c["flow_run"]["id"] for c in claims]

    # -- 5. launch or release -------------------------------------------------------------------
    def launch(self, now: float, tick: Tick | None = None) -> Tick:
        """Start the claimed runs, or release them all when the agent is stopping."""
        tick = tick if tick is not None else Tick()
        while self.claimed:
            claim = self.claimed.popleft()
            run_id = claim["flow_run"]["id"]
            if self.stopping:
                answer = self._api(self.client.release_flow_run, run_id, self.id)
                if answer is not UNREACHABLE and answer is not REFUSED:
                    tick.released.append(run_id)
                    _log.info("released flow run %s: the agent is stopping", run_id)
                else:
                    _log.warning("could not release flow run %s; the server's reaper ends it "
                                 "once this agent stops heartbeating", run_id)
                continue
            self._start(claim, now, tick)
        return tick

    def _start(self, claim: dict[str, Any], now: float, tick: Tick) -> None:
        run = claim["flow_run"]
        deployment = claim.get("deployment") or {}
        entrypoint = deployment.get("entrypoint")
        label = f"{run.get('flow_name')}/{deployment.get('name', '?')}"
        if not entrypoint:
            self._report(run["id"], "FAILED", "its deployment has no entrypoint")
            return
        folder = deployment.get("working_directory")
        base = Path(folder) if folder else self.workdir
        if folder and not base.is_dir():
            message = (f"cannot run {entrypoint}: the folder it was deployed from, {folder}, "
                       f"does not exist on host {socket.gethostname()} (agent {self.name}, "
                       f"working directory {self.workdir}); run an agent on the machine where "
                       f"{folder} is, or deploy again from a folder this agent can read")
            _log.error("flow run %s (%s): %s", run["id"], label, message)
            self._report(run["id"], "FAILED", message)
            return
        try:
            target = resolve_entrypoint(entrypoint, roots=self.roots(), base=base, workdir=base)
        except CodeRootError as exc:
            _log.error("flow run %s (%s) refused: %s", run["id"], label, exc)
            self._report(run["id"], "FAILED", f"agent {self.name}: {exc}")
            return
        if not target.file.is_file():
            message = (f"cannot load {entrypoint}: {target.file}: no such file on host "
                       f"{socket.gethostname()} (agent {self.name}, working directory "
                       f"{self.workdir}; the deployment's folder: {folder or 'not recorded'}); "
                       "deploy the flow again from the folder that holds it, or start an agent "
                       "where the file is")
            _log.error("flow run %s (%s): %s", run["id"], label, message)
            self._report(run["id"], "FAILED", message)
            return
        run_dir = Path(tempfile.mkdtemp(prefix=f"proctor-run-{run['id'][:8]}-"))
        parameters = run_dir / "parameters.json"
        try:
            fd = os.open(parameters, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(run.get("parameters") or {}, fh)
            command = execute_command(run["id"], target.reference, parameters,
                                      self.client.api_url, result_file=run_dir / "result.json",
                                      scheduled_start=run.get("expected_start_time"))
            proc = FlowRunProcess.start(run["id"], label, command, cwd=target.workdir,
                                        env=self.env, now=now, run_dir=run_dir)
        except OSError as exc:
            shutil.rmtree(run_dir, ignore_errors=True)
            self._report(run["id"], "CRASHED", f"the agent could not start its process: {exc}")
            return
        self.running[run["id"]] = proc
        tick.started.append(run["id"])
        _log.info("started flow run %s (%s) in process %d", run["id"], label, proc.pid)

    def roots(self) -> tuple[Path, ...]:
        """The folders whose code this agent may run now: its code roots, and the folders
        deployed from on this machine (read afresh: `agent.deployed_folders`)."""
        if not self.settings.trust_deployed_folders:
            return self.code_roots
        extra = tuple(f for f in deployed_folders() if f not in self.code_roots)
        return self.code_roots + extra

    # -- talking to the server ------------------------------------------------------------------
    def _report(self, run_id: str, state_type: str, message: str, force: bool = False) -> None:
        """Set the run's state; kept and retried on later iterations if the server is away."""
        state = {"type": state_type, "message": message, "timestamp": time.time()}
        self._unreported.append((run_id, state, force))
        self._retry_reports()

    def _retry_reports(self) -> None:
        pending, self._unreported = self._unreported, []
        for run_id, state, force in pending:
            answer = self._api(self.client.set_flow_run_state, run_id, state, force)
            if answer is UNREACHABLE:
                self._unreported.append((run_id, state, force))
            elif answer is REFUSED:  # 409: the run is already final (the reaper, a race)
                _log.debug("flow run %s: %s not recorded, refused", run_id, state["type"])

    def _api(self, call: Callable[..., Any], *args: Any) -> Any:
        """Call the server. `UNREACHABLE` when it could not answer (or answered 5xx; logged
        once per outage): worth trying again later. `REFUSED` for a 4xx answer: an expected
        race (the run ended, was taken or deleted meanwhile), logged at debug level."""
        from ..client import ServerUnreachable

        try:
            answer = call(*args)
        except ServerUnreachable as exc:
            if not self._server_down:
                _log.warning("server unreachable, will keep trying: %s", exc)
            self._server_down = True
            return UNREACHABLE
        except ApiError as exc:
            if exc.status >= 500:
                _log.warning("%s", exc)
                return UNREACHABLE
            _log.debug("%s", exc)
            return REFUSED
        if self._server_down:
            _log.info("server reachable again")
            self._server_down = False
        return answer
