"""Serializers for results and the cache (Prefect 1's `prefect.engine.serializers`)."""

from .results import (  # noqa: F401
    CompressedSerializer,
    DateTimeSerializer,
    JSONSerializer,
    PandasSerializer,
    PickleSerializer,
    Serializer,
)

__all__ = ["CompressedSerializer", "DateTimeSerializer", "JSONSerializer", "PandasSerializer",
           "PickleSerializer", "Serializer"]
