"""Where a recorder keeps events it could not deliver: one outbox folder per server.

Events that did not reach a server (it was down at the end of a run, or refused the key) wait in
`$PROCTOR_HOME/outbox/<server>/` as JSON-lines files, oldest first by name, and the next
recorder that reports **to the same server** sends them before its own events. Another server
never receives them: it does not have the runs they belong to, and would refuse them or, worse,
hold a copy of another server's run. The folder name is readable (host and port) and made
unique by a digest of the whole URL; a `server.url` file inside says which server it is for.

Files directly in `$PROCTOR_HOME/outbox/` come from versions that kept one outbox for every
server: their server is unknown, so they are left where they are and reported once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

from .. import settings
from ..core.ids import new_id

_log = logging.getLogger("proctor.recording")
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
_warned_legacy: set[Path] = set()


def normalized_url(api_url: str) -> str:
    """The server's URL as recorders compare it: no trailing slash, lower-case scheme and
    host."""
    parts = urlsplit(api_url.strip().rstrip("/"))
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{parts.path}"


def outbox_dir(api_url: str, home: Path | None = None) -> Path:
    """The outbox folder of the server at `api_url`."""
    url = normalized_url(api_url)
    parts = urlsplit(url)
    readable = _UNSAFE.sub("-", parts.netloc or "server").strip("-")[:60] or "server"
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return (home or settings.home()) / "outbox" / f"{readable}-{digest}"


def prepare(folder: Path, api_url: str) -> None:
    """Create the server's outbox folder, with the `server.url` file that names it."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "server.url"
    if not marker.exists():
        marker.write_text(normalized_url(api_url) + "\n", encoding="utf-8")


def claim(folder: Path) -> deque:
    """The items of every outbox file in `folder`, oldest file first, taken so that no other
    recorder sends them too (each file is renamed before it is read, then deleted)."""
    backlog: deque = deque()
    _warn_legacy(folder.parent)
    if not folder.is_dir():
        return backlog
    for path in sorted(folder.glob("*.jsonl")):
        claimed = path.with_suffix(f".{new_id()[:8]}.sending")
        try:
            path.rename(claimed)  # two recorders never take the same file
        except OSError:
            continue
        try:
            for line in claimed.read_text(encoding="utf-8").splitlines():
                kind, item = json.loads(line)
                backlog.append((kind, item))
        except (OSError, ValueError) as exc:
            _log.error("unreadable outbox file %s kept aside: %s", claimed, exc)
            continue
        claimed.unlink(missing_ok=True)
    if backlog:
        _log.info("sending %d event(s) left over from earlier runs", len(backlog))
    return backlog


def _warn_legacy(root: Path) -> None:
    if root in _warned_legacy or not root.is_dir():
        return
    old = sorted(root.glob("*.jsonl"))
    if old:
        _warned_legacy.add(root)
        _log.warning("%d outbox file(s) in %s were written by an older Proctor that kept one "
                     "outbox for every server; their server is unknown, so they are not sent. "
                     "Move them into the folder of their server under %s to send them.",
                     len(old), root, root)
