"""The server against web pages that use a visitor's browser (issue 11, items 15-18), on SQLite
and PostgreSQL: Host names, request origins, CSRF tokens, UI sessions, the API's own pages, and
the deployment page's Run-now form that an injected parameter default could break out of.

The same threats are replayed against a real server process and a real browser in
tests/faults/test_web_security.py; here each rule is pinned down request by request.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from html.parser import HTMLParser

import pytest
from sqlalchemy import select, update

from proctor.server.api.guards import allowed_host_names, origin_refusal, split_host
from proctor.server.db.models import UISession
from proctor.server.ui.routes import PAGE_HEADERS
from proctor.server.ui.session import COOKIE, CSRF_FIELD, CSRF_HEADER

KEY = "test-key-web-security"
BEARER = {"Authorization": f"Bearer {KEY}"}
#: What a cross-site form post from another port of 127.0.0.1 carries.
OTHER_PORT = {"Origin": "http://127.0.0.1:5555", "Sec-Fetch-Site": "same-site"}


def csrf_of(page: str) -> str:
    found = re.search(r'<meta name="proctor-csrf" content="([0-9a-f]+)">', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def login(client, key: str = KEY) -> str:
    """Log in through the form; the session cookie's value."""
    answer = client.post("/login", data={"key": key, "next": "/"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.cookies[COOKIE]


@pytest.fixture
def keyed(make_client):
    return make_client(PROCTOR_API_KEY=KEY)


@pytest.fixture
def paused_deployment(keyed) -> dict:
    body = {"flow_name": "etl", "name": "nightly", "entrypoint": "flows.py:etl"}
    answer = keyed.post("/api/deployments", json=body, headers=BEARER)
    assert answer.status_code == 201, answer.text
    return answer.json()


# -- Host -----------------------------------------------------------------------------------------
class TestHost:
    @pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:4200", "localhost:4200",
                                      "LOCALHOST", "[::1]:4200", "localhost."])
    def test_the_loopback_names_are_answered(self, client, host):
        assert client.get("/api/health", headers={"Host": host}).status_code == 200

    @pytest.mark.parametrize("host", ["evil.example", "evil.example:4200", "127.0.0.1.evil.io",
                                      "localhost:notaport", "[::1"])
    def test_other_names_are_400_with_the_setting_to_change(self, client, host):
        answer = client.get("/api/health", headers={"Host": host})
        assert answer.status_code == 400
        detail = answer.json()["detail"]
        assert "PROCTOR_ALLOWED_HOSTS" in detail and "DNS rebinding" in detail

    def test_every_route_is_guarded_pages_included(self, client):
        for path in ("/", "/runs", "/docs", "/openapi.json", "/ui-static/app.js"):
            assert client.get(path, headers={"Host": "evil.example"}).status_code == 400, path

    def test_the_setting_replaces_the_defaults(self, make_client):
        client = make_client(PROCTOR_ALLOWED_HOSTS="proctor.example.com, 10.0.0.5")
        ok = client.get("/api/health", headers={"Host": "proctor.example.com:4200"})
        assert ok.status_code == 200
        assert client.get("/api/health", headers={"Host": "10.0.0.5"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "127.0.0.1"}).status_code == 400

    def test_a_star_answers_any_name(self, make_client):
        client = make_client(PROCTOR_ALLOWED_HOSTS="*")
        assert client.get("/api/health", headers={"Host": "whatever.example"}).status_code == 200

    def test_the_bind_address_is_added(self, database_url):
        from fastapi.testclient import TestClient

        from proctor.server.api.app import create_app

        app = create_app(database_url, services=False, hosts=("192.0.2.7",))
        with TestClient(app, base_url="http://192.0.2.7:4200") as client:
            assert client.get("/api/health").status_code == 200
            assert client.get("/api/health", headers={"Host": "localhost"}).status_code == 200

    def test_a_url_in_the_setting_stops_the_factory(self, monkeypatch, tmp_path):
        from proctor.server.api.app import create_app

        monkeypatch.setenv("PROCTOR_ALLOWED_HOSTS", "http://proctor.example.com/")
        with pytest.raises(ValueError, match="PROCTOR_ALLOWED_HOSTS lists host names"):
            create_app(f"sqlite:///{tmp_path / 'p.db'}")

    @pytest.mark.parametrize(("value", "parsed"), [
        ("Example.COM:80", ("example.com", 80)), ("[::1]", ("[::1]", None)),
        ("::1", ("[::1]", None)), ("0.0.0.0", ("0.0.0.0", None)), ("h.:1", ("h", 1)),
    ])
    def test_split_host(self, value, parsed):
        assert split_host(value) == parsed

    def test_allowed_names_default_to_loopback_plus_bind_addresses(self):
        assert allowed_host_names(("0.0.0.0",)) == {"localhost", "127.0.0.1", "[::1]", "0.0.0.0"}
        assert allowed_host_names((), ["a.example:4200"]) == {"a.example"}


