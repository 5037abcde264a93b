"""The server's web security as a real `proctor server start` process meets real requests and a
real browser (issue 11, items 15-18), on SQLite and on PostgreSQL.

What was shown before, and what each test replays:

- Item 15. A cross-site form paused a deployment and cancelled a run on the default server;
  with a key, a page on another port of 127.0.0.1 did the same, since the SameSite cookie is
  sent to the same *site*; `Host: evil.example` was answered (DNS rebinding). Here a second
  little HTTP server on another port serves pages that post to Proctor from headless Chromium
  (logged in, so the cookie goes along), and forged `Origin`, `Sec-Fetch-Site` and `Host`
  headers are sent over real sockets: nothing is paused or cancelled, the answers say why, and
  clients without those headers (the CLI, agents, the recorder) keep working.
- Item 17. The UI cookie was a constant: the same for every login, never expiring, valid after
  logout. Here two logins get two cookies; a logout through one server process is refused by a
  second process on the same database; a session past `PROCTOR_UI_SESSION_TTL` is refused.
- Item 18. `/docs`, `/redoc` and `/openapi.json` were open with a key set: here they are 401.
- Item 16 (the Run-now attribute) is a rendering bug with nothing process-level about it: see
  tests/server/test_server_web_security.py and tests/e2e/test_ui.py.

Deadlines are generous and every wait polls a condition: the machine may be loaded.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from proctor import Flow, task
from tests.integration.conftest import database_env

KEY = f"fault-key-{uuid.uuid4().hex[:8]}"
STARTUP = 90.0
CHROMIUM = "/usr/bin/chromium"
#: Settings of ours the servers must not inherit from the environment running the tests.
OWN_SETTINGS = ("PROCTOR_DATABASE_URL", "PROCTOR_API_KEY", "PROCTOR_ALLOWED_HOSTS",
                "PROCTOR_UI_SESSION_TTL")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)


class Server:
    """`proctor server start` in a subprocess: its own home, the test's database, extra env and
    options; its log kept for failure messages."""

    def __init__(self, home: Path, env: dict[str, str], host: str = "127.0.0.1",
                 options: tuple[str, ...] = ()) -> None:
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if k not in OWN_SETTINGS}
        self.env = {**inherited, "PROCTOR_HOME": str(home), "PROCTOR_SCHEDULER_INTERVAL": "0.5",
                    **env}
        self.log_path = home / f"server-{self.port}.log"
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proctor.cli.main", "server", "start", "--port",
             str(self.port), "--log-level", "warning", *options],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

        def healthy() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited at start:\n{self.output()}")
            try:
                return httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, STARTUP, f"/api/health of {self.url}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.log.close()


@pytest.fixture
def start_server(request, database_kind, tmp_path) -> Iterator[Callable[..., Server]]:
    """start_server(api_key=None, env=None, host="127.0.0.1", options=()) -> a started `Server`.
    Every server of a test shares one fresh database of the module's kind, so two of them are
    two processes of one deployment; all are killed at the end."""
    with ExitStack() as stack:
        database = stack.enter_context(database_env(request, database_kind))
        if not database:
            database = {"PROCTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'proctor.db'}"}
        servers: list[Server] = []

        def start(api_key: str | None = None, env: dict[str, str] | None = None,
                  host: str = "127.0.0.1", options: tuple[str, ...] = ()) -> Server:
            settings = {**database, **({"PROCTOR_API_KEY": api_key} if api_key else {}),
                        **(env or {})}
            server = Server(tmp_path / f"home-{len(servers)}", settings, host, options)
            servers.append(server)
            return server

        try:
            yield start
        finally:
            for server in servers:
                server.stop()


def api(server: Server, api_key: str | None = None) -> httpx.Client:
    """What the CLI, agents and the recorder send: httpx, no Origin, the bearer key if any."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def targets(client: httpx.Client) -> tuple[dict, dict]:
    """A deployment and a run not started yet (due in an hour): what the attacks aim at."""
    made = client.post("/api/deployments", json={
        "flow_name": "guarded", "name": "nightly", "entrypoint": "flows.py:guarded",
        "work_queue_name": "nobody-polls"})
    assert made.status_code == 201, made.text
    deployment = made.json()
    run = client.post(f"/api/deployments/{deployment['id']}/runs",
                      json={"scheduled_time": time.time() + 3600})
    assert run.status_code == 201, run.text
    return deployment, run.json()


