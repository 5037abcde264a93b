"""Secret tasks: values a flow needs but must never show (`core.secrets` masks them).

- `EnvVarSecret("DB_PASSWORD")`: the value of an environment variable of the process running the
  task (None if unset, or a failure with `raise_if_missing=True`); `cast=int` converts it.
- `Secret("DB_PASSWORD")` (Prefect 1's `PrefectSecret`): the value set with `with
  proctor.context(secrets={"DB_PASSWORD": ...}):` around the run, else the environment variable
  `PROCTOR_SECRET_<NAME>` (the secret's name in capitals after the prefix); a missing secret
  fails the task, saying how to set it. `Secret("X").get()` reads it directly, outside flows.

The value a secret task returns is registered as a secret: masked (`****`) in every log line and
state message from then on, in the flow's process and in the workers that run later tasks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..core import secrets
from ..core.context_values import context
from ..core.signals import FAIL
from ..core.task import Task


class _SecretTask(Task):
    is_secret = True

    def __init__(self, name: str, **options: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}(name): name must be a non-empty string, "
                            f"got {name!r}")
        self.secret_name = name
        options.setdefault("name", name)
        super().__init__(**options)


class EnvVarSecret(_SecretTask):
    """A secret read from an environment variable where the task runs."""

    def __init__(self, name: str, cast: Callable[[str], Any] | None = None,
                 raise_if_missing: bool = False, **options: Any) -> None:
        super().__init__(name, **options)
        self.cast = cast
        self.raise_if_missing = bool(raise_if_missing)

    def run(self, name: str | None = None) -> Any:
        name = name or self.secret_name
        value = os.environ.get(name)
        if value is None:
            if self.raise_if_missing:
                raise FAIL(f"environment variable {name!r} is not set (EnvVarSecret with "
                           f"raise_if_missing=True); set it where the task runs")
            return None
        secrets.register(value)
        return self.cast(value) if self.cast is not None else value


class Secret(_SecretTask):
    """A named secret from the run's context, else from `PROCTOR_SECRET_<NAME>`."""

    def run(self, name: str | None = None) -> Any:
        return self._lookup(name or self.secret_name)

    def get(self) -> Any:
        """The secret's value now (no flow needed)."""
        return self._lookup(self.secret_name)

    @staticmethod
    def _lookup(name: str) -> Any:
        given = context.get("secrets") or {}
        if name in given:
            value = given[name]
        else:
            variable = f"PROCTOR_SECRET_{name.upper()}"
            value = os.environ.get(variable)
            if value is None:
                raise FAIL(
                    f"secret {name!r} is not set: set the environment variable {variable}, or "
                    f"run the flow inside `with proctor.context(secrets={{{name!r}: ...}}):`"
                )
        secrets.register(value)
        return value


#: Prefect 1's name for the same task.
PrefectSecret = Secret
