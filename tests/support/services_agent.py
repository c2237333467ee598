"""Run `occuloop services-agent` (a real clearml-agent in services mode running the sync, trigger and rollout as
ClearML service tasks) against a test server, and read its service tasks."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import requests

from services.child_processes import Child
from services.service_tasks.spec import TAG_PREFIX
from tests.support.clients import Clients
from tests.support.service_process import free_port

READY_LINES = {"sync": "event=sync_started", "trigger": "event=trigger_ready", "rollout": "event=rollout_ready"}


class ServicesAgent:
    def __init__(self, clients: Clients, inbox: Path, *, queue: str, worker_id: str, env: dict[str, str]) -> None:
        self.clients = clients
        self.queue = queue
        self.worker_id = worker_id
        self.ports = {name: free_port() for name in READY_LINES}
        self.env = {
            "OCCULOOP_SYNC_INBOX": str(inbox),
            "OCCULOOP_SYNC_PORT": str(self.ports["sync"]),
            "OCCULOOP_SYNC_POLL_SECONDS": "0.2",
            "OCCULOOP_TRIGGER_PORT": str(self.ports["trigger"]),
            "OCCULOOP_TRIGGER_URL": f"http://127.0.0.1:{self.ports['trigger']}/notify",
            "OCCULOOP_ROLLOUT_PORT": str(self.ports["rollout"]),
            "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
            **env,
        }
        self.child: Child | None = None
        self.starts = 0

    @property
    def argv(self) -> list[str]:
        return [sys.executable, "-m", "services.cli", "services-agent", "--queue", self.queue, "--worker-id",
                self.worker_id]  # fmt: skip

    def start(self) -> ServicesAgent:
        self.starts += 1
        self.child = self.clients.spawn(f"services-agent-{self.starts}", self.argv, self.env)
        return self

    def kill_everything(self) -> None:
        """kill -9 to the agent and every process under it (its service tasks too), as when its pod dies."""
        assert self.child is not None
        os.killpg(self.child.process.pid, signal.SIGKILL)
        self.child.process.wait()

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop(timeout=90)

    def log(self) -> str:
        assert self.child is not None
        return self.child.log_path.read_text(errors="replace")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def tasks(self) -> dict[str, dict[str, Any]]:
        """The unarchived service tasks, by service."""
        found = self.clients.api.ok(
            "tasks.get_all",
            {"type": ["service"], "system_tags": ["-archived"], "only_fields": ["id", "tags", "status", "hyperparams"]},
        )["tasks"]
        by_service: dict[str, dict[str, Any]] = {}
        for task in found:
            for tag in task["tags"]:
                if tag.startswith(TAG_PREFIX):
                    assert tag[len(TAG_PREFIX) :] not in by_service, f"two tasks for {tag}"
                    by_service[tag[len(TAG_PREFIX) :]] = task
        return by_service

    def wait_running(self, timeout: float = 300) -> dict[str, dict[str, Any]]:
        """Until this start of the agent registered the services, and each service's task runs and its console says
        the service is up (a task enqueued again starts with an empty console)."""

        def running() -> dict[str, dict[str, Any]] | None:
            assert self.child is not None
            if not self.child.alive():
                raise self.child.failure("exited")
            if "event=services_agent_started" not in self.log():
                return None
            tasks = self.tasks()
            for name, line in READY_LINES.items():
                task = tasks.get(name)
                if task is None or task["status"] != "in_progress":
                    return None
                if not any(line in entry for entry in self.clients.api.log_lines(task["id"])):
                    return None
            return tasks

        return dict(self.clients.api.wait_for("the three service tasks to run", running, timeout=timeout, interval=1))

    def press_upload(self) -> dict[str, Any]:
        return dict(requests.post(f"{self.url('sync')}/sync?wait=120", timeout=150).json())
