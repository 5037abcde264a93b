"""A child process that must not outlive the process that started it.

`proctor dev` starts its server as a child in a session of its own, so that a Ctrl-C typed in
the terminal reaches `proctor dev` alone, which then stops its agent before the server. The price
of that session: a SIGHUP of a closed terminal, or a SIGKILL of `proctor dev`, never reaches the
server, which went on holding the port with nobody to stop it. `proctor dev` now stops its
server on every signal it can catch; for what it cannot catch (SIGKILL, a crash of the
interpreter) the server ties its own life to its parent's, with `die_with_parent`:

- on Linux, the parent-death signal, `prctl(PR_SET_PDEATHSIG, SIGTERM)`: the kernel sends the
  child SIGTERM as soon as its parent ends. It is set by the child itself (not in a `preexec_fn`,
  which is unsafe in a threaded parent), so the child checks afterwards that its parent is still
  the one it was told about: the parent may have ended before the call;
- everywhere (the fallback where prctl does not exist, and a second line on Linux), a daemon
  thread that looks every `interval` seconds whether the process was re-parented, that is whether
  `os.getppid()` stopped being the parent's pid, and then sends the process SIGTERM.

SIGTERM lets uvicorn shut down cleanly (the scheduler stops, the database is closed). A process
still alive `grace` seconds after its parent went is ended by the thread with `os._exit`.

PR_SET_PDEATHSIG fires when the *thread* that started the child ends, not the whole process: the
parent must start the child from a thread that lives as long as it does (`proctor dev` uses its
main thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

from ..core.errors import ProctorError

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1
#: The exit code of a process ended by its lifeline after the grace period.
EXIT_ORPHANED = 3


class ParentGone(ProctorError):
    """The parent this process was to live with has already ended."""


def die_with_parent(
    parent_pid: int, *, interval: float = 0.5, grace: float = 10.0
) -> threading.Thread:
    """Make this process end (SIGTERM, then `os._exit` after `grace` s) when `parent_pid` ends.

    Raises `ParentGone` when `parent_pid` is not (or no longer) this process's parent. Returns
    the watching thread (a daemon: it never keeps the process alive)."""
    _expect_parent(parent_pid)
    set_parent_death_signal(signal.SIGTERM)
    _expect_parent(parent_pid)  # it may have ended just before the signal was asked for
    thread = threading.Thread(target=_watch, args=(parent_pid, interval, grace),
                              name="proctor-lifeline", daemon=True)
    thread.start()
    return thread


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send `signum` to this process when its parent ends; False where that is not
    available (another system, or a libc without prctl)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _expect_parent(parent_pid: int) -> None:
    actual = os.getppid()
    if actual != parent_pid:
        raise ParentGone(f"started to live with process {parent_pid}, but the parent is now "
                         f"process {actual}: process {parent_pid} has ended")


def _watch(parent_pid: int, interval: float, grace: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(EXIT_ORPHANED)
