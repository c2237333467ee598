"""The end-to-end test: `occuloop demo` with three sessions and one corrupted delivery, on the embedded server with
a real clearml-agent, the sync and trigger services and the gate — every link of the loop with the others."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

from services.child_processes import inherited_environment, start_embedded_server
from services.loop_state import Api, read, receipt
from tests.support.service_process import free_port


def test_the_loop_end_to_end_through_ctrl_c_and_resume(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    ports = {name: free_port() for name in ("api", "files", "sync", "trigger", "rollout", "serving")}
    argv = [
        sys.executable, "-m", "services.cli", "demo", "--data-dir", str(data_dir), "--sessions", "3", "--fast",
        "--api-port", str(ports["api"]), "--files-port", str(ports["files"]),
        "--sync-port", str(ports["sync"]), "--trigger-port", str(ports["trigger"]),
        "--serving-port", str(ports["serving"]), "--rollout-port", str(ports["rollout"]),
    ]  # fmt: skip
    # the chain is under test here, not the canary's prediction-shift rule (tests/serving/test_canary.py): two
    # 8-epoch networks may disagree more than the demo's default allows
    env = inherited_environment(os.environ, OCCULOOP_CANARY_MAX_RATE_SHIFT="0.6")

    # Ctrl-C after the first session: every process stops cleanly, nothing is left listening
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as interrupted:
        assert interrupted.stdout is not None
        for line in interrupted.stdout:
            if line.startswith("2015-02-04"):
                interrupted.send_signal(signal.SIGINT)
                break
        assert interrupted.wait(timeout=120) == 130
    for name, port in ports.items():
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"{name} still listening after Ctrl-C"

    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted((data_dir / "logs").glob("*.log")))
    assert first.returncode == 0, first.stdout + first.stderr + logs
    lines = first.stdout.splitlines()
    # Ctrl-C came right after the first row; the demo may have finished the (quick) quarantine step meanwhile
    resumed = re.search(r"resuming: (\d) of 4 sessions already played", first.stdout)
    assert resumed is not None and resumed.group(1) in ("1", "2"), first.stdout
    if resumed.group(1) == "1":
        flipped = [line for line in lines if line.startswith("2015-02-05 (flipped)")]
        assert flipped and "quarantined: label_disagreement" in flipped[0]
    assert "occuloop demo — done" in first.stdout and str(data_dir.resolve()) in first.stdout
    # the endpoint answered through clearml-serving, naming the model and the data that gave the answer
    curl = next(line for line in lines if line.strip().startswith("curl -s"))
    assert f"http://127.0.0.1:{ports['serving']}/serve/occupancy" in curl
    answer = json.loads(lines[lines.index(curl) + 1])

    # the state, read back from the server the demo left behind
    server = start_embedded_server(data_dir / "server", env=env, api_port=ports["api"], files_port=ports["files"])
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
        assert steps == weights, steps  # the first model alone takes all traffic; the next goes 10 -> 50 -> 100 %

    # the corrupted delivery is quarantined and its content never reached a version
    reason = json.loads((data_dir / "inbox" / "quarantine" / "2015-02-05.csv.reason.json").read_text())
    assert reason["reasons"] == ["label_disagreement"]
    journal = sqlite3.connect(next((data_dir / "inbox" / ".occuloop-sync").glob("*.sqlite3")))
    states = dict(journal.execute("SELECT state, COUNT(*) FROM files WHERE name = '2015-02-05.csv' GROUP BY state"))
    assert states == {"rejected": 1, "committed": 1}

    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming: 4 of 4 sessions already played" in second.stdout
    assert "training runs     3 (3 completed)" in second.stdout
