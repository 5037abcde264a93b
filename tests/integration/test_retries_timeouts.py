"""Retries and timeouts behave the same on every executor."""

import time

from proctor import Flow, flow, get_run_context, task
from proctor.recording import MemoryRecorder
from proctor.signals import RETRY
from proctor.states import StateType


@task(max_retries=3, retry_delay=0.01, retry_backoff=2.0)
def flaky():
    attempt = get_run_context().task_run.attempt
    if attempt < 3:
        raise OSError(f"attempt {attempt} failed")
    return attempt


@task(max_retries=3, retry_delay=0.01, retry_on=(OSError,))
def wrong_kind():
    raise ValueError("not retried")


@task(timeout=0.3)
def sleeper():
    time.sleep(3)


@task(timeout=0.5, max_retries=1, retry_delay=0)
def slow_then_fast():
    if get_run_context().task_run.attempt == 1:
        time.sleep(3)
    return "second attempt"


@task(max_retries=2)
def asks_again():
    if get_run_context().task_run.attempt == 1:
        raise RETRY("not ready yet")
    return "ready"


@task
def asks_without_retries():
    raise RETRY("again")


@task
def quick():
    return 1


def test_flaky_task_succeeds_after_retries(executor):
    recorder = MemoryRecorder()
    with Flow("f", executor=executor) as f:
        out = flaky()
    state = f.run(observers=[recorder])
    assert state.is_successful()
    assert state.result[out].result == 3  # the attempt number the task saw
    assert recorder.history("flaky") == [
        "Running", "Retrying", "Running", "Retrying", "Running", "Success"
    ]
    retrying = recorder.runs_of("flaky")[0].states[1]
    assert "attempt 1 of 4 failed (OSError: attempt 1 failed)" in retrying.message
    assert len({r.id for r in recorder.runs_of("flaky")}) == 1  # one task run, three attempts


def test_retry_on_limits_what_is_retried(executor):
    recorder = MemoryRecorder()
    with Flow("f", executor=executor) as f:
        out = wrong_kind()
    state = f.run(observers=[recorder])
    assert state.result[out].type is StateType.FAILED
    assert recorder.history("wrong_kind") == ["Running", "Failed"]


def test_retry_signal_retries_even_outside_retry_on(executor):
    with Flow("f", executor=executor) as f:
        ok = asks_again()
        refused = asks_without_retries()
    state = f.run()
    assert state.result[ok].result == "ready"
    assert state.result[refused].type is StateType.FAILED
    assert "again" in state.result[refused].message


def test_waiting_retry_holds_no_worker(executor, tmp_path):
    """With one worker, the independent task runs between the failed attempt and the retry."""
    log = tmp_path / "order.txt"

    @task(max_retries=1, retry_delay=0.3)
    def first():
        attempt = get_run_context().task_run.attempt
        with open(log, "a") as fh:
            fh.write(f"first-{attempt}\n")
        if attempt == 1:
            raise OSError("try again")

    @task
    def second():
        with open(log, "a") as fh:
            fh.write("second\n")

    if hasattr(executor, "max_workers"):
        executor.max_workers = 1
    if executor.name == "dask":  # one slot: the test cluster has one worker with GPU=1
        first = first.with_options(tags=["dask-resource:GPU=1"])
        second = second.with_options(tags=["dask-resource:GPU=1"])
    with Flow("f", executor=executor) as f:
        first()
        second()
    assert f.run().is_successful()
    assert log.read_text().split() == ["first-1", "second", "first-2"]


def test_timeout_ends_attempt_and_flow_goes_on(executor):
    recorder = MemoryRecorder()
    with Flow("f", executor=executor) as f:
        slow = sleeper()
        fine = quick()
    started = time.monotonic()
    state = f.run(observers=[recorder])
    assert time.monotonic() - started < 2.5  # did not wait for the 3 s sleep
    assert state.result[slow].type is StateType.TIMED_OUT
    assert state.result[slow].is_failed()
    assert "exceeded its timeout of 0.3s" in state.result[slow].message
    assert state.result[fine].result == 1
    assert recorder.history("sleeper") == ["Running", "TimedOut"]


def test_timed_out_attempt_is_retried(executor):
    recorder = MemoryRecorder()
    with Flow("f", executor=executor) as f:
        out = slow_then_fast()
    state = f.run(observers=[recorder])
    assert state.result[out].result == "second attempt"
    assert recorder.history("slow_then_fast") == ["Running", "Retrying", "Running", "Success"]


def test_timeout_stops_a_pure_python_loop():
    stopped = []

    @task(timeout=0.2)
    def spin():
        try:
            while True:
                pass
        except TimeoutError:
            stopped.append(True)
            raise

    with Flow("f") as f:
        out = spin()
    assert f.run().result[out].type is StateType.TIMED_OUT
    deadline = time.monotonic() + 5
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stopped == [True]


def test_mapped_children_retry_independently(executor):
    @task(max_retries=1, retry_delay=0)
    def odd_fails_once(x):
        if x % 2 and get_run_context().task_run.attempt == 1:
            raise OSError("once")
        return x * 10

    with Flow("f", executor=executor) as f:
        out = odd_fails_once.map([1, 2, 3])
    assert f.run().result[out].result == [10, 20, 30]


def test_flow_retries_the_whole_run(tmp_path):
    marker = tmp_path / "attempts"
    recorder = MemoryRecorder()

    @task
    def fragile():
        count = int(marker.read_text()) if marker.exists() else 0
        marker.write_text(str(count + 1))
        if count == 0:
            raise OSError("first run fails")
        return count

    @flow(retries=1, retry_delay=0.01)
    def resilient():
        return fragile()

    state = resilient.run_with(observers=[recorder])
    assert state.is_successful() and state.result == 1
    assert [s.name for s in recorder.flow_states] == ["Running", "Retrying", "Running", "Success"]

    marker.unlink()
    with Flow("graph", retries=1, retry_delay=0) as g:
        fragile()
    assert g.run().is_successful()
