"""Whether a child process has reached occuloop's own code: it catches SIGTERM only once occuloop installed its
handler (before that, the interpreter holds nothing and the default action applies)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from services.child_processes import Child, tail


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (SigCgt in /proc/<pid>/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def wait_until_it_catches_sigterm(child: Child, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not catches_sigterm(child.process.pid):
        assert child.alive(), f"{child.name} exited during start-up:\n{tail(child.log_path)}"
        assert time.monotonic() < deadline, f"{child.name} never installed its SIGTERM handler"
        time.sleep(0.01)
