"""Benchmarks of the embedded server (issue 2): API latency at 10,000 tasks, queue pop throughput, file
transfer against a local copy, and the idle cost of a polling agent, scheduler and serving app.

Every figure is measured over real HTTP on loopback with the clients' own stack (requests + keep-alive), and each
comparison is made side by side in the same run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from clearml.utilities.requests_toolbelt import MultipartEncoder

from services.child_processes import Child, EmbeddedServer, inherited_environment, start_embedded_server
from tests.support.clients import BIN, RawApi

CONSUMER = Path(__file__).resolve().parent.parent / "reliability" / "consumer.py"


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "p50_ms": round(at(0.50), 3),
        "p99_ms": round(at(0.99), 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "calls": len(ordered),
    }


def _timed(call: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def _realistic_task(n: int) -> dict[str, Any]:
    """A task about the size of a real training task: hyper-parameters, a stored script, runtime."""
    return {
        "name": f"train-{n}",
        "type": "training",
        "system_tags": ["development"],
        "hyperparams": {
            "General": {
                key: {"section": "General", "name": key, "value": str(n)}
                for key in ("lr", "epochs", "dataset_id", "seed")
            }
        },
        "script": {"entry_point": "train.py", "diff": "# code\n" + "x = 1\n" * 300},
        "runtime": {"version": "1.0.0", "progress": "100"},
    }


def api_latency(server: EmbeddedServer, tasks: int = 10_000, repeat: int = 3000) -> dict[str, Any]:
    api = RawApi(server)
    token = api.login()
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    fill_start = time.perf_counter()
    for n in range(tasks):
        response = session.post(
            f"{server.api_url}/v2.23/tasks.create", json=_realistic_task(n), headers=headers, timeout=30
        )
        ids.append(response.json()["data"]["id"])
    fill_seconds = time.perf_counter() - fill_start
    probe = ids[len(ids) // 2]

    def get_by_id() -> None:
        session.post(
            f"{server.api_url}/v2.23/tasks.get_by_id", json={"task": probe}, headers=headers, timeout=30
        ).raise_for_status()

    def get_all_by_id() -> None:
        body = {
            "id": [probe],
            "only_fields": ["status", "status_message", "id"],
            "search_hidden": False,
        }  # the SDK's status poll
        session.post(f"{server.api_url}/v2.23/tasks.get_all", json=body, headers=headers, timeout=30).raise_for_status()

    def get_all_20_ids() -> None:
        body = {"id": ids[:20], "only_fields": ["status", "id"]}
        session.post(f"{server.api_url}/v2.23/tasks.get_all", json=body, headers=headers, timeout=30).raise_for_status()

    def get_all_by_name() -> None:  # no id, no project: every task's summary is scanned
        body = {"name": f"^train-{tasks // 2}$", "only_fields": ["id", "status"]}
        session.post(f"{server.api_url}/v2.23/tasks.get_all", json=body, headers=headers, timeout=30).raise_for_status()

    def ping() -> None:  # the floor: routing + auth + envelope, no store access
        session.post(f"{server.api_url}/v2.23/debug.ping", json={}, headers=headers, timeout=30).raise_for_status()

    for warm in (get_by_id, get_all_by_id):
        _timed(warm, 200)
    return {
        "tasks_in_store": tasks,
        "fill_creates_per_s": round(tasks / fill_seconds),
        "tasks.get_by_id": _percentiles(_timed(get_by_id, repeat)),
        "tasks.get_all {id: [one]} (status poll)": _percentiles(_timed(get_all_by_id, repeat)),
        "tasks.get_all {id: [20 ids]}": _percentiles(_timed(get_all_20_ids, repeat // 3)),
        "tasks.get_all {name: regex} (scans all tasks)": _percentiles(_timed(get_all_by_name, 50)),
        "debug.ping (HTTP + envelope floor)": _percentiles(_timed(ping, repeat)),
    }


def queue_throughput(server: EmbeddedServer, tasks: int = 2000, consumers: int = 4) -> dict[str, Any]:
    api = RawApi(server)
    results = {}
    for count in (1, consumers):
        queue = api.ok("queues.create", {"name": f"bench-{count}"})["id"]
        for n in range(tasks):
            task_id = api.ok("tasks.create", {"name": f"q{n}", "type": "training"})["id"]
            api.ok("tasks.enqueue", {"task": task_id, "queue": queue})
        token = api.login()
        processes = [
            subprocess.Popen(
                [sys.executable, str(CONSUMER), server.api_url, token, queue, "wait-for-go"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "READY"
        start = time.perf_counter()
        popped = [json.loads(process.communicate("go\n", timeout=600)[0]) for process in processes]
        seconds = time.perf_counter() - start
        delivered = [task for batch in popped for task in batch]
        assert len(delivered) == len(set(delivered)) == tasks, "a task was delivered twice or lost"
        results[f"{count} consumer(s)"] = {"pops_per_s": round(tasks / seconds), "seconds": round(seconds, 2)}
    return {"tasks": tasks, **results}


def file_transfer(server: EmbeddedServer, megabytes: int = 512) -> dict[str, Any]:
    api = RawApi(server)
    headers = {"Authorization": f"Bearer {api.login()}"}
    folder = Path(tempfile.mkdtemp(prefix="occuloop-bench-", dir=server.data_dir.parent))
    try:
        source = folder / "payload.bin"
        block = os.urandom(1 << 20)
        with open(source, "wb") as handle:
            for _ in range(megabytes):
                handle.write(block)
        os.sync()
        start = time.perf_counter()
        shutil.copyfile(source, folder / "copy.bin")
        copy_seconds = time.perf_counter() - start
        with open(source, "rb") as handle:
            encoder = MultipartEncoder(
                fields={"/bench/payload.bin": ("/bench/payload.bin", handle, "application/octet-stream")}
            )
            start = time.perf_counter()
            response = requests.post(
                server.files_url + "/",
                data=encoder,
                headers={**headers, "Content-Type": encoder.content_type},
                timeout=900,
            )
            upload_seconds = time.perf_counter() - start
        response.raise_for_status()
        digest = hashlib.sha256()
        start = time.perf_counter()
        with (
            requests.get(
                server.files_url + "/bench/payload.bin", headers=headers, stream=True, timeout=900
            ) as download,
            open(folder / "downloaded.bin", "wb") as handle,
        ):
            for chunk in download.iter_content(1 << 20):
                handle.write(chunk)
        download_seconds = time.perf_counter() - start
        with open(folder / "downloaded.bin", "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        with open(source, "rb") as handle:
            expected = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                expected.update(chunk)
        assert digest.hexdigest() == expected.hexdigest()
        copy_rate = megabytes / copy_seconds
        return {
            "megabytes": megabytes,
            "local_copy_MB_per_s": round(copy_rate),
            "upload_MB_per_s": round(megabytes / upload_seconds),
            "download_MB_per_s": round(megabytes / download_seconds),
            "upload_vs_copy": round((megabytes / upload_seconds) / copy_rate, 2),
            "download_vs_copy": round((megabytes / download_seconds) / copy_rate, 2),
        }
    finally:
        shutil.rmtree(folder)
        requests.delete(server.files_url + "/bench/payload.bin", headers=headers, timeout=60)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SCHEDULER_SCRIPT = """
