"""Results written where the task says, and targets: a run answered by a file that exists.

`result=LocalResult(dir="out", location="{task_name}-{today}.pkl")` writes a task's result to a
templated location after each successful run (unless `checkpoint=False`). `target="..."` names
the location a run would write: when that location already exists, the task does not run; its
run ends Cached with the stored value, as in Prefect 1. Templates are `str.format` strings (or
functions called with the same values as keywords) over `proctor.context` (`today`,
`flow_name`, `task_name`, `map_index`, `parameters`, ...) and the task's inputs by name.

A flow's `result=` is the default of its tasks. The server only ever sees a location, in the
task run's state message ("result written to ..."), never the value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import TaskOptionError
from .serializers import PickleSerializer, Serializer, get_serializer


class Result:
    """Where and how one task's results are stored. Subclass for other stores: `exists`,
    `read`, `write` on a formatted location."""

    def __init__(self, location: str | Any = None, serializer: Serializer | str | None = None,
                 value: Any = None) -> None:
        self.location = location
        self.serializer = get_serializer(serializer or PickleSerializer(),
                                         owner=type(self).__name__)
        self.value = value

    def format(self, **values: Any) -> str:
        """The location for these template values (a run's context and inputs)."""
        return render_location(self.location or "{task_run_id}" + self.serializer.extension,
                               values)

    def exists(self, location: str, **values: Any) -> bool:
        raise NotImplementedError

    def read(self, location: str) -> Result:
        raise NotImplementedError

    def write(self, value: Any, **values: Any) -> Result:
        raise NotImplementedError

    def copy_with(self, **changes: Any) -> Result:
        new = object.__new__(type(self))
        new.__dict__.update({**self.__dict__, **changes})
        return new

    def __repr__(self) -> str:
        return f"<{type(self).__name__} location={self.location!r}>"


class LocalResult(Result):
    """Results as files under `dir` (default: `$PROCTOR_RESULTS_DIR`, else
    `$PROCTOR_HOME/results`), written atomically."""

    def __init__(self, dir: str | os.PathLike | None = None, location: str | Any = None,  # noqa: A002
                 serializer: Serializer | str | None = None, value: Any = None) -> None:
        super().__init__(location, serializer, value)
        self.dir = None if dir is None else str(Path(dir).expanduser())

    def path(self, location: str) -> Path:
        base = Path(self.dir) if self.dir is not None else _default_dir()
        path = Path(location)
        return path if path.is_absolute() else base / path

    def exists(self, location: str, **values: Any) -> bool:
        return self.path(location).is_file()

    def read(self, location: str) -> Result:
        data = self.path(location).read_bytes()
        return self.copy_with(location=location, value=self.serializer.loads(data))

    def write(self, value: Any, **values: Any) -> Result:
        from ..engine.results import write_atomic

        location = self.format(**values)
        write_atomic(self.path(location), self.serializer.dumps(value))
        return self.copy_with(location=location, value=value)


def _default_dir() -> Path:
    from .. import settings

    return settings.results_dir()


def render_location(template: Any, values: dict[str, Any]) -> str:
    """A location from a template string or a function of the template values."""
    if callable(template):
        location = template(**values)
    else:
        try:
            location = str(template).format(**values)
        except KeyError as exc:
            raise TaskOptionError(
                f"location template {template!r} names {exc.args[0]!r}, which is neither a "
                f"context key nor an input of the task; known: {', '.join(sorted(values))}"
            ) from None
    if not isinstance(location, str) or not location:
        raise TaskOptionError(f"location template {template!r} gave {location!r}, not a path")
    return location


def check_result_option(task: Any, result: Any) -> Result | None:
    if result is None or isinstance(result, Result):
        return result
    raise TaskOptionError(
        f"task {task.name!r}: result={result!r} is not a Result; use e.g. "
        f"proctor.results.LocalResult(dir='results', location='{{task_name}}.pkl')"
    )
