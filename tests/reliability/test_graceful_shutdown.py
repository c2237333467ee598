"""SIGTERM stops the server cleanly: no new connections, requests in flight finish, exit code 0."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from services.child_processes import inherited_environment, start_embedded_server
from tests.support.clients import RawApi


def _slow_multipart(name: str, chunks: int, delay: float) -> tuple[Iterator[bytes], str]:
    boundary = "occuloopboundary"

    def body() -> Iterator[bytes]:
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n\r\n'.encode()
        for _ in range(chunks):
            time.sleep(delay)
            yield b"x" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    return body(), f"multipart/form-data; boundary={boundary}"


def test_sigterm_lets_an_upload_in_flight_finish(tmp_path: Path) -> None:
    env = inherited_environment(os.environ)
    server = start_embedded_server(tmp_path / "server", env=env)
    api_port, files_port = int(server.api_url.rsplit(":", 1)[1]), int(server.files_url.rsplit(":", 1)[1])
    headers = {"Authorization": f"Bearer {RawApi(server).login()}"}
    body, content_type = _slow_multipart("/slow/upload.bin", chunks=40, delay=0.05)  # about 2 s on the wire
    outcome: dict[str, object] = {}

    def upload() -> None:
        response = requests.post(
            server.files_url + "/", data=body, headers={**headers, "Content-Type": content_type}, timeout=60
        )
        outcome["status"] = response.status_code

    sender = threading.Thread(target=upload)
    sender.start()
    time.sleep(0.5)  # the upload is under way
    server.child.process.send_signal(signal.SIGTERM)
    sender.join(30)
    assert server.child.process.wait(30) == 0
    assert outcome["status"] == 200
    assert "event=server_stopped in_flight_drained=true" in server.child.log_path.read_text()
    restarted = start_embedded_server(tmp_path / "server", env=env, api_port=api_port, files_port=files_port)
    response = requests.get(
        restarted.files_url + "/slow/upload.bin",
        headers={"Authorization": f"Bearer {RawApi(restarted).login()}"},
        timeout=30,
    )
    assert response.status_code == 200 and len(response.content) == 40 * 65536
    assert restarted.child.stop() == 0


def test_sigint_stops_an_idle_server_at_once(tmp_path: Path) -> None:
    server = start_embedded_server(tmp_path / "server", env=inherited_environment(os.environ))
    requests.get(server.api_url + "/healthz", timeout=10)  # leave an idle keep-alive connection behind
    started = time.monotonic()
    server.child.process.send_signal(signal.SIGINT)
    assert server.child.process.wait(30) == 0
    # at once: well before the 20 s an open keep-alive connection could hold a draining server (the idle one left above)
    assert time.monotonic() - started < 15
    assert not (tmp_path / "server" / "server.json").exists()