import sys
from clearml import Dataset, Task
from clearml.automation import TriggerScheduler
seed = Dataset.create(dataset_project='idle', dataset_name='labeled')
open('seed.csv', 'w').write('a\\n1\\n')
seed.add_files('seed.csv'); seed.finalize(auto_upload=True)
template = Task.create(project_name='idle', task_name='template', script='seed.csv.py', add_task_init_call=False)
scheduler = TriggerScheduler(pooling_frequency_minutes=float(sys.argv[1]), sync_frequency_minutes=60, force_create_task_name='idle-scheduler')
scheduler.add_dataset_trigger(schedule_task_id=template.id, schedule_queue='default', trigger_project='idle',
                              trigger_on_tags=['Production'], name='retrain', task_parameters={'General/d': '${dataset.id}'})
print('SCHEDULER_READY', flush=True)
scheduler.start()
"""

PREPROCESS = """
class Preprocess:
    def load(self, path): return None
    def process(self, data, state, collect_custom_statistics_fn=None): return data
"""


def idle_cost(server: EmbeddedServer, workdir: Path, seconds: float = 60.0) -> dict[str, Any]:
    """Server CPU while an agent, a TriggerScheduler and a serving app all poll it, occuloop's intervals
    (agent 1 s, trigger 1 s, serving 3 s) next to the stock defaults (agent 5 s, trigger 3 min, serving 5 min)."""
    from tests.support.clients import Clients

    clients = Clients(server, workdir)
    (workdir / "preprocess.py").write_text(PREPROCESS)
    (workdir / "seed.csv.py").write_text("print('template')\n")
    model = _model(clients)
    created = clients.cli("clearml-serving", "create", "--name", "idle serving", "--project", "idle")
    service_id = created.split("id=")[-1].split()[0].strip()
    clients.cli(
        "clearml-serving",
        "--id",
        service_id,
        "model",
        "add",
        "--engine",
        "custom",
        "--endpoint",
        "idle",
        "--model-id",
        model,
        "--preprocess",
        "preprocess.py",
    )
    (workdir / "scheduler.py").write_text(SCHEDULER_SCRIPT)
    results: dict[str, Any] = {"window_seconds": seconds}
    for label, agent_poll, trigger_minutes, serving_minutes in (
        ("occuloop intervals", "1", "0.0167", "0.05"),
        ("stock defaults", "5", "3", "5"),
    ):
        children: list[Child] = []
        try:
            children.append(
                clients.spawn(
                    f"agent-{agent_poll}",
                    [str(BIN / "clearml-agent"), "daemon", "--queue", "default", "--foreground", "--cpu-only"],
                    {
                        "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
                        "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
                        "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": agent_poll,
                    },
                )
            )
            children.append(
                clients.spawn(
                    f"scheduler-{trigger_minutes}", [sys.executable, str(workdir / "scheduler.py"), trigger_minutes]
                )
            )
            port = _free_port()
            children.append(
                clients.spawn(
                    f"serving-{serving_minutes}",
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "clearml_serving.serving.main:app",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    {"CLEARML_SERVING_TASK_ID": service_id, "CLEARML_SERVING_POLL_FREQ": serving_minutes},
                )
            )
            scheduler_log, serving_port = children[1].log_path, port
            clients.api.wait_for("the scheduler", lambda: "SCHEDULER_READY" in scheduler_log.read_text(), timeout=120)  # noqa: B023 - used at once
            clients.api.wait_for("the serving app", lambda: _answers(serving_port), timeout=120)  # noqa: B023 - used at once
            time.sleep(10)  # let start-up traffic settle
            pid = server.child.process.pid
            cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)
            cpu = _cpu_seconds(pid) - cpu_before
            wall = time.monotonic() - wall_before
            for child in children:
                if not child.alive():
                    raise child.failure("died during the idle measurement")
            results[label] = {"server_cpu_percent_of_one_core": round(100 * cpu / wall, 2)}
        finally:
            for child in children:
                child.stop()
    return results


def _model(clients: Any) -> str:
    (clients.workdir / "model.bin").write_text("idle")
    script = clients.workdir / "model.py"
    script.write_text(
        "from clearml import Task, OutputModel\n"
        "task = Task.init(project_name='idle', task_name='model', output_uri=True, auto_connect_frameworks=False)\n"
        "model = OutputModel(task=task, name='idle')\nmodel.update_weights('model.bin')\nmodel.wait_for_uploads()\n"
        "model.publish()\nprint('MODEL', model.id)\ntask.close()\n"
    )
    output = clients.run([sys.executable, str(script)])
    return output.split("MODEL ", 1)[1].split()[0]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        return requests.post(f"http://127.0.0.1:{port}/serve/idle", json={}, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def run_all(workdir: Path, quick: bool = False) -> dict[str, Any]:
    env = inherited_environment(os.environ)
    results: dict[str, Any] = {}
    server = start_embedded_server(workdir / "latency", env=env)
    try:
        results["api_latency"] = api_latency(server, tasks=2000 if quick else 10_000, repeat=500 if quick else 3000)
        results["queue_throughput"] = queue_throughput(server, tasks=300 if quick else 2000)
        results["file_transfer"] = file_transfer(server, megabytes=64 if quick else 512)
    finally:
        server.child.stop()
    server = start_embedded_server(workdir / "idle", env=env)
    try:
        results["idle_cost"] = idle_cost(server, workdir / "idle-clients", seconds=15 if quick else 60)
    finally:
        server.child.stop()
    return results
