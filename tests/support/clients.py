"""Drive a running `occuloop server` with the real clients: SDK flow scripts, CLIs and a raw API client."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from services.child_processes import Child, EmbeddedServer, inherited_environment, spawn

FLOWS = Path(__file__).resolve().parent.parent / "contract" / "flows"
RESULT_PREFIX = "RESULT "
BIN = Path(sys.executable).parent


class FlowFailed(AssertionError):
    pass


class Clients:
    """Runs client programs against one server, each with an isolated HOME (the SDK's cache lives there)."""

    def __init__(self, server: EmbeddedServer, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = inherited_environment(os.environ, HOME=str(self.home), **server.client_env)
        self.api = RawApi(server)

    def run(self, argv: Sequence[str], *, timeout: float = 120, extra_env: Mapping[str, str] | None = None) -> str:
        try:
            completed = subprocess.run(
                list(argv),
                cwd=self.workdir,
                env={**self.env, **(extra_env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as expired:
            partial = (expired.stdout or b"").decode(errors="replace") + (expired.stderr or b"").decode(
                errors="replace"
            )
            raise FlowFailed(f"{' '.join(argv)} did not finish within {timeout:.0f} s:\n{partial[-6000:]}") from None
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            raise FlowFailed(f"{' '.join(argv)} exited {completed.returncode}:\n{output[-6000:]}")
        return output

    def flow(
        self, name: str, *args: str, timeout: float = 120, extra_env: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Run tests/contract/flows/<name>.py; it reports one `RESULT {json}` line.

        The script is copied out of this git checkout first: inside it, the SDK spends minutes on repository
        detection and requirement analysis of the whole tree (including .venv)."""
        script = self.workdir / f"{name}.py"
        shutil.copy(FLOWS / f"{name}.py", script)
        output = self.run([sys.executable, str(script), *args], timeout=timeout, extra_env=extra_env)
        for line in reversed(output.splitlines()):
            if line.startswith(RESULT_PREFIX):
                return dict(json.loads(line[len(RESULT_PREFIX) :]))
        raise FlowFailed(f"flow {name} printed no RESULT line:\n{output[-6000:]}")

    def cli(self, program: str, *args: str, timeout: float = 120) -> str:
        return self.run([str(BIN / program), *args], timeout=timeout)

    def spawn(self, name: str, argv: Sequence[str], extra_env: Mapping[str, str] | None = None) -> Child:
        return spawn(
            name, argv, log_path=self.workdir / f"{name}.log", env={**self.env, **(extra_env or {})}, cwd=self.workdir
        )


class RawApi:
    """Plain HTTP calls, for asserting on server state without the SDK in the test process."""

    def __init__(self, server: EmbeddedServer) -> None:
        self.base = server.api_url
        self.files = server.files_url
        self.session = requests.Session()
        basic = f"{server.client_env['CLEARML_API_ACCESS_KEY']}:{server.client_env['CLEARML_API_SECRET_KEY']}"
        self.basic = "Basic " + base64.b64encode(basic.encode()).decode()
        self.token = ""

    def login(self) -> str:
        response = self.session.get(f"{self.base}/auth.login", headers={"Authorization": self.basic}, timeout=30)
        response.raise_for_status()
        self.token = response.json()["data"]["token"]
        return self.token

    def call(self, endpoint: str, body: Any = None, *, method: str = "post") -> tuple[int, dict[str, Any]]:
        if not self.token:
            self.login()
        response = self.session.request(
            method,
            f"{self.base}/v2.23/{endpoint}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        document = response.json()
        assert response.status_code == document["meta"]["result_code"]
        return response.status_code, document

    def ok(self, endpoint: str, body: Any = None) -> dict[str, Any]:
        status, document = self.call(endpoint, body)
        assert status == 200, document["meta"]
        return dict(document["data"])

    def task(self, task_id: str) -> dict[str, Any]:
        return dict(self.ok("tasks.get_by_id", {"task": task_id})["task"])

    def log_lines(self, task_id: str) -> list[str]:
        events = self.ok("events.get_task_log", {"task": task_id, "batch_size": 10000, "order": "asc"})["events"]
        return [line for event in events for line in str(event.get("msg", "")).splitlines()]

    def wait_for(self, what: str, predicate: Callable[[], Any], timeout: float = 120, interval: float = 0.5) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
