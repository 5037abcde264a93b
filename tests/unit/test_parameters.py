"""@flow parameters: bound from the signature, validated and coerced from annotations."""

import pytest

from proctor.core.errors import (
    MissingParameterError,
    ParameterValidationError,
    UnknownParameterError,
)
from proctor.core.parameters import FunctionParameters


def etl(n: int, ratio: float = 0.5, tags: list[str] | None = None, raw=None):
    return n


def test_values_are_coerced_and_defaults_applied():
    params = FunctionParameters("etl", etl)
    assert params.validate((), {"n": "5"}) == {"n": 5, "ratio": 0.5, "tags": None, "raw": None}
    assert params.validate((3,), {"tags": ["a"]})["tags"] == ["a"]


def test_unannotated_parameters_take_anything():
    params = FunctionParameters("etl", etl)
    marker = object()
    assert params.validate((1,), {"raw": marker})["raw"] is marker


def test_bad_value_names_parameter_value_and_type():
    params = FunctionParameters("etl", etl)
    with pytest.raises(ParameterValidationError) as err:
        params.validate((), {"n": "abc"})
    text = str(err.value)
    assert "'n'" in text and "'abc'" in text and "expected int" in text and "etl" in text


def test_unknown_and_missing_parameters():
    params = FunctionParameters("etl", etl)
    with pytest.raises(UnknownParameterError, match="valid names: n, ratio, tags, raw"):
        params.validate((), {"n": 1, "m": 2})
    with pytest.raises(MissingParameterError, match="'n'"):
        params.validate((), {})