# -- Origin ---------------------------------------------------------------------------------------
class TestOrigin:
    @pytest.mark.parametrize(("origin", "fetch_site", "refused"), [
        (None, None, False),  # the CLI, agents, the recorder: httpx sends neither
        ("http://127.0.0.1:4200", "same-origin", False),
        ("http://127.0.0.1:4200", None, False),
        (None, "same-origin", False),
        ("http://127.0.0.1:5555", "same-site", True),  # another port of 127.0.0.1
        ("http://127.0.0.1:5555", None, True),
        (None, "same-site", True),
        (None, "cross-site", True),
        (None, "none", True),
        ("https://evil.example", "cross-site", True),
        ("null", None, True),  # a sandboxed frame, a file: page
        ("http://127.0.0.1:4200", "cross-site", True),  # the browser's word wins
        ("https://127.0.0.1:4200", None, False),  # same host and port behind TLS
        ("http://127.0.0.1", None, True),  # port 80 is another origin
        ("http://127.0.0.1:4200/path", None, True),
    ])
    def test_the_rule(self, origin, fetch_site, refused):
        problem = origin_refusal("POST", "127.0.0.1:4200", origin, fetch_site)
        assert (problem is not None) == refused, problem

    def test_default_ports_match(self):
        assert origin_refusal("POST", "proctor.example", "https://proctor.example", None) is None
        assert origin_refusal("POST", "proctor.example:443", "https://proctor.example",
                              None) is None

    def test_a_cross_site_post_changes_nothing(self, client, deploy, new_run):
        deployment = deploy()
        run = new_run(state={"type": "SCHEDULED"})
        for path in (f"/api/deployments/{deployment['id']}/pause",
                     f"/api/flow_runs/{run['id']}/cancel"):
            for headers in (OTHER_PORT, {"Origin": "https://evil.example",
                                         "Sec-Fetch-Site": "cross-site"}):
                answer = client.post(path, headers=headers, json={})
                assert answer.status_code == 403
                assert "cross-origin POST refused" in answer.json()["detail"]
        assert client.get(f"/api/deployments/{deployment['id']}").json()["paused"] is False
        assert client.get(f"/api/flow_runs/{run['id']}").json()["state_type"] == "SCHEDULED"

    def test_same_origin_and_header_less_posts_pass(self, client, deploy):
        deployment = deploy()
        own = {"Origin": str(client.base_url), "Sec-Fetch-Site": "same-origin"}
        paused = client.post(f"/api/deployments/{deployment['id']}/pause", headers=own)
        assert paused.status_code == 200 and paused.json()["paused"] is True
        resumed = client.post(f"/api/deployments/{deployment['id']}/resume")
        assert resumed.status_code == 200 and resumed.json()["paused"] is False

    def test_reads_from_elsewhere_are_not_refused(self, client):
        # a cross-origin read gets no CORS header, so the page cannot see the answer anyway
        assert client.get("/api/flows", headers=OTHER_PORT).status_code == 200

    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    def test_every_changing_method_is_checked(self, client, method):
        answer = client.request(method, "/api/flows", headers=OTHER_PORT)
        assert answer.status_code == 403

    def test_the_login_form_is_checked_too(self, keyed):
        answer = keyed.post("/login", data={"key": KEY}, headers=OTHER_PORT,
                            follow_redirects=False)
        assert answer.status_code == 403 and COOKIE not in answer.cookies


