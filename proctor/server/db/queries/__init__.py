"""The narrow verbs the API (and anything else) uses to read and change the database.

Every verb takes an open `Session` and works inside the caller's transaction, so a route can
combine several in one atomic unit (`Database.transact`) and a test can call them directly.
Verbs raise `NotFound` for a missing thing named by id; they never know about HTTP.
"""

from .agents import (
    agent_status,
    list_agents,
    mark_agent_offline,
    note_agent_alive,
    record_heartbeat,
    runs_to_cancel,
)
from .batch import record_batch
from .claims import cancel_run, claim_runs, release_run
from .concurrency import (
    acquire_concurrency_slots,
    active_slots,
    delete_concurrency_limit,
    list_concurrency_limits,
    put_concurrency_limit,
    release_concurrency_slots,
    set_concurrency_limit,
)
from .deployments import (
    create_deployment_run,
    delete_deployment,
    describe_schedule,
    list_deployments,
    list_scheduled_runs,
    read_deployment,
    read_deployment_by_name,
    set_paused,
    settle_unstarted_runs,
    upsert_deployment,
)
from .flow_runs import count_flow_runs, create_flow_run, list_flow_runs, read_flow_run
from .flows import list_flows, read_flow, upsert_flow
from .heartbeats import Reconciled, RunHeartbeats, reconcile_agent, record_run_heartbeats
from .lifecycle import (
    FollowUp,
    follow_up,
    free_slots_of_flow_run,
    record_flow_run_state,
    retry_crashed_run,
)
from .logs import list_logs
from .metrics import count_runs_by_state
from .reaping import Reaped, mark_late_runs, reap_orphaned_runs, reap_silent_runs
from .scheduling import plan_runs, run_key, schedule_deployment, scheduled_deployment_ids
from .specs import (
    DEPLOYMENT_DEFAULTS,
    AgentSpec,
    Batch,
    BatchResult,
    DeploymentRunSpec,
    DeploymentSpec,
    FlowRunFilter,
    FlowRunSpec,
    LogFilter,
    LogSpec,
    NotFound,
    Page,
    Refused,
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
    "DEPLOYMENT_DEFAULTS",
    "AgentSpec",
    "Batch",
    "BatchResult",
    "DeploymentRunSpec",
    "DeploymentSpec",
    "FlowRunFilter",
    "FlowRunSpec",
    "FollowUp",
    "LogFilter",
    "LogSpec",
    "NotFound",
    "Outcome",
    "Page",
    "Reaped",
    "Reconciled",
    "RunHeartbeats",
    "Refused",
    "Rejection",
    "RunSort",
    "StateEvent",
    "StateSpec",
    "TaskRunSpec",
    "acquire_concurrency_slots",
    "active_slots",
    "agent_status",
    "cancel_run",
    "claim_runs",
    "count_flow_runs",
    "count_runs_by_state",
    "create_deployment_run",
    "create_flow_run",
    "create_task_run",
    "current_state_row",
    "delete_concurrency_limit",
    "delete_deployment",
    "describe_schedule",
    "follow_up",
    "free_slots_of_flow_run",
    "list_agents",
    "mark_agent_offline",
    "list_concurrency_limits",
    "list_deployments",
    "list_flow_runs",
    "list_flows",
    "list_logs",
    "list_scheduled_runs",
    "list_task_runs",
    "mark_late_runs",
    "new_id",
    "note_agent_alive",
    "plan_runs",
    "put_concurrency_limit",
    "read_deployment",
    "read_deployment_by_name",
    "read_flow",
    "read_flow_run",
    "read_states",
    "read_task_run",
    "reap_orphaned_runs",
    "reconcile_agent",
    "record_run_heartbeats",
    "reap_silent_runs",
    "record_batch",
    "record_flow_run_state",
    "record_heartbeat",
    "release_concurrency_slots",
    "release_run",
    "retry_crashed_run",
    "run_key",
    "runs_to_cancel",
    "schedule_deployment",
    "scheduled_deployment_ids",
    "set_concurrency_limit",
    "set_paused",
    "set_run_state",
    "settle_unstarted_runs",
    "state_row_of",
    "upsert_deployment",
    "upsert_flow",
]
