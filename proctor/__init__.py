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

from .core.bindings import unmapped
from .core.context import get_run_context
from .core.control_flow import case, ifelse, merge, switch
from .core.errors import ProctorError
from .core.graph import Parameter
from .core.states import State, StateType
from .core.task import Task, task
from .engine.dynamic import TaskFuture
from .engine.logs import get_run_logger
from .flows import Flow, FlowFunction, flow

__version__ = "0.1.0"

__all__ = [
    "task",
    "Task",
    "flow",
    "Flow",
    "FlowFunction",
    "Parameter",
    "unmapped",
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
