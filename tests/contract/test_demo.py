"""`occuloop demo` (the interim version): server + real Dataset + Task flow, re-runnable without duplicates."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from services.child_processes import inherited_environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_runs_twice_reusing_its_dataset_and_says_where_state_lives(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    argv = [sys.executable, "-m", "services.cli", "demo", "--data-dir", str(data_dir)]
    argv += ["--api-port", str(free_port()), "--files-port", str(free_port())]  # URLs are stored: keep them stable
    env = inherited_environment(os.environ)
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(new version)" in first.stdout and "Light > 364.5     98.78%" in first.stdout
    assert str(data_dir.resolve()) in first.stdout
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(reused: same data as last run)" in second.stdout
    assert (data_dir / "server" / "occuloop-server.sqlite3").is_file()
    assert {path.name for path in (data_dir / "logs").iterdir()} == {
        "server.log",
        "register-data.log",
        "first-look.log",
    }
    assert "event=server_stopped" in (data_dir / "logs" / "server.log").read_text()
