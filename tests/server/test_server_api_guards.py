"""What the API refuses and how: 401 without the key, 413 for big bodies, 404, 422 — never 500.
Also health and metrics."""

from __future__ import annotations

import json

import pytest

from proctor.server.api.app import create_app


class TestApiKey:
    def test_routes_need_the_key_but_health_does_not(self, make_client, ids):
        client = make_client(PROCTOR_API_KEY="s3cret")
        assert client.get("/api/health").status_code == 200
        for method, path in (
            ("GET", "/api/flows"),
            ("POST", "/api/flow_runs"),
            ("GET", f"/api/flow_runs/{ids()}"),
            ("POST", "/api/events"),
            ("GET", "/metrics"),
        ):
            response = client.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert "API key" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "header",
        ["Bearer wrong", "Basic s3cret", "s3cret", "Bearer ", "Bearer s3cret2", "Bearer é"],
    )
    def test_wrong_keys_are_401(self, make_client, header):
        client = make_client(PROCTOR_API_KEY="s3cret")
        response = client.get("/api/flows", headers={"Authorization": header.encode("utf-8")})
        assert response.status_code == 401

    def test_right_key_passes(self, make_client):
        client = make_client(PROCTOR_API_KEY="s3cret")
        headers = {"Authorization": "Bearer s3cret"}
        assert client.get("/api/flows", headers=headers).status_code == 200
        created = client.post("/api/flows", json={"name": "etl"}, headers=headers)
        assert created.status_code == 201

    def test_no_key_configured_means_open(self, client):
        assert client.get("/api/flows").status_code == 200


