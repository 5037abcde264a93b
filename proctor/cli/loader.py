"""Find a flow from a `path/to/file.py:name` reference typed on the command line.

The file is imported by path, not by module name, so it needs no package around it and no
`sys.path` setup by the user. Three choices make such a file behave like a script run with
`python file.py`, yet safe for every executor:

- it is imported under a fresh, unique module name: a file called `json.py` or `flows.py` cannot
  collide with an installed module or with another flow file loaded earlier, and its
  `if __name__ == "__main__":` block does not run;
- its directory goes on `sys.path`, so it can import its sibling modules as a script would;
- it is registered with cloudpickle to be pickled *by value*: process workers (with `spawn` or
  `forkserver`) could not import it by that invented name, so its tasks travel as code instead.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..core.errors import FlowLoadError

_counter = itertools.count(1)


@dataclass(frozen=True)
class LoadedFlow:
    """A flow found in a file: the object, the attribute name, and the file as the user typed it."""

    flow: Any  # proctor.Flow or proctor.FlowFunction
    name: str
    path: str
    module: ModuleType

    @property
    def reference(self) -> str:
        return f"{self.path}:{self.name}"


def split_reference(reference: str) -> tuple[str, str | None]:
    """`"etl.py:flow"` -> `("etl.py", "flow")`; `"etl.py"` -> `("etl.py", None)`.

    The last colon separates the name, unless what follows it holds a path separator (a Windows
    drive letter such as `C:\\flows\\etl.py`); an empty name means "find the flow for me".
    """
    path, sep, name = reference.rpartition(":")
    if not sep or "/" in name or "\\" in name:
        return reference, None
    return path, (name or None)


def load_flow(reference: str) -> LoadedFlow:
    """Import the file named by `reference` and return the flow it names (or its only flow).

    Raises `FlowLoadError` with a message naming the file and the attribute for every way this
    can go wrong: no file, a file that does not import, no such attribute, not a flow.
    """
    path, name = split_reference(reference)
    if not path:
        raise FlowLoadError(
            f"{reference!r} names no file; use path/to/file.py:flow_name, e.g. flows.py:etl"
        )
    if name is not None and not all(part.isidentifier() for part in name.split(".")):
        raise FlowLoadError(
            f"{reference!r}: {name!r} is not a Python name; use path/to/file.py:flow_name"
        )
    module = load_module(path)
    if name is None:
        return _only_flow(module, path)
    value: Any = module
    for depth, part in enumerate(name.split(".")):
        try:
            value = getattr(value, part)
        except AttributeError:
            where = path if depth == 0 else f"{path}:{'.'.join(name.split('.')[:depth])}"
            raise FlowLoadError(
                f"{where} has no attribute {part!r}; {_flows_hint(module, path)}"
            ) from None
    if not _is_flow(value):
        what, hint = _describe(value)
        raise FlowLoadError(f"{path}:{name} is {what}, not a flow; {hint}")
    return LoadedFlow(value, name, path, module)


def load_module(path: str) -> ModuleType:
    """Import the Python file at `path` under a unique module name (see the module docstring)."""
    file = Path(path)
    if not file.exists():
        raise FlowLoadError(f"{path}: no such file")
    if file.is_dir():
        raise FlowLoadError(
            f"{path} is a directory; give a Python file in it, e.g. {file / 'flows.py'}:my_flow"
        )
    resolved = file.resolve()
    module_name = f"proctor_flowfile_{_identifier(resolved.stem)}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, resolved)
    if spec is None or spec.loader is None:
        raise FlowLoadError(f"{path} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    directory = str(resolved.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    # In sys.modules while it runs, as for any import: dataclasses and pickling look it up there.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        line = f" at line {exc.lineno}" if exc.lineno else ""
        raise FlowLoadError(f"{path} has a syntax error{line}: {exc.msg}") from exc
    except (Exception, SystemExit) as exc:
        del sys.modules[module_name]
        raise FlowLoadError(
            f"importing {path} failed{_line_in(exc, resolved)}: {type(exc).__name__}: {exc}"
        ) from exc
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def flows_in(module: ModuleType) -> dict[str, Any]:
    """The flows a module defines at top level, by attribute name (an alias counted once)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for attr, value in vars(module).items():
        if _is_flow(value) and id(value) not in seen:
            seen.add(id(value))
            found[attr] = value
    return found


def _only_flow(module: ModuleType, path: str) -> LoadedFlow:
    found = flows_in(module)
    if len(found) == 1:
        ((name, value),) = found.items()
        return LoadedFlow(value, name, path, module)
    if not found:
        raise FlowLoadError(
            f"{path} defines no flow; build one with `with Flow(...)` or decorate a function "
            f"with @flow, then run {path}:<name>"
        )
    names = ", ".join(found)
    raise FlowLoadError(
        f"{path} defines {len(found)} flows ({names}); say which one, e.g. "
        f"{path}:{next(iter(found))}"
    )


def _flows_hint(module: ModuleType, path: str) -> str:
    found = flows_in(module)
    if not found:
        return f"{path} defines no flow at all"
    return f"flows defined there: {', '.join(found)}"


def _is_flow(value: Any) -> bool:
    from ..flows import Flow, FlowFunction

    return isinstance(value, (Flow, FlowFunction))


def _describe(value: Any) -> tuple[str, str]:
    """What a non-flow value is, and what to do instead: for the "not a flow" message."""
    from ..core.graph import FlowGraph
    from ..core.task import Task

    if isinstance(value, Task):
        return f"a task ({value.name!r})", "call it inside a flow and run that flow"
    if isinstance(value, FlowGraph):
        return "a FlowGraph, which cannot run", "build the graph with proctor.Flow instead"
    if callable(value) and hasattr(value, "__code__"):
        return "a plain function", "decorate it with @flow to run it as a flow"
    kind = "the module" if isinstance(value, ModuleType) else "an object of type"
    label = value.__name__ if isinstance(value, ModuleType) else type(value).__name__
    return (
        f"{kind} {label}",
        "point at a flow built with `with Flow(...)` or a function decorated with @flow",
    )


def _line_in(exc: BaseException, file: Path) -> str:
    """` at line N` of the deepest frame of `file` in the traceback, to point at the culprit."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == file]
    return f" at line {frames[-1].lineno}" if frames else ""


def _identifier(text: str) -> str:
    return re.sub(r"\W", "_", text) or "file"
