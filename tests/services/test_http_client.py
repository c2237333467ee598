"""services/http_client.py over a real socket: an answer is an answer whatever its status, silence is not."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services import http_client
from tests.support.service_process import free_port


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 200 if self.path == "/echo" else 422
        reply = json.dumps({"got": json.loads(body or b"null"), "type": self.headers.get("Content-Type")}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:  # the test's output stays readable
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_json_post_is_answered_with_the_status_and_the_parsed_body(url: str) -> None:
    answer = http_client.post(f"{url}/echo", json_body={"dataset_id": "d1"}, timeout=5)
    assert answer.ok and answer.status == 200
    assert answer.json_object() == {"got": {"dataset_id": "d1"}, "type": "application/json"}


def test_a_refusal_is_an_answer_that_says_what_came_back(url: str) -> None:
    answer = http_client.post(f"{url}/other", json_body=[1], timeout=5)
    assert not answer.ok and answer.status == 422
    assert answer.detail().startswith("HTTP 422 {") and answer.json_object() is not None


def test_nothing_listening_is_no_status_and_a_reason() -> None:
    answer = http_client.get(f"http://127.0.0.1:{free_port()}/healthz", timeout=2)
    assert answer.status is None and not answer.ok and answer.error and answer.detail() == answer.error
    assert answer.json() is None