class TestBodyLimit:
    def test_declared_length_over_the_limit_is_413(self, make_client):
        client = make_client(PROCTOR_API_MAX_BODY_BYTES="1000")
        body = json.dumps({"name": "x" * 2000})
        response = client.post(
            "/api/flows", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert "1000 bytes" in response.json()["detail"]

    def test_undeclared_length_is_counted(self, make_client):
        client = make_client(PROCTOR_API_MAX_BODY_BYTES="1000")

        def chunks():
            yield b'{"name": "'
            for _ in range(30):
                yield b"x" * 100
            yield b'"}'

        response = client.post(
            "/api/flows", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413

    def test_under_the_limit_passes(self, make_client):
        client = make_client(PROCTOR_API_MAX_BODY_BYTES="1000")
        assert client.post("/api/flows", json={"name": "small"}).status_code == 201


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "where"),
        [
            ({"flow_name": "a\x00b"}, ["body", "flow_name"]),
            ({"flow_name": "etl", "parameters": {"k": "\x00"}}, ["body", "parameters"]),
            ({"flow_name": "etl", "parameters": {"\x00": 1}}, ["body", "parameters"]),
            ({"flow_name": "etl", "id": "ABC"}, ["body", "id"]),
            ({"flow_name": "etl", "id": "0" * 31}, ["body", "id"]),
            ({"flow_name": "etl", "tags": [""]}, ["body", "tags", 0]),
            ({"flow_name": "x" * 256}, ["body", "flow_name"]),
            ({"flow_name": "etl", "state": {"type": "DONE"}}, ["body", "state", "type"]),
            ({"flow_name": "etl", "state": {"type": "RUNNING", "timestamp": "soon"}},
             ["body", "state", "timestamp"]),
            ({"flow_name": "etl", "parameters": []}, ["body", "parameters"]),
        ],
    )
    def test_bad_bodies_are_422_with_loc_and_msg(self, client, body, where):
        response = client.post("/api/flow_runs", json=body)
        assert response.status_code == 422, response.text
        problem = response.json()["detail"][0]
        assert problem["loc"] == where and problem["msg"]

    @pytest.mark.parametrize(
        "raw",
        [
            b'{"flow_name": "etl", "parameters": {"x": NaN}}',
            b'{"flow_name": "etl", "parameters": {"x": -Infinity}}',
            b'{"flow_name": "etl", "parameters": {"\\ud800": 1}}',
            b'{"flow_name": "etl", "parameters": {"x": "\\udfff"}}',
            b'{"flow_name": "etl", "state": {"type": "RUNNING", "timestamp": NaN}}',
            b'{"flow_name": "etl", "state": {"type": "RUNNING", "timestamp": 1e400}}',
            b'{"flow_name": "etl", "parameters": {"x": 1e400}}',
            b'{"flow_name": "etl", "parameters": ' + b'{"a": ' * 40 + b"1" + b"}" * 41,
        ],
    )
    def test_json_no_database_can_store_is_422(self, client, raw):
        response = client.post(
            "/api/flow_runs", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize(
        "raw",
        [b"{", b"null", b'"text"', b"[]", b'{"flow_name": "etl", "tags": "x"}', b"\xff\xfe"],
    )
    def test_malformed_bodies_are_422(self, client, raw):
        response = client.post(
            "/api/flow_runs", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"][0] == "body"

    def test_huge_numbers(self, client, new_run, ids):
        run = new_run()
        task = {"flow_run_id": run["id"], "task_key": "k", "task_name": "k", "map_index": 2**31}
        assert client.post("/api/task_runs", json=task).status_code == 422
        big = client.get("/api/flow_runs", params={"offset": 10**20})
        assert big.status_code == 422
        log = {"id": ids(), "flow_run_id": run["id"], "level": 10**30, "message": "m",
               "timestamp": 1.0}
        assert client.post("/api/events", json={"logs": [log]}).status_code == 422
        # big numbers inside free-form parameters are fine: JSON has no size limit on them
        stored = new_run(parameters={"n": 10**30, "f": 1e308})
        assert stored["parameters"] == {"n": 10**30, "f": 1e308}

    def test_nul_in_query_strings_is_422(self, client):
        assert client.get("/api/flows", params={"name": "a\x00"}).status_code == 422
        assert client.get("/api/flow_runs", params={"flow_name": "a\x00"}).status_code == 422
        assert client.get("/api/flow_runs", params={"tag": "\x00"}).status_code == 422

    def test_unknown_route_is_404(self, client):
        assert client.get("/api/nothing").status_code == 404


class TestHealthAndMetrics:
    def test_health(self, client, database_url):
        health = client.get("/api/health").json()
        backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
        assert health == {"status": "ok", "database": backend, "version": "0.1.0"}

    def test_metrics(self, client, new_run, ids):
        run = new_run(state={"type": "RUNNING"})
        new_run(state={"type": "FAILED"})
        new_run(state={"type": "FAILED"})
        client.get(f"/api/flow_runs/{run['id']}")
        client.get(f"/api/flow_runs/{ids()}")
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        lines = response.text.splitlines()
        assert 'proctor_flow_runs{state="FAILED"} 2' in lines
        assert 'proctor_flow_runs{state="RUNNING"} 1' in lines
        assert 'proctor_task_runs{state="SUCCESS"} 0' in lines
        assert "# TYPE proctor_api_request_duration_seconds histogram" in lines
        by_route = 'method="GET",route="/api/flow_runs/{flow_run_id}"'
        assert f"proctor_api_request_duration_seconds_count{{{by_route}}} 2" in lines
        assert f'proctor_api_request_duration_seconds_bucket{{{by_route},le="+Inf"}} 2' in lines
        assert f'proctor_api_requests_total{{{by_route},status="404"}} 1' in lines
        assert not any(ids.__name__ in line for line in lines)

    def test_openapi_lists_every_route(self, client):
        paths = set(client.get("/openapi.json").json()["paths"])
        assert paths >= {
            "/api/health", "/metrics", "/api/flows", "/api/flows/{flow_id}", "/api/flow_runs",
            "/api/flow_runs/count", "/api/flow_runs/{flow_run_id}",
            "/api/flow_runs/{flow_run_id}/state", "/api/flow_runs/{flow_run_id}/states",
            "/api/flow_runs/{flow_run_id}/task_runs", "/api/flow_runs/{flow_run_id}/logs",
            "/api/task_runs", "/api/task_runs/{task_run_id}", "/api/task_runs/{task_run_id}/state",
            "/api/task_runs/{task_run_id}/states", "/api/events",
        }


def test_the_factory_touches_no_database_until_started(tmp_path):
    path = tmp_path / "sub" / "proctor.db"
    app = create_app(f"sqlite:///{path}")
    assert not path.exists()
    app.state.database.dispose()


def test_a_server_bug_is_a_logged_500_not_a_crash(client, caplog):
    def broken():
        raise RuntimeError("boom")

    client.app.add_api_route("/api/broken", broken)
    from fastapi.testclient import TestClient

    with TestClient(client.app, raise_server_exceptions=False, base_url=client.base_url) as raw:
        response = raw.get("/api/broken")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "boom" in caplog.text
