"""Run `occuloop sync` as a child process against a test server, and look at what it produced."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import requests

from services.child_processes import Child
from tests.support.clients import Clients


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SyncProcess:
    def __init__(
        self,
        clients: Clients,
        inbox: Path,
        *,
        name: str = "sync",
        quiet: float = 1.0,
        batch: int = 50,
        dataset: str = "labeled",
    ) -> None:
        self.clients = clients
        self.inbox = inbox
        self.name = name
        self.port = free_port()
        self.argv = [
            sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", str(self.port),
            "--quiet-seconds", str(quiet), "--batch-size", str(batch), "--dataset-name", dataset,
        ]  # fmt: skip
        self.child: Child | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> SyncProcess:
        self.child = self.clients.spawn(self.name, self.argv, {"OCCULOOP_SYNC_POLL_SECONDS": "0.2"})
        if wait:
            self.clients.api.wait_for(f"{self.name} to listen", self._listening, timeout=60, interval=0.1)
        return self

    def _listening(self) -> bool:
        assert self.child is not None
        if not self.child.alive():
            raise self.child.failure("exited")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def status(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/status", timeout=10).json())

    def sync_now(self, wait: float = 60) -> dict[str, Any]:
        return dict(requests.post(f"{self.url}/sync?wait={wait:g}", timeout=wait + 10).json())

    def wait_until_idle(self, timeout: float = 120) -> dict[str, Any]:
        """Nothing left in the inbox (but quarantine) and nothing staged."""

        def idle() -> dict[str, Any] | None:
            status = self.status()
            waiting = [path for path in self.inbox.iterdir() if path.is_file() and path.suffix == ".csv"]
            return status if status["state"] == "idle" and status["staged_files"] == 0 and not waiting else None

        return dict(self.clients.api.wait_for(f"{self.name} to be idle", idle, timeout=timeout, interval=0.3))

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop()

    def kill(self) -> None:
        assert self.child is not None
        self.child.kill()

    def log(self) -> str:
        assert self.child is not None
        return self.child.log_path.read_text()


def versions(clients: Clients, dataset: str = "labeled") -> list[dict[str, Any]]:
    return list(clients.flow("dataset_versions", "occuloop/labels", dataset)["versions"])


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")
