"""The API answers as its schema says, on each backend: the error answers each route lists,
unknown query parameters refused, strict JSON numbers and flags, a 405 with the path's methods,
text the database cannot store refused as the schema states it."""

from __future__ import annotations

import pytest

from proctor.server.api.schemas import NO_NUL_PATTERN


@pytest.fixture
def schema(client) -> dict:
    return client.app.openapi()


def test_every_api_route_documents_its_error_answers(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "503"} <= codes, (method, path)
            if path.startswith("/api/") and path != "/api/health":
                assert {"401", "403"} <= codes, (method, path)
            if "{" in path or "requestBody" in operation:
                assert "404" in codes, (method, path)
            if method != "get":
                conflict = operation["responses"]["409"]["content"]["application/json"]
                assert conflict["schema"] == {"$ref": "#/components/schemas/Conflict"}


def test_the_409_body_is_what_a_refusal_sends(client, new_run, schema):
    run = new_run(state={"type": "SUCCESS"})
    answer = client.post(f"/api/flow_runs/{run['id']}/state", json={"state": {"type": "RUNNING"}})
    assert answer.status_code == 409
    detail = answer.json()["detail"]
    assert set(detail) == {"reason", "rule"}
    conflict = schema["components"]["schemas"]["Conflict"]["properties"]["detail"]
    assert {"$ref": "#/components/schemas/TransitionRefused"} in conflict["anyOf"]


def test_an_unknown_query_parameter_is_refused_by_name(client):
    answer = client.get("/api/flow_runs", params={"limt": "5"})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["query", "limt"]
    assert "this route takes" in error["msg"] and "limit" in error["msg"]
    answer = client.get("/api/flows", params=[("name", "a"), ("name", "b")])
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["msg"] == "name is given 2 times; give it once"


def test_a_list_query_can_be_counted_as_it_is(client, new_run):
    new_run(tags=["x"])
    params = {"tag": "x", "sort": "created_asc", "limit": 10, "offset": 0}
    assert client.get("/api/flow_runs", params=params).status_code == 200
    assert client.get("/api/flow_runs/count", params=params).json() == {"count": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [("force", 0), ("force", "true")],
)
def test_flags_are_json_booleans(client, new_run, field, value):
    run = new_run()
    answer = client.post(f"/api/flow_runs/{run['id']}/state",
                         json={"state": {"type": "RUNNING"}, field: value})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", field]


def test_times_and_counts_are_json_numbers(client, new_run):
    run = new_run()
    base = {"id": "ab" * 16, "flow_run_id": run["id"], "message": "m"}
    for bad in ({"level": True, "timestamp": 1.0}, {"level": 20, "timestamp": False},
                {"level": "20", "timestamp": 1.0}, {"level": 20.5, "timestamp": 1.0}):
        answer = client.post("/api/events", json={"logs": [{**base, **bad}]})
        assert answer.status_code == 422, bad
    # An integer written 20.0 is the integer 20, as JSON Schema says.
    answer = client.post("/api/events", json={"logs": [{**base, "level": 20.0, "timestamp": 1}]})
    assert answer.status_code == 200, answer.text
    logs = client.get(f"/api/flow_runs/{run['id']}/logs").json()["items"]
    assert [line["level"] for line in logs] == [20]


def test_a_405_lists_every_method_of_the_path(client):
    answer = client.put("/api/flow_runs")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    # A path the API names literally is not taken for an id of the templated path.
    answer = client.get("/api/flow_runs/heartbeat")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"


def test_the_schema_states_what_text_may_hold(client, schema):
    flow = schema["components"]["schemas"]["FlowCreate"]["properties"]["name"]
    assert flow["pattern"] == NO_NUL_PATTERN
    parameters = schema["components"]["schemas"]["DeploymentRunCreate"]["properties"]
    assert parameters["parameters"]["propertyNames"] == {"pattern": NO_NUL_PATTERN}
    assert "StorableJson" in schema["components"]["schemas"]
    answer = client.post("/api/flows", json={"name": "a\u0000b"})
    assert answer.status_code == 422
    answer = client.post("/api/flow_runs", json={"flow_name": "f", "parameters": {"k\u0000": 1}})
    assert answer.status_code == 422


def test_log_levels_follow_the_documented_pattern(client, new_run):
    run = new_run()
    for level in ("info", "WARNING", "20", "000000020"):
        assert client.get(f"/api/flow_runs/{run['id']}/logs",
                          params={"level": level}).status_code == 200, level
    for level in ("loud", "0000000000020", "-1", "2 0"):
        answer = client.get(f"/api/flow_runs/{run['id']}/logs", params={"level": level})
        assert answer.status_code == 422, level
        assert "level must be a number" in answer.json()["detail"][0]["msg"]
