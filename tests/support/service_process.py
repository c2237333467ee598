"""One occuloop service (sync, trigger, ...) as a child process of a test: start, wait until ready, look, stop."""

from __future__ import annotations

import socket
from typing import Any

import requests

from services.child_processes import Child
from tests.support.clients import Clients


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServiceProcess:
    """Subclasses set `argv` (with `self.port`) and say when the service is ready."""

    ready_timeout = 60.0
    ready_interval = 0.1
    status_timeout = 10.0

    def __init__(self, clients: Clients, name: str, env: dict[str, str] | None = None) -> None:
        self.clients = clients
        self.name = name
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv: list[str] = []
        self.child: Child | None = None

    def start(self, wait: bool = True) -> Any:
        self.child = self.clients.spawn(self.name, self.argv, self.env)
        if wait:
            self.clients.api.wait_for(
                f"{self.name} to be ready",
                self._alive_and_ready,
                timeout=self.ready_timeout,
                interval=self.ready_interval,
            )
        return self

    def _alive_and_ready(self) -> bool:
        assert self.child is not None
        if not self.child.alive():
            raise self.child.failure("exited")
        try:
            return self.ready()
        except requests.ConnectionError:
            return False

    def ready(self) -> bool:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.url}/status", timeout=self.status_timeout).json())

    def stop(self) -> int:
        assert self.child is not None
        return self.child.stop()

    def kill(self) -> None:
        assert self.child is not None
        self.child.kill()

    def log(self) -> str:
        assert self.child is not None
        return self.child.log_path.read_text()
