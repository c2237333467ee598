"""Benchmark of the lookups that read the dataset's history (issue 22), side by side on the same server as versions
pile up: the sync finding the parent of a new draft, numbering it and reading the newest version's depth (the SDK's
way and the sync's), and the trigger reading its ledger (every tagged version and every run) at a step (the whole
ledger, as every step did, and the changes since the last step, as it does now).

The SDK's way (`Dataset.get(project, name, only_completed=True, writable_copy=True)` and `Dataset.get(project,
name)` for the depth) reads every version ever made, 500 a request, to keep the highest version string, and numbers
the draft from 500 more. The sync's way (`services/clearml_gateway.py`, `RECENT_VERSIONS`) reads only the newest
versions. The history is made of copies of a real finalized version's document (`tasks.clone`, then completed),
older than the chain's newest version, so both ways find the same parent; each copy is tagged `Production` and
has a training run tagged for it, as the trigger leaves them.

Per history size, one server: the client's CPU (the SDK in this process) and the server's CPU, median of the
repeats, for one draft opened (then archived), one `latest` read and one trigger step's read (one new version and
one new run each time).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from services.child_processes import inherited_environment, start_embedded_server

SIZES = (0, 500, 1500, 3000)
QUICK_SIZES = (0, 500)
REPEATS = 5


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def client(history: int, server_pid: int, scratch: Path) -> dict[str, Any]:
    """Runs in a child process with the server's CLEARML_* environment (the SDK reads it at import)."""
    from clearml import Dataset, Task

    from services.clearml_gateway import DatasetGateway
    from services.settings import TriggerSettings
    from services.trigger.ledger import ServerLedger
    from services.trigger.mirror import OVERLAP

    project, name = "bench", "labeled"
    files = scratch / "files"
    files.mkdir(parents=True)
    (files / "day.csv").write_text("a,b\n1,2\n")

    def finalized(parent: str | None = None) -> Any:
        dataset = Dataset.create(
            dataset_project=project, dataset_name=name, parent_datasets=[parent] if parent else None
        )
        dataset.add_files(str(files), verbose=False)
        dataset.upload(show_progress=False, verbose=False, max_workers=1)
        dataset.finalize(auto_upload=True)
        return dataset

    template = finalized()
    session = Task._get_default_session()
    runs_project = session.send_request("projects", "create", json={"name": "bench-runs"}).json()["data"]["id"]

    def tagged_version_and_run() -> None:
        """A copy of a finalized version, completed and tagged, and a run the trigger launched for it."""
        body = {"task": template.id, "new_task_system_tags": ["dataset"], "new_task_tags": ["Production"]}
        copy = session.send_request("tasks", "clone", json=body).json()["data"]["id"]
        session.send_request("tasks", "completed", json={"task": copy, "force": True})
        run = {"name": "run", "type": "training", "project": runs_project, "tags": ["retrain", f"dataset:{copy}"]}
        session.send_request("tasks", "create", json=run)

    for _ in range(history):  # the history, older than the chain below
        tagged_version_and_run()
    head = finalized(finalized().id)  # the chain the next draft builds on: depth 2
    gateway = DatasetGateway(project, name)

    def sdk_open() -> tuple[str, str | None]:
        draft = Dataset.get(
            dataset_project=project, dataset_name=name, only_completed=True, auto_create=True, writable_copy=True
        )
        return str(draft._get_parents()[0]), str(draft.id)

    def sync_open() -> tuple[str, str | None]:
        draft = gateway.open_draft("bench")
        return str(draft.parent), draft.dataset_id

    def sdk_latest() -> tuple[str, str | None]:
        newest = Dataset.get(dataset_project=project, dataset_name=name, only_completed=True)
        newest.get_dependency_graph()  # the depth, as the sync's `latest` reads it
        return str(newest.id), None

    ways = {
        "open draft, SDK": sdk_open,
        "open draft, sync": sync_open,
        "latest, SDK": sdk_latest,
        "latest, sync": lambda: (str((gateway.latest() or ("",))[0]), None),
    }
    measured: dict[str, dict[str, float]] = {}
    for _ in range(REPEATS):
        for way, call in ways.items():
            own, served, started = time.process_time(), _cpu_of(server_pid), time.perf_counter()
            found, draft_id = call()
            sample = {
                "client_cpu_s": time.process_time() - own,
                "server_cpu_s": _cpu_of(server_pid) - served,
                "wall_s": time.perf_counter() - started,
            }
            if found != head.id:
                raise RuntimeError(f"{way} found {found}, not the chain's newest version {head.id}")
            for key, value in sample.items():
                measured.setdefault(way, {}).setdefault(key, []).append(value)  # type: ignore[arg-type]
            if draft_id:
                Task.get_task(task_id=draft_id).set_archived(True)  # out of the next lookups' way
    ledger = ServerLedger(TriggerSettings.from_env({"OCCULOOP_DATASET_PROJECT": project}))
    ledger.read()
    time.sleep(OVERLAP.total_seconds())  # the history is older than a read of changes looks back, as in a real year
    for _ in range(REPEATS):
        for way in ("trigger step, whole", "trigger step, changes"):
            tagged_version_and_run()  # what a step finds new
            if way.endswith("whole"):
                ledger.mirror.last_full_read = None  # as every step read it before
            own, served = time.process_time(), _cpu_of(server_pid)
            versions, runs = ledger.read()
            sample = {"client_cpu_s": time.process_time() - own, "server_cpu_s": _cpu_of(server_pid) - served}
            if len(runs) != len(versions):  # each tagged version has its run (the chain's versions are untagged)
                raise RuntimeError(f"{way}: {len(versions)} versions, {len(runs)} runs")
            for key, value in sample.items():
                measured.setdefault(way, {}).setdefault(key, []).append(value)  # type: ignore[arg-type]
    return {
        way: {key: round(statistics.median(values), 4) for key, values in samples.items()}  # type: ignore[arg-type]
        for way, samples in measured.items()
    }


