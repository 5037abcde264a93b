"""The web UI in Debian's Chromium against a real server, agents and recorded runs: what a data
engineer sees and can do.

Set PROCTOR_SAVE_SCREENSHOTS=1 to write the pages' screenshots into docs/screenshots/ (the ones
the README shows); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect

from proctor import Flow, get_run_logger, task

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def open_page(page, server, path: str):
    answer = page.goto(server.url + path, wait_until="load")
    assert answer is not None and answer.ok, (
        f"GET {path} answered {answer.status if answer else 'nothing'}:\n"
        f"{page.content()[:2000]}\n--- server log ---\n{server.output()[-4000:]}"
    )
    return answer


def deploy(server, folder: Path, source: str, flow: str, name: str, *options: str) -> dict:
    """Write `source` to folder/flows.py and deploy `flows.py:flow` with the real CLI."""
    (folder / "flows.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "PROCTOR_API_URL": server.url, "PROCTOR_HOME": str(folder / "home")}
    env.pop("PROCTOR_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "deploy", f"flows.py:{flow}", "--name", name,
         *options], cwd=folder, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with server.client() as client:
        return client.read_deployment_by_name(name, flow_name=None)


def count(page, state: str) -> int:
    return int(page.locator(f"[data-count='{state}']").inner_text())


def test_dashboard_counts_runs_by_state(ui_server, record, page, console_errors):
    for _ in range(2):
        record("counted-good")
    record("counted-bad", fail=True)
    open_page(page, ui_server, "/")
    assert (count(page, "total"), count(page, "SUCCESS"), count(page, "FAILED")) == (3, 2, 1)
    failures = page.locator("section:has(h2:text('Latest failures'))")
    expect(failures).to_contain_text("counted-bad")
    expect(failures).to_contain_text("task(s) failed: load")
    page.get_by_role("link", name="Last week").click()
    expect(page).to_have_url(re.compile(r"window=week"))
    assert count(page, "total") == 3
    assert console_errors == []


def test_failed_run_page_shows_the_failing_task_and_its_traceback(ui_server, record, page,
                                                                   console_errors):
    bad = record("broken-load", fail=True)
    open_page(page, ui_server, "/runs?state=FAILED")
    page.get_by_role("link", name=bad.name, exact=True).click()
    expect(page.locator("#run h1 .badge")).to_have_text("Failed")
    graph = page.locator("svg.graph")
    expect(graph.locator("g.node[data-task='load']")).to_have_attribute("data-state", "FAILED")
    expect(graph.locator("g.node[data-task='double']")).to_contain_text("double \u00d73")
    assert graph.locator("path.edge").count() == 2  # extract -> double -> load
    logs = page.locator(".log-lines")
    expect(logs).to_contain_text("Traceback (most recent call last)")
    expect(logs).to_contain_text("ValueError: cannot load 3 rows: the warehouse said no")
    page.select_option("select[name=level]", "ERROR")
    expect(page.locator(".log-line").first).to_contain_text("ERROR")
    expect(logs).not_to_contain_text("extracting 3 rows")
    page.select_option("select[name=level]", "")
    page.fill("input[name=search]", "extracting")
    expect(page.locator(".log-line")).to_have_count(1)
    assert console_errors == []


def test_runs_list_filters_by_state_and_flow(ui_server, record, page, console_errors):
    good = record("list-good")
    bad = record("list-bad", fail=True)
    open_page(page, ui_server, "/runs")
    page.select_option("select[name=state]", "FAILED")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("table.runs")
    expect(table.get_by_role("link", name=bad.name)).to_be_visible()
    expect(table.get_by_role("link", name=good.name)).to_have_count(0)
    page.goto(ui_server.url + "/runs?since=not-a-date")
    expect(page.locator(".error")).to_contain_text("since='not-a-date' is not a date and time")
    assert [e for e in console_errors if "400" not in e] == []


def test_log_lines_and_names_with_markup_stay_text(ui_server, record, page, console_errors):
    @task
    def shout():
        get_run_logger().warning(XSS)
        return XSS

    with Flow(f"xss {XSS[:20]}") as flow:
        shout()
    run = record(flow)
    open_page(page, ui_server, f"/runs/{run.id}")
    expect(page.locator(".log-lines")).to_contain_text(XSS)
    assert page.evaluate("window.__xss") is None
    open_page(page, ui_server, "/runs")
    expect(page.locator("table.runs")).to_contain_text("xss <script>")
    open_page(page, ui_server, "/")
    assert page.evaluate("window.__xss") is None
    assert console_errors == []


FLOWS = """
    import time
    from proctor import flow, get_run_logger

    @flow(name="greeter")
    def greet(name: str = "world", times: int = 1):
        for i in range(times):
            get_run_logger().info("hello %s (%d)", name, i)
            time.sleep(0.3)
        return name

    @flow(name="sleeper")
    def sleepy(seconds: float = 60.0):
        get_run_logger().info("going to sleep")
        time.sleep(seconds)
