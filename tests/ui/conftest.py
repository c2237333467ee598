"""The UI's tests over one loop built by the real services (`occuloop demo --sessions 3 --fast`, free ports),
started once per test session by the first test that asks for it and watched while it plays (the browser's live
test opens the timeline before the sessions arrive)."""

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

FLOWS = Path(__file__).resolve().parent / "flows"
HOSTILE_FILE = '<img src=x onerror="alert(1)">.csv'  # a session file name with markup (no slash: a file name)


@pytest.fixture(scope="session")
def demo_loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLoop]:
    loop = DemoLoop(tmp_path_factory.mktemp("ui-demo") / "data")
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
