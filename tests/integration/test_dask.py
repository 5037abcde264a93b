"""DaskExecutor on real clusters: a LocalCluster per run, and `dask scheduler` + `dask worker`
processes reached by address (the session's `dask_cluster`, or one made for a test).

The engine's behavioural suite (test_engine, test_flow_function, test_retries_timeouts, ...) also
runs on Dask through the `executor` fixture; this file covers what is Dask's own."""

import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from proctor import Flow, flow, get_run_logger, task, unmapped
from proctor.core.errors import ClusterError, ExecutorError, UnknownExecutorError
from proctor.core.states import StateType
from proctor.executors import DaskExecutor, resolve_executor


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

# -- values that tell where they were unpickled --------------------------------------------------
#: pids of the processes that unpickled a Tracer (only this process's own unpickles land here)
UNPICKLED_HERE: list[int] = []


class Tracer:
    """A payload that records, in the process unpickling it, that it was unpickled there."""

    def __init__(self, size: int) -> None:
        self.data = b"x" * size

    def __reduce__(self):
        return (_rebuild_tracer, (self.data,))


def _rebuild_tracer(data: bytes) -> "Tracer":
    UNPICKLED_HERE.append(os.getpid())
    tracer = Tracer.__new__(Tracer)
    tracer.data = data
    return tracer


@task
def produce_tracer(size):
    return Tracer(size)


@task
def measure(tracer):
    return len(tracer.data)


@task
def where():
    from distributed import get_worker

    time.sleep(0.05)
    return get_worker().address


@task
def where_each(_):
    from distributed import get_worker

    time.sleep(0.05)
    return get_worker().address


@task(tags=["dask-resource:GPU=1"])
def on_gpu(_):
    from distributed import get_worker

    return get_worker().address


@task(tags=["dask-resource:GPU"])
def badly_tagged():
    return 1


# -- the contract ------------------------------------------------------------------------
def test_local_cluster_is_started_for_the_run_and_closed_after():
    @task
    def extract():
        get_run_logger().info("extracting on a worker")
        return [1, 2, 3]

    @task
    def double(x):
        return 2 * x

    @task
    def total(xs):
        return sum(xs)

    executor = DaskExecutor(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1})
    seen = {}

    @task
    def cluster_address():
        from distributed import get_worker

        return get_worker().scheduler.address

    with Flow("etl on dask", executor=executor) as f:
        result = total(double.map(extract()))
        address = cluster_address()

    def remember(flow_, old, new):
        if new.type is StateType.RUNNING:
            seen["cluster"] = executor.cluster
        return new

    f.state_handlers = [remember]
    state = f.run()
    assert state.is_successful(), state.message
    assert state.result[result].result == 12
    assert state.result[address].result.startswith("tcp://127.0.0.1:")
    assert executor.client is None and executor.cluster is None  # closed after the run
    # a closed LocalCluster no longer answers
    assert seen.get("cluster") is None or seen["cluster"].status.name == "closed"


def test_an_upstream_result_goes_worker_to_worker_not_through_the_flow(dask_cluster):
    UNPICKLED_HERE.clear()
    snapshots = []

    def when_measured(task_, task_run, state):
        snapshots.append(list(UNPICKLED_HERE))

    with Flow("locality", executor=DaskExecutor(address=dask_cluster.address)) as f:
        big = produce_tracer(2_000_000)
        size = measure.with_options(on_completion=[when_measured])(big)
    state = f.run()
    assert state.result[size].result == 2_000_000
    # while the run went on, the producer's result never came to this process ...
    assert snapshots == [[]]
    # ... and at the end every result is fetched once, so the run's states hold values
    assert isinstance(state.result[big].result, Tracer)
    assert UNPICKLED_HERE == [os.getpid()]


def test_mapped_children_run_spread_over_the_workers(dask_cluster):
    with Flow("spread", executor=DaskExecutor(address=dask_cluster.address)) as f:
        places = where_each.map(list(range(24)))
    state = f.run()
    addresses = set(state.result[places].result)
    assert len(addresses) >= 2, addresses


