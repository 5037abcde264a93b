"""`/api/deployments`: upsert by (flow name, name), read by id or name, pause, resume, delete,
list upcoming scheduled runs, and create a run on demand.

The name routes are declared before the id routes: `/name/scheduled` must reach the lookup of a
deployment called "scheduled", not be taken for the `{id}/scheduled` of a deployment "name".
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from ...db import queries as q
from .. import convert
from ..control_schemas import DeploymentCreate, DeploymentRead, DeploymentRunCreate
from ..deps import DB, DeploymentId, PageQuery, PathName, wake_service
from ..parameter_check import parameter_problems
from ..responses import CONFLICT
from ..schemas import FlowRunRead, Name, Page

router = APIRouter(prefix="/api/deployments", tags=["deployments"])

@router.post(
    "",
    response_model=DeploymentRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": DeploymentRead, "description": "It existed and was updated (re-deploy)"},
        **CONFLICT,
    },
)
def upsert_deployment(
    body: DeploymentCreate, database: DB, request: Request, response: Response
) -> DeploymentRead:
    """201 with a new deployment; 200 when the flow already had one of this name, updated with
    the fields given. A changed schedule, parameters, tags, queue or retries, or pausing,
    cancels the deployment's auto-scheduled runs that came due and never started (with a
    message saying why) and removes its future ones, which the scheduler makes again."""
    spec = convert.deployment_spec(body)

    def work(session: Session) -> tuple[DeploymentRead, bool]:
        deployment, created = q.upsert_deployment(session, spec)
        return convert.deployment_read(deployment), created

    deployment, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    wake_service(request, "scheduler")
    return deployment


@router.get("", response_model=Page[DeploymentRead])
def list_deployments(
    database: DB,
    page: PageQuery,
    flow_name: Annotated[Name | None, Query(description="Only this flow's deployments")] = None,
) -> Page[DeploymentRead]:
    """By flow name, then name."""
    with database.read() as session:
        rows = q.list_deployments(session, flow_name=flow_name, page=page)
        items = [convert.deployment_read(row) for row in rows]
    return Page[DeploymentRead](items=items, limit=page.limit, offset=page.offset)


@router.get("/name/{flow_name}/{name}", response_model=DeploymentRead)
def read_deployment_by_full_name(
    flow_name: PathName, name: PathName, database: DB
) -> DeploymentRead:
    with database.read() as session:
        return convert.deployment_read(q.read_deployment_by_name(session, name, flow_name))


@router.get("/name/{name}", response_model=DeploymentRead, responses=CONFLICT)
def read_deployment_by_name(name: PathName, database: DB) -> DeploymentRead:
    """The only deployment called `name`; 409 when several flows have one of that name."""
    with database.read() as session:
        return convert.deployment_read(q.read_deployment_by_name(session, name))


@router.get("/{deployment_id}", response_model=DeploymentRead)
def read_deployment(deployment_id: DeploymentId, database: DB) -> DeploymentRead:
    with database.read() as session:
        return convert.deployment_read(q.read_deployment(session, deployment_id))


def _set_paused(database: DB, deployment_id: str, paused: bool) -> DeploymentRead:
    def work(session: Session) -> DeploymentRead:
        return convert.deployment_read(q.set_paused(session, deployment_id, paused))

    return database.transact(work)


@router.post("/{deployment_id}/pause", response_model=DeploymentRead)
def pause_deployment(deployment_id: DeploymentId, database: DB) -> DeploymentRead:
    """Stop scheduling: auto-scheduled runs that came due and never started are cancelled (with
    a message saying when the deployment was paused), future ones removed. On-demand runs can
    still be created, and run."""
    return _set_paused(database, deployment_id, True)


@router.post("/{deployment_id}/resume", response_model=DeploymentRead)
def resume_deployment(
    deployment_id: DeploymentId, database: DB, request: Request
) -> DeploymentRead:
    """Schedule again, from now on: the times that passed while it was paused get no runs,
    and the runs cancelled by the pause stay cancelled."""
    deployment = _set_paused(database, deployment_id, False)
    wake_service(request, "scheduler")
    return deployment


@router.delete("/{deployment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_deployment(deployment_id: DeploymentId, database: DB) -> Response:
    """Delete the deployment. Its runs stay as history; those that had not started are
    cancelled with a message (future auto-scheduled ones are removed)."""
    database.transact(lambda session: q.delete_deployment(session, deployment_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{deployment_id}/scheduled", response_model=Page[FlowRunRead])
def list_scheduled_runs(
    deployment_id: DeploymentId, database: DB, page: PageQuery
) -> Page[FlowRunRead]:
    """The deployment's SCHEDULED runs, soonest first."""
    with database.read() as session:
        runs = q.list_scheduled_runs(session, deployment_id, page=page)
        items = [convert.flow_run_read(run) for run in runs]
    return Page[FlowRunRead](items=items, limit=page.limit, offset=page.offset)


@router.post(
    "/{deployment_id}/runs",
    response_model=FlowRunRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": FlowRunRead, "description": "The run existed (same id or key)"}},
)
def create_deployment_run(
    deployment_id: DeploymentId, body: DeploymentRunCreate, database: DB, response: Response
) -> FlowRunRead:
    """A SCHEDULED run on the deployment's queue, due at `scheduled_time` (default now), that
    an agent of that queue claims; 200 with the existing run for a known `id` or
    `idempotency_key`. Parameters are checked against the flow's parameter description
    (unknown names, missing required values, wrong JSON kinds: 422)."""
    spec = convert.deployment_run_spec(body)

    def work(session: Session) -> tuple[FlowRunRead, bool]:
        deployment = q.read_deployment(session, deployment_id)
        problems = parameter_problems(deployment.parameter_schema, deployment.parameters,
                                      spec.parameters)
        if problems:
            raise RequestValidationError(problems)
        run, created = q.create_deployment_run(session, deployment_id, spec)
        return convert.flow_run_read(run), created

    run, created = database.transact(work)
    if not created:
        response.status_code = status.HTTP_200_OK
    return run
