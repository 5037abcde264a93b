"""Record runs to a Proctor server: flow runs, task runs, every transition and every log line.

The engine's observer calls only append to an in-memory queue (a few microseconds); one
background thread sends the queue in order, in batches, through `POST /api/events`. Order is the
guarantee that matters: a run's final state is sent only after everything before it.

A task run travels with its first state (the batch item's optional `state`), so a task that runs
and succeeds costs the server two items, not three. A server that predates that field would
ignore it; the counts in its answer tell, and the recorder then sends the same batch again with
those states as separate events (ids make that safe) and stops folding. Until a server has
shown that it takes the field, only task runs with no other state in the batch travel folded,
so that the resend keeps every run's states in order.

When the server is down or slow the run goes on; the sender retries the same batch with backoff
until the server answers. Every item carries an id chosen here, so a batch sent twice (the answer
was lost) is recorded once.

Memory is bounded: past `max_pending` queued items, new items go to an outbox file on disk
(`$PROCTOR_HOME/outbox/<server>/`, see `recording.outbox`), in order, and are sent once the
queue drains. At the end of a run the recorder waits up to `close_timeout` seconds for delivery
(`PROCTOR_API_FLUSH_TIMEOUT`; an agent's flow process waits as long as its agent lets it); what
is still unsent then stays in that server's outbox, and the next recorder that reports to the
same server sends it first.

While it records, the recorder also heartbeats for its runs (`recording.heartbeat`), so the
server knows they are being run, and stops a run the server wants cancelled.

Nothing is dropped but what the server refuses outright, one event at a time: text is cleaned
before it is queued (NUL and unpaired surrogates, which a database cannot store, become U+FFFD);
a batch the server refuses (4xx) is sent again in halves until the refused event is alone, and
only that event is dropped, with a log line naming it. A refused API key (401/403) drops nothing:
the events are retried, then kept in the outbox for a run with the right key.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..client import ApiError, ProctorClient, ServerUnreachable
from ..core.ids import new_id
from ..core.states import State
from ..engine.observers import RunObserver
from . import outbox
from .heartbeat import RunHeartbeat
from .wire import (  # noqa: F401 - clean_text, jsonable, event_id: part of this API
    MAX_BATCH_BYTES,
    MESSAGE_LIMIT,
    UPSTREAM_LIMIT,
    _answered,
    _encode,
    _measure,
    _split,
    clean_text,
    event_id,
    jsonable,
    state_json,
)

_log = logging.getLogger("proctor.recording")


@dataclass(slots=True)
class _Request:
    """One request of the sender: the queued `(kind, item)` pairs it carries (the first
    `len(batch)` of `source`), the fold policy it was made with, how many items it sends and
    how many of those are states carried by their task runs, and its encoded body (empty for a
    flow run, created through its own route)."""

    batch: list
    source: deque
    folds: bool | None
    sent: int
    carried: int
    body: bytes


class _InFlight:
    """A request posted from a thread of its own; `result()` waits for its answer (or error)."""

    def __init__(self, post: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self._answer: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(post,), name="proctor-recorder-post",
                         daemon=True).start()

    def _run(self, post: Callable[[], Any]) -> None:
        try:
            self._answer = post()
        except BaseException as exc:  # handed to the sender, which decides what to do
            self._error = exc
        finally:
            self.done.set()

    def result(self) -> Any:
        self.done.wait()
        if self._error is not None:
            raise self._error
        return self._answer


class _RunLogHandler(logging.Handler):
    """Copies log records of the recorded runs into the recorder's queue."""

    def __init__(self, recorder: ApiRecorder) -> None:
        super().__init__(logging.DEBUG)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        if flow_run_id is None or flow_run_id not in self.recorder.flow_run_ids:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
        except Exception:
            message = str(record.msg)
        self.recorder.put("log", {
            "id": event_id(), "flow_run_id": flow_run_id,
            "task_run_id": getattr(record, "task_run_id", None), "level": record.levelno,
            "logger": record.name, "message": clean_text(message[:MESSAGE_LIMIT]),
            "timestamp": record.created,
        })


