"""Deploy a flow: tell the server where its code is, when to run it, and with what defaults.

    flow.deploy(name="nightly", schedule=CronSchedule("0 2 * * *"), parameters={"n": 5})

The server stores metadata only. An agent that claims one of the deployment's runs imports the
flow from the **entrypoint**, `path/to/file.py:attribute`, in a fresh process of its own.

Where the entrypoint points (the rule):

- given explicitly (`entrypoint=` here, the reference typed after `proctor deploy`), it is stored
  as written;
- otherwise it is found from the flow object: the Python file of the module that holds the flow
  at top level, and the attribute name it is bound to there. The path is stored relative to the
  current working directory when the file lies under it, else absolute.

The deployment also stores its **working directory**, the absolute folder it was made from (the
current directory, unless `working_directory=` says otherwise): an agent resolves a relative
entrypoint against it and starts the flow's process in it, so the flow's own relative paths
(`data/sales.csv`) mean what they meant where you deployed. An agent that cannot see that folder
fails the run saying so. Deploying from this machine also lets this machine's agents run code
from that folder (`proctor.agent.deployed_folders`): the reconciliation of "agents run only
code under their roots" with "the agent `make run` started runs what you deploy from your own
project folder".

The deployment's default parameters are validated against the flow here, with the errors
`proctor run` uses: a deployment whose scheduled runs could never start is refused at once,
not discovered at 2 a.m. They must form a complete set: every parameter without a default in the
flow needs one in the deployment.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .core.errors import ProctorError

__all__ = ["DeployError", "build_deployment", "deploy", "find_entrypoint", "parameter_schema"]


class DeployError(ProctorError):
    """A deployment could not be described (no entrypoint found, a bad schedule or name)."""


def deploy(
    flow: Any,
    name: str,
    *,
    schedule: Any = None,
    parameters: Mapping[str, Any] | None = None,
    work_queue: str = "default",
    tags: Iterable[str] = (),
    paused: bool = False,
    entrypoint: str | None = None,
    api_url: str | None = None,
    max_concurrent_runs: int | None = None,
    working_directory: str | Path | None = None,
) -> dict[str, Any]:
    """Create or update the deployment `name` of `flow` on the server; return the server's
    `DeploymentRead` with one extra key, `"created"` (False when it was a re-deploy).

    `schedule` is a schedule object (`CronSchedule`, `IntervalSchedule`, `Schedule`...), its
    `to_dict()`, or None. The server is `api_url`, else `PROCTOR_API_URL`. Raises a
    `ParameterError` for defaults the flow would refuse, `DeployError` for the rest, and the
    client's `ApiError`/`ServerUnreachable` when the server says no or cannot be reached.
    """
    from .client import ProctorClient, api_url_from_env

    body = build_deployment(
        flow, name, schedule=schedule, parameters=parameters, work_queue=work_queue, tags=tags,
        paused=paused, entrypoint=entrypoint, max_concurrent_runs=max_concurrent_runs,
        working_directory=working_directory,
    )
    url = api_url or api_url_from_env()
    if not url:
        raise DeployError(
            f"deploying {name!r} needs a server: pass api_url='http://127.0.0.1:4200' or set "
            f"PROCTOR_API_URL (start one with `proctor server start`)"
        )
    with ProctorClient(url) as client:
        answer, created = client.upsert_deployment(body)
    trust_deployed_folder(body["working_directory"])
    return {**answer, "created": created}


def trust_deployed_folder(folder: str) -> None:
    """Let agents of this machine run code from `folder` (see `agent.deployed_folders`): a
    deployment made here, by this user, is code this user meant to run."""
    from .agent.deployed_folders import remember_deployed_folder

    try:
        remember_deployed_folder(Path(folder))
    except OSError as exc:  # the deployment stands; an agent started elsewhere still can run it
        import logging

        logging.getLogger("proctor.deploy").warning(
            "could not note %s in $PROCTOR_HOME/deployed-folders (%s): agents of this machine "
            "run it only when it is under their --code-root", folder, exc)


def build_deployment(
    flow: Any,
    name: str,
    *,
    schedule: Any = None,
    parameters: Mapping[str, Any] | None = None,
    work_queue: str = "default",
    tags: Iterable[str] = (),
    paused: bool = False,
    entrypoint: str | None = None,
    max_concurrent_runs: int | None = None,
    working_directory: str | Path | None = None,
) -> dict[str, Any]:
    """The body of `POST /api/deployments` for `flow`, after every check that needs no server.
    `working_directory` (default: the current directory) is where a relative entrypoint and
    the flow's own relative paths start from."""
    from .recording.api import jsonable

    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise DeployError(f"deployment name {name!r} must be a non-empty text without '/'")
    if not isinstance(work_queue, str) or not work_queue.strip():
        raise DeployError(f"work_queue {work_queue!r} must be a non-empty text")
    if isinstance(tags, str):
        raise DeployError(f"tags={tags!r} must be a list of texts, e.g. tags=['etl']")
    defaults = dict(parameters or {})
    validate_defaults(flow, defaults)
    folder = Path(working_directory).expanduser() if working_directory else Path.cwd()
    if not folder.is_dir():
        raise DeployError(f"working_directory {str(folder)!r} is not a folder")
    body: dict[str, Any] = {
        "flow_name": flow.name,
        "name": name,
        "entrypoint": entrypoint or find_entrypoint(flow, folder),
        "working_directory": str(folder.resolve()),
        "parameters": jsonable(defaults),
        "parameter_schema": parameter_schema(flow),
        # As in Prefect 1, a flow's own schedule is its deployment's unless one is given.
        "schedule": schedule_json(schedule if schedule is not None
                                  else getattr(flow, "schedule", None)),
        "work_queue_name": work_queue,
        "tags": list(tags),
        "paused": bool(paused),
        "retries": retries_of(flow),
    }
    if max_concurrent_runs is not None:
        body["max_concurrent_runs"] = max_concurrent_runs
    return body


