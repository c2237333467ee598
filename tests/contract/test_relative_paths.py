"""Every command that takes a path, run from another working directory with a relative path: the state lands
under that working directory, exactly where an absolute spelling of the same directory puts it (issue 14: the
demo handed relative paths to children that ran elsewhere, and its sync watched an empty folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.child_processes import inherited_environment
from services.clearml_server.app import ENV_FILE, RUNTIME_FILE, read_env_file
from services.settings import ServerSettings, SyncSettings, absolute_path
from tests.support.service_process import free_port

OCCULOOP = [sys.executable, "-m", "services.cli"]


def occuloop(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        [*OCCULOOP, *args], cwd=cwd, env=env or inherited_environment(os.environ), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_relative_path_means_the_same_directory_as_its_absolute_spelling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_path("state") == absolute_path(str(tmp_path / "state")) == tmp_path.resolve() / "state"
    assert absolute_path("./a/../state") == tmp_path.resolve() / "state"
    # the environment's paths are resolved when read, against the directory the command runs in
    assert ServerSettings.from_env({"OCCULOOP_DATA_DIR": "srv"}).data_dir == tmp_path.resolve() / "srv"
    assert SyncSettings.from_env({}).inbox == tmp_path.resolve() / ".occuloop" / "inbox"
    monkeypatch.chdir(tmp_path.parent)
    assert SyncSettings.from_env({"OCCULOOP_SYNC_INBOX": "in"}).inbox == tmp_path.parent.resolve() / "in"


def test_sessions_and_label_replay_write_under_the_working_directory(tmp_path: Path) -> None:
    occuloop(tmp_path, "sessions", "--out", "cut")
    assert len(list((tmp_path / "cut" / "sessions").glob("*.csv"))) == 14
    assert (tmp_path / "cut" / "holdout" / "test1.csv").is_file()
    printed = occuloop(tmp_path, "label-replay", "--inbox", "inbox", "--sessions", "2")
    assert sorted(path.name for path in (tmp_path / "inbox").glob("*.csv")) == ["2015-02-04.csv", "2015-02-05.csv"]
    assert str((tmp_path / "inbox").resolve()) in printed


def _wait_for_file(path: Path, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"exited with {process.returncode} before writing {path}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def test_server_sync_and_status_keep_their_state_under_the_working_directory(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    # the server's data dir from the environment (relative), the sync's inbox and status's data dir from flags
    server_env = inherited_environment(os.environ, OCCULOOP_DATA_DIR="demo/server")
    argv = [*OCCULOOP, "server", "--api-port", str(free_port()), "--files-port", str(free_port())]
    server = subprocess.Popen(argv, cwd=work, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_file(work / "demo" / "server" / RUNTIME_FILE, server)
        client_env = inherited_environment(
            os.environ, HOME=str(tmp_path / "home"), **read_env_file(work / "demo" / "server" / ENV_FILE)
        )
        occuloop(work, "label-replay", "--inbox", "demo/inbox", "--sessions", "1", env=client_env)
        occuloop(work, "sync", "--inbox", "demo/inbox", "--once", "--port", "0", env=client_env)
        assert not list((work / "demo" / "inbox").glob("*.csv")), "the sync did not take the delivered file"
        assert list((work / "demo" / "inbox" / ".occuloop-sync").glob("*.sqlite3")), "no journal under the inbox"
        status = json.loads(occuloop(work, "status", "--data-dir", "demo", "--json", env=inherited_environment({})))
        assert status["versions"] == 1
        assert not (work / "demo" / "demo" / "inbox").exists() and not (work / ".occuloop").exists()
    finally:
        server.terminate()
        assert server.wait(timeout=60) == 0
