"""How results are turned into bytes for persisting and caching: "pickle" or "json"."""

from __future__ import annotations

import json
from typing import Any

from .errors import TaskOptionError


class Serializer:
    """Turns a value into bytes and back. Subclass for custom formats."""

    name = "serializer"
    extension = ".bin"

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError


class PickleSerializer(Serializer):
    """Any Python value, with cloudpickle (so lambdas and local classes work too)."""

    name = "pickle"
    extension = ".pickle"

    def dumps(self, value: Any) -> bytes:
        import cloudpickle

        return cloudpickle.dumps(value)

    def loads(self, data: bytes) -> Any:
        import pickle

        return pickle.loads(data)


class JSONSerializer(Serializer):
    """JSON: readable by other tools; only for JSON-compatible values."""

    name = "json"
    extension = ".json"

    def dumps(self, value: Any) -> bytes:
        return json.dumps(value, sort_keys=True).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data)


SERIALIZERS: dict[str, type[Serializer]] = {"pickle": PickleSerializer, "json": JSONSerializer}


def get_serializer(spec: str | Serializer, *, owner: str = "serializer") -> Serializer:
    """A serializer from its name or an instance; a clear error for anything else."""
    if isinstance(spec, Serializer):
        return spec
    if isinstance(spec, str) and spec.lower() in SERIALIZERS:
        return SERIALIZERS[spec.lower()]()
    raise TaskOptionError(
        f"{owner}: unknown serializer {spec!r}; use one of {', '.join(map(repr, SERIALIZERS))} "
        f"or a proctor.core.serializers.Serializer instance"
    )
