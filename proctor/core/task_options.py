"""Task options Prefect 1 code passes, mapped onto Proctor's own.

Most are aliases (`log_stdout` is `log_prints`; `cache_for` with a `cache_validator` is a
`cache_key_fn` with a `cache_expiration`); the others are options of their own, kept as
attributes of the task and used by the engine: `task_run_name` (a template or a function naming
each run), `result`/`target`/`checkpoint` (where a result is written and when a run is answered
from it, `core.targets`) and `nout` (how many values `a, b = t()` unpacks).
"""

from __future__ import annotations

from typing import Any

from .errors import TaskOptionError, UnknownTaskOptionError
from .retries import seconds

#: Every option taken here, with what it means (also the error's list of valid names).
PREFECT1_NAMES = (
    "slug", "log_stdout", "cache_for", "cache_validator", "cache_key", "task_run_name",
    "result", "target", "checkpoint", "nout",
)
_OWN_NAMES = (
    "name", "tags", "log_prints", "description", "max_retries", "retry_delay", "retry_backoff",
    "retry_jitter", "retry_on", "timeout", "trigger", "skip_on_upstream_skip", "cache_key_fn",
    "cache_expiration", "refresh_cache", "persist_result", "serializer", "state_handlers",
    "on_failure", "on_success", "on_retry", "on_completion",
)


def prefect1_options(owner: str, given: dict[str, Any]) -> dict[str, Any]:
    """Proctor's meaning of the Prefect 1 options in `given` (refusing unknown names)."""
    unknown = sorted(set(given) - set(PREFECT1_NAMES))
    if unknown:
        raise UnknownTaskOptionError(
            f"{owner}: no option(s) {', '.join(unknown)}; options are "
            f"{', '.join(sorted((*_OWN_NAMES, *PREFECT1_NAMES)))}"
        )
    out: dict[str, Any] = {}
    if given.get("slug") is not None:
        out["slug"] = str(given["slug"])
    if given.get("log_stdout"):
        out["log_prints"] = True
    cache_for = given.get("cache_for")
    validator = given.get("cache_validator")
    shared_key = given.get("cache_key")
    if cache_for is not None or shared_key is not None:
        from .cache_validators import key_function

        out["cache_key_fn"] = key_function(owner, validator, shared_key)
        if cache_for is not None:
            out["cache_expiration"] = seconds(cache_for, owner=owner, option="cache_for")
    name = given.get("task_run_name")
    if name is not None and not (isinstance(name, str) or callable(name)):
        raise TaskOptionError(
            f"{owner}: task_run_name={name!r} must be a template such as '{{name}}-{{x}}' "
            f"or a function of the task's inputs"
        )
    nout = given.get("nout")
    if nout is not None and (isinstance(nout, bool) or not isinstance(nout, int) or nout < 1):
        raise TaskOptionError(f"{owner}: nout={nout!r} must be a whole number >= 1")
    return out


def apply_run_options(task: Any, given: dict[str, Any]) -> None:
    """Set the Prefect 1 options that are options of their own as attributes of `task`."""
    task.task_run_name = given.get("task_run_name")
    task.nout = given.get("nout")
    checkpoint = given.get("checkpoint")
    task.checkpoint = True if checkpoint is None else bool(checkpoint)
    result = given.get("result")
    if result is not None:
        from .targets import check_result_option

        result = check_result_option(task, result)
    task.result = result
    target = given.get("target")
    if target is not None and not (isinstance(target, str) or callable(target)):
        raise TaskOptionError(
            f"task {task.name!r}: target={target!r} must be a location template such as "
            f"'{{task_name}}-{{today}}.pkl' or a function returning one"
        )
    task.target = target
