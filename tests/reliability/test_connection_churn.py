"""A long-running server under clients that open a new connection per request (urllib, curl, health checks) keeps
a bounded number of file descriptors: request threads come and go, their database connections are reused."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from services.child_processes import inherited_environment, start_embedded_server
from tests.support.clients import RawApi


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_thousand_short_connections_leave_no_descriptors_behind(tmp_path: Path) -> None:
    server = start_embedded_server(tmp_path / "server", env=inherited_environment(os.environ))
    try:
        token = RawApi(server).login()
        request = urllib.request.Request(
            f"{server.api_url}/projects.get_all", data=b"{}", method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        pid = server.child.process.pid
        for _ in range(50):  # warm up: the pool of read connections reaches its working size
            urllib.request.urlopen(request, timeout=10).close()
        before = open_fds(pid)
        for _ in range(1000):  # a new TCP connection, hence a new server thread, every time
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        assert open_fds(pid) - before < 30, (before, open_fds(pid))
    finally:
        assert server.child.stop() == 0
