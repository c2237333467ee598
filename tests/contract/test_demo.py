"""The end-to-end test: `make demo` exactly as the README says — from a copy of the checkout as the working
directory, with the default relative data dir (`.occuloop`) and default ports, only `DEMO_ARGS` for the short form —
with three sessions and one corrupted delivery, on the embedded server with a real clearml-agent, the sync and
trigger services, the gate and the canary: every link of the loop with the others, through two Ctrl-Cs (one between
sessions, one in the middle of a session), a resume and a re-run that has nothing left to do."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.child_processes import inherited_environment, start_embedded_server
from services.clearml_server.app import read_env_file
from services.loop_state import Api, LoopState, read, receipt
from tests.support.checkout import copy_of_checkout, make_environment

DEMO_ARGS = "DEMO_ARGS=--sessions 3 --fast"
pytestmark = pytest.mark.timeout(3000)  # four `make demo` runs, each starting the whole loop
PORTS = {"api": 8008, "files": 8081, "sync": 8090, "trigger": 8091, "rollout": 8092, "serving": 9090, "ui": 8080}


class MakeDemo:
    """One `make demo` in the clone, its output read line by line as a user would watch it."""

    def __init__(self, clone: Path, env: dict[str, str]) -> None:
        self.clone = clone
        self.process = subprocess.Popen(
            ["make", "demo", DEMO_ARGS], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,  # its own process group, like a shell's foreground job
        )  # fmt: skip
        self.lines: list[str] = []
        self.stderr = ""
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    def __enter__(self) -> MakeDemo:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:  # a failed assertion: leave nothing running behind the test
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=180)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()

    def _stderr_complete(self) -> None:
        """The reader thread holds stderr until the pipe closes; the group being gone does not mean it has stored
        it yet (CI saw an empty `stderr` right after a Ctrl-C)."""
        self._stderr_reader.join(timeout=60)

    def until(self, predicate: Callable[[str], bool]) -> Iterator[str]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            yield line
            if predicate(line):
                return
        raise AssertionError("make demo ended before the expected line:\n" + "".join(self.lines) + self.stderr)

    def ctrl_c(self) -> None:
        """SIGINT to the foreground process group (make and the demo), as a terminal sends it; returns once the
        group is gone, which the demo leaves only after it stopped its children."""
        os.killpg(self.process.pid, signal.SIGINT)
        assert self.process.stdout is not None
        self.lines += self.process.stdout.readlines()
        assert self.process.wait(timeout=180) != 0
        _wait(lambda: not _group_alive(self.process.pid), 120, "the demo's processes to exit after Ctrl-C")
        self._stderr_complete()
        assert "interrupted: stopping every process cleanly" in self.stderr, self.output

    def finish(self, timeout: float) -> str:
        assert self.process.stdout is not None
        self.lines += self.process.stdout.readlines()  # until the demo ends (pytest's timeout bounds it)
        self.process.wait(timeout=timeout)
        self._stderr_complete()
        assert self.process.returncode == 0, self.output + _logs(self.clone / ".occuloop")
        return self.output

    @property
    def output(self) -> str:
        return "".join(self.lines) + "\n--- stderr\n" + self.stderr


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _logs(data_dir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((data_dir / "logs").glob("*.log")))


def _nothing_listens() -> None:
    for name, port in PORTS.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{name} still listening on {port} after Ctrl-C"


def _state(data_dir: Path) -> LoopState | None:
    try:
        env = read_env_file(data_dir / "server" / "clearml.env")
        return read(Api(env["CLEARML_API_HOST"], env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"]))
    except (OSError, KeyError, RuntimeError):
        return None


def _has_version_of(data_dir: Path, session: str) -> bool:
    state = _state(data_dir)
    return state is not None and any(session in v.sessions and v.completed for v in state.versions)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for name, port in PORTS.items():  # the README's defaults: a demo already running here would be a different test
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} ({name}) is taken: stop the running demo first")
    return copy_of_checkout(tmp_path / "occuloop")


def test_make_demo_from_a_fresh_checkout_through_ctrl_c_resume_and_a_rerun(clone: Path) -> None:
    data_dir = clone / ".occuloop"  # the README's default, relative to where `make demo` runs
    user_env = {key: value for key, value in os.environ.items() if not key.startswith("CLEARML_")}
    # the chain is under test here, not the canary's prediction-shift rule (tests/serving/test_canary.py): two
    # 8-epoch networks may disagree more than the demo's default allows
    env = make_environment(user_env | {"OCCULOOP_CANARY_MAX_RATE_SHIFT": "0.6"})

    # Ctrl-C between sessions, right after the first row: every process stops cleanly, nothing is left listening
    with MakeDemo(clone, env) as first:
        for _ in first.until(lambda line: line.startswith("2015-02-04")):
            pass
        first.ctrl_c()
    _nothing_listens()
    assert "quarantined: nothing to sync" not in first.output
    sync_log = (data_dir / "logs" / "sync.log").read_text()
    assert f"inbox={data_dir.resolve() / 'inbox'}" in sync_log, sync_log[-2000:]  # not .occuloop/.occuloop/inbox
    assert not (data_dir / ".occuloop").exists()

    # Ctrl-C in the middle of a session: 2015-02-06 taken in as a version, its training and canary not yet done
    with MakeDemo(clone, env) as second:
        for _ in second.until(lambda line: line.startswith("2015-02-05 ") and "(flipped)" not in line):
            pass
        _wait(lambda: _has_version_of(data_dir, "2015-02-06.csv"), 300, "the version of 2015-02-06")
        second.ctrl_c()
    _nothing_listens()
    assert re.search(r"resuming: [12] of 4 sessions already played", second.output), second.output
    if "resuming: 1 of 4" in second.output:
        flipped = [line for line in second.lines if line.startswith("2015-02-05 (flipped)")]
        assert flipped and "quarantined: label_disagreement" in flipped[0], second.output

    # the resume follows the interrupted session from where it was, and the demo ends with a champion
    with MakeDemo(clone, env) as resumed_run:
        output = resumed_run.finish(timeout=1500)
    lines = output.splitlines()
    assert "resuming: 3 of 4 sessions already played" in output, output
    resumed = [line for line in lines if line.startswith("2015-02-06")]
    assert len(resumed) == 1 and "accepted" in resumed[0], output
    assert "occuloop demo — done" in output and str(data_dir.resolve()) in output
    assert f"watch the loop in a browser at http://127.0.0.1:{PORTS['ui']}/" in output  # the UI, from the start
    assert f"The champion in the web UI: http://127.0.0.1:{PORTS['ui']}/projects/*/models/" in output
    # the endpoint answered through clearml-serving, naming the model and the data that gave the answer
    curl = next(line for line in lines if line.strip().startswith("curl -s"))
    assert f"http://127.0.0.1:{PORTS['serving']}/serve/occupancy" in curl
    answer = json.loads(lines[lines.index(curl) + 1])

    # the state, read back from the server the demo left behind
    server = start_embedded_server(
        data_dir / "server", env=inherited_environment(env), api_port=PORTS["api"], files_port=PORTS["files"]
    )
    try:
        api = Api(
            server.api_url, server.client_env["CLEARML_API_ACCESS_KEY"], server.client_env["CLEARML_API_SECRET_KEY"]
        )
        state = read(api)
        versions = [version for version in state.versions if version.status == "completed"]
        assert [version.sessions for version in versions] == ["2015-02-04.csv", "2015-02-05.csv", "2015-02-06.csv"]
        assert all("Production" in version.tags for version in versions)
        # each accepted session -> exactly one version -> exactly one completed training run -> one gate receipt
        runs = [state.run_for(version.dataset_id) for version in versions]
        assert len(state.runs) == 3 and all(run is not None and run.status == "completed" for run in runs)
        decisions = [state.decision_for(run.model_id) for run in runs if run]
        assert [decision.decision for decision in decisions if decision] == [
            "gate_failed",
            "gate_passed",
            "gate_passed",
        ]
        first_receipt = receipt(api, decisions[0])  # type: ignore[arg-type]
        assert first_receipt["rule"] == "training_data"  # one day of data: the gate refuses, whatever it scores
        promoted = [d.model_id for d in state.decisions if d.decision == "promoted"]
        assert promoted == [runs[1].model_id, runs[2].model_id]  # type: ignore[union-attr]
        assert state.champion == runs[2].model_id == answer["model_id"]  # type: ignore[union-attr]
        assert answer["dataset_id"] == versions[2].dataset_id and answer["occupied"] is True
        assert state.queues.get("training") == 0
    finally:
        server.child.stop()
    rollout_log = (data_dir / "logs" / "rollout.log").read_text()
    for model_id, weights in ((runs[1].model_id, ["1"]), (runs[2].model_id, ["0.1", "0.5", "1"])):  # type: ignore[union-attr]
        steps = re.findall(rf"event=canary_step model_id={model_id} .* weight=(\S+) ", rollout_log)
        assert steps[-len(weights) :] == weights, steps  # the first model takes all traffic; the next 10 -> 50 -> 100 %

    # the corrupted delivery is quarantined and its content never reached a version
    reason = json.loads((data_dir / "inbox" / "quarantine" / "2015-02-05.csv.reason.json").read_text())
    assert reason["reasons"] == ["label_disagreement"]
    journal = sqlite3.connect(next((data_dir / "inbox" / ".occuloop-sync").glob("*.sqlite3")))
    states = dict(journal.execute("SELECT state, COUNT(*) FROM files WHERE name = '2015-02-05.csv' GROUP BY state"))
    assert states == {"rejected": 1, "committed": 1}

    # `make demo` again after a complete run: nothing to play, nothing changes, and it says so
    with MakeDemo(clone, env) as rerun:
        again = rerun.finish(timeout=900)
    assert "nothing to play: all 4 sessions were already played" in again, again
    assert "training runs     3 (3 completed)" in again
