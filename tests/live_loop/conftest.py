"""Tests over one live loop built by the real services (`occuloop demo --sessions 3 --fast`, free ports): the UI
in a browser and in-process, and every process's metrics. The loop starts once per test session, with the first
test that asks for it, and is watched while it plays: the browser's live test (test_browser.py, first in this folder)
opens the timeline before the sessions arrive, and the sync's and trigger's metrics are scraped as each session row
is printed (test_metrics.py checks them once everything is played)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.child_processes import inherited_environment
from tests.support.demo_loop import DemoLoop
from tests.support.metrics import PROCESSES, LoopScrapes

FLOWS = Path(__file__).resolve().parent / "flows"
HOSTILE_FILE = '<img src=x onerror="alert(1)">.csv'  # a session file name with markup (no slash: a file name)


class _RowScrapes:
    """Scrapes the sync and the trigger as each row is printed (the loop's ports are known once it is created)."""

    scrapes: LoopScrapes | None = None

    def after_row(self, row: str) -> None:
        if self.scrapes is not None:
            self.scrapes.after_row(row)


@pytest.fixture(scope="session")
def demo_loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLoop]:
    recorder = _RowScrapes()
    loop = DemoLoop(tmp_path_factory.mktemp("live-loop") / "data", on_row=recorder.after_row)
    recorder.scrapes = LoopScrapes({process: loop.url(process) for process in PROCESSES})
    loop.scrapes = recorder.scrapes
    try:
        loop.wait_for_ui()
        yield loop
    finally:
        code = loop.stop()
        assert code in (0, 130), f"the demo ended with {code}:\n{loop.output}\n{loop.logs()}"


@pytest.fixture(scope="session")
def played(demo_loop: DemoLoop) -> DemoLoop:
    """The loop once every session has been played (a champion, a canary ramped, a quarantined delivery)."""
    demo_loop.wait_until_played()
    return demo_loop


@pytest.fixture(scope="session")
def hostile(played: DemoLoop, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A task (name, tag, console line, scalar and plot titles) and a dataset (name) with markup in them, made with
    the real SDK, and a quarantined session file with markup in its name (delivered to the sync's inbox)."""
    workdir = tmp_path_factory.mktemp("hostile")
    script = workdir / "hostile_objects.py"  # outside the checkout: the SDK would scan the whole repository
    shutil.copy(FLOWS / "hostile_objects.py", script)
    env = inherited_environment(os.environ, HOME=str(workdir), **played.client_env())
    done = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    made: dict[str, str] = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    (played.data_dir / "inbox" / HOSTILE_FILE).write_text("")  # rejected: empty_file
    answer = requests.post(f"http://127.0.0.1:{played.ports['sync']}/sync?wait=60", timeout=90)
    assert answer.ok, answer.text
    assert (played.data_dir / "inbox" / "quarantine" / f"{HOSTILE_FILE}.reason.json").exists()
    return made
