"""One flow run in its own operating-system process, as the agent sees it.

The agent never imports user code: each claimed run becomes `python -m proctor.agent.execute
--flow-run-id ID --entrypoint REF --parameters-file FILE --result-file FILE --api-url URL`,
which loads the entrypoint and runs the flow, recording to the server under the run's own id.
The parameters and the result travel through files in the run's private folder (`run_dir`,
removed once the run is settled), never on the command line.

The child gets a session of its own (`start_new_session`): a Ctrl-C typed in the agent's terminal
reaches the agent only, and the agent decides what happens to its runs (see `proctor.agent`).
Stopping is two-step: the reason is written to the run's folder (the child records it in its
CANCELLED state), then SIGTERM, then SIGKILL when the child has not exited after a grace period.
A fenced run (the server ended it) gets SIGKILL at once: its own end would contradict the
server's. Signals go to the child's whole process group, so worker processes of a `processes`
executor stop with it instead of outliving their run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def execute_command(
    flow_run_id: str,
    entrypoint: str,
    parameters: Mapping[str, Any] | Path,
    api_url: str,
    *,
    result_file: Path | None = None,
    scheduled_start: float | None = None,
) -> list[str]:
    """The command line that runs one flow run in a fresh Python process. `parameters` is the
    file that holds them (a mapping is accepted for small values, passed inline);
    `scheduled_start` is when the server scheduled the run (`proctor.context.date`)."""
    command = [
        sys.executable, "-m", "proctor.agent.execute",
        "--flow-run-id", flow_run_id,
        "--entrypoint", entrypoint,
    ]
    if isinstance(parameters, Path):
        command += ["--parameters-file", str(parameters)]
    else:
        command += ["--parameters", json.dumps(dict(parameters))]
    if result_file is not None:
        command += ["--result-file", str(result_file)]
    if scheduled_start is not None:
        command += ["--scheduled-start", repr(float(scheduled_start))]
    return [*command, "--api-url", api_url]


@dataclass
class FlowRunProcess:
    """A started flow-run process and what the agent decided about it."""

    flow_run_id: str
    label: str  # "flow/deployment" for messages
    process: subprocess.Popen
    started_at: float
    #: When the agent asked it to stop (cancellation or shutdown), and why; None while it runs.
    stop_requested_at: float | None = None
    stop_reason: str = ""
    killed: bool = False
    #: Killed because the server ended the run (see `fence`).
    fenced: bool = False
    exit_code: int | None = field(default=None)
    #: The run's private folder (parameters, result file), removed by `cleanup`.
    run_dir: Path | None = None

    @classmethod
    def start(
        cls,
        flow_run_id: str,
        label: str,
        command: list[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None,
        now: float,
        run_dir: Path | None = None,
    ) -> FlowRunProcess:
        process = subprocess.Popen(
            command, cwd=str(cwd), env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        return cls(flow_run_id, label, process, now, run_dir=run_dir)

    def result(self) -> dict[str, Any] | None:
        """The final state the process wrote (`{"type", "message"}`), or None."""
        if self.run_dir is None:
            return None
        try:
            data = json.loads((self.run_dir / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            return None
        return data

    def cleanup(self) -> None:
        """Remove the run's private folder."""
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        """The exit code once the process has ended (and been reaped), else None."""
        if self.exit_code is None:
            self.exit_code = self.process.poll()
        return self.exit_code

    def request_stop(self, reason: str, now: float) -> None:
        """SIGTERM, once; `escalate` sends SIGKILL when the grace period is over."""
        if self.stop_requested_at is not None:
            return
        self.stop_requested_at = now
        self.stop_reason = reason
        if self.run_dir is not None:
            try:
                (self.run_dir / "stop-reason").write_text(reason, encoding="utf-8")
            except OSError:
                pass
        if self.poll() is None:
            self._signal(signal.SIGTERM)

    def fence(self) -> None:
        """SIGKILL now: the server ended the run, and nothing of it may go on."""
        self.fenced = True
        if self.poll() is None:
            self.kill()

    def escalate(self, now: float, grace: float) -> bool:
        """SIGKILL a process asked to stop more than `grace` seconds ago; True if killed now."""
        if self.stop_requested_at is None or self.killed or self.poll() is not None:
            return False
        if now - self.stop_requested_at < grace:
            return False
        self.kill()
        return True

    def kill(self) -> None:
        self.killed = True
        self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))

    def _signal(self, signum: int) -> None:
        """Signal the child's process group (POSIX), or the child alone elsewhere."""
        try:
            if hasattr(os, "killpg"):
                os.killpg(self.process.pid, signum)
            elif signum == signal.SIGTERM:
                self.process.terminate()
            else:
                self.process.kill()
        except (ProcessLookupError, PermissionError):
            pass
