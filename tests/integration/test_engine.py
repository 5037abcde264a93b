"""The engine's behaviour, identical on every executor (local, threads, processes)."""


from proctor import Flow, Parameter, task, unmapped
from proctor.core.errors import MappingError
from proctor.states import StateType


@task
def extract(n):
    return list(range(n))


@task(name="double", tags=["cpu"])
def transform(x):
    return 2 * x


@task
def load(rows):
    return sum(rows)


@task
def boom(x=None):
    raise ValueError(f"bad input {x!r}")


@task
def inc(x):
    return x + 1


@task
def fail_on_odd(x):
    if x % 2:
        raise RuntimeError(f"odd {x}")
    return x


@task
def combine(a, b, factor=1):
    return (a + b) * factor


def test_the_issue_example_on_every_executor(executor):
    with Flow("etl", executor=executor) as f:
        n = Parameter("n", default=10)
        rows = extract(n)
        doubled = transform.map(rows)
        total = load(doubled)
    state = f.run(parameters={"n": 5})
    assert state.is_successful()
    assert state.result[doubled].result == [0, 2, 4, 6, 8]
    assert state.result[doubled].type is StateType.MAPPED
    assert len(state.result[doubled].children) == 5
    assert state.result[total].result == 20
    assert f.run().result[total].result == 90  # the default n=10


def test_failure_keeps_exception_and_stops_downstream(executor):
    ran = []

    @task
    def after(x):
        ran.append(x)

    with Flow("f", executor=executor) as f:
        bad = boom(1)
        down = after(bad)
        side = inc(1)
    state = f.run()
    assert state.is_failed()
    failed = state.result[bad]
    assert failed.type is StateType.FAILED
    assert isinstance(failed.exception, ValueError) and "bad input 1" in str(failed.exception)
    assert "Traceback" in failed.traceback and "bad input 1" in failed.traceback
    assert state.result[down].type is StateType.TRIGGER_FAILED
    assert ran == []
    assert state.result[side].result == 2  # independent branch still ran
    assert "task(s) failed: boom" in state.message


def test_map_over_mapped_chains_element_by_element(executor):
    with Flow("f", executor=executor) as f:
        first = fail_on_odd.map([0, 1, 2, 3])
        second = inc.map(first)
    state = f.run()
    children = state.result[second].children
    assert [c.type for c in children] == [
        StateType.SUCCESS, StateType.TRIGGER_FAILED, StateType.SUCCESS, StateType.TRIGGER_FAILED
    ]
    assert [children[0].result, children[2].result] == [1, 3]
    assert state.is_failed()


def test_map_chain_success(executor):
    with Flow("f", executor=executor) as f:
        rows = extract(4)
        out = inc.map(transform.map(rows))
    assert f.run().result[out].result == [1, 3, 5, 7]


def test_map_over_empty_list(executor):
    with Flow("f", executor=executor) as f:
        rows = extract(0)
        doubled = transform.map(rows)
        total = load(doubled)
    state = f.run()
    assert state.is_successful()
    assert state.result[doubled].result == []
    assert state.result[total].result == 0


def test_map_several_iterables_with_unmapped(executor):
    with Flow("f", executor=executor) as f:
        out = combine.map([1, 2, 3], extract(3), factor=unmapped(10))
    assert f.run().result[out].result == [10, 30, 50]


def test_map_unequal_lengths_fails_the_task_clearly(executor):
    with Flow("f", executor=executor) as f:
        out = combine.map([1, 2, 3], [1, 2])
    state = f.run()
    assert state.result[out].type is StateType.FAILED
    assert isinstance(state.result[out].exception, MappingError)
    assert "different lengths" in state.result[out].message


def test_handles_inside_containers_resolve(executor):
    @task
    def pack(items, mapping):
        return items[0] + items[1] + mapping["k"]

    with Flow("f", executor=executor) as f:
        a, b = inc(1), inc(2)
        out = pack([a, b], {"k": a})
    assert f.run().result[out].result == 2 + 3 + 2


def test_order_only_dependencies_run_in_order(executor, tmp_path):
    marker = tmp_path / "log.txt"

    @task
    def write(word):
        with open(marker, "a") as fh:
            fh.write(word + "\n")

    with Flow("f", executor=executor) as f:
        first = write("first")
        write("second", upstream_tasks=[first])
    assert f.run().is_successful()
    assert marker.read_text().split() == ["first", "second"]


def test_downstream_of_failed_order_dependency_does_not_run(executor):
    with Flow("f", executor=executor) as f:
        bad = boom()
        after = inc(1, upstream_tasks=[bad])
    assert f.run().result[after].type is StateType.TRIGGER_FAILED


def test_flow_can_run_twice_and_reuse_executor(executor):
    with Flow("f", executor=executor) as f:
        out = inc(1)
    assert f.run().result[out].result == 2
    assert f.run().result[out].result == 2


class FileBarrier:
    """A barrier any process on this machine can wait at (a manager's proxies need the
    manager's authentication key, which a Dask worker process does not have)."""

    def __init__(self, folder, parties: int, timeout: float = 20) -> None:
        self.folder, self.parties, self.timeout = str(folder), parties, timeout

    def wait(self) -> None:
        import os
        import tempfile
        import time

        tempfile.NamedTemporaryFile(dir=self.folder, delete=False).close()
        deadline = time.monotonic() + self.timeout
        while len(os.listdir(self.folder)) < self.parties:
            if time.monotonic() > deadline:
                raise TimeoutError("the other party never arrived")
            time.sleep(0.01)


