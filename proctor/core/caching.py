"""Cache keys: when may a task run be answered from an earlier run's result?

A cache key function receives the task run's context and its inputs by parameter name, and
returns a string (or None: do not cache this run). `task_input_hash` is the usual one: same task
code, same inputs, same key, in any process.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .errors import CacheKeyError


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    raise TypeError(type(value).__name__)


def _stable_bytes(task_label: str, inputs: dict[str, Any]) -> bytes:
    """Inputs as bytes that do not depend on the process (JSON first, pickle otherwise)."""
    try:
        return json.dumps(inputs, sort_keys=True, default=_json_default).encode()
    except (TypeError, ValueError):
        pass
    import cloudpickle

    try:
        return cloudpickle.dumps(inputs)
    except Exception:
        for name, value in inputs.items():
            try:
                cloudpickle.dumps(value)
            except Exception as exc:
                raise CacheKeyError(
                    f"{task_label}: input {name!r} ({type(value).__name__}) cannot be hashed for "
                    f"the cache ({type(exc).__name__}: {exc}); pass a value that pickles, or "
                    f"give the task a cache_key_fn that leaves it out"
                ) from None
        raise


def code_identity(task: Any) -> str:
    """What names a task's code: module, qualified name, and a digest of its bytecode."""
    fn = getattr(task, "fn", None) or type(task).run
    code = getattr(fn, "__code__", None)
    digest = hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16] if (
        code is not None
    ) else ""
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', task.name)}:{digest}"


def task_input_hash(context: Any, inputs: dict[str, Any]) -> str:
    """A key from the task's code and its inputs: equal inputs to the same code hit the cache."""
    task = getattr(context, "task", None)
    label = f"task {getattr(context, 'task_key', '?')!r}"
    identity = code_identity(task) if task is not None else getattr(context, "task_name", "")
    digest = hashlib.sha256(identity.encode() + b"\0" + _stable_bytes(label, inputs))
    return digest.hexdigest()
