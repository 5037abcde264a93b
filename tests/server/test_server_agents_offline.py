"""Agents that stop, and the agents list over time: `POST /api/agents/{id}/offline` makes an agent
offline at once (its last heartbeat still recent), and the list leaves out offline agents that a
newer one of the same name replaced or that were silent too long, unless they hold runs."""

from __future__ import annotations

import time

from sqlalchemy import update

from proctor.server.db.models import Agent


def heartbeat(client, agent_id: str, name: str = "dev-agent", queue: str = "default") -> dict:
    body = {"id": agent_id, "name": name, "work_queue_name": queue}
    answer = client.post("/api/agents/heartbeat", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["agent"]


def offline(client, agent_id: str) -> dict:
    answer = client.post(f"/api/agents/{agent_id}/offline")
    assert answer.status_code == 200, answer.text
    return answer.json()


def listed(client) -> dict[str, str]:
    """id -> status of the agents `GET /api/agents` lists."""
    return {a["id"]: a["status"] for a in client.get("/api/agents").json()["items"]}


def age(client, agent_id: str, seconds: float) -> None:
    """Make the agent's row look `seconds` older (created and last heard from)."""
    then = time.time() - seconds
    with client.app.state.database.write() as session:
        session.execute(update(Agent).where(Agent.id == agent_id)
                        .values(last_heartbeat=then, created_at=then))


class TestOffline:
    def test_an_agent_that_says_it_stopped_is_offline_at_once(self, client, ids):
        agent_id = ids()
        before = heartbeat(client, agent_id)
        answer = offline(client, agent_id)
        assert answer["status"] == "offline"
        assert answer["last_heartbeat"] == before["last_heartbeat"]  # when it was last heard
        assert time.time() - answer["last_heartbeat"] < 90  # recent, and still offline
        assert listed(client) == {agent_id: "offline"}

    def test_a_heartbeat_after_it_makes_the_agent_online_again(self, client, ids):
        agent_id = ids()
        heartbeat(client, agent_id)
        offline(client, agent_id)
        assert heartbeat(client, agent_id)["status"] == "online"
        assert listed(client) == {agent_id: "online"}

    def test_an_unknown_agent_is_404_and_a_bad_id_422(self, client, ids):
        assert client.post(f"/api/agents/{ids()}/offline").status_code == 404
        assert client.post("/api/agents/not-an-id/offline").status_code == 422


class TestListing:
    def test_a_newer_agent_of_the_same_name_and_queue_replaces_an_offline_one(self, client, ids):
        old, new, other_queue, other_name = ids(), ids(), ids(), ids()
        for agent_id, name, queue in ((old, "dev-agent", "default"),
                                      (other_queue, "dev-agent", "gpu"),
                                      (other_name, "builder", "default")):
            heartbeat(client, agent_id, name, queue)
            offline(client, agent_id)
            age(client, agent_id, 600)
        heartbeat(client, new)
        assert listed(client) == {new: "online", other_queue: "offline", other_name: "offline"}
        offline(client, new)  # the newest of its name stays listed, offline
        assert listed(client) == {new: "offline", other_queue: "offline", other_name: "offline"}

    def test_two_online_agents_of_one_name_are_both_listed(self, client, ids):
        first, second = ids(), ids()
        heartbeat(client, first)
        age(client, first, 5)
        heartbeat(client, first)  # still online, only created earlier
        heartbeat(client, second)
        assert listed(client) == {first: "online", second: "online"}

    def test_agents_silent_for_longer_than_forget_after_are_not_listed(self, make_client, ids):
        client = make_client(PROCTOR_AGENT_FORGET_AFTER="3600")
        recent, forgotten = ids(), ids()
        heartbeat(client, recent, name="a")
        heartbeat(client, forgotten, name="b")
        age(client, recent, 3000)
        age(client, forgotten, 4000)
        assert listed(client) == {recent: "offline"}

    def test_an_offline_agent_holding_unfinished_runs_stays_listed(self, make_client, deploy, ids):
        client = make_client(PROCTOR_AGENT_FORGET_AFTER="3600")
        holder, newer = ids(), ids()
        deployment = deploy()
        run = client.post(f"/api/deployments/{deployment['id']}/runs",
                          json={"scheduled_time": time.time() - 1})
        assert run.status_code == 201, run.text
        heartbeat(client, holder)
        claimed = client.post("/api/work_queues/default/claim",
                              json={"agent_id": holder, "limit": 1})
        assert [c["flow_run"]["id"] for c in claimed.json()] == [run.json()["id"]]
        age(client, holder, 4000)
        heartbeat(client, newer)
        assert listed(client) == {holder: "offline", newer: "online"}

    def test_the_agents_page_lists_the_same_agents(self, client, ids):
        old, new = ids(), ids()
        heartbeat(client, old)
        offline(client, old)
        age(client, old, 600)
        heartbeat(client, new)
        page = client.get("/agents")
        assert page.status_code == 200, page.text
        assert page.text.count("<td>dev-agent</td>") == 1, page.text