def untouched(client: httpx.Client, deployment: dict, run: dict) -> None:
    assert client.get(f"/api/deployments/{deployment['id']}").json()["paused"] is False
    assert client.get(f"/api/flow_runs/{run['id']}").json()["state_type"] == "SCHEDULED"


def log_in(server: Server) -> tuple[httpx.Client, str, str]:
    """A browser-like session: (client holding the cookie, the cookie, the page's CSRF token)."""
    browser = httpx.Client(base_url=server.url, timeout=30)
    answer = browser.post("/login", data={"key": KEY, "next": "/"})
    assert answer.status_code == 303, answer.text
    cookie = answer.cookies["proctor_session"]
    page = browser.get("/flows").text
    token = re.search(r'name="proctor-csrf" content="([0-9a-f]+)"', page)
    assert token, page[:500]
    return browser, cookie, token.group(1)


# -- item 15: hosts and origins over real sockets -------------------------------------------------
def test_a_forged_host_is_refused_and_the_allowed_ones_answered(start_server):
    server = start_server()
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.nip.io"):
        answer = httpx.get(f"{server.url}/api/flow_runs", headers={"Host": host}, timeout=30)
        assert answer.status_code == 400, host
        assert "PROCTOR_ALLOWED_HOSTS" in answer.json()["detail"]
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", f"[::1]:{server.port}"):
        assert httpx.get(f"{server.url}/api/flow_runs", headers={"Host": host},
                         timeout=30).status_code == 200, host
    named = start_server(env={"PROCTOR_ALLOWED_HOSTS": "proctor.test"})
    assert httpx.get(f"{named.url}/api/health", headers={"Host": "proctor.test"},
                     timeout=30).status_code == 200
    # the setting replaces the loopback names; the address it listens on stays answered
    assert httpx.get(f"{named.url}/api/health", timeout=30).status_code == 200
    assert httpx.get(f"{named.url}/api/health", headers={"Host": f"localhost:{named.port}"},
                     timeout=30).status_code == 400


def test_the_listen_address_given_with_host_is_answered(start_server):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            pytest.skip("this machine cannot bind 127.0.0.2")
    server = start_server(host="127.0.0.2", options=("--host", "127.0.0.2"))
    assert httpx.get(f"{server.url}/api/health", timeout=30).status_code == 200  # Host 127.0.0.2
    refused = httpx.get(f"{server.url}/api/health", headers={"Host": "evil.example"}, timeout=30)
    assert refused.status_code == 400


