"""`occuloop demo --keep-running` on free ports, as the fixture of tests/live_loop: a loop built by the real services
(server, agent, sync, trigger, gate, canary controller, serving, UI), started once and watched while it plays."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from services.child_processes import inherited_environment
from services.settings import ENV_FILE, read_env_file
from tests.support.service_process import free_port

PORT_NAMES = ("api", "files", "sync", "trigger", "rollout", "serving", "ui")
DONE_LINE = "Everything keeps running"


class DemoLoop:
    """One `occuloop demo --sessions N --fast --keep-running` process group, its output collected line by line."""

    def __init__(self, data_dir: Path, sessions: int = 3, on_row: Callable[[str], None] | None = None) -> None:
        """`on_row(line)` is called for each session row of the demo's table as it is printed (on the reader
        thread, before the next line is read): what a test must see at that moment, it records there."""
        self.data_dir = data_dir
        self.on_row = on_row
        self.ports = {name: free_port() for name in PORT_NAMES}
        argv = [sys.executable, "-m", "services.cli", "demo", "--sessions", str(sessions), "--fast", "--keep-running",
                "--data-dir", str(data_dir), *(f"--{name}-port={port}" for name, port in self.ports.items())]  # fmt: skip
        env = inherited_environment(os.environ, OCCULOOP_CANARY_MAX_RATE_SHIFT="0.6")  # as tests/contract/test_demo.py
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                        start_new_session=True)  # fmt: skip
        self.lines: list[str] = []
        self.scrapes: Any = None  # tests/live_loop's metrics recorder (tests.support.metrics.LoopScrapes)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if self.on_row is not None and line.startswith("2015-"):
                self.on_row(line)
            self.lines.append(line)

    def url(self, process: str) -> str:
        """The base URL of a process of the loop (the server: its API)."""
        return f"http://127.0.0.1:{self.ports['api' if process == 'server' else process]}"

    @property
    def ui(self) -> str:
        return f"http://127.0.0.1:{self.ports['ui']}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def client_env(self) -> dict[str, str]:
        return read_env_file(self.data_dir / "server" / ENV_FILE)

    def wait(self, what: str, predicate: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited ({self.process.returncode}) waiting for {what}:\n{self.output}")
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}:\n{self.output[-5000:]}")

    def wait_for_ui(self) -> None:
        def answers() -> bool:
            try:
                return requests.get(f"{self.ui}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        self.wait("the UI", answers, 180)

    def wait_until_played(self, timeout: float = 1200) -> None:
        self.wait("every session to be played", lambda: DONE_LINE in self.output, timeout)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in
                         sorted((self.data_dir / "logs").glob("*.log")))  # fmt: skip

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return int(self.process.returncode)
