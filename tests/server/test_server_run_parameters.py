"""A deployment run's parameters are checked against the flow's description before the run
exists (both databases): what would surely fail on the agent is a 422 at once."""

SCHEMA = {"parameters": [
    {"name": "n", "annotation": "int", "required": True, "default": None},
    {"name": "label", "annotation": "str", "required": False, "default": "x"},
]}


def deployment(client, **fields) -> dict:
    body = {"flow_name": "etl", "name": "manual", "entrypoint": "flows.py:etl",
            "parameter_schema": SCHEMA, **fields}
    answer = client.post("/api/deployments", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_valid_run_is_created(client):
    made = deployment(client)
    answer = client.post(f"/api/deployments/{made['id']}/runs", json={"parameters": {"n": 3}})
    assert answer.status_code == 201, answer.text
    assert answer.json()["parameters"] == {"n": 3}


def test_bad_parameters_are_refused_and_no_run_is_made(client):
    made = deployment(client)
    answer = client.post(f"/api/deployments/{made['id']}/runs",
                         json={"parameters": {"n": "three", "colour": "red"}})
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "parameters", "n"),
                                                 ("body", "parameters", "colour")}
    assert any("expected int, got str 'three'" in d["msg"] for d in detail)
    assert any("takes no parameter 'colour'; it takes: n, label" in d["msg"] for d in detail)
    runs = client.get("/api/flow_runs", params={"deployment_id": made["id"]}).json()["items"]
    assert runs == []


def test_a_required_parameter_may_come_from_the_deployment(client):
    made = deployment(client, parameters={"n": 1})
    answer = client.post(f"/api/deployments/{made['id']}/runs", json={"parameters": {}})
    assert answer.status_code == 201, answer.text
    missing = deployment(client, name="other")
    answer = client.post(f"/api/deployments/{missing['id']}/runs", json={"parameters": {}})
    assert answer.status_code == 422
    assert "'n' is required" in answer.json()["detail"][0]["msg"]
