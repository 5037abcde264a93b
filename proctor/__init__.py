"""Proctor: write tasks, wire them into flows, run them anywhere, and watch every state.

    from proctor import task, Flow

    @task
    def push():
        return {"Firstname": "Hello", "Name": "World"}

    @task
    def pull(value):
        print("Received value:", value)

    with Flow("XCom demo") as flow:
        pull(push())

    flow.run()
"""

from .core.apply_map import apply_map
from .core.bindings import mapped, unmapped
from .core.context import get_run_context
from .core.control_flow import case, ifelse, merge, switch
from .core.errors import ProctorError
from .core.graph import DateTimeParameter, Parameter
from .core.imperative import Edge
from .core.states import State, StateType
from .core.tags import tags
from .core.task import Task, task
from .engine.dynamic import TaskFuture
from .engine.logs import get_run_logger
from .flows import Flow, FlowFunction, flow

__version__ = "0.1.0"

#: Names imported on first use (`import proctor` stays small): name -> module.
_LAZY = {"context": ".core.context_values", "flatten": ".core.flatten",
         "resource_manager": ".core.resources"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'proctor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "task",
    "Task",
    "flow",
    "Flow",
    "FlowFunction",
    "Parameter",
    "DateTimeParameter",
    "unmapped",
    "mapped",
    "flatten",
    "apply_map",
    "context",
    "tags",
    "resource_manager",
    "Edge",
    "case",
    "switch",
    "ifelse",
    "merge",
    "get_run_logger",
    "get_run_context",
    "State",
    "StateType",
    "TaskFuture",
    "ProctorError",
    "__version__",
]
