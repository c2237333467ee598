"""Benchmark of the trigger (issue 5): dataset version finalized → training run enqueued, against occuloop server.

Side by side in one run: `occuloop trigger` with the sync's push notification, the same with polling only (1 s),
and a stock `clearml.automation.TriggerScheduler` with its default 3-minute polling (fewer samples: each costs
minutes). The publisher finalizes versions at random moments and prints when each one is final; the run's
appearance in the queue is watched over the API.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from services.child_processes import EmbeddedServer, inherited_environment, spawn, start_embedded_server
from tests.support.clients import FLOWS, RawApi
from tests.support.service_process import free_port

STOCK_SCHEDULER = """
import sys
from clearml.automation import TriggerScheduler
template, project = sys.argv[1:]
scheduler = TriggerScheduler(force_create_task_project="bench", force_create_task_name="stock trigger")
scheduler.add_dataset_trigger(
    schedule_task_id=template, schedule_queue="training", trigger_project=project, trigger_on_tags=["Production"],
    name="stock", task_parameters={"General/dataset_id": "${dataset.id}"},
)
print("READY", flush=True)
scheduler.start()
"""


def _queued_runs(api: RawApi, tag: str) -> dict[str, float]:
    found = api.ok("tasks.get_all", {"tags": [tag], "status": ["queued"], "only_fields": ["id", "hyperparams"]})
    return {
        str(task["hyperparams"]["General"]["dataset_id"]["value"]): time.time()
        for task in found["tasks"]
        if task.get("hyperparams", {}).get("General", {}).get("dataset_id")
    }


def _measure(env: dict[str, str], root: Path, api: RawApi, project: str, count: int, pause: float, tag: str,
             notify_url: str | None) -> list[float]:  # fmt: skip
    """Publish `count` versions at random moments; latency of each from final to its run queued."""
    script = root / "publish_versions.py"
    script.write_text((FLOWS / "publish_versions.py").read_text())
    publisher = subprocess.Popen(
        [sys.executable, str(script), project, "bench", str(count), str(pause), str(random.randrange(1000)),
         "Production"],
        env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    finalized: dict[str, float] = {}
    queued: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for dataset, seen in _queued_runs(api, tag).items():
                queued.setdefault(dataset, seen)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert publisher.stdout is not None
    for line in publisher.stdout:
        if line.startswith("published "):
            dataset_id = line.split()[2]
            finalized[dataset_id] = time.time()
            if notify_url:
                requests.post(notify_url, json={"dataset_id": dataset_id}, timeout=5)
    publisher.wait()
    deadline = time.time() + 400
    while set(finalized) - set(queued) and time.time() < deadline:
        time.sleep(0.2)
    done.set()
    return [queued[dataset] - finalized[dataset] for dataset in finalized if dataset in queued]


def _summary(samples: list[float], expected: int) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "p50_s": round(statistics.median(ordered), 2),
        "p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "max_s": round(ordered[-1], 2),
        "runs": len(ordered),
        "missed": expected - len(ordered),
    }


def _trigger(server: EmbeddedServer, env: dict[str, str], root: Path, project: str, poll: float) -> tuple[Any, str]:
    port = free_port()
    child = spawn(
        f"trigger-{project}",
        [sys.executable, "-m", "services.cli", "trigger", "--dataset-project", project, "--poll-seconds", str(poll),
         "--port", str(port)],
        log_path=root / f"trigger-{project}.log", env=env, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if "template_task_id" in requests.get(f"{url}/status", timeout=2).json():
                return child, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"trigger did not start: {(root / f'trigger-{project}.log').read_text()[-2000:]}")


def run_all(quick: bool = False) -> dict[str, Any]:
    count, stock_count = (4, 1) if quick else (12, 3)
    with tempfile.TemporaryDirectory(prefix="occuloop-trigger-bench-") as folder:
        root = Path(folder)
        server = start_embedded_server(root / "server", env=inherited_environment(os.environ))
        home = root / "home"
        home.mkdir()
        env = inherited_environment(os.environ, HOME=str(home), **server.client_env)
        api = RawApi(server)
        api.ok("queues.create", {"name": "training"})
        results: dict[str, Any] = {}
        try:
            trigger, url = _trigger(server, env, root, "push", poll=5.0)
            pushed = _measure(env, root, api, "push", count, 3.0, "retrain", f"{url}/notify")
            results["push (sync notifies), poll 5 s"] = _summary(pushed, count)
            trigger.stop()
            trigger, _ = _trigger(server, env, root, "poll", poll=1.0)
            results["poll only, 1 s"] = _summary(_measure(env, root, api, "poll", count, 3.0, "retrain", None), count)
            template = trigger_template(api)
            trigger.stop()

            # the stock scheduler only watches dataset names that exist when the trigger is added (C6)
            subprocess.run(
                [sys.executable, str(root / "publish_versions.py"), "stock", "bench", "1", "0", "1", ""],
                env=env, cwd=root, check=True, capture_output=True,
            )  # fmt: skip
            (root / "stock.py").write_text(STOCK_SCHEDULER)
            stock = spawn(
                "stock", [sys.executable, str(root / "stock.py"), template, "stock"],
                log_path=root / "stock.log", env=env, cwd=root,
            )  # fmt: skip
            time.sleep(5)
            results["stock TriggerScheduler, default 3 min polling"] = _summary(
                _measure(env, root, api, "stock", stock_count, 60.0, "stock", None), stock_count
            )
            stock.stop()
        finally:
            server.child.stop()
    ours = results["push (sync notifies), poll 5 s"]["p50_s"]
    results["stock_vs_push_p50"] = round(results["stock TriggerScheduler, default 3 min polling"]["p50_s"] / ours, 1)
    return results


def trigger_template(api: RawApi) -> str:
    found = api.ok("tasks.get_all", {"tags": ["template"], "only_fields": ["id"]})["tasks"]
    return str(found[0]["id"])


if __name__ == "__main__":
    print(json.dumps(run_all(quick="--quick" in sys.argv), indent=2))
