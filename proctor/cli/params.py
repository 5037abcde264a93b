"""`--param KEY=VALUE` options turned into flow parameters.

A value is read as JSON when it is valid JSON, so `n=5` gives the int 5, `xs=[1,2]` a list,
`debug=true` a bool and `cfg={"a":1}` a dict, with no type declarations needed; anything else
(`name=Ada`, `day=2024-01-31`) stays the string typed. To force a string that looks like JSON,
quote it for JSON inside the shell's quotes: `--param 'code="007"'`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class ParamSyntaxError(ValueError):
    """A `--param` option that is not of the form KEY=VALUE."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not standard JSON")


def parse_value(text: str) -> Any:
    """The JSON value `text` spells, or `text` itself when it is not JSON.

    Python's `NaN` and `Infinity` extensions are not taken as numbers: `--param name=NaN` most
    likely means the string.
    """
    try:
        return json.loads(text, parse_constant=_no_constants)
    except ValueError:
        return text


def parse_params(items: Iterable[str]) -> dict[str, Any]:
    """`["n=5", "name=Ada"]` -> `{"n": 5, "name": "Ada"}`; raises `ParamSyntaxError` on bad input.

    Only the first `=` separates, so values may hold `=` (`--param query=a=b`). A key given twice
    is refused rather than silently overwritten, since one of the two was surely a mistake.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamSyntaxError(f"--param {item!r}: expected KEY=VALUE, e.g. --param n=5")
        if key in params:
            raise ParamSyntaxError(f"--param {key!r} is given more than once")
        params[key] = parse_value(raw)
    return params
