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

    # Prefect 1's names for the same two methods
    def serialize(self, value: Any) -> bytes:
        return self.dumps(value)

    def deserialize(self, data: bytes) -> Any:
        return self.loads(data)


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


class PandasSerializer(Serializer):
    """A pandas DataFrame as CSV, Parquet or JSON (pandas, and pyarrow for Parquet, must be
    installed where the task runs)."""

    name = "pandas"
    _FORMATS = {"csv": ".csv", "json": ".json", "parquet": ".parquet"}

    def __init__(self, file_type: str = "csv", serialize_kwargs: dict | None = None,
                 deserialize_kwargs: dict | None = None) -> None:
        if file_type not in self._FORMATS:
            raise TaskOptionError(
                f"PandasSerializer(file_type={file_type!r}): use one of "
                f"{', '.join(map(repr, self._FORMATS))}"
            )
        self.file_type = file_type
        self.extension = self._FORMATS[file_type]
        self.serialize_kwargs = dict(serialize_kwargs or {})
        self.deserialize_kwargs = dict(deserialize_kwargs or {})

    def dumps(self, value: Any) -> bytes:
        import io

        buffer = io.BytesIO()
        kwargs = dict(self.serialize_kwargs)
        if self.file_type == "csv":
            kwargs.setdefault("index", False)
        getattr(value, f"to_{self.file_type}")(buffer, **kwargs)
        return buffer.getvalue()

    def loads(self, data: bytes) -> Any:
        import io

        import pandas

        reader = getattr(pandas, f"read_{self.file_type}")
        return reader(io.BytesIO(data), **self.deserialize_kwargs)


class DateTimeSerializer(Serializer):
    """A datetime as ISO-8601 text."""

    name = "datetime"
    extension = ".txt"

    def dumps(self, value: Any) -> bytes:
        return value.isoformat().encode()

    def loads(self, data: bytes) -> Any:
        from datetime import datetime

        return datetime.fromisoformat(data.decode())


class CompressedSerializer(Serializer):
    """Another serializer's bytes, compressed ("gzip", "bz2", "lzma" or "zlib")."""

    name = "compressed"
    _MODULES = ("gzip", "bz2", "lzma", "zlib")

    def __init__(self, serializer: Serializer | str = "pickle", format: str = "gzip") -> None:  # noqa: A002
        if format not in self._MODULES:
            raise TaskOptionError(
                f"CompressedSerializer(format={format!r}): use one of {', '.join(self._MODULES)}"
            )
        self.inner = get_serializer(serializer, owner="CompressedSerializer")
        self.format = format
        self.extension = f"{self.inner.extension}.{format}"

    def dumps(self, value: Any) -> bytes:
        import importlib

        return importlib.import_module(self.format).compress(self.inner.dumps(value))

    def loads(self, data: bytes) -> Any:
        import importlib

        return self.inner.loads(importlib.import_module(self.format).decompress(data))


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