"""


def test_run_now_with_a_parameter_runs_on_an_agent_and_the_page_goes_live_to_success(
    ui_server, start_agent, page, tmp_path, console_errors
):
    deployment = deploy(ui_server, tmp_path, FLOWS, "greet", "by-hand")
    start_agent(ui_server)
    open_page(page, ui_server, "/flows")
    page.locator("tr:has-text('by-hand')").get_by_role("link", name="Run now").click()
    expect(page).to_have_url(re.compile(f"/deployments/{deployment['id']}"))
    page.fill("input[name=name]", "Ada")
    page.fill("input[name=times]", "4")
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    badge = page.locator("#run h1 .badge")
    expect(badge).not_to_have_text("Success", timeout=500)  # it starts before it ends
    expect(badge).to_have_text("Success", timeout=30_000)  # ... and the page follows, no reload
    expect(page.locator(".params")).to_contain_text('"name": "Ada"')
    expect(page.locator(".log-lines")).to_contain_text("hello Ada (3)", timeout=10_000)
    assert console_errors == []


def test_run_now_refuses_parameters_the_flow_does_not_take(ui_server, page, tmp_path):
    deployment = deploy(ui_server, tmp_path, FLOWS, "greet", "checked")
    open_page(page, ui_server, f"/deployments/{deployment['id']}")
    page.locator("input[name=name]").evaluate(
        "el => { el.name = 'colour'; }")  # as if the form were out of date with the flow
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page.locator(".form-error")).to_contain_text(
        "the flow takes no parameter 'colour'; it takes: name, times")
    with ui_server.client() as client:
        assert client.list_flow_runs(deployment_id=deployment["id"]) == []


def test_cancel_a_running_run_from_its_page(ui_server, start_agent, page, tmp_path,
                                            console_errors):
    deployment = deploy(ui_server, tmp_path, FLOWS, "sleepy", "long")
    start_agent(ui_server)
    with ui_server.client() as client:
        run = client.create_deployment_run(deployment["id"], parameters={"seconds": 60})
    open_page(page, ui_server, f"/runs/{run['id']}")
    badge = page.locator("#run h1 .badge")
    expect(badge).to_have_text("Running", timeout=20_000)
    page.once("dialog", lambda dialog: dialog.accept())
    started = time.monotonic()
    page.get_by_role("button", name="Cancel run").click()
    expect(badge).to_have_text("Cancelled", timeout=20_000)
    assert time.monotonic() - started < 20
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    assert console_errors == []


def test_pause_and_resume_a_deployment(ui_server, page, tmp_path, console_errors):
    deploy(ui_server, tmp_path, FLOWS, "greet", "hourly", "--interval", "3600")
    open_page(page, ui_server, "/flows")
    row = page.locator("tr:has-text('hourly')")
    expect(row).to_contain_text("every hour")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator("tr:has-text('hourly') .badge")).to_have_text("Paused")
    page.locator("tr:has-text('hourly')").get_by_role("button", name="Resume").click()
    expect(page.locator("tr:has-text('hourly') .badge")).to_have_text("Active")
    assert console_errors == []


def test_agents_page_shows_heartbeats(ui_server, start_agent, page, console_errors):
    start_agent(ui_server)
    open_page(page, ui_server, "/agents")
    expect(page.locator("#agents .badge").first).to_have_text("online", timeout=15_000)
    expect(page.locator("#agents")).to_contain_text("default")
    assert console_errors == []


def test_with_an_api_key_the_ui_asks_for_it_once(keyed_ui_server, record, page, console_errors):
    run = record("guarded", keyed_ui_server)
    page.goto(keyed_ui_server.url + f"/runs/{run.id}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert run.name not in page.content()  # no data before the key
    page.fill("input[name=key]", "not the key")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error")).to_contain_text("That is not this server's API key")
    page.fill("input[name=key]", keyed_ui_server.api_key)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(f"/runs/{run.id}$"))  # back where it was going
    expect(page.locator(".log-lines")).to_contain_text("loaded 3 rows")
    open_page(page, keyed_ui_server, "/runs")  # the session is kept
    expect(page.locator("table.runs")).to_contain_text(run.name)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    assert [e for e in console_errors if "401" not in e] == []


def test_every_page_renders_and_is_captured(ui_server, record, start_agent, page, tmp_path,
                                           console_errors):
    """One screenshot per page (the README's, with PROCTOR_SAVE_SCREENSHOTS=1)."""
    folder = SCREENSHOTS if os.environ.get("PROCTOR_SAVE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    deployment = deploy(ui_server, tmp_path, FLOWS, "greet", "nightly", "--cron", "0 2 * * *",
                        "--param", "name=team")
    start_agent(ui_server)
    for index in range(4):
        record("daily-sales", fail=index == 2)
    bad = record("warehouse-load", fail=True)
    with ui_server.client() as client:
        client.create_deployment_run(deployment["id"], parameters={"times": 2})
    pages = {
        "dashboard": "/",
        "runs": "/runs",
        "run": f"/runs/{bad.id}",
        "flows": "/flows",
        "deployment": f"/deployments/{deployment['id']}",
        "agents": "/agents",
    }
    time.sleep(2)  # the agent's first heartbeat and run
    for name, path in pages.items():
        open_page(page, ui_server, path)
        page.wait_for_timeout(300)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=name != "runs")
        assert (folder / f"{name}.png").stat().st_size > 10_000
    assert console_errors == []


