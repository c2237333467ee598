"""Benchmarks of the sync service (issue 4), against `occuloop server` with the real SDK:

1. 1,000 labeling-session files of 1,440 rows into one version: `occuloop sync --once` (validation, previews,
   journal, tags included) against the SDK called directly on the same files (create, add_files, upload,
   finalize), side by side in one run;
2. the bytes stored on the file server for a one-file delta on top of that 1,000-file version;
3. the time from a finished file appearing in the inbox to its version being finalized, quiet period 1 s, for a
   file renamed into place (waits for the settle time) and for a `.done` marker.
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

import pandas as pd
import requests

from services.child_processes import EmbeddedServer, inherited_environment, spawn, start_embedded_server
from services.sync.client import finish_session
from training.readings import write_session_csv
from training.schema import TIMESTAMP
from training.sessions import training_sessions

SDK_DIRECT = """
import sys, time
from clearml import Dataset
folder, name = sys.argv[1:]
start = time.perf_counter()
dataset = Dataset.create(dataset_project="occuloop/bench", dataset_name=name)
dataset.add_files(folder, verbose=False)
dataset.upload(show_progress=False, verbose=False)
dataset.finalize()
print("SECONDS", time.perf_counter() - start)
"""


def synthetic_sessions(folder: Path, count: int, offset_days: int = 0) -> list[Path]:
    """`count` full-day sessions (1,440 rows each): the real weekday sessions, moved forward a day at a time so
    that no two files share a minute (the sync rejects overlapping sessions as duplicates)."""
    full_days = [session.readings for session in training_sessions() if len(session.readings) == 1440]
    first_day = pd.Timestamp("2016-01-01")
    paths = []
    for index in range(count):
        readings = full_days[index % len(full_days)].copy()
        day = first_day + pd.Timedelta(days=index + offset_days)
        readings[TIMESTAMP] = day + (readings[TIMESTAMP] - readings[TIMESTAMP].dt.normalize())
        path = folder / f"{day:%Y-%m-%d}.csv"
        write_session_csv(readings, path)
        paths.append(path)
    return paths


def _stored_bytes(server_dir: Path) -> int:
    return sum(path.stat().st_size for path in (server_dir / "files").rglob("*") if path.is_file())


def _env(server: EmbeddedServer, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return inherited_environment(os.environ, HOME=str(home), **server.client_env)


def _sync_once(env: dict[str, str], inbox: Path, dataset: str, workdir: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "services.cli", "sync", "--once", "--inbox", str(inbox), "--dataset-name", dataset,
         "--batch-size", "100000", "--port", "0"],
        env=env, cwd=workdir, check=True, capture_output=True, timeout=3600,
    )  # fmt: skip
    return time.perf_counter() - start


def bulk_version(root: Path, files: int) -> dict[str, Any]:
    server_dir = root / "server"
    server = start_embedded_server(server_dir, env=inherited_environment(os.environ))
    try:
        env = _env(server, root / "home")
        sources = synthetic_sessions(root / "sources", files)
        rows = sum(1440 for _ in sources)

        script = root / "sdk_direct.py"
        script.write_text(SDK_DIRECT)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, str(script), str(root / "sources"), "direct"],
            env=env, cwd=root, check=True, capture_output=True, timeout=3600,
        )  # fmt: skip
        direct = time.perf_counter() - start

        inbox = root / "inbox"
        inbox.mkdir()
        for path in sources:
            (inbox / path.name).write_bytes(path.read_bytes())
        old = time.time() - 60  # written a minute ago: settled, as a labeling tool's finished files would be
        for path in inbox.glob("*.csv"):
            os.utime(path, (old, old))
        before = _stored_bytes(server_dir)
        synced = _sync_once(env, inbox, "bulk", root)
        bulk_bytes = _stored_bytes(server_dir) - before

        [delta_file] = synthetic_sessions(root / "delta", 1, offset_days=files)
        finish_session(delta_file, inbox)
        os.utime(inbox / delta_file.name, (old, old))
        before = _stored_bytes(server_dir)
        delta_seconds = _sync_once(env, inbox, "bulk", root)
        delta_bytes = _stored_bytes(server_dir) - before
        return {
            "files": files,
            "rows": rows,
            "csv_bytes": sum(path.stat().st_size for path in sources),
            "sdk_direct_seconds": round(direct, 1),
            "sync_seconds": round(synced, 1),
            "ratio": round(synced / direct, 2),
            "bulk_stored_bytes": bulk_bytes,
            "delta_file_bytes": delta_file.stat().st_size,
            "delta_stored_bytes": delta_bytes,
            "delta_seconds": round(delta_seconds, 1),
        }
    finally:
        server.child.stop()


def _finalized_version(url: str) -> str | None:
    last = requests.get(f"{url}/status", timeout=10).json().get("last_version") or {}
    return last.get("dataset_id")


def appear_to_finalized(root: Path, repeats: int) -> dict[str, Any]:
    server = start_embedded_server(root / "server", env=inherited_environment(os.environ))
    inbox = root / "inbox"
    port = 18000 + os.getpid() % 1000
    env = _env(server, root / "home")
    env.update(OCCULOOP_SYNC_POLL_SECONDS="0.1")
    child = spawn(
        "sync",
        [sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", str(port),
         "--quiet-seconds", "1", "--dataset-name", "latency"],
        log_path=root / "sync.log", env=env, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        sources = synthetic_sessions(root / "sources", 2 * repeats)
        results: dict[str, list[float]] = {"renamed into place (settle 2 s)": [], ".done marker": []}
        for index, path in enumerate(sources):
            mode = ".done marker" if index % 2 else "renamed into place (settle 2 s)"
            before = _finalized_version(url)
            if mode == ".done marker":
                (inbox / path.name).write_bytes(path.read_bytes())
                start = time.perf_counter()
                (inbox / f"{path.name}.done").touch()
            else:
                start = time.perf_counter()
                finish_session(path, inbox)
            while _finalized_version(url) == before:
                time.sleep(0.02)
            results[mode].append(time.perf_counter() - start)
        return {
            mode: {
                "p50_s": round(statistics.median(samples), 2),
                "max_s": round(max(samples), 2),
                "runs": len(samples),
            }
            for mode, samples in results.items()
        }
    finally:
        child.stop()
        server.child.stop()


def run_all(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="occuloop-sync-bench-") as folder:
        bulk = bulk_version(Path(folder) / "bulk", 50 if quick else 1000)
    with tempfile.TemporaryDirectory(prefix="occuloop-sync-bench-") as folder:
        latency = appear_to_finalized(Path(folder), 2 if quick else 5)
    return {"bulk": bulk, "latency": latency}


if __name__ == "__main__":
    print(json.dumps(run_all(quick="--quick" in sys.argv), indent=2))
