"""Caching and persisted results, on every executor, on the real filesystem."""

import json
import pickle
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta

from proctor import Flow, flow, task
from proctor.caching import task_input_hash
from proctor.engine.results import load_result
from proctor.settings import results_dir
from proctor.states import StateType


def counting_task(log_path, **options):
    @task(cache_key_fn=task_input_hash, **options)
    def expensive(x):
        with open(log_path, "a") as fh:
            fh.write(f"{x}\n")
        return x * 2

    return expensive


def test_second_run_with_same_inputs_is_cached(executor, tmp_path):
    log = tmp_path / "calls.txt"
    expensive = counting_task(log, cache_expiration=timedelta(hours=1))
    with Flow("f", executor=executor) as f:
        out = expensive(21)
        other = expensive(22)
    first = f.run()
    second = f.run()
    assert first.result[out].type is StateType.SUCCESS
    assert second.result[out].type is StateType.CACHED
    assert second.result[out].result == 42 and second.result[other].result == 44
    assert sorted(log.read_text().split()) == ["21", "22"]  # it ran once per input


def test_refresh_cache_forces_a_run(tmp_path):
    log = tmp_path / "calls.txt"
    expensive = counting_task(log)
    with Flow("f") as f:
        expensive(1)
    f.run()
    with Flow("g") as g:
        out = expensive.with_options(refresh_cache=True)(1)
    assert g.run().result[out].type is StateType.SUCCESS
    assert log.read_text().split() == ["1", "1"]


def test_expired_entries_are_recomputed(tmp_path):
    log = tmp_path / "calls.txt"
    expensive = counting_task(log, cache_expiration=0.0)
    with Flow("f") as f:
        out = expensive(5)
    f.run()
    assert f.run().result[out].type is StateType.SUCCESS
    assert log.read_text().split() == ["5", "5"]


def test_cache_survives_a_new_process(tmp_path):
    script = tmp_path / "cached_flow.py"
    script.write_text(textwrap.dedent(f"""
        from proctor import Flow, task
        from proctor.caching import task_input_hash

        @task(cache_key_fn=task_input_hash)
        def expensive(x):
            with open({str(tmp_path / 'calls.txt')!r}, "a") as fh:
                fh.write("called\\n")
            return x + 1

        with Flow("f") as f:
            out = expensive(1)
        print(f.run().result[out].name)
    """))
    runs = [
        subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["Success", "Cached"], runs[1].stderr
    assert (tmp_path / "calls.txt").read_text().split() == ["called"]


def test_unhashable_input_fails_naming_task_and_argument(executor):
    lock = threading.Lock()

    @task(cache_key_fn=task_input_hash)
    def uses_lock(resource):
        return 1

    if not executor.in_process:  # a lock cannot even travel to another process
        return
    with Flow("f", executor=executor) as f:
        out = uses_lock(lock)
    state = f.run().result[out]
    assert state.type is StateType.FAILED
    assert "task 'uses_lock': input 'resource' (lock) cannot be hashed" in state.message


def test_cache_key_function_that_raises_fails_clearly(executor):
    def broken_key(context, inputs):
        raise KeyError("no key")

    @task(cache_key_fn=broken_key)
    def keyed(x):
        return x

    with Flow("f", executor=executor) as f:
        out = keyed(1)
    state = f.run().result[out]
    assert state.type is StateType.FAILED
    assert "task 'keyed': cache_key_fn broken_key raised KeyError" in state.message


def test_cache_in_a_flow_function(tmp_path):
    log = tmp_path / "calls.txt"
    expensive = counting_task(log)

    @flow
    def twice():
        return expensive(3), expensive(3)

    assert twice() == (6, 6)
    assert log.read_text().split() == ["3"]


def test_persisted_results_json_and_pickle(executor):
    @task(persist_result=True, serializer="json")
    def as_json():
        return {"rows": [1, 2, 3]}

    @task(persist_result=True, serializer="pickle")
    def as_pickle():
        return {1, 2, 3}

    with Flow("f", executor=executor) as f:
        j, p = as_json(), as_pickle()
    state = f.run()
    json_files = list(results_dir().glob("*.json"))
    pickle_files = list(results_dir().glob("*.pickle"))
    assert len(json_files) == 1 and len(pickle_files) == 1
    assert json.loads(json_files[0].read_text()) == {"rows": [1, 2, 3]}
    assert pickle.loads(pickle_files[0].read_bytes()) == {1, 2, 3}
    assert str(json_files[0]) in state.result[j].message
    assert load_result(pickle_files[0]) == state.result[p].result
    assert not list(results_dir().glob(".*.tmp"))  # nothing half-written left behind


def test_results_dir_setting(monkeypatch, tmp_path):
    target = tmp_path / "elsewhere"
    monkeypatch.setenv("PROCTOR_RESULTS_DIR", str(target))

    @task(persist_result=True, serializer="json")
    def value():
        return 7

    with Flow("f") as f:
        value()
    f.run()
    assert [json.loads(p.read_text()) for p in target.glob("*.json")] == [7]


def test_result_that_does_not_fit_the_serializer_fails_clearly():
    @task(persist_result=True, serializer="json")
    def not_json():
        return object()

    with Flow("f") as f:
        out = not_json()
    state = f.run().result[out]
    assert state.type is StateType.FAILED
    assert "task 'not_json': its result could not be persisted with the 'json' serializer" in (
        state.message
    )
