"""Redis as tasks, with redis-py: keys with expiry, publish, and streams.

    from proctor.tasks.redis import RedisGet, RedisSet, RedisPublish, RedisStreamAdd, \\
        RedisStreamRead

    with Flow("cache-rates") as f:
        RedisSet(url="redis://127.0.0.1:6379/0", expire=3600)(key="rates:eur", value=table)
        RedisStreamAdd(stream="events")(fields={"kind": "rates", "day": "2026-12-06"})

Values are text, bytes or numbers as Redis stores them; `RedisGet(decode=True)` (the default)
gives text back, `decode=False` bytes. `RedisStreamRead` returns the entries after an id, as
`(id, {field: value})` pairs. The server is `url=` (default `redis://127.0.0.1:6379/0`) or
`connection="name"`: the URL in `PROCTOR_CONNECTION_<NAME>`. One client per URL per process. A
refused or lost connection asks for a retry (within the task's `max_retries`); other errors fail
naming the server (its URL without the password) and the command. Needs
`pip install 'proctor[redis]'`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from ..core.errors import TaskOptionError
from ..core.signals import FAIL, RETRY
from ..core.task import Task

DEFAULT_URL = "redis://127.0.0.1:6379/0"
_CLIENTS: dict[tuple[str, bool], Any] = {}
_LOCK = threading.Lock()


def _redis(owner: str) -> Any:
    try:
        import redis
    except ImportError:
        raise TaskOptionError(f"{owner} needs redis-py: pip install 'proctor[redis]'") from None
    return redis


def shown(url: str) -> str:
    """The URL without its password."""
    from ..notifications.options import redact_url

    return redact_url(url)


def _fresh_lock_in_child() -> None:
    """After a fork: a lock another thread held at the fork stays held in the child. (Redis
    clients check their process themselves and reconnect in a child.)"""
    global _LOCK
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)


def client_for(url: str, decode: bool) -> Any:
    """The process's client (connection pool) for `url`."""
    key = (url, decode)
    client = _CLIENTS.get(key)
    if client is None:
        with _LOCK:
            client = _CLIENTS.get(key)
            if client is None:
                import redis

                client = _CLIENTS[key] = redis.Redis.from_url(url, decode_responses=decode)
    return client


