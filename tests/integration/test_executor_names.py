"""Executors chosen by name, with clear errors for names that do not exist."""

import pytest

from proctor import Flow
from proctor.core.errors import ExecutorError, UnknownExecutorError
from proctor.executors import LocalExecutor, ProcessExecutor, ThreadExecutor, resolve_executor


def test_names_resolve_to_executors():
    assert isinstance(resolve_executor(None), LocalExecutor)
    assert isinstance(resolve_executor("local"), LocalExecutor)
    threads = resolve_executor("threads:4")
    assert isinstance(threads, ThreadExecutor) and threads.max_workers == 4
    procs = resolve_executor("processes:2")
    assert isinstance(procs, ProcessExecutor) and procs.max_workers == 2


def test_default_executor_from_environment(monkeypatch):
    monkeypatch.setenv("PROCTOR_EXECUTOR", "threads:3")
    assert resolve_executor(None).max_workers == 3


@pytest.mark.parametrize("bad", ["gpu", "threads:zero", "threads:0", "local:2", 42])
def test_bad_names_are_clear_errors(bad):
    with pytest.raises(UnknownExecutorError) as err:
        resolve_executor(bad)
    assert repr(bad) in str(err.value) or type(bad).__name__ in str(err.value)


def test_bad_executor_is_refused_where_the_flow_is_written():
    with pytest.raises(UnknownExecutorError, match="valid names"):
        Flow("f", executor="gpu")
    with pytest.raises(ExecutorError, match="max_workers"):
        ThreadExecutor(0)
