"""proctor.tasks.redis against the real Redis server on 127.0.0.1:6379."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from proctor import Flow
from proctor.core.errors import TaskOptionError
from proctor.recording.memory import MemoryRecorder
from proctor.tasks.redis import (
    RedisDelete,
    RedisGet,
    RedisPublish,
    RedisSet,
    RedisStreamAdd,
    RedisStreamRead,
)

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def prefix():
    name = f"proctor-test:{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)


def test_keys_with_expiry_and_delete(prefix, basic_executor):
    with Flow("redis-keys", executor=basic_executor) as f:
        stored = RedisSet(f"{prefix}:rates", url=URL)(value="1.05")
        short = RedisSet(f"{prefix}:short", url=URL, expire=0.3)(value=7)
        read = RedisGet(f"{prefix}:rates")(upstream_tasks=[stored])
        raw = RedisGet(f"{prefix}:rates", decode=False)(upstream_tasks=[stored])
        gone = RedisGet(f"{prefix}:never-set")()
    state = f.run()
    assert state.result[stored].result is True and state.result[short].result is True
    assert state.result[read].result == "1.05" and state.result[raw].result == b"1.05"
    assert state.result[gone].result is None
    time.sleep(0.5)
    assert RedisGet(f"{prefix}:short").run() is None  # expired
    assert RedisDelete().run(f"{prefix}:rates", f"{prefix}:absent") == 1


def test_publish_reaches_a_subscriber_and_streams_keep_entries(prefix):
    listener = redis.Redis.from_url(URL, decode_responses=True).pubsub()
    listener.subscribe(f"{prefix}:news")
    assert listener.get_message(timeout=5)["type"] == "subscribe"
    stream = f"{prefix}:events"
    with Flow("redis-pubsub") as f:
        told = RedisPublish(f"{prefix}:news")(message="rates ready")
        first = RedisStreamAdd(stream)(fields={"kind": "rates", "n": 1})
        second = RedisStreamAdd(stream)(fields={"kind": "orders", "n": 2},
                                        upstream_tasks=[first])
        every = RedisStreamRead(stream)(upstream_tasks=[second])
        later = RedisStreamRead(stream)(after=first, upstream_tasks=[second])
    state = f.run()
    assert state.result[told].result == 1
    message = listener.get_message(timeout=5)
    assert message["data"] == "rates ready"
    listener.close()
    entries = state.result[every].result
    assert [fields for _, fields in entries] == [{"kind": "rates", "n": "1"},
                                                 {"kind": "orders", "n": "2"}]
    assert entries[0][0] == state.result[first].result
    assert [fields["kind"] for _, fields in state.result[later].result] == ["orders"]


def test_a_dead_server_is_retried_then_named_without_its_password():
    recorder = MemoryRecorder()
    with Flow("redis-down") as f:
        out = RedisGet("k", url="redis://:hunter2hunter@127.0.0.1:9/0", max_retries=1,
                       retry_delay=0)()
    state = f.run(observers=[recorder])
    message = state.result[out].message
    assert message.startswith("GET on redis://") and "127.0.0.1:9" in message
    assert "hunter2hunter" not in message
    assert recorder.history("redis_get") == ["Running", "Retrying", "Running", "Failed"]


def test_options_and_values_are_checked(monkeypatch, prefix):
    with pytest.raises(TaskOptionError, match="not a Redis URL"):
        RedisGet("k", url="http://127.0.0.1:6379")
    with pytest.raises(TaskOptionError, match="expire=0"):
        RedisSet("k", expire=0)
    monkeypatch.delenv("PROCTOR_CONNECTION_CACHE", raising=False)  # examples/08 sets it
    with pytest.raises(TaskOptionError, match="PROCTOR_CONNECTION_CACHE"):
        RedisGet("k", connection="cache")
    monkeypatch.setenv("PROCTOR_CONNECTION_CACHE", URL)
    assert RedisSet(f"{prefix}:named", connection="cache").run("v") is True
    with Flow("redis-bad-value") as f:
        out = RedisSet(f"{prefix}:dict")(value={"a": 1})
    assert "serialize it first" in f.run().result[out].message
