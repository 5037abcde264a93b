"""Where task results are written, and the serializers that write them (Prefect 1's
`prefect.engine.results` and `prefect.engine.serializers`); see `proctor.core.targets`."""

from .core.serializers import (  # noqa: F401
    CompressedSerializer,
    DateTimeSerializer,
    JSONSerializer,
    PandasSerializer,
    PickleSerializer,
    Serializer,
)
from .core.targets import LocalResult, Result  # noqa: F401

__all__ = ["CompressedSerializer", "DateTimeSerializer", "JSONSerializer", "LocalResult",
           "PandasSerializer", "PickleSerializer", "Result", "Serializer"]
