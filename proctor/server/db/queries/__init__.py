"""The narrow verbs the API (and anything else) uses to read and change the database.

Every verb takes an open `Session` and works inside the caller's transaction, so a route can
combine several in one atomic unit (`Database.transact`) and a test can call them directly.
Verbs raise `NotFound` for a missing thing named by id; they never know about HTTP.
"""

from .batch import record_batch
from .concurrency import (
    acquire_concurrency_slots,
    release_concurrency_slots,
    set_concurrency_limit,
)
from .flow_runs import count_flow_runs, create_flow_run, list_flow_runs, read_flow_run
from .flows import list_flows, read_flow, upsert_flow
from .logs import list_logs
from .metrics import count_runs_by_state
from .specs import (
    Batch,
    BatchResult,
    FlowRunFilter,
    FlowRunSpec,
    LogFilter,
    LogSpec,
    NotFound,
    Page,
    Rejection,
    RunSort,
    StateEvent,
    StateSpec,
    TaskRunSpec,
    new_id,
)
from .states import Outcome, current_state_row, read_states, set_run_state, state_row_of
from .task_runs import create_task_run, list_task_runs, read_task_run

__all__ = [
    "Batch",
    "BatchResult",
    "FlowRunFilter",
    "FlowRunSpec",
    "LogFilter",
    "LogSpec",
    "NotFound",
    "Outcome",
    "Page",
    "Rejection",
    "RunSort",
    "StateEvent",
    "StateSpec",
    "TaskRunSpec",
    "acquire_concurrency_slots",
    "count_flow_runs",
    "count_runs_by_state",
    "create_flow_run",
    "create_task_run",
    "current_state_row",
    "list_flow_runs",
    "list_flows",
    "list_logs",
    "list_task_runs",
    "new_id",
    "read_flow",
    "read_flow_run",
    "read_states",
    "read_task_run",
    "record_batch",
    "release_concurrency_slots",
    "set_concurrency_limit",
    "set_run_state",
    "state_row_of",
    "upsert_flow",
]