@pytest.mark.parametrize("keyed", [False, True], ids=["open", "keyed"])
def test_forged_origins_change_nothing_and_plain_clients_still_can(start_server, keyed):
    server = start_server(api_key=KEY if keyed else None)
    with api(server, KEY if keyed else None) as client:
        deployment, run = targets(client)
        cookies = {"proctor_session": log_in(server)[1]} if keyed else {}
        forged = [
            {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
            {"Origin": f"http://127.0.0.1:{free_port()}", "Sec-Fetch-Site": "same-site"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "same-site"},
        ]
        for headers in forged:
            for path in (f"/api/deployments/{deployment['id']}/pause",
                         f"/api/flow_runs/{run['id']}/cancel"):
                answer = httpx.post(server.url + path, headers={
                    **headers, "Content-Type": "application/x-www-form-urlencoded"},
                    content=b"a=b", cookies=cookies, timeout=30)
                assert answer.status_code == 403, (headers, answer.text)
                assert "cross-origin POST refused" in answer.json()["detail"]
        untouched(client, deployment, run)
        # the CLI's way: no Origin, no Sec-Fetch-Site (and the key when there is one)
        assert client.post(f"/api/deployments/{deployment['id']}/pause").json()["paused"]
        cancelled = client.post(f"/api/flow_runs/{run['id']}/cancel").json()
        assert cancelled["state_type"] == "CANCELLED"


def test_a_cookie_change_without_the_csrf_token_is_refused(start_server):
    server = start_server(api_key=KEY)
    with api(server, KEY) as client:
        deployment, run = targets(client)
        browser, _, token = log_in(server)
        try:
            # what a page of another origin would have to forge, minus the Origin header
            refused = browser.post(f"/api/deployments/{deployment['id']}/pause")
            assert refused.status_code == 403 and "X-Proctor-CSRF" in refused.json()["detail"]
            untouched(client, deployment, run)
            own = {"X-Proctor-CSRF": token, "Origin": server.url, "Sec-Fetch-Site": "same-origin"}
            paused = browser.post(f"/api/deployments/{deployment['id']}/pause", headers=own)
            assert paused.status_code == 200 and paused.json()["paused"] is True
        finally:
            browser.close()


# -- item 15: a page on another port, in a real browser -------------------------------------------
class AttackerSite:
    """A second HTTP server on another port of 127.0.0.1 whose pages post to Proctor: a form
    submitted on load (pause), and a no-cors fetch with credentials (cancel)."""

    def __init__(self, proctor_url: str, deployment_id: str, run_id: str) -> None:
        pages = {
            "/pause.html": f"""<!doctype html><form id="f" method="post"
                action="{proctor_url}/api/deployments/{deployment_id}/pause">
                <input name="x" value="1"></form>
                <script>document.getElementById("f").submit()</script>""",
            "/cancel.html": f"""<!doctype html><p id="done">sending</p><script>
                fetch("{proctor_url}/api/flow_runs/{run_id}/cancel",
                      {{method: "POST", mode: "no-cors", credentials: "include",
                        body: "{{}}"}})
                  .finally(() => {{ document.getElementById("done").textContent = "sent"; }});
                </script>""",
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server dispatches to
                body = pages.get(self.path, "not here").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def chromium():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # opened and closed inside the test: no asyncio loop stays open beside the other tests
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.parametrize("keyed", [False, True], ids=["open", "keyed"])
def test_a_page_on_another_port_cannot_pause_or_cancel(start_server, chromium, keyed):
    server = start_server(api_key=KEY if keyed else None)
    with api(server, KEY if keyed else None) as client:
        deployment, run = targets(client)
        site = AttackerSite(server.url, deployment["id"], run["id"])
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            if keyed:  # the victim is logged in: the SameSite=Strict cookie goes to the site
                page.goto(server.url + "/login")
                page.fill("input[name=key]", KEY)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url(server.url + "/")
            posts: list = []
            page.on("response", lambda r: posts.append(r) if r.request.method == "POST" else None)

            with page.expect_response(lambda r: r.request.method == "POST") as forged:
                page.goto(site.url + "/pause.html")
            assert forged.value.status == 403
            assert "cross-origin POST refused" in forged.value.text()
            sent = forged.value.request.all_headers()
            assert sent.get("origin") == site.url  # the browser told the truth
            if keyed:
                assert "proctor_session=" in sent.get("cookie", "")  # the threat was real

            with page.expect_response(lambda r: r.request.method == "POST") as fetched:
                page.goto(site.url + "/cancel.html")
            assert fetched.value.status == 403
            page.wait_for_function("document.getElementById('done').textContent === 'sent'")
        finally:
            context.close()
            site.close()
        untouched(client, deployment, run)
        assert all(r.status == 403 for r in posts)


# -- item 17: sessions ------------------------------------------------------------------------
def test_two_logins_two_cookies_and_a_logout_ends_one_in_every_process(start_server):
    first_process = start_server(api_key=KEY)
    second_process = start_server(api_key=KEY)  # same database: another process of the server
    browser_a, cookie_a, token_a = log_in(first_process)
    browser_b, cookie_b, _ = log_in(first_process)
    assert cookie_a != cookie_b
    for server in (first_process, second_process):
        for cookie in (cookie_a, cookie_b):
            answer = httpx.get(f"{server.url}/api/flows", cookies={"proctor_session": cookie},
                               timeout=30)
            assert answer.status_code == 200
    out = browser_a.post("/logout", data={"csrf_token": token_a})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    for server in (first_process, second_process):
        kept = {"proctor_session": cookie_a}  # the old cookie, as a thief would have kept it
        assert httpx.get(f"{server.url}/api/flows", cookies=kept, timeout=30).status_code == 401
        page = httpx.get(f"{server.url}/runs", cookies=kept, timeout=30)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert httpx.get(f"{server.url}/api/flows", cookies={"proctor_session": cookie_b},
                         timeout=30).status_code == 200
    browser_a.close()
    browser_b.close()


def test_a_session_past_its_ttl_is_refused(start_server):
    server = start_server(api_key=KEY, env={"PROCTOR_UI_SESSION_TTL": "2"})
    browser, cookie, _ = log_in(server)
    browser.close()
    logged_in = time.monotonic()
    kept = {"proctor_session": cookie}

    def refused() -> bool:
        return httpx.get(f"{server.url}/api/flows", cookies=kept, timeout=30).status_code == 401

    wait_for(refused, 60, "the session to expire")
    assert time.monotonic() - logged_in >= 1.5  # it did work until its time was up
    assert httpx.get(f"{server.url}/", cookies=kept, timeout=30,
                     follow_redirects=False).headers["location"].startswith("/login")


# -- item 18: the API's own pages -------------------------------------------------------------
def test_the_api_pages_need_the_key(start_server):
    server = start_server(api_key=KEY)
    for path in ("/docs", "/openapi.json"):
        answer = httpx.get(server.url + path, timeout=30)
        assert answer.status_code == 401, path
        assert "/api/flow_runs" not in answer.text
    gone = httpx.get(server.url + "/redoc", timeout=30)
    assert gone.status_code == 303 and gone.headers["location"] == "/docs"
    with api(server, KEY) as client:
        assert "/api/flow_runs" in client.get("/openapi.json").json()["paths"]
        docs = client.get("/docs")
        assert docs.status_code == 200 and "script-src 'self'" in docs.headers[
            "content-security-policy"]
        assert not re.search(r'(src|href)="https?://', docs.text)


# -- the clients that send no Origin keep working -------------------------------------------------
@task
def count_rows() -> int:
    return 3


def test_the_recorder_and_the_cli_work_as_before_with_a_key(start_server, monkeypatch):
    server = start_server(api_key=KEY)
    monkeypatch.setenv("PROCTOR_API_KEY", KEY)
    with Flow("recorded-behind-guards") as flow:
        count_rows()
    flow_run_id = uuid.uuid4().hex
    flow.run(api_url=server.url, flow_run_id=flow_run_id)
    with api(server, KEY) as client:
        assert client.get(f"/api/flow_runs/{flow_run_id}").json()["state_type"] == "SUCCESS"
    listed = subprocess.run(
        [sys.executable, "-m", "proctor.cli.main", "runs", "ls", "--flow",
         "recorded-behind-guards", "--api-url", server.url],
        env={**os.environ, "PROCTOR_API_KEY": KEY, "COLUMNS": "200"}, capture_output=True,
        text=True, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "1 flow run(s)" in listed.stdout and "Success" in listed.stdout, listed.stdout
