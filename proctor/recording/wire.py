"""What the recorder sends, and how: JSON-safe values, state bodies, event ids, batch shapes.

Pure functions of the items the recorder queues (no I/O), kept apart from the sending machinery
in `recording.api`: what a database can store (`clean_text`), what JSON can carry
(`jsonable`), a state as the API takes it (`state_json`), time-ordered event ids
(`event_id`), an item's weight and size in a batch (`measure`), a batch split the way
`POST /api/events` takes it (`split`), and its encoding (`encode`).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from typing import Any

from ..core.states import State

MESSAGE_LIMIT = 20_000
#: The most upstream task keys the server takes for one task run (more would refuse the batch).
UPSTREAM_LIMIT = 1_000


def clean_text(text: str) -> str:
    """Text every database can store: NUL (which PostgreSQL text cannot hold) and unpaired
    surrogates (which are not UTF-8) become U+FFFD, rather than getting a whole batch refused."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def jsonable(value: Any) -> Any:
    """`value` made JSON-safe: containers walked, anything else not JSON given as its repr,
    text cleaned (`clean_text`)."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return clean_text(repr(value))


def mask(text: str) -> str:
    """The message with secret values masked (`core.secrets`; free when there are none)."""
    from ..core import secrets

    return secrets.mask(text) if secrets.known() else text


def state_json(state: State) -> dict[str, Any]:
    """A state as the API takes it: metadata only, never the result. Fields equal to the API's
    defaults are left out (the name is always the type's, the message often empty, the times
    often unknown): less to encode here and to parse on the server."""
    data: dict[str, Any] = {"type": state.type.value, "timestamp": time.time()}
    if state.message:
        data["message"] = clean_text(mask(state.message)[:MESSAGE_LIMIT])
    if state.started_at is not None:
        data["started_at"] = state.started_at
    if state.ended_at is not None:
        data["ended_at"] = state.ended_at
    return data


# Randomness for `event_id`, seeded from the OS once per process and again in a forked child (as
# `core.ids` does for run ids): a parent and child must not draw the same bits.
_rng = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


def event_id() -> str:
    """A new id for an event the recorder sends (a state change, a log line): a UUID version 7,
    whose first 48 bits are the time in milliseconds and the other 74 random. Ids made one after
    the other sort together, so the server's id indexes take them near their last page instead
    of anywhere in the index, which keeps writes to a large history cheap."""
    value = (
        (time.time_ns() // 1_000_000) << 80
        | 0x7 << 76
        | _rng.getrandbits(12) << 64
        | 0x2 << 62
        | _rng.getrandbits(62)
    )
    return f"{value:032x}"


#: Roughly the most JSON one request carries (the server takes up to 10 MiB by default).
MAX_BATCH_BYTES = 6 * 1024 * 1024


def _measure(kind: str, item: dict) -> tuple[int, int]:
    """An item's weight in server items (a task run with its first state counts two) and a
    generous guess of its JSON size (everything but a message is short)."""
    if kind == "task_run":
        # upstream keys are short, but a wide fan-in has many of them
        length = 500 + 100 * len(item.get("upstream", ()))
        return (1, length) if item.get("state") is None else (2, length + 400)
    if kind == "state":
        return 1, 500 + len(item["state"].get("message", ""))
    if kind == "log":
        return 1, 500 + len(item.get("message", ""))
    return 1, 500


def _split(batch: list, folds: bool | None) -> tuple[list, list, list, int]:
    """A batch as `POST /api/events` takes it: task runs, states, logs, and how many task runs
    carry their first state.

    `folds` True: every task run keeps its state. False: each such state goes out as a state
    event, at the task run's place among the states. None (not known whether the server takes
    it): only task runs with no other state in this batch keep theirs.
    """
    task_runs: list = []
    states: list = []
    logs: list = []
    carried = 0
    others: set = set()
    if folds is None:
        others = {item["task_run_id"] for kind, item in batch if kind == "state"}
    for kind, item in batch:
        if kind == "task_run":
            state = item.get("state")
            if state is None:
                task_runs.append(item)
            elif folds or (folds is None and item["id"] not in others):
                task_runs.append(item)
                carried += 1
            else:
                task_runs.append({key: value for key, value in item.items() if key != "state"})
                states.append({
                    "id": state["id"], "flow_run_id": item["flow_run_id"],
                    "task_run_id": item["id"],
                    "state": {key: value for key, value in state.items() if key != "id"},
                })
        elif kind == "state":
            states.append(item)
        else:
            logs.append(item)
    return task_runs, states, logs, carried


def _answered(answer: Any) -> int | None:
    """How many items a batch answer accounts for (accepted, duplicate or rejected)."""
    try:
        return int(answer["accepted"]) + int(answer["duplicates"]) + len(answer["rejected"])
    except (KeyError, TypeError, ValueError):
        return None


#: Items per `json.dumps` call when a request body is encoded while another request is posted.
ENCODE_CHUNK = 200


def _encode(body: dict[str, list], *, share: bool = False) -> bytes:
    """A request body (lists by key) as JSON bytes, as the HTTP client would encode it.

    With `share`, a few hundred items per `json.dumps` call, letting other threads run in
    between: one call holds the GIL until it returns, and the request being posted meanwhile
    from another thread needs the GIL now and then (without a pause it would wait up to 5 ms
    each time, the interpreter's switch interval).
    """
    if not share:
        return _dumps(body).encode()
    fields = []
    for key, items in body.items():
        parts = []
        for start in range(0, len(items), ENCODE_CHUNK):
            parts.append(_dumps(items[start : start + ENCODE_CHUNK])[1:-1])
            time.sleep(0)
        fields.append(f'{_dumps(key)}:[{",".join(parts)}]')
    return ("{" + ",".join(fields) + "}").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