# -- web security: what a page of this server does with a key, and what injected text cannot ---
#: A parameter default that closed the Run-now field's `value="..."` attribute when the page
#: wrote it with `tojson`: an inline style covering the page, and a script handler.
INJECTED = ('" style="position:fixed;inset:0;z-index:99;background:red" autofocus '
            'onfocus="window.__xss = 3" a="')
INJECTED_FLOW = f"""
    from proctor import flow

    @flow(name="injected")
    def injected(cfg={INJECTED!r}):
        return cfg
"""


def test_a_parameter_default_with_quotes_stays_in_its_field(ui_server, page, tmp_path,
                                                          console_errors):
    deployment = deploy(ui_server, tmp_path, INJECTED_FLOW, "injected", "quoted")
    open_page(page, ui_server, f"/deployments/{deployment['id']}")
    field = page.locator("input[name=cfg]")
    assert field.get_attribute("style") is None and field.get_attribute("onfocus") is None
    assert field.get_attribute("autofocus") is None
    assert json.loads(field.input_value()) == INJECTED  # the whole default, as JSON text
    assert page.evaluate("window.__xss") is None
    page.get_by_role("button", name="Run now", exact=True).click()  # nothing covers it
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    with ui_server.client() as client:
        [run] = client.list_flow_runs(deployment_id=deployment["id"])
    assert run["parameters"] == {"cfg": INJECTED}
    assert console_errors == []


def log_in(page, server, path: str = "/") -> None:
    page.goto(server.url + path)
    page.fill("input[name=key]", server.api_key)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))


def test_with_an_api_key_the_pages_actions_carry_the_csrf_token(keyed_ui_server, page,
                                                                console_errors):
    with keyed_ui_server.client() as client:
        deployment, _ = client.upsert_deployment({
            "flow_name": "guarded", "name": "hourly", "entrypoint": "flows.py:guarded",
            "schedule": {"kind": "interval", "interval": 3600},
            "parameter_schema": {"parameters": [
                {"name": "n", "annotation": "int", "required": False, "default": 1}]},
        })
    log_in(page, keyed_ui_server, f"/deployments/{deployment['id']}")
    page.get_by_role("button", name="Pause schedule").click()
    expect(page.locator("h1 .badge")).to_have_text("Paused")
    page.get_by_role("button", name="Resume schedule").click()
    expect(page.locator("h1 .badge")).to_have_text("Active")
    page.fill("input[name=n]", "7")
    page.get_by_role("button", name="Run now", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f]{32}$"))
    with keyed_ui_server.client() as client:
        runs = client.list_flow_runs(deployment_id=deployment["id"])
    assert [r["parameters"] for r in runs if not r["auto_scheduled"]] == [{"n": 7}]
    assert console_errors == []


def test_the_api_docs_need_the_key_and_load_only_from_the_server(keyed_ui_server, page,
                                                                 console_errors):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    answer = page.goto(keyed_ui_server.url + "/docs")
    assert answer is not None and answer.status == 401
    expect(page.locator("input[name=key]")).to_be_visible()
    page.fill("input[name=key]", keyed_ui_server.api_key)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/docs$"))
    operation = page.locator("#operations-flows-create_flow_api_flows_post")
    expect(operation).to_be_visible(timeout=15_000)  # Swagger UI ran, under the UI's policy
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill('{"name": "from-the-docs"}')
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody td.response-col_status").first
    # a change made with the cookie, so with the CSRF token the page added
    expect(status).to_have_text(re.compile("201"), timeout=15_000)
    flows = httpx.get(keyed_ui_server.url + "/api/flows",
                      headers={"Authorization": f"Bearer {keyed_ui_server.api_key}"}).json()
    assert [f["name"] for f in flows["items"]] == ["from-the-docs"]
    elsewhere = [url for url in requested if not url.startswith(keyed_ui_server.url)
                 and not url.startswith("data:")]
    assert elsewhere == []
    assert [e for e in console_errors if "401" not in e] == []
