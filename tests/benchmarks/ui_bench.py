"""The UI at scale (issue 15): an embedded server holding 10,000 tasks, 1,000 models, 500 dataset versions with
their training runs and receipts, and one task with 100,000 scalar points and 50,000 console lines, filled through
its API; then, per page, the server time (p50, p95) and the HTML size of the UI in-process (Starlette's TestClient,
so the time is the UI's work plus its API calls over loopback), the points per scalar series, and the largest
contentful paint of the timeline and the task page in Chromium against a real `occuloop ui` process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from clearml.utilities.requests_toolbelt import MultipartEncoder

from services.child_processes import inherited_environment, start_embedded_server
from tests.support.clients import RawApi
from tests.support.service_process import free_port

LCP = """() => new Promise(resolve => {
  new PerformanceObserver(list => { const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime); }).observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(null), 10000);
})"""


class Filler:
    def __init__(self, api: RawApi) -> None:
        self.api = api
        self.session = requests.Session()
        self.headers = {"Authorization": f"Bearer {api.login()}"}

    def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.session.post(f"{self.api.base}/v2.23/{endpoint}", json=body, headers=self.headers, timeout=60)
        document = answer.json()
        assert answer.status_code == 200, (endpoint, document["meta"])
        return dict(document["data"])

    def project(self, name: str) -> str:
        return str(self.call("projects.create", {"name": name, "description": "bench"})["id"])

    def task(self, body: dict[str, Any], *, status: str = "created") -> str:
        task_id = str(self.call("tasks.create", body)["id"])
        if status in ("completed", "published"):
            self.call("tasks.started", {"task": task_id, "force": True})
            self.call("tasks.completed", {"task": task_id, "force": True})
        if status == "published":
            self.call("tasks.publish", {"task": task_id, "force": True})
        return task_id

    def events(self, lines: list[dict[str, Any]]) -> None:
        body = "\n".join(json.dumps(line) for line in lines)
        answer = self.session.post(f"{self.api.base}/v2.23/events.add_batch", data=body, timeout=300,
                                   headers={**self.headers, "Content-Type": "application/json-lines"})  # fmt: skip
        assert answer.status_code == 200, answer.text[:500]


def fill(
    filler: Filler, files_url: str, *, tasks: int, models: int, versions: int, points: int, lines: int
) -> dict[str, str]:
    labels = filler.project("occuloop/labels/.datasets/labeled")
    training = filler.project("occuloop/training")
    rollout = filler.project("occuloop/rollout")
    receipts = filler.project("occuloop/rollout/receipts")
    other = filler.project("bench/other")
    receipt = json.dumps({"schema": "occuloop.receipt/1", "decision": "gate_passed", "rule": "all_rules",
                          "reason": "bench", "models": {"challenger": {"accuracy_ci95": {"accuracy": 0.97, "low": 0.95,
                          "high": 0.99}}}, "comparisons": {}, "verdict": {"results": []}, "pointer": {}}).encode()  # fmt: skip
    encoder = MultipartEncoder(fields={"/bench/receipt.json": ("/bench/receipt.json", receipt, "application/json")})
    requests.post(files_url + "/", data=encoder, headers={**filler.headers, "Content-Type": encoder.content_type},
                  timeout=60).raise_for_status()  # fmt: skip
    made = 0
    version_ids, model_ids = [], []
    for n in range(versions):
        runtime = {"version": f"1.0.{n}", "ds_change_add": 1, "ds_change_size": 98_000, "ds_file_count": n + 1,
                   "ds_total_size": 98_000 * (n + 1)}  # fmt: skip
        version_ids.append(filler.task({"name": "labeled", "type": "data_processing", "project": labels,
                                        "system_tags": ["dataset"], "tags": ["Production"], "runtime": runtime,
                                        "comment": f"labeling sessions: day-{n:04d}.csv"}, status="completed"))  # fmt: skip
    for n in range(models):
        run = None
        if n < versions:
            run = filler.task({"name": f"train · labeled 1.0.{n}", "type": "training", "project": training,
                               "tags": ["retrain", f"dataset:{version_ids[n]}"]}, status="completed")  # fmt: skip
        metadata = [{"key": "holdout_accuracy", "type": "float", "value": "0.97"},
                    {"key": "dataset_version", "type": "str", "value": f"1.0.{n}"}]  # fmt: skip
        body: dict[str, Any] = {"name": "occupancy", "uri": "file:///tmp/m.zip", "project": training,
                                "tags": ["retired"], "metadata": metadata}  # fmt: skip
        if run:
            body["task"] = run
        model_id = str(filler.call("models.create", body)["id"])
        model_ids.append(model_id)
        if run:
            filler.call("tasks.add_or_update_model", {"task": run, "name": "occupancy", "model": model_id,
                                                      "type": "output"})  # fmt: skip
            decision = {"decision": {"section": "Receipt", "name": "decision", "value": "gate_passed"},
                        "model_id": {"section": "Receipt", "name": "model_id", "value": model_id}}  # fmt: skip
            receipt_task = filler.task({"name": f"gate_passed {model_id}", "type": "qc", "project": receipts,
                                        "hyperparams": {"Receipt": decision}})  # fmt: skip
            filler.call("tasks.add_or_update_artifacts", {"task": receipt_task, "artifacts": [
                {"key": "receipt", "type": "custom", "uri": files_url + "/bench/receipt.json", "mode": "output"}]})  # fmt: skip
            filler.call("tasks.started", {"task": receipt_task, "force": True})
            filler.call("tasks.completed", {"task": receipt_task, "force": True})
            filler.call("tasks.publish", {"task": receipt_task, "force": True})
            made += 2
    made += versions
    champion = {k: {"section": "Champion", "name": k, "value": v} for k, v in
                (("model_id", model_ids[versions - 1]), ("revision", "1"), ("history", "[]"))}  # fmt: skip
    filler.task({"name": "champion occupancy", "type": "controller", "tags": ["champion-pointer"], "project": rollout,
                 "hyperparams": {"Champion": champion}})  # fmt: skip
    big = filler.task({"name": "a long training run", "type": "training", "project": training}, status="completed")
    made += 2
    while made < tasks:
        filler.task({"name": f"other {made}", "type": "testing", "project": other,
                     "hyperparams": {"General": {"seed": {"section": "General", "name": "seed", "value": str(made)}}}})  # fmt: skip
        made += 1
    now = int(time.time() * 1000)
    series = [("loss", "training"), ("loss", "validation"), ("accuracy", "training"), ("accuracy", "validation")]
    per_series = points // len(series)
    for start in range(0, per_series, 5000):
        batch = [{"type": "training_stats_scalar", "task": big, "metric": metric, "variant": variant, "iter": i,
                  "value": ((i * 7919) % 1000) / 1000.0, "timestamp": now + i}
                 for metric, variant in series for i in range(start, min(per_series, start + 5000))]  # fmt: skip
        filler.events(batch)
    for start in range(0, lines, 5000):
        filler.events([{"type": "log", "task": big, "msg": f"epoch {i}: loss 0.{i:05d} accuracy 0.97", "level": "info",
                        "timestamp": now + i} for i in range(start, min(lines, start + 5000))])  # fmt: skip
    return {"big_task": big, "training": training, "dataset": version_ids[-1], "model": model_ids[versions - 1]}


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def page_times(api_url: str, env: dict[str, str], made: dict[str, str], repeat: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from services.settings import UiSettings
    from services.ui.app import create_app
    from services.ui.reads import Reader

    reader = Reader(api_url, env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"],
                    service_urls={"sync": "http://127.0.0.1:1"})  # fmt: skip
    task = f"/projects/{made['training']}/tasks/{made['big_task']}"
    pages = {"timeline": "/", "datasets": "/datasets", "dataset": f"/datasets/{made['dataset']}", "runs": "/runs",
             "task info": f"{task}/info", "task console": f"{task}/console", "task scalars": f"{task}/scalars",
             "task scalars data (JSON)": f"/tasks/{made['big_task']}/scalars.json", "models": "/models",
             "model": f"/projects/*/models/{made['model']}/general", "receipts": "/receipts", "serving": "/serving",
             "orchestration": "/orchestration", "quarantine": "/quarantine"}  # fmt: skip
    results: dict[str, Any] = {}
    settings = UiSettings(api_host=api_url, access_key="k", secret_key="s")
    with TestClient(create_app(settings, reader)) as client:
        for name, path in pages.items():
            start = time.perf_counter()
            first = client.get(path)  # warm: receipts downloaded once (write-once), templates compiled
            first_ms = round((time.perf_counter() - start) * 1000, 1)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                answer = client.get(path)
                samples.append(time.perf_counter() - start)
            results[name] = {"first_ms": first_ms, "p50_ms": _p(samples, 0.5), "p95_ms": _p(samples, 0.95), "kb": round(len(answer.content) / 1024, 1),
                             "plotly": "plotly.min.js" in answer.text}  # fmt: skip
        scalars = client.get(pages["task scalars data (JSON)"]).json()
        results["max_points_per_series"] = max(len(s["x"]) for m in scalars["metrics"] for s in m["series"])
        results["points_per_series_stored"] = max(s["points"] for m in scalars["metrics"] for s in m["summary"])
    return results


def largest_contentful_paint(api_env: dict[str, str], made: dict[str, str], runs: int) -> dict[str, Any]:
    from tests.live_loop.browser import CHROMIUM, FLAGS

    if not CHROMIUM.exists():
        return {"skipped": "no chromium"}
    from playwright.sync_api import sync_playwright

    port = free_port()
    env = inherited_environment(os.environ, **api_env)
    ui = subprocess.Popen([sys.executable, "-m", "services.cli", "ui", "--port", str(port)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        pages = {"timeline": "/", "task scalars": f"/projects/{made['training']}/tasks/{made['big_task']}/scalars",
                 "task console": f"/projects/{made['training']}/tasks/{made['big_task']}/console"}  # fmt: skip
        found: dict[str, Any] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            for name, path in pages.items():
                samples = []
                for _ in range(runs):
                    context = browser.new_context()  # cold: no cached assets
                    page = context.new_page()
                    page.goto(base + path, wait_until="load")
                    if "scalars" in path:
                        page.wait_for_selector(".plot .main-svg", timeout=60_000)
                    value = page.evaluate(LCP)
                    if value is not None:
                        samples.append(float(value) / 1000)
                    context.close()
                found[name] = {"median_s": round(statistics.median(samples), 2), "max_s": round(max(samples), 2),
                               "loads": len(samples)}  # fmt: skip
            browser.close()
        return found
    finally:
        ui.terminate()
        ui.wait(timeout=30)


def run_all(folder: Path, *, quick: bool = False) -> dict[str, Any]:
    sizes = {"tasks": 1500, "models": 150, "versions": 100, "points": 20_000, "lines": 5000} if quick else {
        "tasks": 10_000, "models": 1000, "versions": 500, "points": 100_000, "lines": 50_000}  # fmt: skip
    server = start_embedded_server(folder / "server", env=inherited_environment(os.environ))
    try:
        filler = Filler(RawApi(server))
        start = time.perf_counter()
        made = fill(filler, server.files_url, **sizes)
        fill_seconds = round(time.perf_counter() - start, 1)
        times = page_times(server.api_url, server.client_env, made, repeat=5 if quick else 20)
        lcp = largest_contentful_paint(server.client_env, made, runs=2 if quick else 5)
    finally:
        server.child.stop()
    return {"sizes": sizes, "fill_seconds": fill_seconds, "pages": times, "lcp": lcp}


def markdown(results: dict[str, Any]) -> str:
    sizes, pages, lcp = results["sizes"], results["pages"], results["lcp"]
    rows = [f"| {name} | {v['first_ms']} | {v['p50_ms']} | {v['p95_ms']} | {v['kb']} | {'yes' if v['plotly'] else 'no'} |"
            for name, v in pages.items() if isinstance(v, dict)]  # fmt: skip
    lcp_rows = [f"| {name} | {v['median_s']} | {v['max_s']} | {v['loads']} |" for name, v in lcp.items()
                if isinstance(v, dict)]  # fmt: skip
    return "\n".join([
        f"An embedded server holding {sizes['tasks']:,} tasks, {sizes['models']:,} models, {sizes['versions']:,} dataset "
        f"versions (each with its training run and gate receipt) and one task with {sizes['points']:,} scalar points "
        f"and {sizes['lines']:,} console lines (filled through the API in {results['fill_seconds']} s). Server time is "
        "the UI's whole answer in-process (its ClearML API calls over loopback included), after one warm-up request "
        "per page (its time is the first column: receipts, which never change, are downloaded once, and so is a "
        "finished task's scalar series, which cannot change without its last update changing); the machine is "
        "shared with other jobs (load average above 10 on its 2 cores during the run), so the numbers are noisy.",
        "",
        "| page | first request ms | p50 ms | p95 ms | HTML KB | plotly.js |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Scalars: at most {pages['max_points_per_series']:,} points per series sent to the browser (of "
        f"{pages['points_per_series_stored']:,} stored; every bucket's minimum and maximum kept). The chart data is "
        "fetched by the page as JSON, so the task page's HTML stays small.",
        "",
        "Largest contentful paint in Chromium (cold browser context each load, `occuloop ui` over loopback):",
        "",
        "| page | median s | max s | loads |",
        "| --- | --- | --- | --- |",
        *lcp_rows,
        "",
        "Targets (issue 15): p95 ≤ 200 ms, HTML ≤ 100 KB, ≤ 2,000 points per scalar series, LCP ≤ 2.5 s.",
    ])  # fmt: skip
