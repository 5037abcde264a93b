"""Prefect 1's cache validators (`prefect.engine.cache_validators`), for `cache_validator=`."""

from .core.cache_validators import (  # noqa: F401
    all_inputs,
    all_parameters,
    duration_only,
    never_use,
    partial_inputs_only,
    partial_parameters_only,
)

__all__ = ["all_inputs", "all_parameters", "duration_only", "never_use",
           "partial_inputs_only", "partial_parameters_only"]
