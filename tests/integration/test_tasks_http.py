"""proctor.tasks.http against a real HTTP server on 127.0.0.1 (the standard library's)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from proctor import Flow, flow
from proctor.core.errors import TaskOptionError
from proctor.states import StateType
from proctor.tasks.http import HttpPaginate, HttpRequest, http_request


class Service(BaseHTTPRequestHandler):
    """A small API: echo, errors, a flaky endpoint, a rate limit, and three kinds of pages."""

    hits: dict[str, int] = {}
    lock = threading.Lock()

    def _count(self, key: str) -> int:
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            return self.hits[key]

    def _send(self, status: int, body: object, headers: dict | None = None,
              raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None
                         else "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path == "/echo":
            self._send(200, {"method": self.command, "query": query, "body": body,
                             "auth": self.headers.get("Authorization"),
                             "tag": self.headers.get("X-Tag")})
        elif url.path == "/missing":
            self._count("missing")
            self._send(404, {"error": "no such rate", "detail": "x" * 2000})
        elif url.path == "/flaky":
            if self._count(query.get("key", "flaky")) <= 2:
                self._send(503, {"error": "busy"})
            else:
                self._send(200, {"ok": True})
        elif url.path == "/limited":
            if self._count(query.get("key", "limited")) == 1:
                self._send(429, {"error": "slow down"}, {"Retry-After": "1"})
            else:
                self._send(200, {"ok": "after waiting"})
        elif url.path == "/bytes":
            self._send(200, None, raw=b"\x00\x01binary")
        elif url.path == "/html":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"<p>hello</p>\n")
        elif url.path == "/numbered":
            page = int(query.get("page", "1"))
            self._send(200, {"items": [page * 10 + i for i in range(2)] if page <= 3 else []})
        elif url.path == "/linked":
            page = int(query.get("p", "1"))
            headers = {"Link": f'</linked?p={page + 1}>; rel="next"'} if page < 3 else {}
            self._send(200, [f"item-{page}"], headers)
        elif url.path == "/cursor":
            after = int(query.get("after", "0"))
            following = f"/cursor?after={after + 1}" if after < 2 else None
            self._send(200, {"results": [after], "next": following})
        else:
            self._send(500, {"error": "unknown path"})

    do_GET = do_POST = do_DELETE = _route  # noqa: N815 - the names http.server dispatches to

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api():
    Service.hits = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_requests_in_a_graph_send_what_they_are_given(api, basic_executor):
    post = HttpRequest(url=f"{api}/echo", method="POST", bearer="t0ken",
                       headers={"X-Tag": "etl"})
    with Flow("http", executor=basic_executor) as f:
        posted = post(json={"rows": [1, 2]}, params={"day": "2026-12-06"})
        text = http_request(url=f"{api}/html", response="text")
        raw = http_request(url=f"{api}/bytes", response="bytes")
        deleted = http_request(url=f"{api}/echo", method="DELETE")
    state = f.run()
    echo = state.result[posted].result
    assert echo["method"] == "POST" and echo["query"] == {"day": "2026-12-06"}
    assert json.loads(echo["body"]) == {"rows": [1, 2]}
    assert echo["auth"] == "Bearer t0ken" and echo["tag"] == "etl"
    assert state.result[text].result == "<p>hello</p>\n"
    assert state.result[raw].result == b"\x00\x01binary"
    assert state.result[deleted].result["method"] == "DELETE"


def test_a_4xx_answer_fails_at_once_quoting_the_body(api):
    with Flow("http-404") as f:
        out = HttpRequest(url=f"{api}/missing", retries=3)()
    state = f.run()
    failed = state.result[out]
    assert failed.type is StateType.FAILED
    assert failed.message.startswith(f"GET {api}/missing returned 404 Not Found: ")
    assert "no such rate" in failed.message and len(failed.message) < 700  # 500 of the body
    assert Service.hits == {"missing": 1}  # a 4xx is not retried


def test_transient_errors_are_retried_with_backoff_and_retry_after(api, caplog):
    @flow
    def calls():
        flaky = HttpRequest(url=f"{api}/flaky", backoff=0.05)()
        started = time.monotonic()
        limited = HttpRequest(url=f"{api}/limited", backoff=0.01)()
        return flaky, limited, time.monotonic() - started

    flaky, limited, waited = calls()
    assert flaky == {"ok": True} and Service.hits["flaky"] == 3
    assert limited == {"ok": "after waiting"} and waited >= 1.0  # Retry-After: 1 honoured
    assert any("returned 503" in r.getMessage() and "try 2 of 4" in r.getMessage()
               for r in caplog.records)


def test_retries_run_out_and_a_dead_server_is_named(api):
    with Flow("http-out") as f:
        tired = HttpRequest(url=f"{api}/flaky?key=out", retries=1, backoff=0.01)()
        dead = HttpRequest(url="http://127.0.0.1:9/nothing", retries=1, backoff=0.01,
                           timeout=2)()
        private = HttpRequest(url="http://ada:pa55word@127.0.0.1:9/x", retries=0)()
    state = f.run()
    assert "pa55word" not in state.result[private].message  # user and password left out
    assert "returned 503" in state.result[tired].message
    assert "(after 2 tries)" in state.result[tired].message
    assert state.result[dead].message.startswith("GET http://127.0.0.1:9/nothing failed: ")


def test_json_expected_but_html_answered_says_how_to_read_it(api):
    with Flow("http-html") as f:
        out = http_request(url=f"{api}/html")
    message = f.run().result[out].message
    assert "text/html, not JSON" in message and "response='text'" in message


def test_pagination_by_page_number_link_header_and_next_field(api, basic_executor):
    with Flow("pages", executor=basic_executor) as f:
        numbered = HttpPaginate(url=f"{api}/numbered", items_key="items", page_param="page")()
        linked = HttpPaginate(url=f"{api}/linked")()
        cursor = HttpPaginate(url=f"{api}/cursor", items_key="results")()
    state = f.run()
    assert state.result[numbered].result == [10, 11, 20, 21, 30, 31]
    assert state.result[linked].result == ["item-1", "item-2", "item-3"]
    assert state.result[cursor].result == [0, 1, 2]
    with Flow("pages-bounded") as g:
        bounded = HttpPaginate(url=f"{api}/linked", max_pages=2)()
    assert "still had pages after max_pages=2" in g.run().result[bounded].message


def test_bad_options_are_refused_where_written():
    with pytest.raises(TaskOptionError, match="method='FETCH'"):
        HttpRequest(url="http://127.0.0.1/x", method="fetch")
    with pytest.raises(TaskOptionError, match="absolute http:// or https:// URL"):
        HttpRequest(url="ftp://example.org/file")
    with pytest.raises(TaskOptionError, match="response='xml'"):
        HttpRequest(url="http://127.0.0.1/x", response="xml")
    with pytest.raises(TaskOptionError, match="retries=-1"):
        HttpRequest(url="http://127.0.0.1/x", retries=-1)
    with pytest.raises(TaskOptionError, match="bearer="):
        HttpRequest(url="http://127.0.0.1/x", auth="user:pass")
    with pytest.raises(TaskOptionError, match="absolute"):
        HttpRequest(url="/relative/path")
