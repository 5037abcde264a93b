"""Results on disk: persisted task results and the task cache, written atomically.

Files live under `settings.results_dir()`. Every write goes to a temporary file in the same folder
and is renamed into place, so a reader sees either the old file or the new one, never half of one.
Cache entries carry their expiry time in a small JSON header line.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import settings
from ..core.serializers import Serializer, get_serializer


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def persist_result(task_run_id: str, value: Any, serializer: Serializer) -> Path:
    """Write a task run's result; returns where it went."""
    path = settings.results_dir() / f"{task_run_id}{serializer.extension}"
    write_atomic(path, serializer.dumps(value))
    return path


def load_result(path: str | Path) -> Any:
    """Read a persisted result back (the serializer is known from the file's extension)."""
    path = Path(path)
    for name in ("json", "pickle"):
        serializer = get_serializer(name)
        if path.suffix == serializer.extension:
            return serializer.loads(path.read_bytes())
    raise ValueError(f"{path}: not a result file written by Proctor (unknown extension)")


def _cache_path(key: str) -> Path:
    name = hashlib.sha256(key.encode()).hexdigest()
    return settings.results_dir() / "cache" / name[:2] / f"{name}.entry"


def cache_get(key: str, now: float | None = None) -> tuple[bool, Any]:
    """(True, value) for a live cache entry; (False, None) when missing, expired or unreadable."""
    path = _cache_path(key)
    try:
        raw = path.read_bytes()
    except OSError:
        return False, None
    try:
        header_line, _, payload = raw.partition(b"\n")
        header = json.loads(header_line)
        expires = header.get("expires_at")
        if expires is not None and (time.time() if now is None else now) >= expires:
            return False, None
        return True, get_serializer(header["serializer"]).loads(payload)
    except Exception:
        return False, None  # a damaged entry is a miss, never a failure


def cache_put(key: str, value: Any, expires_at: float | None, serializer: Serializer) -> None:
    """Store `value` under `key` until `expires_at` (None: no expiry)."""
    header = json.dumps({"serializer": serializer.name, "expires_at": expires_at,
                         "created_at": time.time()}).encode()
    write_atomic(_cache_path(key), header + b"\n" + serializer.dumps(value))
