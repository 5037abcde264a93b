"""`--param KEY=VALUE` parsing: JSON when it is JSON, a string otherwise."""

from __future__ import annotations

import pytest

from proctor.cli.params import ParamSyntaxError, parse_params, parse_value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("-2.5", -2.5),
        ("[1,2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("true", True),
        ("null", None),
        ('"007"', "007"),
        ("007", "007"),  # not valid JSON (leading zero): kept as typed
        ("Ada", "Ada"),
        ("2024-01-31", "2024-01-31"),
        ("", ""),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_parse_params_splits_on_the_first_equals():
    assert parse_params(["n=5", "query=a=b", " name =Ada"]) == {
        "n": 5,
        "query": "a=b",
        "name": "Ada",
    }


@pytest.mark.parametrize("bad", ["abc", "=1", "  =1"])
def test_parse_params_rejects_missing_key_or_equals(bad):
    with pytest.raises(ParamSyntaxError, match="expected KEY=VALUE, e.g. --param n=5"):
        parse_params([bad])


def test_parse_params_rejects_a_key_given_twice():
    with pytest.raises(ParamSyntaxError, match="more than once"):
        parse_params(["n=1", "n=2"])
