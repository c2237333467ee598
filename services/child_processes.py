"""Run occuloop's processes as children: start, wait until ready, stop — for `occuloop demo` and the tests.

A child's stdout and stderr go to its own log file, so a process that dies can be reported with its last lines.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import http_client
from .clearml_server.app import ENV_FILE, RUNTIME_FILE, read_env_file


class ChildFailed(RuntimeError):
    """A child process exited or never became ready; the message carries its last log lines."""


def tail(path: Path, lines: int = 20) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit within `timeout` seconds."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def kill(self) -> None:
        """`kill -9`: no chance to clean up."""
        if self.alive():
            self.process.kill()
            self.process.wait()

    def failure(self, what: str) -> ChildFailed:
        return ChildFailed(
            f"{self.name} {what} (exit code {self.process.poll()}); last lines of {self.log_path}:\n{tail(self.log_path)}"
        )


def spawn(name: str, argv: Sequence[str], *, log_path: Path, env: Mapping[str, str], cwd: Path | None = None) -> Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(argv), stdout=log, stderr=subprocess.STDOUT, env=dict(env), cwd=cwd, start_new_session=True
        )
    return Child(name, process, log_path)


@dataclass
class EmbeddedServer:
    child: Child
    data_dir: Path
    api_url: str
    files_url: str
    client_env: dict[str, str] = field(default_factory=dict)  # the CLEARML_* variables for clients


def start_embedded_server(
    data_dir: Path,
    *,
    env: Mapping[str, str],
    api_port: int = 0,
    files_port: int = 0,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 60.0,
) -> EmbeddedServer:
    """Start `occuloop server` and return once both ports answer; ports 0 pick free ones."""
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime_file = data_dir / RUNTIME_FILE
    argv = [
        sys.executable,
        "-m",
        "services.clearml_server",
        "--data-dir",
        str(data_dir),
        "--api-port",
        str(api_port),
        "--files-port",
        str(files_port),
        *extra_args,
    ]
    child = spawn("occuloop server", argv, log_path=log_path or data_dir / "server.log", env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise child.failure("exited during start-up")
        runtime = _read_runtime(runtime_file)
        if runtime and runtime.get("pid") == child.process.pid and _answers(f"{runtime['api_url']}/healthz"):
            client_env = read_env_file(data_dir / ENV_FILE)
            return EmbeddedServer(child, data_dir, str(runtime["api_url"]), str(runtime["files_url"]), client_env)
        time.sleep(0.05)
    child.kill()
    raise child.failure(f"was not ready within {timeout:.0f} s")


def _read_runtime(path: Path) -> dict[str, object] | None:
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _answers(url: str) -> bool:
    return http_client.get(url, timeout=2).status == 200


SDK_CONFIG = Path(__file__).resolve().parent / "clearml-sdk.conf"


def inherited_environment(environ: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment for a child: the parent's, minus stale ClearML settings, plus occuloop's SDK settings
    (`clearml-sdk.conf`) and `extra`."""
    env = {key: value for key, value in environ.items() if not key.startswith(("CLEARML_", "TRAINS_"))}
    env["CLEARML_CONFIG_FILE"] = str(SDK_CONFIG)
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
