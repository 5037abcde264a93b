"""`proctor deploy FILE:FLOW --name NAME [schedule] [--param k=v]...`: make a flow deployable.

The deployment's entrypoint is the reference as typed (plus the flow's name when it was left
out), with the directory `proctor deploy` ran in as its working directory: agents resolve the
entrypoint there and start the flow there, and this machine's agents may run code from it
(`proctor.agent.deployed_folders`). Re-deploying the same flow and name updates the deployment.

Exit codes: 0 deployed, 1 the server could not be reached or refused, 2 bad usage (a reference,
parameter or schedule that is wrong; parameters are checked against the flow as `proctor run`
checks them).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .api import ApiUrl, api_client, call_api
from .output import fail, proctor_command


def deploy_command(
    reference: Annotated[str, typer.Argument(
        metavar="FILE:FLOW", help="The Python file and the flow in it, e.g. flows.py:etl.",
        show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="The deployment's name, e.g. "
                                      "nightly.", show_default=False)],
    cron: Annotated[str | None, typer.Option("--cron", help="Run on this cron expression, "
                                             "e.g. '0 2 * * *'.", show_default=False)] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Run every interval: "
                                                 "seconds or 5m, 1h30m, 2d.",
                                                 show_default=False)] = None,
    rrule: Annotated[str | None, typer.Option("--rrule", help="Run on this RFC 5545 RRULE.",
                                              show_default=False)] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Time zone of the schedule, "
                                                 "e.g. Europe/Paris (default UTC).",
                                                 show_default=False)] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", metavar="KEY=VALUE", help="A default parameter; repeat for several "
        "(VALUE read as JSON when it is JSON).", show_default=False)] = None,
    queue: Annotated[str, typer.Option("--queue", "-q", help="The work queue its runs go "
                                       "to.")] = "default",
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="A tag of the "
                                                  "deployment; repeat for several.",
                                                  show_default=False)] = None,
    paused: Annotated[bool, typer.Option("--paused", help="Deploy paused: no scheduled run "
                                         "until `proctor deployments resume`.")] = False,
    api_url: str = ApiUrl,
) -> None:
    """Create or update a deployment of a flow, optionally on a schedule.

    Prints what was deployed and its next three run times.
    """
    from ..core.errors import FlowLoadError, ParameterError
    from ..deploy import DeployError, build_deployment, trust_deployed_folder
    from ..schedules import ScheduleError, schedule_from_cli
    from .loader import load_flow
    from .params import ParamSyntaxError, parse_params

    try:
        params = parse_params(param or ())
    except ParamSyntaxError as exc:
        fail(str(exc))
    schedule = None
    if cron is not None or interval is not None or rrule is not None:
        try:
            schedule = schedule_from_cli(cron=cron, interval=interval, rrule=rrule,
                                         timezone=timezone)
        except ScheduleError as exc:
            fail(str(exc))
    elif timezone is not None:
        fail("--timezone needs a schedule: add --cron, --interval or --rrule")
    try:
        loaded = load_flow(reference)
    except FlowLoadError as exc:
        fail(str(exc))
    try:
        body = build_deployment(loaded.flow, name, schedule=schedule, parameters=params,
                                work_queue=queue, tags=tag or (), paused=paused,
                                entrypoint=loaded.reference)
    except (ParameterError, DeployError) as exc:
        fail(str(exc))
    client = api_client(api_url)
    with client:
        deployment, created = call_api(client.upsert_deployment, body)
    trust_deployed_folder(body["working_directory"])
    print_deployment(deployment, created, schedule)


def print_deployment(deployment: dict[str, Any], created: bool, schedule: Any) -> None:
    """What was deployed, in a few lines: name, entrypoint, queue, schedule and next runs."""
    flow_name, name = deployment["flow_name"], deployment["name"]
    verb = "Created" if created else "Updated"
    typer.echo(f"{verb} deployment {flow_name}/{name} ({deployment['id']})")
    typer.echo(f"  entrypoint: {deployment['entrypoint']}")
    if deployment.get("working_directory"):
        typer.echo(f"  folder:     {deployment['working_directory']}")
    typer.echo(f"  work queue: {deployment['work_queue_name']}")
    if deployment.get("parameters"):
        typer.echo(f"  parameters: {deployment['parameters']}")
    if deployment.get("tags"):
        typer.echo(f"  tags:       {', '.join(deployment['tags'])}")
    if schedule is None:
        typer.echo(f"  schedule:   none (runs start with `{proctor_command()} run "
                   f"{flow_name}/{name}`)")
    else:
        state = " (paused)" if deployment.get("paused") else ""
        typer.echo(f"  schedule:   {schedule.describe()}{state}")
        zone = getattr(schedule, "zone", None)
        for when in schedule.next(3):
            local = ""
            if zone is not None and getattr(zone, "key", "UTC") != "UTC":
                local = f" ({when.astimezone(zone):%Y-%m-%d %H:%M:%S} {zone.key})"
            typer.echo(f"    next: {when:%Y-%m-%d %H:%M:%S} UTC{local}")
    proctor = proctor_command()
    typer.echo(f"Start an agent to run it: {proctor} agent start --queue "
               f"{deployment['work_queue_name']} (`make run` started one on 'default')")
