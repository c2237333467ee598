"""`occuloop ui` as a process against a real `occuloop server`: it serves an empty loop, the server redirects web
paths to it when given --web-host (and answers them with a note otherwise), and SIGTERM stops it cleanly within its
bound (README "Shutdown")."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import requests

from services.child_processes import EmbeddedServer, inherited_environment, spawn, start_embedded_server
from tests.support.service_process import free_port

SDK_LINK = "/projects/0123/experiments/4567/output/log"


def test_the_ui_serves_an_empty_loop_and_stops_cleanly_on_sigterm(server: EmbeddedServer, tmp_path: Path) -> None:
    port = free_port()
    env = inherited_environment(os.environ, **server.client_env)
    child = spawn("ui", [sys.executable, "-m", "services.cli", "ui", "--port", str(port), "--sync-url",
                         f"http://127.0.0.1:{free_port()}"], log_path=tmp_path / "ui.log", env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert child.alive(), child.log_path.read_text()
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, child.log_path.read_text()
                time.sleep(0.2)
        assert page.status_code == 200 and "No labeling session yet" in page.text
        assert "not running" in page.text  # the sync it was pointed at does not answer: said, not hidden
        assert requests.get(f"http://127.0.0.1:{port}{SDK_LINK}", timeout=5).status_code == 404  # no such task
    finally:
        child.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = child.process.wait(timeout=30)
    log = child.log_path.read_text()
    assert code == 0 and time.monotonic() - started < 20, log
    assert "event=ui_stopped" in log and "Traceback" not in log, log


def test_the_server_redirects_web_paths_to_the_ui_only_when_it_has_one(server: EmbeddedServer, tmp_path: Path) -> None:
    note = requests.get(server.api_url + SDK_LINK, allow_redirects=False, timeout=10)
    assert note.status_code == 404 and "occuloop ui" in note.text
    ui = "http://ui.example:8080"
    with_ui = start_embedded_server(
        tmp_path / "server", env=inherited_environment(os.environ), extra_args=["--web-host", ui]
    )
    try:
        moved = requests.get(with_ui.api_url + SDK_LINK + "?x=1", allow_redirects=False, timeout=10)
        assert moved.status_code == 302 and moved.headers["Location"] == ui + SDK_LINK + "?x=1"
        assert (
            requests.get(with_ui.api_url + "//evil.example/x", allow_redirects=False, timeout=10).headers["Location"]
            == ui + "/evil.example/x"
        )  # always on the UI's host
        assert with_ui.client_env["CLEARML_WEB_HOST"] == ui  # clearml.env, for the SDK
        assert requests.post(with_ui.api_url + "/debug.ping", json={}, timeout=10).status_code == 200  # API intact
    finally:
        assert with_ui.child.stop() == 0