# -- CSRF -----------------------------------------------------------------------------------------
class TestCSRF:
    def test_a_cookie_change_needs_the_token(self, keyed, paused_deployment):
        login(keyed)
        pause = f"/api/deployments/{paused_deployment['id']}/pause"
        refused = keyed.post(pause)
        assert refused.status_code == 403
        assert CSRF_HEADER in refused.json()["detail"] and "Bearer" in refused.json()["detail"]
        assert keyed.get(f"/api/deployments/{paused_deployment['id']}").json()["paused"] is False
        token = csrf_of(keyed.get("/flows").text)
        assert keyed.post(pause, headers={CSRF_HEADER: "0" * 64}).status_code == 403
        accepted = keyed.post(pause, headers={CSRF_HEADER: token})
        assert accepted.status_code == 200 and accepted.json()["paused"] is True

    def test_reads_with_the_cookie_need_no_token(self, keyed):
        login(keyed)
        assert keyed.get("/api/flows").status_code == 200

    def test_bearer_calls_need_no_token(self, keyed, paused_deployment):
        answer = keyed.post(f"/api/deployments/{paused_deployment['id']}/pause", headers=BEARER)
        assert answer.status_code == 200

    def test_a_token_belongs_to_its_session(self, make_client):
        first, second = make_client(PROCTOR_API_KEY=KEY), make_client(PROCTOR_API_KEY=KEY)
        login(first)
        login(second)
        token = csrf_of(first.get("/").text)
        assert csrf_of(second.get("/").text) != token
        assert second.post("/api/flows", json={"name": "x"},
                           headers={CSRF_HEADER: token}).status_code == 403

    def test_the_logout_form_needs_the_token(self, keyed):
        login(keyed)
        refused = keyed.post("/logout", data={}, follow_redirects=False)
        assert refused.status_code == 403 and CSRF_FIELD in refused.json()["detail"]
        assert keyed.get("/api/flows").status_code == 200  # still logged in
        page = keyed.get("/").text
        assert f'name="{CSRF_FIELD}" value="{csrf_of(page)}"' in page

    def test_an_open_server_pages_carry_no_token(self, client):
        assert 'name="proctor-csrf"' not in client.get("/").text


