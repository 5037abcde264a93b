"""`ShellTask`: run a shell command as a task, its output streamed to the run's logs.

    from proctor.tasks.shell import ShellTask

    count = ShellTask(name="count", return_all=True)
    with Flow("shell") as f:
        lines = count(command="ls data | wc -l")

The command runs with `shell` (default bash) from a temporary script: `helper_script` first (for
shared setup such as `cd` or `source`), then the command, in `cwd` (default: the task's working
directory), with `stdin` (text) as its input. `env` is added to the environment of the process
running the task. Each stdout line is logged at INFO as it arrives; the result is the last line
(or every line, with `return_all=True`). A non-zero exit code fails the task with that code and
the last 20 lines of stderr (of stdout when stderr is empty); `log_stderr=True` also logs the
command's stderr as errors when it fails. The command runs in a process group of its own: the
task's `timeout`, a cancelled run or an interrupt kill the whole group, children included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
from collections import deque
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import FAIL
from ..core.task import Task
from ..engine.logs import get_run_logger

#: how many of the last output lines a failure message quotes
_TAIL = 20


class ShellTask(Task):
    """Run a shell command (see the module docstring); arguments given to the call win over
    those given to the constructor."""

    def __init__(self, command: str | None = None, env: dict[str, str] | None = None,
                 helper_script: str | None = None, shell: str = "bash",
                 return_all: bool = False, log_stderr: bool = False,
                 stream_output: bool | str = True, cwd: str | os.PathLike | None = None,
                 stdin: str | None = None, **options: Any) -> None:
        self.command = command
        self.cwd = None if cwd is None else os.fspath(cwd)
        self.stdin = stdin
        self.env = _check_env(env)
        self.helper_script = helper_script
        self.shell = shell
        self.return_all = bool(return_all)
        self.log_stderr = bool(log_stderr)
        self.stream_output = stream_output
        options.setdefault("name", "ShellTask")
        super().__init__(**options)

    def run(self, command: str | None = None, env: dict[str, str] | None = None,
            helper_script: str | None = None, cwd: str | os.PathLike | None = None,
            stdin: str | None = None) -> Any:
        command = command if command is not None else self.command
        if not command:
            raise TaskOptionError(
                f"task {self.name!r}: no command to run; give ShellTask(command='...') or call "
                f"it with command='...'"
            )
        environment = {**os.environ, **self.env, **_check_env(env)}
        helper = helper_script if helper_script is not None else self.helper_script
        script = f"{helper}\n{command}\n" if helper else f"{command}\n"
        logger = get_run_logger()
        with tempfile.NamedTemporaryFile("w", prefix="proctor-shell-", suffix=".sh",
                                         delete=False) as fh:
            fh.write(script)
            path = fh.name
        where = os.fspath(cwd) if cwd is not None else self.cwd
        text_in = stdin if stdin is not None else self.stdin
        try:
            return self._execute(path, environment, logger, command, where, text_in)
        finally:
            os.unlink(path)

    def _execute(self, path: str, environment: dict[str, str], logger: Any,
                 command: str, cwd: str | None, stdin: str | None) -> Any:
        if cwd is not None and not os.path.isdir(cwd):
            raise FAIL(f"cwd {cwd!r} is not a folder; give an existing folder to run the "
                       f"command in")
        try:
            process = subprocess.Popen(
                [self.shell, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                env=environment, text=True, errors="replace", start_new_session=True, cwd=cwd,
            )
        except FileNotFoundError:
            raise FAIL(f"shell {self.shell!r} was not found; install it or pass shell='sh'") \
                from None
        if stdin is not None:
            threading.Thread(target=_feed, args=(process, stdin), daemon=True).start()
        lines: list[str] = []
        tail: deque[str] = deque(maxlen=_TAIL)
        errors: list[str] = []
        reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
        reader.start()
        # the attempt's timeout cannot interrupt a blocked read: the command is killed at it
        timer = threading.Timer(self.timeout, _kill, [process]) if self.timeout else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            for raw in process.stdout:
                line = raw.rstrip("\n")
                lines.append(line)
                tail.append(line)
                if self.stream_output:
                    logger.info(line)
            code = process.wait()
        except BaseException:  # timeout or interrupt: the command does not outlive its task
            _kill(process)
            raise
        finally:
            if timer is not None:
                timer.cancel()
        reader.join()
        stderr = [e.rstrip("\n") for e in errors]
        if code != 0:
            if self.log_stderr and stderr:
                logger.error("stderr of the command:\n%s", "\n".join(stderr))
            last = stderr[-_TAIL:] or list(tail)
            shown = "\n".join(last)
            raise FAIL(f"command exited with code {code}: {command.strip()[:200]}"
                       + (f"\nlast lines:\n{shown}" if shown else ""))
        if self.return_all:
            return lines
        return lines[-1] if lines else None


def _feed(process: subprocess.Popen, text: str) -> None:
    """Write the command's input, then close it (in a thread: a big input must not block the
    reading of the command's output)."""
    try:
        process.stdin.write(text)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the command stopped reading; its exit code tells the rest


def _check_env(env: Any) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
        raise TaskOptionError(f"ShellTask env={env!r} must be a dict of variable names to values")
    return {k: str(v) for k, v in env.items()}


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
