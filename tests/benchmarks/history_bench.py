"""Benchmark of the labeled dataset's history (issue 22): what a new version costs as labeling sessions pile up.

Every version goes through the real processes on one `occuloop server`: a session file is delivered to the inbox
of `occuloop sync` (which pushes each new version to `occuloop trigger`) and the labeler presses "upload"
(`POST /sync?wait`). Scenarios, one server each:

  no policy      one session a version, OCCULOOP_SYNC_SQUASH_DEPTH=0: the chain only grows (stopped early: it is
                 quadratic)
  daily          one session a version for a simulated year, with the history policy
  weekly         a week of sessions (7) a version for three years, with the history policy

Per version: the upload button's round trip (take in, validate, open the draft, upload, previews, finalize, fork
check, tag), the finalize call and the draft opening alone, the chain depth (`depth=` of the sync's log line), the
trigger's latency (version finalized → training run enqueued, from both services' log stamps), and the server's
database and file-store size. Sampled (expensive; every `download_every` versions and at given versions): the
training data path on a cold cache, as a fresh training pod runs it (`Dataset.get` + `get_local_copy`, then
`load_training_data`: read and validate every session), and a whole `occuloop train` run (rows, epochs, fit time).

Sessions are the real UCI full days, moved forward one day per session (valid under the data contract: no two
share a minute, none touches a holdout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import requests

from services.child_processes import Child, EmbeddedServer, inherited_environment, spawn, start_embedded_server
from services.sync.client import finish_session
from tests.benchmarks import history_report
from tests.support.clients import RawApi
from tests.support.service_process import free_port
from training.readings import write_session_csv
from training.schema import TIMESTAMP
from training.sessions import training_sessions

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) ")
FIRST_DAY = pd.Timestamp("2016-01-04")

DATA_PROBE = """
import json, sys, time
from pathlib import Path
from clearml import Dataset
from training.holdout import ensure_holdout, load_holdout
from training.params import TrainingParams
from training.train import load_training_data
holdout = load_holdout(ensure_holdout("occuloop/holdout"))
start, cpu = time.perf_counter(), time.process_time()
dataset = Dataset.get(dataset_id=sys.argv[1])
folder = Path(dataset.get_local_copy())
fetched, fetched_cpu = time.perf_counter(), time.process_time()
data = load_training_data(dataset, holdout, TrainingParams(), folder)
done = time.perf_counter()
print("RESULT " + json.dumps({"download_s": fetched - start, "download_cpu_s": fetched_cpu - cpu,
                              "read_s": done - fetched, "rows": len(data.readings), "sessions": len(data.sessions)}))
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    versions: int
    per_version: int  # sessions (days) in each version
    squash_depth: int  # 0: no policy
    download_every: int
    train_at: tuple[int, ...] = ()  # version numbers (1-based) trained with `occuloop train`
    give_up_seconds: float = 120.0  # stop the scenario once a version takes this long (the no-policy chain)


class SessionMaker:
    """Full-day labeling sessions, the real UCI weekdays in turn, each moved to its own day from FIRST_DAY on."""

    def __init__(self) -> None:
        self._days = [session.readings for session in training_sessions() if len(session.readings) == 1440]

    def write(self, folder: Path, first: int, count: int) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for index in range(first, first + count):
            readings = self._days[index % len(self._days)].copy()
            day = FIRST_DAY + pd.Timedelta(days=index)
            readings[TIMESTAMP] = day + (readings[TIMESTAMP] - readings[TIMESTAMP].dt.normalize())
            path = folder / f"{day:%Y-%m-%d}.csv"
            write_session_csv(readings, path)
            paths.append(path)
        return paths


def _stamps(log: Path, event: str, key: str) -> dict[str, tuple[float, dict[str, str]]]:
    """event -> {value of `key`: (time, every key=value of the line)}, first occurrence."""
    found: dict[str, tuple[float, dict[str, str]]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = STAMP.match(line)
        if not match or f"event={event} " not in line + " ":
            continue
        values = dict(re.findall(r"(\w+)=(\S+)", line))
        if key in values:
            moment = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).timestamp()
            found.setdefault(values[key], (moment, values))
    return found


