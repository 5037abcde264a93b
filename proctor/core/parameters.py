"""Parameters of a `@flow` function: its signature, validated and coerced with pydantic.

Only annotated parameters are validated (an unannotated one takes any value), and pydantic is
imported the first time a flow with annotations runs, so `import proctor` stays light.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .errors import MissingParameterError, ParameterValidationError, UnknownParameterError


class FunctionParameters:
    """The parameters a function declares, and how to turn call arguments into valid values."""

    def __init__(self, flow_name: str, fn: Callable[..., Any]) -> None:
        self.flow_name = flow_name
        self.signature = inspect.signature(fn)
        try:
            hints = inspect.get_annotations(fn, eval_str=True)
        except Exception:  # unresolvable forward references: validate nothing rather than fail
            hints = {}
        self.annotations = {
            name: hints[name]
            for name, p in self.signature.parameters.items()
            if name in hints and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        self._adapters: dict[str, Any] = {}

    @property
    def names(self) -> list[str]:
        return list(self.signature.parameters)

    def defaults(self) -> dict[str, Any]:
        return {
            n: p.default for n, p in self.signature.parameters.items()
            if p.default is not inspect.Parameter.empty
        }

    def validate(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Bind call arguments to names, apply defaults, validate and coerce annotated ones."""
        params = self.signature.parameters
        unknown = [k for k in kwargs if k not in params]
        if unknown and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            valid = ", ".join(params) or "(none: this flow takes no parameters)"
            raise UnknownParameterError(
                f"flow {self.flow_name!r} has no parameter(s) {', '.join(map(repr, unknown))}; "
                f"valid names: {valid}"
            )
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            missing = [
                n for n, p in params.items()
                if p.default is inspect.Parameter.empty and n not in kwargs
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ][len(args):]
            if missing:
                raise MissingParameterError(
                    f"flow {self.flow_name!r} needs parameter(s) "
                    f"{', '.join(map(repr, missing))}"
                ) from None
            raise ParameterValidationError(f"flow {self.flow_name!r}: {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        for name, annotation in self.annotations.items():
            if name in values:
                values[name] = self._coerce(name, annotation, values[name])
        return values

    def _coerce(self, name: str, annotation: Any, value: Any) -> Any:
        if annotation is Any or annotation is inspect.Parameter.empty:
            return value
        adapter = self._adapters.get(name)
        if adapter is None:
            from pydantic import ConfigDict, TypeAdapter

            try:
                adapter = TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))
            except Exception:
                try:
                    adapter = TypeAdapter(annotation)
                except Exception:  # a type pydantic cannot validate: accept as given
                    return value
            self._adapters[name] = adapter
        from pydantic import ValidationError

        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            reasons = "; ".join(e["msg"] for e in exc.errors())
            expected = getattr(annotation, "__name__", None) or repr(annotation)
            raise ParameterValidationError(
                f"parameter {name!r} of flow {self.flow_name!r} got {value!r} "
                f"({type(value).__name__}), expected {expected}: {reasons}"
            ) from None