def test_unmapped_remote_value_is_shared_by_every_child(dask_cluster):
    @task
    def table():
        return {"a": 1, "b": 2}

    @task
    def look(key, mapping):
        return mapping[key]

    with Flow("lookup", executor=DaskExecutor(address=dask_cluster.address)) as f:
        values = look.map(["a", "b", "a"], unmapped(table()))
    assert f.run().result[values].result == [1, 2, 1]


def test_resource_tags_become_dask_resources(dask_cluster):
    from distributed import Client

    with Client(dask_cluster.address, set_as_default=False) as client:
        workers = client.scheduler_info()["workers"]
    gpu = {a for a, w in workers.items() if w.get("resources", {}).get("GPU")}
    assert len(gpu) == 1 and len(workers) >= 2

    with Flow("gpu", executor=DaskExecutor(address=dask_cluster.address)) as f:
        places = on_gpu.map(list(range(8)))
    state = f.run()
    assert set(state.result[places].result) == gpu


def test_a_malformed_resource_tag_fails_the_task_clearly(dask_cluster):
    with Flow("bad tag", executor=DaskExecutor(address=dask_cluster.address)) as f:
        out = badly_tagged()
    state = f.run().result[out]
    assert state.type is StateType.FAILED
    assert "'dask-resource:GPU' is not a Dask resource requirement" in state.message
    assert "dask-resource:NAME=AMOUNT" in state.message


def test_worker_logs_reach_the_flow_logger(dask_cluster, caplog):
    @task(log_prints=True)
    def chatty(i):
        get_run_logger().warning("from dask worker %d", i)
        print("printed", i)
        return i

    @flow(executor=DaskExecutor(address=dask_cluster.address))
    def remote():
        return [f.result() for f in chatty.map([1, 2])]

    caplog.set_level(logging.INFO, logger="proctor")
    assert remote() == [1, 2]
    messages = sorted(r.getMessage() for r in caplog.records if r.name == "proctor.task_run")
    assert messages == ["from dask worker 1", "from dask worker 2", "printed 1", "printed 2"]
    record = next(r for r in caplog.records if r.getMessage() == "from dask worker 1")
    assert record.task_run_id and record.task_name.startswith("chatty")


