"""Property-based fuzzing of every route from the app's own OpenAPI schema, with every check
Schemathesis has: no request, valid or not, gets a 5xx answer; each answer's status, headers,
content type and body are the ones the schema documents; requests that break the schema are
refused and requests it allows are accepted; a request without the API key gets the documented
401; a 405 lists the path's methods.

One exception, said where it is made: a deployment's schedule is checked by the schedule loader
(cron syntax, time zone names, RRULE text), which no JSON Schema can state, so a schema-valid
upsert may still get a 422 there (`positive_data_acceptance` is left out for that operation).

Schemathesis generates both valid requests (positive) and requests that break the schema
(negative) for each operation, on each backend. The number of examples is bounded, and the
generation is deterministic, so the run is quick and a failure reproduces.
"""

from __future__ import annotations

import re

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="install the dev extra")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from proctor.server.api.app import create_app  # noqa: E402

EXAMPLES = 10


def _schema() -> schemathesis.BaseSchema:
    """The app's schema; it is the same whatever the database, so an app over an in-memory
    database (never used for the requests below) serves it."""
    # Schemathesis sends `Host: testserver`: a name this app answers only when told so.
    app = create_app("sqlite://", hosts=("testserver",))
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=EXAMPLES,
        deterministic=True,
    )
    return loaded


schema = _schema()


#: Operations whose bodies the server checks further than a schema can say (see the docstring).
SEMANTIC_CHECKS_BEYOND_THE_SCHEMA = {"POST /api/deployments"}

KNOWN_IDS = {
    "flow_run_id": "ab" * 16,
    "task_run_id": "cd" * 16,
    "deployment_id": "ef" * 16,
    "agent_id": "12" * 16,
}
_ID = re.compile(r"^[0-9a-f]{32}$")


def _aim_at_known_rows(case) -> None:
    """Point about half of the generated ids (those ending in an even digit) at the run, task
    run, deployment and agent the database holds, so fuzzed states, logs, claims and filters
    reach real rows instead of stopping at 404."""

    def retarget(mapping) -> None:
        if not isinstance(mapping, dict):
            return
        for key, known in KNOWN_IDS.items():
            value = mapping.get(key)
            if isinstance(value, str) and _ID.match(value) and int(value[-1], 16) % 2 == 0:
                mapping[key] = known

    retarget(case.path_parameters)
    retarget(case.query)
    retarget(case.body)
    if isinstance(case.body, dict):
        for items in case.body.values():
            for item in items if isinstance(items, list) else ():
                retarget(item)


KEY = "fuzz-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def keyed_client(make_client):
    """The app over the backend under test, with an API key: the schema declares the bearer
    key, so requests without it must get the documented 401."""
    client = make_client(PROCTOR_API_KEY=KEY)
    client.headers.update(AUTH)
    return client


@pytest.fixture
def known_rows(keyed_client):
    client = keyed_client
    run = client.post(
        "/api/flow_runs",
        json={"id": KNOWN_IDS["flow_run_id"], "flow_name": "etl", "state": {"type": "RUNNING"}},
    )
    task = client.post(
        "/api/task_runs",
        json={"id": KNOWN_IDS["task_run_id"], "flow_run_id": KNOWN_IDS["flow_run_id"],
              "task_key": "t", "task_name": "t"},
    )
    assert (run.status_code, task.status_code) == (201, 201)
    deployment = client.post(
        "/api/deployments",
        json={"id": KNOWN_IDS["deployment_id"], "flow_name": "etl", "name": "nightly",
              "entrypoint": "etl.py:etl", "max_concurrent_runs": 50,
              "schedule": {"kind": "cron", "cron": "*/5 * * * *", "timezone": "Europe/Paris"}},
    )
    agent = client.post(
        "/api/agents/heartbeat",
        json={"id": KNOWN_IDS["agent_id"], "name": "agent", "work_queue_name": "default"},
    )
    limit = client.post("/api/concurrency_limits", json={"tag": "t", "limit": 1})
    assert (deployment.status_code, agent.status_code, limit.status_code) == (201, 200, 201)
    for _ in range(3):  # due runs, for fuzzed claims to take
        due = client.post(f"/api/deployments/{KNOWN_IDS['deployment_id']}/runs",
                          json={"scheduled_time": 0})
        assert due.status_code == 201


@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case, keyed_client, known_rows):
    """Each generated request goes to the app over the backend under test (`client`)."""
    _aim_at_known_rows(case)
    # The app under test answers the loopback names only (proctor.server.api.guards).
    excluded = ([positive_data_acceptance]
                if case.operation.label in SEMANTIC_CHECKS_BEYOND_THE_SCHEMA else [])
    case.call_and_validate(app=keyed_client.app, excluded_checks=excluded,
                           headers={"Host": "127.0.0.1", **AUTH})