def _cpu_seconds(*children: Child) -> float:
    """CPU time (user + system) the processes used so far: unlike wall time, barely moved by other work on a
    shared machine, so the cost per version can be compared across a long run."""
    total = 0
    for child in children:
        fields = Path(f"/proc/{child.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)
    return total / os.sysconf("SC_CLK_TCK")


def _size(path: Path, pattern: str = "*") -> int:
    return sum(item.stat().st_size for item in path.rglob(pattern) if item.is_file())


def _wait_ready(url: str, key: str, child: Child, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise child.failure("exited")
        try:
            if key in requests.get(f"{url}/status", timeout=5).json():
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise child.failure("was not ready")


def _wait_for_squash(log: Path, dataset_id: str, squash_depth: int, timeout: float = 1800) -> bool:
    """A version whose chain reached the squash depth is squashed right after it is finalized: wait for that, so
    that the next version is measured on its own (the squash's own time is in its log line). Whether it was."""
    depth = int(_stamps(log, "dataset_version_finalized", "dataset_id")[dataset_id][1]["depth"])
    if not squash_depth or depth < max(2, squash_depth):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if re.search(rf"event=(dataset_squashed|squash_abandoned) \S+ squash_of={dataset_id}", text):
            return True
        time.sleep(0.1)
    raise RuntimeError(f"no squash of {dataset_id}")


def _probe_data(env: dict[str, str], root: Path, dataset_id: str, sample: int) -> dict[str, Any]:
    home = root / "probe-homes" / str(sample)  # a fresh cache: what a new training pod downloads
    home.mkdir(parents=True)
    script = root / "data_probe.py"
    script.write_text(DATA_PROBE)
    done = subprocess.run([sys.executable, str(script), dataset_id], env={**env, "HOME": str(home)}, cwd=root,
                          capture_output=True, text=True, timeout=3600)  # fmt: skip
    line = next((item for item in done.stdout.splitlines() if item.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"data probe failed: {(done.stdout + done.stderr)[-3000:]}")
    shutil.rmtree(home, ignore_errors=True)
    return {key: round(value, 3) if isinstance(value, float) else value for key, value in json.loads(line[7:]).items()}


def _train(env: dict[str, str], root: Path, dataset_id: str, sample: int) -> dict[str, Any]:
    home = root / "train-homes" / str(sample)
    home.mkdir(parents=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "train", "--dataset-id", dataset_id, "--project", "bench/training"],
        env={**env, "HOME": str(home)}, cwd=root, capture_output=True, text=True, timeout=4 * 3600,
    )  # fmt: skip
    wall = time.perf_counter() - start
    output = done.stdout + done.stderr
    data = re.search(r"event=training_data .*?rows=(\d+)", output)
    fit = re.search(r"event=training_done epochs=(\d+) best_epoch=\d+ .*?seconds=([\d.]+)", output)
    if done.returncode != 0 or data is None or fit is None:
        raise RuntimeError(f"training failed: {output[-3000:]}")
    shutil.rmtree(home, ignore_errors=True)
    return {"train_wall_s": round(wall, 1), "train_rows": int(data.group(1)), "epochs": int(fit.group(1)),
            "fit_s": float(fit.group(2))}  # fmt: skip


def run_scenario(root: Path, scenario: Scenario, sessions: SessionMaker) -> dict[str, Any]:
    server: EmbeddedServer = start_embedded_server(root / "server", env=inherited_environment(os.environ))
    api = RawApi(server)
    api.ok("queues.create", {"name": "training"})
    env = inherited_environment(os.environ, HOME=str(root / "home"), **server.client_env)
    (root / "home").mkdir()
    env.update(OCCULOOP_SYNC_POLL_SECONDS="0.1", OCCULOOP_SYNC_SQUASH_DEPTH=str(scenario.squash_depth))
    trigger_port, sync_port = free_port(), free_port()
    trigger = spawn("trigger", [sys.executable, "-m", "services.cli", "trigger", "--port", str(trigger_port)],
                    log_path=root / "trigger.log", env=env, cwd=root)  # fmt: skip
    inbox = root / "inbox"
    sync = spawn(
        "sync",
        [sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", str(sync_port),
         "--quiet-seconds", "86400", "--batch-size", "100000",
         "--trigger-url", f"http://127.0.0.1:{trigger_port}/notify"],
        log_path=root / "sync.log", env=env, cwd=root,
    )  # fmt: skip
    sync_url = f"http://127.0.0.1:{sync_port}"
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        _wait_ready(f"http://127.0.0.1:{trigger_port}", "template_task_id", trigger)
        _wait_ready(sync_url, "state", sync)
        subprocess.run([sys.executable, "-c", "from training.holdout import ensure_holdout; "
                        "ensure_holdout('occuloop/holdout')"], env=env, cwd=root, check=True, capture_output=True)  # fmt: skip
        for index in range(scenario.versions):
            number = index + 1
            for path in sessions.write(root / "sources", index * scenario.per_version, scenario.per_version):
                finish_session(path, inbox)
            cpu, start = _cpu_seconds(sync, server.child), time.perf_counter()
            answer = requests.post(f"{sync_url}/sync?wait=3600", timeout=3700).json()
            seconds, cpu_used = time.perf_counter() - start, _cpu_seconds(sync, server.child) - cpu
            if answer.get("status") != "synced":
                raise RuntimeError(f"version {number}: {answer}")
            row: dict[str, Any] = {"version": number, "dataset_id": answer["dataset_id"], "sync_s": round(seconds, 3),
                                   "sync_cpu_s": round(cpu_used, 2)}  # fmt: skip
            cpu = _cpu_seconds(sync, server.child)
            if _wait_for_squash(root / "sync.log", answer["dataset_id"], scenario.squash_depth):
                row["squash_cpu_s"] = round(_cpu_seconds(sync, server.child) - cpu, 2)
            if number % scenario.download_every == 0 or number in (1, scenario.versions) or number in scenario.train_at:
                row.update(_probe_data(env, root, answer["dataset_id"], number))
                roots = _squashes(root / "sync.log")
                if roots:  # the same history at depth 1: the root this version was built on
                    probed = _probe_data(env, root, roots[-1]["dataset_id"], -number)
                    row.update(root_download_s=probed["download_s"], root_download_cpu_s=probed["download_cpu_s"],
                               root_read_s=probed["read_s"])  # fmt: skip
            if number in scenario.train_at:
                row.update(_train(env, root, answer["dataset_id"], number))
            row.update(db_bytes=_size(root / "server", "*.sqlite3*"), files_bytes=_size(root / "server" / "files"))
            rows.append(row)
            print(json.dumps({"scenario": scenario.name, **row}), flush=True)
            if seconds > scenario.give_up_seconds:
                break
        sync.stop()
        trigger.stop()
    finally:
        for child in (sync, trigger):
            child.kill()
        server.child.stop()
    _add_log_fields(rows, root)
    return {"scenario": scenario.__dict__, "wall_s": round(time.monotonic() - started), "versions": rows,
            "squashes": _squashes(root / "sync.log")}  # fmt: skip


def _add_log_fields(rows: list[dict[str, Any]], root: Path) -> None:
    finalized = _stamps(root / "sync.log", "dataset_version_finalized", "dataset_id")
    opened = _stamps(root / "sync.log", "draft_opened", "dataset_id")
    fired = _stamps(root / "trigger.log", "trigger_fired", "dataset_id")
    squashed = sorted(_stamps(root / "sync.log", "dataset_squashed", "dataset_id").values(), key=lambda item: item[0])
    for row in rows:
        when, values = finalized[row["dataset_id"]]
        built_on = [fields for moment, fields in squashed if moment < when and "finalize_seconds" in fields]
        if built_on:  # the finalize of the root this version was built on: the same history at depth 1
            row["root_finalize_s"] = float(built_on[-1]["finalize_seconds"])
            row["root_finalize_cpu_s"] = float(built_on[-1]["finalize_cpu_seconds"])
        row["depth"] = int(values["depth"])
        row["finalize_s"] = float(values["finalize_seconds"])
        row["finalize_cpu_s"] = float(values["finalize_cpu_seconds"])
        row["open_draft_s"] = float(opened[row["dataset_id"]][1]["seconds"])
        row["open_draft_cpu_s"] = float(opened[row["dataset_id"]][1]["cpu_seconds"])
        row["trigger_s"] = round(fired[row["dataset_id"]][0] - when, 3) if row["dataset_id"] in fired else None


def _squashes(log: Path) -> list[dict[str, Any]]:
    """Every completed squash, oldest first (one recovered after a crash has no timings)."""
    found = sorted(_stamps(log, "dataset_squashed", "dataset_id").items(), key=lambda item: item[1][0])
    return [
        {"dataset_id": key, "seconds": float(values["seconds"]), "files": int(values["files"]),
         "finalize_s": float(values["finalize_seconds"]), "finalize_cpu_s": float(values["finalize_cpu_seconds"])}
        for key, (_, values) in found
        if "finalize_seconds" in values
    ]  # fmt: skip


def scenarios(quick: bool, squash_depth: int, year: bool = False) -> list[Scenario]:
    if year:  # the daily year in full, the other two shortened: about 30 min instead of two hours
        return [
            Scenario("no policy", 20, 1, 0, download_every=10),
            Scenario("daily", 365, 1, squash_depth, download_every=15, train_at=(1, 120, 240, 365)),
            Scenario("weekly (reduced)", 12, 7, squash_depth, download_every=6),
        ]
    if quick:
        return [
            Scenario("no policy", 20, 1, 0, download_every=10),
            Scenario("daily", 60, 1, squash_depth, download_every=10, train_at=(60,)),
            Scenario("weekly", 12, 7, squash_depth, download_every=6),
        ]
    return [
        Scenario("no policy", 40, 1, 0, download_every=8),
        Scenario("daily", 365, 1, squash_depth, download_every=15, train_at=(1, 120, 240, 365)),
        Scenario("weekly", 156, 7, squash_depth, download_every=13, train_at=(156,)),
    ]


def run_all(
    root: Path, quick: bool = False, squash_depth: int = 8, only: str | None = None, year: bool = False
) -> dict[str, Any]:
    sessions = SessionMaker()
    results: dict[str, Any] = {"squash_depth": squash_depth, "quick": quick, "scenarios": {}}
    for scenario in scenarios(quick, squash_depth, year):
        if only and scenario.name != only:
            continue
        folder = root / scenario.name.replace(" ", "-")
        folder.mkdir(parents=True)
        results["scenarios"][scenario.name] = run_scenario(folder, scenario, sessions)
    return results


def compare_depths(root: Path, depths: list[int], versions: int) -> list[str]:
    """The policy's depth chosen side by side: the same daily history at each squash depth (one server each, one
    after the other); per depth the finalize and cold-download CPU against the root each version was built on, and
    what the squashes cost (their count, the file store)."""
    lines = []
    for depth in depths:
        folder = root / f"depth-{depth}"
        folder.mkdir(parents=True)
        result = run_scenario(
            folder, Scenario(f"daily, depth {depth}", versions, 1, depth, download_every=10), SessionMaker()
        )
        rows = result["versions"]
        later = rows[versions // 2 :]
        shown = ", ".join(
            f"{key} / root p50 / p90 / max {history_report.ratio_summary(rows, key, reference)}"
            for key, reference in (("finalize_cpu_s", "root_finalize_cpu_s"), ("download_cpu_s", "root_download_cpu_s"))
        )
        lines.append(
            f"depth {depth}: {len(result['squashes'])} squashes, file store {rows[-1]['files_bytes'] / 1e6:.1f} MB, "
            f"finalize CPU p50 of the second half {statistics.median(row['finalize_cpu_s'] for row in later):.3f} s; "
            f"{shown}"
        )
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--depths", help="compare squash depths instead, e.g. 3,4 (a shortened daily history)")
    parser.add_argument("--versions", type=int, default=120, help="versions per depth with --depths")
    parser.add_argument(
        "--scenario", help="run this one scenario in full (e.g. daily) and print its report, BENCHMARKS.md untouched"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="occuloop-history-bench-") as folder:
        if args.depths:
            compare_depths(Path(folder), [int(depth) for depth in args.depths.split(",")], args.versions)
        elif args.scenario:
            from services.settings import SyncSettings

            depth = SyncSettings.squash_depth
            chosen = next(item for item in scenarios(False, depth) if item.name == args.scenario)
            result = run_scenario(Path(folder), chosen, SessionMaker())
            report = {"squash_depth": depth, "quick": False, "scenarios": {chosen.name: result}}
            print(json.dumps(report, default=str))
            steady = history_report.steady_stage_seconds((Path(__file__).parents[2] / "BENCHMARKS.md").read_text())
            print(history_report.markdown(report, steady))
        else:
            print(json.dumps(run_all(Path(folder), quick=args.quick), indent=2))
