"""The route table reads the API's schema: which methods a path has, which query parameters a
route takes, and the 405 / 422 a request outside them gets."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError

from proctor.server.api.route_table import RouteTable


def _op(*query: tuple[str, bool]) -> dict:
    return {
        "responses": {"200": {}},
        "parameters": [
            {"name": name, "in": "query",
             "schema": {"anyOf": [{"type": "array"}, {"type": "null"}]} if many
             else {"type": "string"}}
            for name, many in query
        ],
    }


SCHEMA = {
    "paths": {
        "/api/runs": {"get": _op(("limit", False), ("tag", True)), "post": _op()},
        "/api/runs/heartbeat": {"post": _op()},
        "/api/runs/{run_id}": {"get": _op()},
        "/api/runs/{run_id}/logs": {"get": _op(("level", False))},
    }
}


@pytest.fixture
def table() -> RouteTable:
    return RouteTable(SCHEMA)


def test_methods_of_the_most_literal_path(table):
    assert table.allowed_methods("/api/runs") == ["GET", "POST"]
    assert table.allowed_methods("/api/runs/heartbeat") == ["POST"]
    assert table.allowed_methods("/api/runs/ab12") == ["GET"]
    assert table.allowed_methods("/nowhere") == []


def test_a_literal_path_asked_with_another_method_is_a_405_naming_its_methods(table):
    with pytest.raises(HTTPException) as raised:
        table.check("GET", "/api/runs/heartbeat", [])
    assert raised.value.status_code == 405
    assert raised.value.headers == {"Allow": "POST"}
    assert "takes POST" in raised.value.detail


def test_known_parameters_pass_and_lists_may_repeat(table):
    table.check("GET", "/api/runs", [("limit", "5"), ("tag", "a"), ("tag", "b")])
    table.check("GET", "/api/runs/ab12/logs", [("level", "info")])
    table.check("GET", "/nowhere", [("anything", "1")])  # not the schema's: not judged here


def test_an_unknown_parameter_is_refused_naming_what_the_route_takes(table):
    with pytest.raises(RequestValidationError) as raised:
        table.check("GET", "/api/runs", [("limt", "5")])
    (error,) = raised.value.errors()
    assert error["loc"] == ("query", "limt")
    assert "unknown query parameter 'limt'" in error["msg"]
    assert "limit, tag" in error["msg"]


def test_a_one_valued_parameter_given_twice_is_refused(table):
    with pytest.raises(RequestValidationError) as raised:
        table.check("GET", "/api/runs", [("limit", "5"), ("limit", "6")])
    (error,) = raised.value.errors()
    assert error["msg"] == "limit is given 2 times; give it once"


def test_a_route_without_parameters_says_so(table):
    with pytest.raises(RequestValidationError) as raised:
        table.check("GET", "/api/runs/ab12", [("x", "1")])
    assert "takes no query parameters" in raised.value.errors()[0]["msg"]
