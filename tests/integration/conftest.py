"""Executors every engine test runs on: sequential, real threads, real worker processes."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proctor.executors import LocalExecutor, ProcessExecutor, ThreadExecutor

EXECUTORS = {
    "local": lambda: LocalExecutor(),
    "threads": lambda: ThreadExecutor(4),
    "processes": lambda: ProcessExecutor(2),
}


@pytest.fixture(params=list(EXECUTORS))
def executor(request):
    return EXECUTORS[request.param]()


@pytest.fixture(params=["threads", "processes"])
def parallel_executor(request):
    return EXECUTORS[request.param]()


# -- a real HTTP listener on 127.0.0.1 that records what it receives ----------------------------
class HttpRecorder:
    """What the test HTTP server received, and how it should answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, dict[str, str], object]] = []
        self.fail_first = 0  # answer 500 to this many requests, then 200
        self.status = 200  # the answer once fail_first is used up
        self.delay = 0.0  # seconds to wait before answering
        self.url = ""

    def answer(self, path: str, headers: dict[str, str], body: object) -> int:
        with self.lock:
            self.requests.append((path, headers, body))
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
            return self.status

    @property
    def bodies(self) -> list:
        return [body for _, _, body in self.requests]


@pytest.fixture
def http_server():
    recorder = HttpRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server dispatches to
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = recorder.answer(self.path, headers, json.loads(raw))
            if recorder.delay:
                time.sleep(recorder.delay)
            reply = b"ok" if status == 200 else b"no good"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
