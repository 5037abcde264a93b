"""Check a deployment run's parameters against the flow's parameter description, in the server.

The server never imports flow code, so it cannot validate parameters the way the flow will. What
it has is the description the deploying client sent (`parameter_schema`: name, default,
annotation as text, required). That is enough to refuse, before a run exists, what would surely
fail when an agent starts it: a name the flow does not take, a required value missing, and a
value of the wrong JSON kind for a simple annotation (int, float, str, bool, list, dict). Other
annotations are left to the flow itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _kind_problem(annotation: str | None, value: Any) -> str | None:
    """Why `value` cannot be of the type `annotation` names, or None when it may be."""
    if not annotation or value is None:
        return None
    base = annotation.strip().split("[", 1)[0].strip().lower()
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
        "dict": lambda v: isinstance(v, dict),
    }
    check = checks.get(base)
    if check is None or check(value):
        return None
    return f"expected {annotation}, got {type(value).__name__} {value!r:.80}"


def parameter_problems(
    schema: Mapping[str, Any] | None, defaults: Mapping[str, Any], given: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Problems with `given` (the run's parameters) for a flow described by `schema`, whose
    deployment sets `defaults`; each in the shape of a 422 validation error item. An empty or
    missing description checks nothing (deployments made before descriptions existed)."""
    described = (schema or {}).get("parameters")
    if not isinstance(described, list) or not described:
        return []
    entries = {e["name"]: e for e in described if isinstance(e, Mapping) and "name" in e}
    problems = []
    for name in given:
        if name not in entries:
            problems.append({
                "loc": ["body", "parameters", name], "type": "unknown_parameter",
                "msg": f"the flow takes no parameter {name!r}; it takes: "
                       f"{', '.join(entries) or 'none'}",
            })
    merged = {**defaults, **given}
    for name, entry in entries.items():
        if entry.get("required") and merged.get(name) is None:
            problems.append({
                "loc": ["body", "parameters", name], "type": "missing",
                "msg": f"parameter {name!r} is required and the deployment gives no default",
            })
        elif name in given:
            why = _kind_problem(entry.get("annotation"), given[name])
            if why is not None:
                problems.append({"loc": ["body", "parameters", name], "type": "wrong_type",
                                 "msg": f"parameter {name!r}: {why}"})
    return problems
