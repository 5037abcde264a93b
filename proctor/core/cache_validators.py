"""Prefect 1's cache validators, as the cache keys they amount to.

Prefect 1 kept a cached state and asked a validator whether it still applied; Proctor computes a
key per run and answers a run from the entry stored under the same key (`core.caching`). Each
validator is the key function that gives the same answers: `all_inputs` keys on the inputs,
`all_parameters` on the flow run's parameters, `duration_only` on the task alone (so only the
`cache_for` duration decides), `partial_inputs_only(validate_on=[...])` on some inputs, and
`never_use` never caches. A task's `cache_key` replaces its code identity in the key, so tasks
sharing a key share their entries.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .caching import _stable_bytes, code_identity
from .errors import TaskOptionError


class CacheKey:
    """A picklable key function: what to hash (`what`), and the identity it is hashed with."""

    def __init__(self, what: str, names: tuple[str, ...] = (), shared_key: str | None = None):
        self.what = what
        self.names = names
        self.shared_key = shared_key
        self.__name__ = what

    def with_shared_key(self, shared_key: str | None) -> CacheKey:
        return CacheKey(self.what, self.names, shared_key)

    def __call__(self, context: Any, inputs: dict[str, Any]) -> str | None:
        if self.what == "never_use":
            return None
        if self.what == "all_inputs":
            data = inputs
        elif self.what == "partial_inputs_only":
            data = {k: v for k, v in inputs.items() if k in self.names}
        elif self.what == "all_parameters":
            from .context import FLOW_RUN

            flow_run = FLOW_RUN.get()
            data = dict(flow_run.parameters) if flow_run is not None else {}
        elif self.what == "partial_parameters_only":
            from .context import FLOW_RUN

            flow_run = FLOW_RUN.get()
            given = flow_run.parameters if flow_run is not None else {}
            data = {k: v for k, v in given.items() if k in self.names}
        else:  # duration_only
            data = {}
        task = getattr(context, "task", None)
        identity = self.shared_key or (code_identity(task) if task is not None else "")
        label = f"task {getattr(context, 'task_key', '?')!r}"
        digest = hashlib.sha256(f"{self.what}\0{identity}\0".encode()
                                + _stable_bytes(label, data))
        return digest.hexdigest()

    def __repr__(self) -> str:
        return f"<cache validator {self.what}>"


never_use = CacheKey("never_use")
duration_only = CacheKey("duration_only")
all_inputs = CacheKey("all_inputs")
all_parameters = CacheKey("all_parameters")


def partial_inputs_only(validate_on: list[str] | None = None) -> CacheKey:
    """Key on the inputs named in `validate_on` only."""
    return CacheKey("partial_inputs_only", tuple(validate_on or ()))


def partial_parameters_only(validate_on: list[str] | None = None) -> CacheKey:
    """Key on the flow parameters named in `validate_on` only."""
    return CacheKey("partial_parameters_only", tuple(validate_on or ()))


def key_function(owner: str, validator: Any, shared_key: str | None) -> CacheKey:
    """The key function of `cache_for=` / `cache_validator=` / `cache_key=` (default: inputs,
    as Prefect 1's default validator)."""
    if validator is None:
        validator = all_inputs
    if not isinstance(validator, CacheKey):
        raise TaskOptionError(
            f"{owner}: cache_validator={validator!r} is not one of proctor.cache_validators "
            f"(all_inputs, all_parameters, duration_only, partial_inputs_only([...]), "
            f"partial_parameters_only([...]), never_use); for your own rule, pass "
            f"cache_key_fn=a function of (context, inputs) returning a key"
        )
    if shared_key is not None and not isinstance(shared_key, str):
        raise TaskOptionError(f"{owner}: cache_key={shared_key!r} must be a string")
    return validator.with_shared_key(shared_key)
