"""Benchmark of one loop iteration (issue 8): from a finished labeled file to the new model taking canary traffic,
broken down per stage, measured on a real `occuloop demo --fast` run (server, clearml-agent, sync, trigger, gate,
canary controller, clearml-serving inference app).

Stages per session, from the processes' own structured log lines and the server's task timestamps:
  sync       session file delivered → dataset version finalized (the labeler pressed "upload")
  trigger    version finalized → training run enqueued
  agent      enqueued → training run started by clearml-agent
  training   started → completed (the model's own cost: excluded from the overhead)
  gate       training completed → gate task started (agent pick-up) → gate_passed receipt written
  serving    gate passed → the version registered, picked up by the inference app and answering its probe →
             first canary step (the model takes traffic)
The stock-ClearML comparison uses its default intervals: TriggerScheduler polling 3 min, agent polling 5 s,
clearml-serving configuration sync 5 min (expected waits: half of each interval; worst case: all of it).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from services.child_processes import inherited_environment, start_embedded_server
from services.loop_state import Api, read
from tests.support.service_process import free_port

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) ")
STOCK_INTERVALS_S = {"trigger": 180.0, "agent": 5.0, "serving": 300.0}


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _events(text: str, event: str, key: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        match = STAMP.match(line)
        if match and f"event={event} " in line:
            value = re.search(rf"\b{key}=(\S+)", line)
            if value:
                found.setdefault(value.group(1), _when(match.group(1)))
    return found


def run_all(quick: bool = False) -> dict[str, Any]:
    sessions = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="occuloop-loop-bench-") as folder:
        data_dir = Path(folder) / "demo"
        ports = {name: free_port() for name in ("api", "files", "sync", "trigger", "rollout", "serving")}
        argv = [
            sys.executable, "-m", "services.cli", "demo", "--data-dir", str(data_dir), "--sessions", str(sessions),
            "--fast", "--api-port", str(ports["api"]), "--files-port", str(ports["files"]),
            "--sync-port", str(ports["sync"]), "--trigger-port", str(ports["trigger"]),
            "--serving-port", str(ports["serving"]), "--rollout-port", str(ports["rollout"]),
        ]  # fmt: skip
        env = inherited_environment(os.environ)
        demo = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=3600, check=True)
        delivered = _events(demo.stdout + demo.stderr, "session_delivered", "session")
        logs = data_dir / "logs"
        finalized = _events((logs / "sync.log").read_text(), "dataset_version_finalized", "dataset_id")
        fired = _events((logs / "trigger.log").read_text(), "trigger_fired", "dataset_id")
        canary = _events((logs / "rollout.log").read_text(), "canary_step", "model_id")  # first step: traffic
        server = start_embedded_server(data_dir / "server", env=env, api_port=ports["api"], files_port=ports["files"])
        try:
            api = Api(
                server.api_url, server.client_env["CLEARML_API_ACCESS_KEY"], server.client_env["CLEARML_API_SECRET_KEY"]
            )
            state = read(api)
            rows = []
            for version in state.versions:
                run = state.run_for(version.dataset_id)
                passed = state.decision_for(run.model_id if run else None, ("gate_passed",))
                day = version.sessions.removesuffix(".csv")
                if run is None or passed is None or day not in delivered or run.model_id not in canary:
                    continue  # refused at the gate: nothing reaches serving
                task = api.call("tasks.get_by_id", {"task": run.run_id})["task"]
                gate = api.call("tasks.get_all", {"name": f"^gate {run.model_id}$", "only_fields": ["started"]})
                receipt = api.call("tasks.get_by_id", {"task": passed.receipt_id})["task"]
                started, completed = _when(task["started"]), _when(task["completed"])
                gate_started = _when(gate["tasks"][0]["started"])
                stages = {
                    "sync": finalized[version.dataset_id] - delivered[day],
                    "trigger": fired[version.dataset_id] - finalized[version.dataset_id],
                    "agent": started - fired[version.dataset_id],
                    "training": completed - started,
                    "gate agent pick-up": gate_started - completed,
                    "gate": _when(receipt["created"]) - gate_started,
                    # registering the version, the app picking it up on its next poll, the probe answering
                    "serving config propagation": canary[str(run.model_id)] - _when(receipt["created"]),
                }
                rows.append(stages)
        finally:
            server.child.stop()
    medians = {stage: round(statistics.median(row[stage] for row in rows), 2) for stage in rows[0]}
    overhead = round(sum(value for stage, value in medians.items() if stage != "training"), 2)
    stock_expected = sum(interval / 2 for interval in STOCK_INTERVALS_S.values())
    return {
        "iterations": len(rows),
        "median_stage_seconds": medians,
        "overhead_seconds": overhead,
        "stock_expected_wait_seconds": stock_expected,
        "stock_worst_wait_seconds": sum(STOCK_INTERVALS_S.values()),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run_all(quick="--quick" in sys.argv), indent=2))
