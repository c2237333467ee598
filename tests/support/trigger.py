"""Run `occuloop trigger` as a child process against a test server, and read the ledger it leaves."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import requests

from services.child_processes import Child
from tests.support.clients import Clients
from tests.support.sync import free_port


class TriggerProcess:
    def __init__(
        self,
        clients: Clients,
        *,
        name: str = "trigger",
        project: str = "occuloop/labels",
        queue: str = "training",
        extra: list[str] | None = None,
    ) -> None:
        self.clients = clients
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [
            sys.executable, "-m", "services.cli", "trigger", "--dataset-project", project, "--queue", queue,
            "--poll-seconds", "1", "--port", str(self.port), *(extra or []),
        ]  # fmt: skip
        self.child: Child | None = None

    def start(self, wait: bool = True) -> TriggerProcess:
        self.child = self.clients.spawn(self.name, self.argv)
        if wait:
            self.clients.api.wait_for(f"{self.name} to be ready", self.ready, timeout=90, interval=0.2)
        return self

    def ready(self) -> bool:
        assert self.child is not None
        if not self.child.alive():
            raise self.child.failure("exited")
        try:
            return "template_task_id" in requests.get(f"{self.url}/status", timeout=2).json()
        except requests.ConnectionError:
            return False

    def notify(self, dataset_id: str) -> int:
        return requests.post(f"{self.url}/notify", json={"dataset_id": dataset_id}, timeout=5).status_code

    def status(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/status", timeout=5).json())

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop()

    def kill(self) -> None:
        assert self.child is not None
        self.child.kill()

    def log(self) -> str:
        assert self.child is not None
        return self.child.log_path.read_text()


def runs(clients: Clients) -> list[dict[str, Any]]:
    """Every training run the trigger launched (any status), with the dataset version it is for."""
    found = clients.api.ok(
        "tasks.get_all",
        {"tags": ["retrain"], "system_tags": ["-archived"], "only_fields": ["id", "tags", "status", "hyperparams"]},
    )["tasks"]
    result = []
    for task in found:
        dataset = next((tag.split(":", 1)[1] for tag in task["tags"] if tag.startswith("dataset:")), None)
        parameter = ((task.get("hyperparams") or {}).get("General") or {}).get("dataset_id", {}).get("value")
        result.append({"id": task["id"], "status": task["status"], "dataset": dataset, "parameter": parameter})
    return result


def runs_per_dataset(clients: Clients) -> Counter[str]:
    return Counter(run["dataset"] for run in runs(clients))
