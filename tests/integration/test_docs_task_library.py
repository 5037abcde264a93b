"""Every example of docs/task-library.md runs (the HTTP one against a local server)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "task-library.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


class Api(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        url = urlparse(self.path)
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        if url.path == "/rates":
            body = {"base": "EUR", "USD": 1.05}
        else:
            body = {"items": [page] if page <= 2 else []}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_page_has_an_example_per_section():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("number", range(len(BLOCKS)))
def test_each_example_runs(number, api_url, monkeypatch):
    monkeypatch.delenv("PROCTOR_API_URL", raising=False)
    code = BLOCKS[number].replace("http://127.0.0.1:8000", api_url)
    exec(compile(code, f"{DOC.name}[{number}]", "exec"), {"__name__": f"doc_example_{number}"})
