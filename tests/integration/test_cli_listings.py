"""The listing commands against a real server: full ids and names whatever the output is (a
pipe included), `--output json` for scripts, and runs named by id, id prefix or name, with
words for a name that matches nothing or too much."""

from __future__ import annotations

import json

import pytest

LONG_NAME = "a-rather-long-run-name-that-a-narrow-table-would-cut-" + "x" * 40


@pytest.fixture
def runs(api):
    """Three runs of one flow, the first with a long name; ids chosen to share prefixes."""
    made = []
    for run_id, name in (("abcd" + "0" * 28, LONG_NAME), ("abcd" + "1" * 28, "second-run"),
                         ("ef01" + "2" * 28, "third-run")):
        made.append(api.create_flow_run({"id": run_id, "flow_name": "listed-flow", "name": name,
                                         "state": {"type": "SUCCESS"}}))
    return made


def test_runs_ls_piped_shows_full_ids_and_names(proctor_cmd, runs):
    done = proctor_cmd("runs", "ls", "--limit", "50")  # stdout is a pipe here
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    for run in runs:
        assert run["id"] in done.stdout
    assert LONG_NAME in done.stdout  # `proctor runs ls | grep NAME` finds it


def test_listings_speak_json(proctor_cmd, api, runs):
    done = proctor_cmd("runs", "ls", "--output", "json")
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert {r["id"] for r in runs} <= {r["id"] for r in listed}
    inspected = json.loads(proctor_cmd("runs", "inspect", runs[0]["id"], "-o", "json").stdout)
    assert inspected["id"] == runs[0]["id"] and inspected["name"] == LONG_NAME
    assert [s["type"] for s in inspected["states"]] == ["SUCCESS"]
    assert inspected["task_runs"] == []
    api.create_concurrency_limit("listed-tag", 3)
    limits = json.loads(proctor_cmd("concurrency-limit", "ls", "-o", "json").stdout)
    assert {"tag": "listed-tag", "limit": 3, "active": 0} in limits
    for command in (("deployments", "ls"), ("agent", "ls")):
        done = proctor_cmd(*command, "--output", "json")
        assert done.returncode == 0, done.stderr
        assert isinstance(json.loads(done.stdout), list)
    bad = proctor_cmd("runs", "ls", "--output", "yaml")
    assert bad.returncode == 2 and "use one of table, json" in bad.stderr


def test_a_run_is_named_by_its_id_a_prefix_or_its_name(proctor_cmd, runs):
    for typed in (runs[2]["id"], "ef01", "EF0122", "third-run"):
        done = proctor_cmd("runs", "inspect", typed)
        assert done.returncode == 0, (typed, done.stderr)
        assert f"Flow run {runs[2]['id']}" in done.stdout


def test_no_match_and_several_matches_are_said_in_words(proctor_cmd, runs):
    ambiguous = proctor_cmd("runs", "inspect", "abcd")
    assert ambiguous.returncode == 2
    assert "names more than one flow run" in ambiguous.stderr
    assert runs[0]["id"] in ambiguous.stderr and runs[1]["id"] in ambiguous.stderr
    missing = proctor_cmd("runs", "inspect", "7c1d73ad")
    assert missing.returncode == 2
    assert "no flow run has the id, id prefix or name '7c1d73ad'" in missing.stderr
    assert "loc" not in missing.stderr and "pydantic" not in missing.stderr
    short = proctor_cmd("runs", "logs", "ab")
    assert short.returncode == 2 and "at least 4 characters" in short.stderr
    cancelled = proctor_cmd("runs", "cancel", "no-such-run-name")
    assert cancelled.returncode == 2 and "no flow run has" in cancelled.stderr


def test_a_recorded_proctor_run_prints_where_to_watch_it(proctor_cmd, api, orchestrator,
                                                          tmp_path):
    (tmp_path / "hello.py").write_text(
        "from proctor import task, Flow\n\n"
        "@task\ndef hello():\n    return 'hi'\n\n"
        "with Flow('watched-flow') as flow:\n    hello()\n")
    done = proctor_cmd("run", "hello.py:flow")
    assert done.returncode == 0, done.stderr
    (run,) = api.list_flow_runs(flow_name="watched-flow")
    assert f"watch the run at {orchestrator.url}/runs/{run['id']}" in done.stderr
