"""Run `occuloop sync` as a child process against a test server, and look at what it produced."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import requests

from tests.support.clients import Clients
from tests.support.service_process import ServiceProcess


class SyncProcess(ServiceProcess):
    def __init__(
        self,
        clients: Clients,
        inbox: Path,
        *,
        name: str = "sync",
        quiet: float = 1.0,
        batch: int = 50,
        dataset: str = "labeled",
        feed_chunk: int = 100,
    ) -> None:
        super().__init__(
            clients, name, {"OCCULOOP_SYNC_POLL_SECONDS": "0.2", "OCCULOOP_SYNC_FEED_CHUNK": str(feed_chunk)}
        )
        self.inbox = inbox
        self.argv = [
            sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", str(self.port),
            "--quiet-seconds", str(quiet), "--batch-size", str(batch), "--dataset-name", dataset,
        ]  # fmt: skip

    def ready(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200

    def sync_now(self, wait: float = 60) -> dict[str, Any]:
        return dict(requests.post(f"{self.url}/sync?wait={wait:g}", timeout=wait + 10).json())

    def wait_until_idle(self, timeout: float = 120) -> dict[str, Any]:
        """Nothing left in the inbox (but quarantine) and nothing staged."""

        def idle() -> dict[str, Any] | None:
            status = self.status()
            waiting = [path for path in self.inbox.iterdir() if path.is_file() and path.suffix == ".csv"]
            return status if status["state"] == "idle" and status["staged_files"] == 0 and not waiting else None

        return dict(self.clients.api.wait_for(f"{self.name} to be idle", idle, timeout=timeout, interval=0.3))


def versions(clients: Clients, dataset: str = "labeled") -> list[dict[str, Any]]:
    return list(clients.flow("dataset_versions", "occuloop/labels", dataset)["versions"])
