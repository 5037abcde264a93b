"""Executors every engine test runs on: sequential, real threads, real worker processes."""

import pytest

from proctor.executors import LocalExecutor, ProcessExecutor, ThreadExecutor

EXECUTORS = {
    "local": lambda: LocalExecutor(),
    "threads": lambda: ThreadExecutor(4),
    "processes": lambda: ProcessExecutor(2),
}


@pytest.fixture(params=list(EXECUTORS))
def executor(request):
    return EXECUTORS[request.param]()


@pytest.fixture(params=["threads", "processes"])
def parallel_executor(request):
    return EXECUTORS[request.param]()
