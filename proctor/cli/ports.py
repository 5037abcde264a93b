"""Taking a TCP port for a server this command starts, and saying who holds it when it is taken.

`proctor dev` used to start its server and then wait for *something* to answer on the port: when
an older server (say, of a terminal closed earlier) still held it, the new server failed to bind
and exited, but the old one answered, and the command reported "Server ready" for it, deployed
into it and started a second agent. So the port is now taken before anything starts:
`reserve_port` binds and listens on it in this process and hands the listening socket to the
server child (`proctor server start --fd`), so whatever answers on that port afterwards is the
child, and there is no moment between "the port is free" and "the server holds it" for another
process to slip in.

When the port is taken, `PortInUse` names the process that holds it (pid and command line) when
it can be found: through psutil when it is installed, else from Linux's /proc (the socket's inode
in /proc/net/tcp*, then the process whose file descriptors include that socket). A process of
another user cannot be seen without privileges; the message then says how to look.
"""

from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ProctorError

#: The TCP state "listening" in /proc/net/tcp (include/net/tcp_states.h: TCP_LISTEN = 10).
_PROC_LISTEN = "0A"


@dataclass(frozen=True)
class PortHolder:
    """A process found listening on a port; `command` is empty when it could not be read."""

    pid: int
    command: str

    def describe(self, width: int = 200) -> str:
        """`process PID (command line)`, the command on one line and cut at `width`."""
        command = " ".join(self.command.split())
        if len(command) > width:
            command = command[: width - 3] + "..."
        return f"process {self.pid} ({command})" if command else f"process {self.pid}"


class PortInUse(ProctorError):
    """The port is taken by another socket; `holder` is who holds it, when that could be found."""

    def __init__(self, host: str, port: int, holder: PortHolder | None) -> None:
        self.host, self.port, self.holder = host, port, holder
        who = holder.describe() if holder else (
            f"a process this user cannot see (`sudo ss -ltnp 'sport = :{port}'` shows it)")
        stop = f"Stop it (kill {holder.pid})" if holder else "Stop it"
        other = next_free_port(host, port)
        super().__init__(
            f"port {port} on {host} is already in use by {who}. {stop}, or choose another "
            f"port: --port {other} (with make: make run PORT={other})")


class PortUnavailable(ProctorError):
    """The port cannot be bound for another reason than being taken (no permission, bad
    address)."""


def reserve_port(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A socket bound to (`host`, `port`) and listening, for a server to accept on.

    SO_REUSEADDR is set as uvicorn sets it, so the connections of a server that stopped a moment
    ago (TIME_WAIT) do not block the port; a socket that is *listening* there still does, and
    then `PortInUse` says whose it is. Raises `PortUnavailable` for other bind errors."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Listening at once, not only bound: on Linux two SO_REUSEADDR sockets may both be bound
        # to one port until one of them listens.
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(host, port, who_holds(port)) from exc
        raise PortUnavailable(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def next_free_port(host: str, port: int, tries: int = 20) -> int:
    """The first port after `port` that can be bound now (a suggestion for messages; it may be
    taken a moment later), or `port + 1` when none of the next `tries` can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return port + 1 if port < 65535 else port - 1


def who_holds(port: int) -> PortHolder | None:
    """The process listening on TCP `port` (any address), or None when it cannot be found."""
    holder = _holder_from_psutil(port)
    return holder if holder is not None else _holder_from_proc(port)


def _holder_from_psutil(port: int) -> PortHolder | None:
    try:
        import psutil
    except ImportError:
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):  # macOS needs privileges for this
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                continue
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline())
            except (psutil.Error, OSError):
                command = ""
            return PortHolder(conn.pid, command)
    return None


def _holder_from_proc(port: int) -> PortHolder | None:
    """Linux without psutil: the listening socket's inode, then the process holding it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _PROC_LISTEN:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return PortHolder(int(entry.name), _proc_command(entry))
        except OSError:  # another user's process, or one that just ended
            continue
    return None


def _proc_command(entry: Path) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