class ApiRecorder(RunObserver):
    """An observer that sends a run's events to the server at `api_url`."""

    def __init__(
        self,
        api_url: str,
        *,
        api_key: str | None = None,
        batch_size: int = 2000,
        max_batch_items: int = 8000,
        flush_interval: float = 0.1,
        max_pending: int = 100_000,
        close_timeout: float | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        if not api_url.startswith(("http://", "https://")):
            ProctorClient(api_url)  # raises the client's own error for a URL it cannot use
        self.api_url = api_url.rstrip("/")
        self._api_key = api_key
        # Made by the sender thread: an HTTP client takes ~15 ms to set up (TLS defaults),
        # which the run need not wait for.
        self.client: ProctorClient | None = None
        self.batch_size = batch_size
        # server items per request (a task run with its first state counts two), within the
        # server's 10,000; a long queue goes out in batches this large
        self.max_batch_items = max(1, min(max_batch_items, 10_000))
        #: While a refused batch is being narrowed down (`_isolate`): most events per request.
        self._split_limit: int | None = None
        self._key_refused = False
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.close_timeout = (
            float(os.environ.get("PROCTOR_API_FLUSH_TIMEOUT", "15"))
            if close_timeout is None else close_timeout
        )
        self.max_backoff = max_backoff
        self.flow_run_ids: set[str] = set()
        self._task_runs: set[str] = set()
        # Each node's sorted upstream keys, computed once: a mapped task's children all share
        # their parent's node. Weak, so a recorder kept across runs does not keep their graphs.
        self._upstream: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()
        self._queue: deque = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._flushing = 0  # flush() calls waiting: send what is queued without waiting
        # Does the server apply a task run's `state`? None until an answer tells.
        self._server_folds: bool | None = None
        self._outbox_dir = outbox.outbox_dir(self.api_url)
        self._outbox: Path | None = None  # our spill file while spilling
        self._outbox_offset = 0
        self._backlog = outbox.claim(self._outbox_dir)
        #: Flow runs the server has (their creation was answered): the heartbeat's runs.
        self._created: list[str] = []
        self._owner_is_main = threading.current_thread() is threading.main_thread()
        self._handler = _RunLogHandler(self)
        logging.getLogger("proctor").addHandler(self._handler)
        self._thread = threading.Thread(target=self._send_loop, name="proctor-recorder",
                                        daemon=True)
        self._thread.start()
        self._heartbeat = RunHeartbeat(self.api_url, lambda: list(self._created),
                                       api_key=api_key, on_stop=self._stop_run)

    def _stop_run(self, run_id: str, reason: str) -> None:
        """The server wants the run stopped: interrupt the main thread, which runs it (the
        engine records CANCELLED with `reason`)."""
        if not self._owner_is_main:
            _log.warning("flow run %s should stop (%s), but it is not run by the main thread; "
                         "it goes on", run_id, reason)
            return
        from ..engine.interrupts import interrupt_main

        interrupt_main(reason)

    # -- observer events (the engine's thread: only appends) ------------------------------------
    def flow_run_transition(self, flow_run: Any, old: State, new: State) -> None:
        run_id = flow_run.flow_run_id
        if run_id not in self.flow_run_ids:
            self.flow_run_ids.add(run_id)
            self.put("flow_run", {
                "id": run_id, "flow_name": flow_run.flow_name,
                "parameters": jsonable(flow_run.parameters),
            })
        self.put("state", {"id": event_id(), "flow_run_id": run_id, "task_run_id": None,
                           "state": state_json(new)})

    def task_run_transition(self, run: Any, node: Any, ctx: Any, old: State, new: State) -> None:
        state = state_json(new)
        if ctx.id not in self._task_runs:
            self._task_runs.add(ctx.id)
            state["id"] = event_id()
            self.put("task_run", {
                "id": ctx.id, "flow_run_id": ctx.flow_run_id, "task_key": ctx.task_key,
                "task_name": ctx.name or ctx.task_name, "map_index": ctx.map_index,
                "tags": sorted(node.task.tags), "upstream": self._upstream_keys(node),
                "state": state,
            })
            return
        self.put("state", {"id": event_id(), "flow_run_id": ctx.flow_run_id,
                           "task_run_id": ctx.id, "state": state})

    def _upstream_keys(self, node: Any) -> list[str]:
        """The task keys `node` waits for, sorted (the server draws the task graph from them).
        The list is shared by the items of every task run of the node, which nothing changes."""
        keys = self._upstream.get(node)
        if keys is None:
            keys = sorted(up.key for up in node.upstream)
            if len(keys) > UPSTREAM_LIMIT:
                _log.warning("task %r waits for %d tasks; the server is told of the first %d",
                             node.key, len(keys), UPSTREAM_LIMIT)
                keys = keys[:UPSTREAM_LIMIT]
            self._upstream[node] = keys
        return keys

    # -- queueing -------------------------------------------------------------------------------
    def put(self, kind: str, item: dict) -> None:
        """Queue one item; past `max_pending`, append it to the outbox file instead."""
        with self._cond:
            if self._outbox is None and len(self._queue) < self.max_pending:
                self._queue.append((kind, item))
            else:
                self._spill([(kind, item)])
            self._cond.notify()

    def _spill(self, items: list) -> None:
        if self._outbox is None:
            outbox.prepare(self._outbox_dir, self.api_url)
            # names sort by creation time: leftovers of several runs are sent oldest first
            self._outbox = self._outbox_dir / f"{time.time_ns():020d}-{new_id()[:8]}.jsonl"
            self._outbox_offset = 0
            if not self._closing:
                _log.warning("recording queue is full (%d items): spilling to %s",
                             self.max_pending, self._outbox)
        with open(self._outbox, "a", encoding="utf-8") as fh:
            for kind, item in items:
                fh.write(json.dumps([kind, item]) + "\n")

    def _refill_from_outbox(self) -> None:
        """Move the next part of our outbox file back into memory (called with the lock)."""
        assert self._outbox is not None
        with open(self._outbox, encoding="utf-8") as fh:
            fh.seek(self._outbox_offset)
            for _ in range(self.max_pending):
                line = fh.readline()
                if not line:
                    break
                kind, item = json.loads(line)
                self._queue.append((kind, item))
            self._outbox_offset = fh.tell()
            at_end = not fh.readline()
        if at_end:
            self._outbox.unlink(missing_ok=True)
            self._outbox = None

    # -- sending (the recorder's own thread) ----------------------------------------------------
    def _next_batch(self) -> list:
        with self._cond:
            deadline = time.monotonic() + self.flush_interval
            while True:
                if self._backlog:
                    source = self._backlog
                    break
                if not self._queue and self._outbox is not None:
                    self._refill_from_outbox()
                if self._queue and (len(self._queue) >= self.batch_size or self._closing
                                    or self._flushing or self._queue[0][0] == "flow_run"
                                    or time.monotonic() >= deadline):
                    source = self._queue
                    break
                if self._closing and not self._queue:
                    return []
                self._cond.wait(self.flush_interval if self._queue else None)
            return [self._pick(source, 0), source]

    def _pick(self, source: deque, offset: int) -> list:
        """The items of the next request, from `source[offset:]` (called with the lock): a flow
        run alone (it is created before what refers to it), else events up to the limits."""
        batch: list = []
        items = 0
        size = 0
        for pair in itertools.islice(source, offset, None):
            kind, item = pair
            if kind == "flow_run":
                if not batch:
                    batch.append(pair)
                break
            weight, length = _measure(kind, item)
            if batch and (items + weight > self.max_batch_items
                          or size + length > MAX_BATCH_BYTES
                          or (self._split_limit is not None
                              and len(batch) >= self._split_limit)):
                break
            batch.append(pair)  # the queued pair itself: `_is_next` compares identities
            items += weight
            size += length
        return batch

    def _send_loop(self) -> None:
        """Send the queue in order, one request at a time, retrying a request until the server
        answers it. At the end of a run, while a request is on its way (posted from a thread of
        its own), the next one is picked and encoded, so the server's time and ours overlap; it
        is used only if its items are still next in line when the answer comes (after a retry
        they are not)."""
        try:
            self.client = ProctorClient(self.api_url, api_key=self._api_key)
        except Exception as exc:  # the run goes on; close() keeps what was queued
            _log.error("cannot record to %s: %s", self.api_url, exc)
            return
        backoff = 0.2
        ahead: _Request | None = None
        while True:
            request = ahead if ahead is not None and self._is_next(ahead) else None
            ahead = None
            if request is None:
                picked = self._next_batch()
                if not picked:
                    return
                try:
                    request = self._prepare(*picked)
                except Exception as exc:  # e.g. a value JSON cannot encode
                    _log.error("recording failed, %d event(s) dropped: %s", len(picked[0]), exc)
                    self._done(picked[1], len(picked[0]))
                    continue
            posted = _InFlight(lambda request=request: self._post(request))
            ahead = self._prepare_ahead(request, posted)
            try:
                self._learn(request, posted.result())
            except ServerUnreachable as exc:
                self._wait_before_retry(backoff, exc)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            except ApiError as exc:
                if exc.status >= 500 or exc.status == 429:
                    self._wait_before_retry(backoff, exc)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if exc.status in (401, 403):  # kept, not dropped: the outbox at worst
                    self._refused_key(exc)
                    self._wait_before_retry(backoff, exc)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if len(request.batch) > 1:
                    self._isolate(request, exc)
                    continue
                kind, item = request.batch[0]
                _log.error("the server refused a recorded %s (id %s), dropped: %s", kind,
                           item.get("id"), exc)
                self._split_limit = None
            except Exception as exc:  # never let the sender die: the run must not block on it
                _log.error("recording failed, %d event(s) dropped: %s", len(request.batch), exc)
            backoff = 0.2
            self._done(request.source, len(request.batch))

    def _isolate(self, request: _Request, exc: ApiError) -> None:
        """A batch was refused: send it again in halves, and halves of the refused halves,
        until the one event the server refuses is alone; only that one is then dropped (a log
        line with a character the server cannot store must not cost the run's other events)."""
        self._split_limit = max(1, len(request.batch) // 2)
        _log.warning("the server refused a batch of %d recorded event(s) (%s); sending it in "
                     "parts of %d to find the event it refuses", len(request.batch), exc,
                     self._split_limit)

    def _refused_key(self, exc: ApiError) -> None:
        if not self._key_refused:
            self._key_refused = True
            _log.error("the server at %s refused this client's API key (%s); events are kept "
                       "and retried, and left in %s if the run ends first: set PROCTOR_API_KEY "
                       "to the server's key", self.api_url, exc, self._outbox_dir)

    def _done(self, source: deque, count: int) -> None:
        """The first `count` items of `source` were delivered (or dropped): off the queue."""
        with self._cond:
            for _ in range(min(count, len(source))):
                source.popleft()
            self._cond.notify_all()

    def _wait_before_retry(self, delay: float, exc: Exception) -> None:
        _log.debug("server not reachable (%s); retrying in %.1fs", exc, delay)
        with self._cond:
            self._cond.wait(delay)

    def _prepare(self, batch: list, source: deque, *, share: bool = False) -> _Request:
        """A request for `batch`: a flow run to create, or an encoded `POST /api/events` body
        (task runs folded with their first states as far as the server is known to take it).
        `share`: another request is being posted meanwhile (see `_encode`)."""
        if batch[0][0] == "flow_run":
            return _Request(batch, source, None, 0, 0, b"")
        folds = self._server_folds
        task_runs, states, logs, carried = _split(batch, folds)
        body = {"task_runs": task_runs, "states": states, "logs": logs}
        return _Request(batch, source, folds, len(task_runs) + len(states) + len(logs), carried,
                        _encode(body, share=share))

    def _prepare_ahead(self, request: _Request, posted: _InFlight) -> _Request | None:
        """While `request` is on its way, at the end of a run (everything is queued, and the
        engine no longer needs the CPU): the request after it. None when the answer came first:
        the next request is then picked as usual, with the queue's own batching rules."""
        source = request.source
        offset = len(request.batch)
        while True:
            with self._cond:
                if (self._closing or self._flushing) and len(source) > offset:
                    batch = self._pick(source, offset)
                    break
            if posted.done.wait(0.01):
                return None
        try:
            return self._prepare(batch, source, share=True) if batch else None
        except Exception:  # picked again as usual, and dropped with a message if it still fails
            return None

    def _is_next(self, request: _Request) -> bool:
        """Are `request`'s items still the first in line (nothing was retried or dropped)?"""
        with self._cond:
            if request.source is self._queue and self._backlog:
                return False
            head = itertools.islice(request.source, len(request.batch))
            count = 0
            for queued, planned in zip(head, request.batch, strict=False):
                if queued is not planned:
                    return False
                count += 1
            return count == len(request.batch)

    def _post(self, request: _Request) -> Any:
        assert self.client is not None
        if not request.body:
            return self.client.create_flow_run(request.batch[0][1])
        return self.client.request("POST", "/api/events", content=request.body,
                                   headers={"content-type": "application/json"})

    def _learn(self, request: _Request, answer: Any) -> None:
        """What the answer tells: whether the server applies a task run's state (and, when it
        does not, the same events sent again with those states apart), and what it rejected."""
        if not request.body:
            self._created.append(request.batch[0][1]["id"])
            return
        if request.carried and request.folds is None:
            answered = _answered(answer)
            if answered == request.sent + request.carried:
                self._server_folds = True
            elif answered == request.sent:
                # An older server created the task runs and ignored their states: send them
                # again as separate events (the task runs and other events come back as
                # duplicates). Only runs with no other state in this batch were folded, so
                # each of these states is still its run's first.
                _log.debug("the server ignores a task run's state; sending states apart")
                self._server_folds = False
                assert self.client is not None
                task_runs, states, logs, _ = _split(request.batch, False)
                answer = self.client.send_events(task_runs=task_runs, states=states, logs=logs)
        for rejected in (answer or {}).get("rejected", []):
            _log.debug("server rejected event %s: %s", rejected.get("id"), rejected.get("reason"))

    # -- the end of a run -----------------------------------------------------------------------
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._backlog) + (1 if self._outbox else 0)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far was delivered (True) or `timeout` passed."""
        deadline = time.monotonic() + (self.close_timeout if timeout is None else timeout)
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                while self._queue or self._backlog or self._outbox is not None:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def close(self) -> bool:
        """Flush, stop the sender, detach from logging. False if items were left in the outbox.
        An interrupt while flushing (a second Ctrl-C) saves what is unsent to the outbox and is
        raised again."""
        logging.getLogger("proctor").removeHandler(self._handler)
        try:
            delivered = self.flush()
        except BaseException:
            self._abandon()
            raise
        self._heartbeat.close()
        with self._cond:
            self._closing = True
            if not delivered:
                self._save_leftovers()
            self._cond.notify_all()
        self._thread.join(timeout=1.0)
        if self.client is not None:
            self.client.close()
        if not delivered:
            _log.warning(
                "the server at %s did not take every recorded event within %gs; the rest "
                "wait in %s and are sent by the next run that records to a server",
                self.api_url, self.close_timeout, self._outbox_dir,
            )
        return delivered

    def _abandon(self) -> None:
        """Stop now: what is unsent goes to the outbox."""
        self._heartbeat.close()
        with self._cond:
            self._closing = True
            self._save_leftovers()
            self._cond.notify_all()
        _log.warning("recording interrupted; undelivered events wait in %s", self._outbox_dir)

    def _save_leftovers(self) -> None:
        """Everything unsent, in order, into one new outbox file (called with the lock)."""
        items = list(self._backlog) + list(self._queue)
        if self._outbox is not None:
            with open(self._outbox, encoding="utf-8") as fh:
                fh.seek(self._outbox_offset)
                items.extend(tuple(json.loads(line)) for line in fh if line.strip())
            self._outbox.unlink(missing_ok=True)
            self._outbox = None
        self._backlog.clear()
        self._queue.clear()
        if items:
            self._spill(items)
            self._outbox = None  # the file stays for the next recorder