def run_all(quick: bool = False) -> dict[str, Any]:
    rows = []
    for history in QUICK_SIZES if quick else SIZES:
        with tempfile.TemporaryDirectory(prefix="occuloop-lookup-bench-") as folder:
            root = Path(folder)
            server = start_embedded_server(root / "server", env=inherited_environment(os.environ))
            env = inherited_environment(os.environ, HOME=str(root / "home"), **server.client_env)
            (root / "home").mkdir()
            try:
                argv = [sys.executable, "-m", "tests.benchmarks.lookup_bench", "--client", str(history),
                        str(server.child.process.pid), str(root / "scratch")]  # fmt: skip
                done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
                if done.returncode:
                    raise RuntimeError(f"the client exited {done.returncode}:\n{done.stderr[-3000:]}")
            finally:
                server.child.stop()
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({"history": history, **result})
        print(json.dumps(rows[-1]), flush=True)
    return {"repeats": REPEATS, "rows": rows}


def markdown(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        "The sync's version lookups against the history (`tests/benchmarks/lookup_bench.py`): per history size, one"
        f" `occuloop server` and medians of {results['repeats']} repeats; CPU of the client (the SDK) and of the"
        " server (counted in 10 ms ticks), in ms, the SDK's way against the sync's (`RECENT_VERSIONS`), and the"
        " trigger's whole ledger"
        " against the changes since its last step (`services/trigger/ledger.py`).",
        "",
        "| versions before | open draft: SDK client / server | sync client / server | SDK / sync, total"
        " | latest: SDK client / server | sync client / server | SDK / sync, total"
        " | trigger step: whole client / server | changes client / server | whole / changes, total |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [f"{row['history']:,}"]
        for step, before, now in (
            ("open draft", "SDK", "sync"),
            ("latest", "SDK", "sync"),
            ("trigger step", "whole", "changes"),
        ):
            sdk, sync = row[f"{step}, {before}"], row[f"{step}, {now}"]
            total = [way["client_cpu_s"] + way["server_cpu_s"] for way in (sdk, sync)]
            cells += [
                f"{sdk['client_cpu_s'] * 1000:.0f} / {sdk['server_cpu_s'] * 1000:.0f}",
                f"{sync['client_cpu_s'] * 1000:.0f} / {sync['server_cpu_s'] * 1000:.0f}",
                f"{total[0] / total[1]:.2f}x" if total[1] else "-",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        history, pid, scratch = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
        print(json.dumps(client(history, pid, scratch)), flush=True)
    else:
        quick = "--quick" in sys.argv
        results = run_all(quick)
        print(markdown(results))