# -- sessions -------------------------------------------------------------------------------------
class TestSessions:
    def test_two_logins_get_two_sessions(self, keyed):
        first = login(keyed)
        keyed.cookies.clear()  # another browser
        second = login(keyed)
        assert first != second
        keyed.cookies.clear()
        for cookie in (first, second):
            keyed.cookies.set(COOKIE, cookie)
            assert keyed.get("/api/flows").status_code == 200
            keyed.cookies.clear()

    def test_logging_in_again_ends_the_browsers_previous_session(self, keyed):
        first = login(keyed)
        second = login(keyed)  # the browser sends its first cookie along
        keyed.cookies.clear()
        keyed.cookies.set(COOKIE, first)
        assert keyed.get("/api/flows").status_code == 401
        keyed.cookies.set(COOKIE, second)
        assert keyed.get("/api/flows").status_code == 200

    def test_the_cookie(self, make_client):
        client = make_client(PROCTOR_API_KEY=KEY, PROCTOR_UI_SESSION_TTL="3600")
        answer = client.post("/login", data={"key": KEY}, follow_redirects=False)
        header = answer.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=strict" in header and "max-age=3600" in header
        assert KEY not in answer.headers["set-cookie"]

    def test_logout_ends_the_session_for_good(self, keyed):
        cookie = login(keyed)
        token = csrf_of(keyed.get("/").text)
        out = keyed.post("/logout", data={CSRF_FIELD: token}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        keyed.cookies.set(COOKIE, cookie)  # the browser kept a copy
        assert keyed.get("/api/flows").status_code == 401
        assert keyed.get("/runs", follow_redirects=False).status_code == 303

    def test_a_logout_through_one_process_is_seen_by_another(self, make_client):
        one, other = make_client(PROCTOR_API_KEY=KEY), make_client(PROCTOR_API_KEY=KEY)
        cookie = login(one)
        other.cookies.set(COOKIE, cookie)
        assert other.get("/api/flows").status_code == 200
        one.post("/logout", data={CSRF_FIELD: csrf_of(one.get("/").text)})
        assert other.get("/api/flows").status_code == 401

    def test_an_expired_session_is_refused_and_forgotten_at_the_next_login(self, keyed):
        cookie = login(keyed)
        database = keyed.app.state.database
        with database.write() as session:
            session.execute(update(UISession).values(expires_at=time.time() - 1))
        assert keyed.get("/api/flows").status_code == 401
        assert keyed.get("/", follow_redirects=False).headers["location"].startswith("/login")
        keyed.cookies.clear()
        login(keyed)
        with database.read() as session:
            assert len(session.scalars(select(UISession)).all()) == 1  # the expired row is gone
        keyed.cookies.set(COOKIE, cookie)
        assert keyed.get("/api/flows").status_code == 401

    def test_a_cookie_past_its_ttl_is_refused_by_its_signature(self, keyed):
        store = keyed.app.state.ui_sessions
        cookie = store.open()
        assert store.session_id(cookie) is not None
        store.ttl = -1.0  # as if the TTL had passed: the signature's age check alone refuses it
        assert store.session_id(cookie) is None

    def test_only_a_hash_of_the_session_id_is_stored(self, keyed):
        store = keyed.app.state.ui_sessions
        cookie = login(keyed)
        session_id = store._serializer.loads(cookie)
        with keyed.app.state.database.read() as session:
            rows = session.scalars(select(UISession)).all()
        assert [row.id_hash for row in rows] == [hashlib.sha256(session_id.encode()).hexdigest()]
        assert all(session_id not in row.id_hash for row in rows)

    def test_forged_and_other_key_cookies_are_refused(self, make_client):
        keyed = make_client(PROCTOR_API_KEY=KEY)
        cookie = login(keyed)
        keyed.cookies.set(COOKIE, cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
        assert keyed.get("/api/flows").status_code == 401
        rekeyed = make_client(PROCTOR_API_KEY="another-key")  # the key changed: sessions end
        rekeyed.cookies.set(COOKIE, cookie)
        assert rekeyed.get("/api/flows").status_code == 401

    def test_the_old_constant_cookie_is_refused(self, keyed):
        import hmac

        old = hmac.new(KEY.encode(), b"proctor-ui-session", hashlib.sha256).hexdigest()
        keyed.cookies.set(COOKIE, old)
        assert keyed.get("/api/flows").status_code == 401


# -- /docs, /openapi.json -------------------------------------------------------------------------
class TestDocs:
    @pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
    def test_without_the_key_they_are_401(self, keyed, path):
        answer = keyed.get(path)
        assert answer.status_code == 401
        assert "/paths" not in answer.text and "flow_runs" not in answer.text

    def test_the_pages_offer_the_login_form_and_come_back(self, keyed):
        answer = keyed.get("/docs")
        assert 'action="/login"' in answer.text and 'value="/docs"' in answer.text

    def test_the_key_or_a_session_opens_them(self, keyed):
        assert "/api/flow_runs" in keyed.get("/openapi.json", headers=BEARER).json()["paths"]
        assert keyed.get("/docs", headers=BEARER).status_code == 200
        login(keyed)
        for path in ("/docs", "/openapi.json"):
            assert keyed.get(path).status_code == 200, path

    def test_redoc_is_gone_for_the_swagger_page(self, keyed):
        answer = keyed.get("/redoc", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/docs"

    def test_the_page_carries_the_ui_policy_and_loads_nothing_from_elsewhere(self, client):
        answer = client.get("/docs")
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == (
            PAGE_HEADERS["Content-Security-Policy"])
        sources = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
        assert sources and all(s.startswith(("/", "data:")) for s in sources), sources
        assert "<script>" not in answer.text  # no inline script: the policy would refuse it
        for source in sources:
            if source.startswith("/"):
                assert client.get(source).status_code == 200, source

    def test_an_open_server_keeps_them_open(self, client):
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs").status_code == 200


# -- the Run-now form (item 16) -------------------------------------------------------------------
#: Parameter defaults that closed the `value="..."` attribute when written with `tojson`.
BREAKOUTS = [
    '" style="position:fixed;inset:0;z-index:99;background:red" autofocus onfocus="x=1" a="',
    {'"><img src=x onerror=alert(1)>': "\" style='color:red'"},
    ["'", '"', "</script>", "&quot;"],
]


class InputAttributes(HTMLParser):
    """The attributes of each <input> of a page, as a browser's parser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "input":
            named = dict(attrs)
            self.inputs[named.get("name") or f"#{len(self.inputs)}"] = named


@pytest.mark.parametrize("value", BREAKOUTS, ids=["string", "dict", "list"])
def test_a_parameter_default_cannot_break_out_of_its_attribute(client, value):
    schema = {"parameters": [
        {"name": "cfg", "annotation": None, "required": False, "default": value},
        {"name": "other", "annotation": "list", "required": False, "default": None},
    ]}
    body = {"flow_name": "etl", "name": "injected", "entrypoint": "flows.py:etl",
            "parameter_schema": schema, "parameters": {"other": value}}
    made = client.post("/api/deployments", json=body)
    assert made.status_code == 201, made.text
    parser = InputAttributes()
    parser.feed(client.get(f"/deployments/{made.json()['id']}").text)
    for name in ("cfg", "other"):
        attrs = parser.inputs[name]
        assert set(attrs) == {"type", "name", "data-kind", "value", "placeholder"}, attrs
        assert json.loads(attrs["value"]) == value  # what the form will send back
    assert "img" not in parser.tags
