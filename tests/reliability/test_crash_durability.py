"""kill -9 the server during a burst of writes and during a dataset upload: every acknowledged write survives."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import requests

from services.child_processes import EmbeddedServer, inherited_environment, start_embedded_server
from tests.support.clients import Clients, RawApi

WRITER = Path(__file__).resolve().parent / "writer.py"
CYCLES = 3


def _wait_for_lines(path: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"the writer journaled fewer than {count} writes in {timeout:.0f} s")


def _verify(server: EmbeddedServer, journal: Path) -> int:
    api = RawApi(server)
    checked = 0
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    last_comment: dict[str, str] = {}
    for entry in entries:
        if entry["kind"] == "edit":
            last_comment[entry["id"]] = entry["comment"]
    for entry in entries:
        kind = entry["kind"]
        if kind == "project":
            assert api.ok("projects.get_by_id", {"project": entry["id"]})["project"]["name"] == entry["name"]
        elif kind == "task":
            assert api.task(entry["id"])["name"] == entry["name"]
        elif kind == "hyperparam":
            assert api.task(entry["id"])["hyperparams"]["General"]["lr"]["value"] == entry["value"]
        elif kind == "configuration":
            assert api.task(entry["id"])["configuration"]["cfg"]["value"] == entry["value"]
        elif kind == "scalars":
            assert api.task(entry["id"])["last_iteration"] == entry["last_iteration"]
        elif kind == "artifact":
            assert [item["uri"] for item in api.task(entry["id"])["execution"]["artifacts"]] == [entry["uri"]]
        elif kind == "model":
            assert api.ok("models.get_by_id", {"model": entry["id"]})["model"]["tags"] == entry["tags"]
        elif kind == "queued":
            task = api.task(entry["id"])
            entries_now = api.ok("queues.get_by_id", {"queue": entry["queue"]})["queue"]["entries"]
            assert task["status"] == "queued" and [item["task"] for item in entries_now] == [entry["id"]]
        elif entry["kind"] == "file":
            response = requests.get(
                server.files_url + entry["path"], headers={"Authorization": f"Bearer {api.login()}"}, timeout=30
            )
            assert response.status_code == 200, entry
            assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
        else:
            assert kind == "edit", entry
        checked += 1
    for task_id, comment in last_comment.items():
        # the last acknowledged edit is there; an edit sent after it but never acknowledged may also have landed
        assert api.task(task_id)["comment"] >= comment
    return checked


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    env = inherited_environment(os.environ)
    journal = tmp_path / "journal.jsonl"
    server = start_embedded_server(data_dir, env=env)
    api_port, files_port = int(server.api_url.rsplit(":", 1)[1]), int(server.files_url.rsplit(":", 1)[1])
    rng = random.Random(7)
    for cycle in range(CYCLES):
        token = RawApi(server).login()
        writer = subprocess.Popen(
            [sys.executable, str(WRITER), server.api_url, server.files_url, token, str(journal), f"cycle{cycle}"],
            env=env,
        )
        _wait_for_lines(journal, 40 * (cycle + 1))
        time.sleep(rng.uniform(0.05, 0.5))
        server.child.kill()  # kill -9: no shutdown hook runs
        assert writer.wait(60) == 0
        server = start_embedded_server(data_dir, env=env, api_port=api_port, files_port=files_port)
        assert _verify(server, journal) >= 40 * (cycle + 1)
        assert list((data_dir / "uploads-in-progress").iterdir()) == []  # half uploads were dropped at start
    server.child.stop()


def test_dataset_upload_interrupted_by_kill_9_leaves_finalized_versions_intact(tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    env = inherited_environment(os.environ)
    server = start_embedded_server(data_dir, env=env)
    api_port, files_port = int(server.api_url.rsplit(":", 1)[1]), int(server.files_url.rsplit(":", 1)[1])
    clients = Clients(server, tmp_path / "clients")
    first = clients.flow("dataset_flow", "crash", "labeled")
    big = clients.workdir / "big"
    big.mkdir()
    (big / "noise.bin").write_bytes(os.urandom(120 * 1024 * 1024))  # incompressible: the upload takes a while
    script = clients.workdir / "big_upload.py"
    script.write_text(
        "from clearml import Dataset\n"
        "ds = Dataset.get(dataset_project='crash', dataset_name='labeled', writable_copy=True)\n"
        "ds.add_files('big')\n"
        "print('UPLOADING', flush=True)\n"
        "ds.upload()\n"
        "ds.finalize()\n"
    )
    uploader = clients.spawn("big-upload", [sys.executable, str(script)])
    clients.api.wait_for("the upload to start", lambda: "UPLOADING" in uploader.log_path.read_text(), timeout=120)
    staging = data_dir / "uploads-in-progress"
    clients.api.wait_for(
        "bytes to arrive", lambda: any(path.stat().st_size > 0 for path in staging.iterdir()), timeout=60, interval=0.01
    )
    server.child.kill()
    uploader.kill()
    server = start_embedded_server(data_dir, env=env, api_port=api_port, files_port=files_port)
    assert list(staging.iterdir()) == []
    restarted = Clients(server, tmp_path / "after")
    versions = restarted.api.ok("tasks.get_all", {"id": [first["first"], first["second"]], "only_fields": ["status"]})[
        "tasks"
    ]
    assert [row["status"] for row in versions] == ["completed", "completed"]
    check = restarted.workdir / "check.py"
    check.write_text(
        "import json, os\nfrom clearml import Dataset\n"
        f"path = Dataset.get(dataset_id='{first['second']}').get_local_copy()\n"
        "print('RESULT ' + json.dumps(sorted(os.listdir(path))))\n"
    )
    output = restarted.run([sys.executable, str(check)])
    assert "RESULT " + json.dumps(["day1.csv", "day2.csv"]) in output
    server.child.stop()
