"""Run `occuloop trigger` as a child process against a test server, and read the ledger it leaves."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import requests

from tests.support.clients import Clients
from tests.support.service_process import ServiceProcess


class TriggerProcess(ServiceProcess):
    ready_timeout = 90.0
    ready_interval = 0.2
    status_timeout = 5.0

    def __init__(
        self,
        clients: Clients,
        *,
        name: str = "trigger",
        project: str = "occuloop/labels",
        queue: str = "training",
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(clients, name, env)
        self.argv = [
            sys.executable, "-m", "services.cli", "trigger", "--dataset-project", project, "--queue", queue,
            "--poll-seconds", "1", "--port", str(self.port), *(extra or []),
        ]  # fmt: skip

    def ready(self) -> bool:
        return "template_task_id" in requests.get(f"{self.url}/status", timeout=2).json()

    def notify(self, dataset_id: str) -> int:
        return requests.post(f"{self.url}/notify", json={"dataset_id": dataset_id}, timeout=5).status_code


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
