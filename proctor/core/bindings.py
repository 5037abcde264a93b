"""How a task call's arguments refer to other tasks, and how they become values at run time.

When a task is called while a flow is being built or run, its arguments may hold handles of other
tasks' results (directly, or inside lists, tuples, sets and dicts). `bind` finds them once, at call
time, and keeps a recipe so that at run time `resolve` only substitutes results: the common case
(handles passed directly as arguments) costs one lookup per handle.

Mapping lives here too: `expand` turns resolved arguments into one argument set per element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import MappingError


class Unmapped:
    """Marks an argument of `task.map(...)` to be passed whole to every mapped run."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"unmapped({self.value!r})"


def unmapped(value: Any) -> Unmapped:
    """Pass `value` whole to each run of a mapped task instead of mapping over it."""
    return value if isinstance(value, Unmapped) else Unmapped(value)


class MappedArgument:
    """Marks one argument of an ordinary call to be mapped over: `add(x=mapped(rows), y=5)`
    runs `add` once per row, with y=5 each time (Prefect 1's `mapped`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"mapped({self.value!r})"


def mapped(value: Any) -> MappedArgument:
    """Map over `value` in an ordinary task call; the call's other arguments are passed whole."""
    from .context import BuildExtras

    BuildExtras.used = True  # from now on, task calls look for mapped() arguments
    return value if isinstance(value, MappedArgument) else MappedArgument(value)


def split_mapped(args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
    """A call with `mapped(...)` arguments as the arguments of a mapped call (the others
    passed whole); None when the call has none."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, MappedArgument):
            break
    else:
        return None

    def convert(value: Any) -> Any:
        if isinstance(value, MappedArgument):
            return value.value
        return value if isinstance(value, Unmapped) else Unmapped(value)

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


def _is_handle(value: Any) -> bool:
    return getattr(type(value), "_proctor_handle", False)


@dataclass(slots=True)
class Bindings:
    """The arguments of one task call, with the handles they depend on located.

    `direct` lists (position or keyword, node) pairs where an argument *is* a handle; `deep` says
    whether handles also hide inside containers, in which case `resolve` walks them.
    """

    args: tuple
    kwargs: dict
    deps: tuple  # unique upstream nodes, in order of appearance
    direct: tuple  # ((index_or_key, node), ...)
    deep: bool

    def resolve(self, value_of: Callable[[Any], Any]) -> tuple[list, dict]:
        """Replace every handle by `value_of(handle)`; `Unmapped` wrappers are kept."""
        args = list(self.args)
        kwargs = dict(self.kwargs) if self.kwargs else self.kwargs
        if self.deep:
            args = [_substitute(a, value_of) for a in args]
            kwargs = {k: _substitute(v, value_of) for k, v in kwargs.items()}
            return args, kwargs
        for where, node in self.direct:
            if where.__class__ is int:
                args[where] = value_of(node)
            else:
                kwargs[where] = value_of(node)
        return args, kwargs

    def mapped_sources(self) -> dict[Any, Any]:
        """Arguments that are handles mapped over directly: {position or keyword: node}."""
        return dict(self.direct)


def bind(args: tuple, kwargs: dict, to_node: Callable[[Any], Any | None]) -> Bindings:
    """Locate dependencies in a call's arguments.

    `to_node(value)` returns the graph node a value stands for (a handle, a task, a future) or
    None for plain data.
    """
    deps: dict[Any, None] = {}
    direct: list = []
    deep = False

    def scan(value: Any, top: bool, where: Any) -> Any:
        nonlocal deep
        node = to_node(value)
        if node is not None:
            deps.setdefault(node, None)
            if top:
                direct.append((where, node))
            else:
                deep = True
            return node
        if isinstance(value, Unmapped):
            inner = scan(value.value, False, where)
            return value if inner is value.value else Unmapped(inner)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [scan(v, False, where) for v in value]
            if all(a is b for a, b in zip(items, value, strict=False)):
                return value
            if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
                return type(value)(*items)
            return type(value)(items)
        if isinstance(value, dict):
            items = {k: scan(v, False, where) for k, v in value.items()}
            if all(items[k] is value[k] for k in value):
                return value
            return type(value)(items) if type(value) is not dict else items
        return value

    new_args = tuple(scan(a, True, i) for i, a in enumerate(args))
    new_kwargs = {k: scan(v, True, k) for k, v in kwargs.items()}
    return Bindings(new_args, new_kwargs, tuple(deps), tuple(direct), deep)


def _substitute(value: Any, value_of: Callable[[Any], Any]) -> Any:
    if _is_handle(value):
        return value_of(value)
    if isinstance(value, Unmapped):
        return Unmapped(_substitute(value.value, value_of))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_substitute(v, value_of) for v in value]
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, dict):
        return {k: _substitute(v, value_of) for k, v in value.items()}
    return value


def expand(task_name: str, args: list, kwargs: dict,
           size: int | None = None) -> list[tuple[list, dict]]:
    """One (args, kwargs) per element: mapped arguments are zipped, `Unmapped` ones repeated.

    All mapped arguments must have the same length; mapping over empty iterables gives no runs.
    `size` is the length asked by upstreams mapped over without their values (Prefect 1's
    `.map(upstream_tasks=[t])`): with no mapped argument, the call is repeated `size` times.
    """
    mapped: dict[Any, list] = {}
    for where, value in (*enumerate(args), *kwargs.items()):
        if isinstance(value, Unmapped):
            continue
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise MappingError(
                f"cannot map task {task_name!r} over argument {_arg_name(where)} of type "
                f"{type(value).__name__}: mapped arguments must be lists or other iterables; "
                f"wrap constants in unmapped(...)"
            )
        mapped[where] = list(value)
    if not mapped and size is None:
        raise MappingError(
            f"task {task_name!r} was mapped but every argument is unmapped(): nothing to map over"
        )
    lengths = {where: len(items) for where, items in mapped.items()}
    if size is not None:
        lengths["the mapped upstream tasks"] = size
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{_arg_name(w)}={n}" for w, n in lengths.items())
        raise MappingError(
            f"mapped arguments of task {task_name!r} have different lengths ({detail}); "
            f"map over iterables of equal length or wrap constants in unmapped(...)"
        )
    size = next(iter(lengths.values()))
    plain_args = [a.value if isinstance(a, Unmapped) else a for a in args]
    plain_kwargs = {k: (v.value if isinstance(v, Unmapped) else v) for k, v in kwargs.items()}
    runs = []
    for i in range(size):
        a = list(plain_args)
        k = dict(plain_kwargs)
        for where, items in mapped.items():
            if where.__class__ is int:
                a[where] = items[i]
            else:
                k[where] = items[i]
        runs.append((a, k))
    return runs


def strip_unmapped(args: list, kwargs: dict) -> tuple[list, dict]:
    """Unwrap `unmapped(x)` passed to an ordinary (not mapped) call: it means just `x`."""
    if any(isinstance(a, Unmapped) for a in args) or any(
        isinstance(v, Unmapped) for v in kwargs.values()
    ):
        args = [a.value if isinstance(a, Unmapped) else a for a in args]
        kwargs = {k: (v.value if isinstance(v, Unmapped) else v) for k, v in kwargs.items()}
    return args, kwargs


def _arg_name(where: Any) -> str:
    return f"#{where}" if isinstance(where, int) else repr(where)