def test_a_killed_worker_s_work_is_rerun_elsewhere_and_the_flow_succeeds(
    tmp_path, new_dask_cluster
):
    cluster = new_dask_cluster(2)
    marks = tmp_path / "started.txt"

    @task
    def slow(marks_path):
        with open(marks_path, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(3)
        return os.getpid()

    @task
    def after(pid):
        return pid

    killed = []

    def kill_the_first_runner():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if marks.exists() and marks.read_text().strip():
                pid = int(marks.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_runner)
    with Flow("survives", executor=DaskExecutor(address=cluster.address)) as f:
        final = after(slow(str(marks)))
    killer.start()
    state = f.run()
    killer.join()
    assert killed, "the worker running the task was never seen"
    assert state.is_successful(), state.message
    pids = [int(p) for p in marks.read_text().split()]
    assert len(pids) == 2 and pids[0] == killed[0]
    assert state.result[final].result == pids[1] != killed[0]


# -- choosing and configuring --------------------------------------------------------------------
def test_executor_names_select_dask(dask_cluster):
    assert isinstance(resolve_executor("dask"), DaskExecutor)
    assert resolve_executor("dask:3").cluster_kwargs == {"n_workers": 3}
    assert resolve_executor(f"dask:{dask_cluster.address}").address == dask_cluster.address
    assert resolve_executor("dask:127.0.0.1:8786").address == "tcp://127.0.0.1:8786"
    with pytest.raises(UnknownExecutorError, match="worker count .* or the scheduler's address"):
        resolve_executor("dask:lots")


def test_cli_runs_a_flow_on_a_cluster_by_address(dask_cluster, tmp_path):
    script = tmp_path / "on_dask.py"
    script.write_text(
        "from proctor import Flow, task\n"
        "@task\n"
        "def square(x):\n"
        "    return x * x\n"
        "@task\n"
        "def total(xs):\n"
        "    print('total', sum(xs))\n"
        "    return sum(xs)\n"
        "with Flow('cli dask') as flow:\n"
        "    total(square.map([1, 2, 3]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "run", f"{script}:flow", "--executor",
         f"dask:{dask_cluster.address}"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout + done.stderr


def test_unreachable_scheduler_is_a_clear_error():
    address = f"tcp://127.0.0.1:{unused_port()}"

    @task
    def nothing():
        return None

    with Flow("nowhere", executor=DaskExecutor(address=address,
                                               client_kwargs={"timeout": "2s"})) as f:
        nothing()
    with pytest.raises(ClusterError, match=f"could not reach the Dask scheduler at {address}"):
        f.run()


@pytest.mark.parametrize("kwargs, text", [
    ({"address": ""}, "give the scheduler's address"),
    ({"address": "tcp://h:1", "cluster_kwargs": {"n_workers": 1}}, "Give one or the other"),
    ({"cluster_kwargs": ["n_workers"]}, "cluster_kwargs=['n_workers']): expected a dict"),
])
def test_bad_configuration_is_refused_at_construction(kwargs, text):
    with pytest.raises(ExecutorError, match=text.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        DaskExecutor(**kwargs)


def test_unknown_cluster_class_path_is_a_clear_error():
    executor = DaskExecutor(cluster_class="no_such_module.Cluster")
    with pytest.raises(ExecutorError, match="cannot import it"):
        executor.start()


def test_remote_value_handles_pickle_to_nothing_surprising(dask_cluster):
    executor = DaskExecutor(address=dask_cluster.address)
    with executor:
        from proctor.executors.dask import DaskValue

        future = executor.client.submit(lambda: 41, pure=False)
        handle = DaskValue(future)
        assert executor.fetch([handle]) == [41]
        assert "kept on the Dask cluster" in repr(handle)
        assert pickle.loads(pickle.dumps(handle.future.key)) == future.key


def test_results_can_stay_out_of_the_flow_process_entirely(dask_cluster):
    UNPICKLED_HERE.clear()

    @flow(executor=DaskExecutor(address=dask_cluster.address, return_results=False))
    def sizes():
        big = produce_tracer.submit(1_000_000)
        return measure(big)  # the body reads this small result: fetched

    state = sizes.run()
    assert state.result == 1_000_000
    assert UNPICKLED_HERE == []  # the big one never came here, not even at the end
    big = next(s for n, s in state.task_states.items() if n.key == "produce_tracer")
    assert big.is_successful() and big.result is None


def test_without_returned_results_the_cluster_frees_what_no_task_reads_any_more(dask_cluster):
    """a -> b -> c -> d: when d ends, a and b are no longer held by the run (their readers have
    finished), so the cluster may free them; c is held until d has finished."""
    executor = DaskExecutor(address=dask_cluster.address, return_results=False)
    held_when_d_ends = []

    def snapshot(task_, task_run, state):
        deadline = time.monotonic() + 10
        while True:  # releases reach the scheduler asynchronously
            # keys whose value some worker still holds in memory
            names = {key.split("-")[0] for key, workers in executor.client.who_has().items()
                     if workers}
            if "step_a" not in names and "step_b" not in names or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        held_when_d_ends.append(names)

    @task
    def step_a():
        return Tracer(100_000)

    @task
    def step_b(t):
        return Tracer(len(t.data))

    @task
    def step_c(t):
        return Tracer(len(t.data))

    @task(on_completion=[snapshot])
    def step_d(t):
        return len(t.data)

    with Flow("released", executor=executor) as f:
        d = step_d(step_c(step_b(step_a())))
    state = f.run()
    assert state.is_successful(), state.message
    [names] = held_when_d_ends
    assert "step_a" not in names and "step_b" not in names, names
    assert "step_c" in names, names
    assert state.result[d].result is None  # not returned either (return_results=False)