def test_independent_branches_overlap_on_parallel_executors(parallel_executor, tmp_path):
    """Passes only if the two tasks run at the same time: each waits for the other."""
    barrier = FileBarrier(tmp_path, 2)

    @task
    def meet(barrier, tag):
        barrier.wait()
        return tag

    with Flow("f", executor=parallel_executor) as f:
        a = meet(barrier, "a")
        b = meet(barrier, "b")
    state = f.run()
    assert state.is_successful(), state.message
    assert (state.result[a].result, state.result[b].result) == ("a", "b")


def test_mapped_children_overlap_on_parallel_executors(parallel_executor, tmp_path):
    barrier = FileBarrier(tmp_path, 2)

    @task
    def meet(i, barrier):
        barrier.wait()
        return i

    with Flow("f", executor=parallel_executor) as f:
        out = meet.map([1, 2], unmapped(barrier))
    state = f.run()
    assert state.result[out].result == [1, 2], state.message


def test_unpicklable_task_fails_naming_it():
    import threading

    from proctor.executors import ProcessExecutor

    lock = threading.Lock()

    @task
    def holds_lock():
        return lock.locked()

    with Flow("f", executor=ProcessExecutor(1)) as f:
        out = holds_lock()
    state = f.run()
    assert state.result[out].type is StateType.FAILED
    assert "task holds_lock could not be sent to the processes executor" in (
        state.result[out].message
    )
    assert "cannot be pickled" in state.result[out].message


def test_an_unpicklable_return_value_fails_the_task_naming_it():
    from proctor.executors import ProcessExecutor

    @task
    def makes_a_lock():
        import threading

        return threading.Lock()

    @task
    def after(lock):
        return "never"

    with Flow("f", executor=ProcessExecutor(1)) as f:
        made = makes_a_lock()
        out = after(made)
    state = f.run()
    assert state.is_failed()
    made_state = state.result[made]
    assert made_state.type is StateType.FAILED  # the task's own failure, not a crashed executor
    assert made_state.message.startswith("task makes_a_lock ran, but its return value cannot "
                                         "be pickled")
    assert "lock" in made_state.message and "threads executor" in made_state.message
    assert state.result[out].type is StateType.TRIGGER_FAILED


def test_every_task_run_reaches_observers_even_when_it_never_ran(executor):
    from proctor.engine.observers import RunObserver

    class Collect(RunObserver):
        def __init__(self):
            self.finished = []
            self.expanded = []

        def task_run_finished(self, run, node, ctx, state):
            self.finished.append((ctx.task_key, ctx.map_index, state.type))

        def map_expanded(self, run, node, count):
            self.expanded.append((node.key, count))

    with Flow("f", executor=executor) as f:
        bad = boom()
        inc(bad)
        first = fail_on_odd.map([0, 1])
        inc.map(first)
        transform.map(extract(0))
    observer = Collect()
    f.run(observers=[observer])
    assert ("inc", None, StateType.TRIGGER_FAILED) in observer.finished
    assert ("inc-2", 1, StateType.TRIGGER_FAILED) in observer.finished
    assert ("inc-2", 0, StateType.SUCCESS) in observer.finished
    assert ("double", 0) in observer.expanded  # an empty map is announced too


def test_failure_traceback_starts_in_user_code(executor):
    with Flow("f", executor=executor) as f:
        bad = boom(3)
    trace = f.run().result[bad].traceback
    assert trace.startswith("Traceback (most recent call last)")
    assert "task_runner.py" not in trace and "in boom" in trace


def test_task_failures_are_logged_with_run_ids(caplog):
    import logging

    caplog.set_level(logging.ERROR, logger="proctor")
    with Flow("f") as f:
        boom(7)
    f.run()
    record = next(r for r in caplog.records if r.name == "proctor.task_run")
    assert "Task run failed: ValueError: bad input 7" in record.getMessage()
    assert "Traceback" in record.getMessage() and record.task_name == "boom"


def test_process_executor_with_forkserver_start_method():
    from proctor.executors import ProcessExecutor

    with Flow("f", executor=ProcessExecutor(2, start_method="forkserver")) as f:
        out = inc.map([1, 2, 3])
    assert f.run().result[out].result == [2, 3, 4]


def test_process_executor_rejects_unknown_start_method():
    import pytest

    from proctor.core.errors import ExecutorError
    from proctor.executors import ProcessExecutor

    with pytest.raises(ExecutorError, match="this platform offers"):
        ProcessExecutor(1, start_method="teleport")


def test_gate_limits_concurrent_tagged_task_runs():
    """The engine asks its gate before starting a tagged task; a refused one waits its turn."""
    import threading
    import time as _time

    from proctor.executors import ThreadExecutor

    class OneAtATime:
        retry_after = 0.01

        def __init__(self):
            self.holder = None
            self.asked = 0

        def acquire(self, ctx, tags):
            self.asked += 1
            if self.holder is None:
                self.holder = ctx.id
                return True
            return False

        def release(self, ctx):
            if self.holder == ctx.id:
                self.holder = None

    running, peak, lock = [0], [0], threading.Lock()

    @task(tags=["db"])
    def query(i):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        _time.sleep(0.02)
        with lock:
            running[0] -= 1
        return i

    @task
    def untagged(i):
        return i

    from proctor.engine.flow_run import run_graph

    with Flow("gated") as f:
        out = query.map(list(range(6)))
        free = untagged.map(list(range(3)))
    gate = OneAtATime()
    state = run_graph(f, {}, ThreadExecutor(4), gate=gate)
    assert state.result[out].result == list(range(6))
    assert state.result[free].result == [0, 1, 2]
    assert peak[0] == 1 and gate.asked > 6  # some were refused and asked again