class _RedisTask(Task):
    """What every Redis task shares: the server, checked where written, and the errors."""

    default_name = "redis"

    def __init__(self, *, url: str | None = None, connection: str | None = None,
                 decode: bool = True, **options: Any) -> None:
        options.setdefault("name", self.default_name)
        super().__init__(**options)
        owner = f"task {self.name!r}"
        redis = _redis(owner)
        if url is not None and connection is not None:
            raise TaskOptionError(f"{owner}: give url= or connection=, not both")
        if connection is not None:
            variable = f"PROCTOR_CONNECTION_{str(connection).upper()}"
            url = os.environ.get(variable)
            if not url:
                raise TaskOptionError(f"{owner}: connection {connection!r} is not configured: "
                                      f"set {variable} to its URL, e.g. {DEFAULT_URL}")
        url = url or DEFAULT_URL
        try:
            redis.connection.parse_url(url)
        except (ValueError, TypeError) as exc:
            raise TaskOptionError(f"{owner}: url {shown(str(url))!r} is not a Redis URL "
                                  f"({exc})") from None
        self.url, self.decode = url, bool(decode)

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        client = client_for(self.url, self.decode)
        where = f"{command} on {shown(self.url)}"
        try:
            return getattr(client, command.lower())(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RETRY(f"{where}: {type(exc).__name__}: {exc}") from exc
        except redis.RedisError as exc:
            raise FAIL(f"{where}: {type(exc).__name__}: {exc}") from exc


def _key(owner: str, key: Any) -> str:
    if not isinstance(key, (str, bytes)) or not key:
        raise TaskOptionError(f"{owner}: key must be a non-empty string, got {key!r}")
    return key


class RedisGet(_RedisTask):
    """The value of `key` (None when it does not exist)."""

    default_name = "redis_get"

    def __init__(self, key: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.key = None if key is None else _key(f"task {self.name!r}", key)

    def run(self, key: str | None = None) -> Any:
        return self._call("GET", _key(f"task {self.name!r}", key or self.key))


class RedisSet(_RedisTask):
    """Set `key` to `value`, expiring after `expire` seconds when given; returns True."""

    default_name = "redis_set"

    def __init__(self, key: str | None = None, *, expire: float | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        owner = f"task {self.name!r}"
        if expire is not None and (isinstance(expire, bool) or not isinstance(
                expire, (int, float)) or expire <= 0):
            raise TaskOptionError(f"{owner}: expire={expire!r} must be seconds > 0")
        self.key = None if key is None else _key(owner, key)
        self.expire = expire

    def run(self, value: Any, key: str | None = None) -> bool:
        owner = f"task {self.name!r}"
        if not isinstance(value, (str, bytes, int, float)):
            raise FAIL(f"{owner}: Redis stores text, bytes or numbers; got "
                       f"{type(value).__name__} (serialize it first, e.g. json.dumps)")
        expire = None if self.expire is None else int(self.expire * 1000)
        return bool(self._call("SET", _key(owner, key or self.key), value, px=expire))


class RedisDelete(_RedisTask):
    """Delete keys; returns how many existed."""

    default_name = "redis_delete"

    def run(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(self._call("DELETE", *keys))


class RedisPublish(_RedisTask):
    """Publish `message` on `channel`; returns how many subscribers received it."""

    default_name = "redis_publish"

    def __init__(self, channel: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.channel = channel

    def run(self, message: Any, channel: str | None = None) -> int:
        target = channel or self.channel
        if not target:
            raise TaskOptionError(f"task {self.name!r}: no channel; give "
                                  f"RedisPublish(channel=...) or call it with channel=...")
        return int(self._call("PUBLISH", target, message))


class RedisStreamAdd(_RedisTask):
    """Append an entry (a dict of fields) to `stream`; returns its id. `maxlen` trims the
    stream to about that many entries."""

    default_name = "redis_stream_add"

    def __init__(self, stream: str | None = None, *, maxlen: int | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        self.stream, self.maxlen = stream, maxlen

    def run(self, fields: Mapping[str, Any], stream: str | None = None) -> str:
        owner = f"task {self.name!r}"
        target = stream or self.stream
        if not target:
            raise TaskOptionError(f"{owner}: no stream; give RedisStreamAdd(stream=...)")
        if not isinstance(fields, Mapping) or not fields:
            raise FAIL(f"{owner}: a stream entry is a non-empty dict of fields, got {fields!r}")
        entry_id = self._call("XADD", target, dict(fields), maxlen=self.maxlen,
                              approximate=self.maxlen is not None)
        return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


class RedisStreamRead(_RedisTask):
    """The entries of `stream` after the id `after` ("0": from the start), at most `count`:
    a list of (id, {field: value})."""

    default_name = "redis_stream_read"

    def __init__(self, stream: str | None = None, *, count: int = 1000, **options: Any) -> None:
        super().__init__(**options)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise TaskOptionError(f"task {self.name!r}: count={count!r} must be >= 1")
        self.stream, self.count = stream, count

    def run(self, after: str = "0", stream: str | None = None) -> list[tuple[str, dict]]:
        target = stream or self.stream
        if not target:
            raise TaskOptionError(f"task {self.name!r}: no stream; give RedisStreamRead("
                                  f"stream=...)")
        answer = self._call("XREAD", {target: after}, count=self.count) or []
        entries = answer[0][1] if answer else []
        return [(entry_id, dict(values)) for entry_id, values in entries]


__all__ = ["RedisDelete", "RedisGet", "RedisPublish", "RedisSet", "RedisStreamAdd",
           "RedisStreamRead", "client_for"]