def validate_defaults(flow: Any, parameters: dict[str, Any]) -> None:
    """Raise the flow's own `ParameterError` if a run with only these values could not start."""
    from .flows import Flow

    if isinstance(flow, Flow):
        flow.validate_parameters(parameters)
    else:
        flow.parameters.validate((), parameters)


def schedule_json(schedule: Any) -> dict[str, Any] | None:
    """A schedule object or dict as the JSON the server stores (checked by rebuilding it)."""
    if schedule is None:
        return None
    from .schedules import ScheduleError, schedule_from_dict

    data = schedule if isinstance(schedule, Mapping) else None
    if data is None:
        to_dict = getattr(schedule, "to_dict", None)
        if to_dict is None:
            raise DeployError(
                f"schedule={schedule!r} is not a schedule; use one from proctor.schedules, "
                f"e.g. CronSchedule('0 2 * * *') or IntervalSchedule('15m')"
            )
        data = to_dict()
    try:
        schedule_from_dict(data)
    except ScheduleError as exc:
        raise DeployError(str(exc)) from exc
    return dict(data)


def retries_of(flow: Any) -> int:
    """How many times the flow retries a failed run: the server re-schedules a crashed run of
    the deployment while retries are left."""
    return int(flow.run_options.retry_policy.max_retries)


def parameter_schema(flow: Any) -> dict[str, Any]:
    """The flow's parameters for people and UIs: name, default, annotation (as text), required.

    The server keeps it as given (it never imports the flow), so annotations are strings and
    defaults JSON-safe. `retries` rides along for the server's crash-retry rule.
    """
    from .flows import Flow
    from .recording.api import jsonable

    entries: list[dict[str, Any]] = []
    if isinstance(flow, Flow):
        for pname, param in flow.parameters().items():
            entries.append({"name": pname, "default": jsonable(param.default),
                            "annotation": None, "required": param.required})
    else:
        annotations = flow.parameters.annotations
        for pname, param in flow.parameters.signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            has_default = param.default is not inspect.Parameter.empty
            entries.append({
                "name": pname,
                "default": jsonable(param.default) if has_default else None,
                "annotation": _annotation_text(annotations.get(pname, param.annotation)),
                "required": not has_default,
            })
    return {"parameters": entries, "retries": retries_of(flow)}


def _annotation_text(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def find_entrypoint(flow: Any, cwd: Path | None = None) -> str:
    """`path/to/file.py:attribute` for a flow bound at the top level of a module with a file
    (path relative to `cwd` when under it, else absolute; see the module docstring)."""
    found = _find_binding(flow)
    if found is None:
        raise DeployError(
            f"cannot tell where flow {flow.name!r} is defined: it is not bound at the top level "
            f"of a Python file. Define it at module level, or pass "
            f"entrypoint='path/to/file.py:name'"
        )
    file, attribute = found
    base = (cwd or Path.cwd()).resolve()
    try:
        shown = file.relative_to(base).as_posix()
    except ValueError:
        shown = str(file)
    return f"{shown}:{attribute}"


def _find_binding(flow: Any) -> tuple[Path, str] | None:
    """The file and attribute name of a module-level binding of `flow`, searching first the
    module the flow's function comes from, then the caller's modules, then every module."""
    candidates: list[ModuleType] = []
    fn = getattr(flow, "fn", None)
    if fn is not None and getattr(fn, "__module__", None) in sys.modules:
        candidates.append(sys.modules[fn.__module__])
    frame = inspect.currentframe()
    while frame is not None:
        module = sys.modules.get(frame.f_globals.get("__name__", ""))
        if module is not None:
            candidates.append(module)
        frame = frame.f_back
    candidates.extend(list(sys.modules.values()))
    seen: set[int] = set()
    for module in candidates:
        if id(module) in seen:
            continue
        seen.add(id(module))
        file = getattr(module, "__file__", None)
        if not file or not str(file).endswith(".py"):
            continue
        try:
            bindings = list(vars(module).items())
        except TypeError:  # an odd object in sys.modules without a __dict__
            continue
        for attribute, value in bindings:
            if value is flow and attribute.isidentifier() and not attribute.startswith("__"):
                return Path(file).resolve(), attribute
    return None
