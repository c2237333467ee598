"""The whole loop from the rendered chart under `podman kube play` (make smoke-containers): a labeled file dropped
into the inbox volume becomes a dataset version (sync), a training run (trigger, then a clearml-agent in the
training image), a gate decision, a canary ramp and promotion (rollout), and a prediction from the promoted model
(serving); `podman logs` of each pod shows its structured decisions and each pod's GET /metrics counted them.

The release is the embedded-mode chart with `services.mode=deployments` and `training.mode=agent` (no Kubernetes API
is needed, and none exists here). podman 4.3 plays Pods, Deployments, ConfigMaps and PVCs, and nothing else of a
release, so the rendered documents are adapted, and only as far as podman needs (everything else — images,
commands, env, security contexts, resources, volumes — is the chart's own output):
- the StatefulSet becomes a Deployment and its volumeClaimTemplate a PVC;
- `kind: Secret` is rejected by podman 4.3, so each secretKeyRef is replaced by its value;
- Services do not exist: pods use the host network, and the Service host names in the ConfigMap become 127.0.0.1
  (every port is a free one chosen here, set through the chart's own values);
- probes are dropped (podman turns httpGet probes into curl healthchecks; the images have no curl) and replaced
  by the same requests from outside.
podman 4.3 also lets a ConfigMap's `envFrom` win over a container's own `env` (Kubernetes does the opposite), so a
`<workload>.extraEnv` that overrides a ConfigMap key does not take effect here: the smoke sets only `config:` values.
The serving pod's init container (`serving setup`) is switched off (`serving.setup.enabled=false`): the canary
controller creates the control plane and registers each model itself, which is what the smoke is about. The canary
windows are shortened through the chart's `config:` values, and a request loop stands in for the building.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from services.loop_state import Api, LoopState, read
from tests.support.metrics import scrape
from training.schema import EXAMPLE_READING

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / ".tools"
HELM = TOOLS / "helm-v4" / "helm"
RELEASE = "occ"
T = TypeVar("T")
COMPONENTS = ("server", "sync", "trigger", "rollout", "training-agent", "serving")
# the structured decisions each pod's log must show (OCCULOOP_LOG_FORMAT=json in the chart's ConfigMap)
DECISIONS = {
    "server": ("server_started",),
    "sync": ("file_accepted", "dataset_version_finalized", "trigger_notified"),
    "trigger": ("trigger_ready", "trigger_fired"),
    "training-agent": ("gate_passed",),
    "rollout": ("rollout_ready", "canary_step", "promoted"),
    "serving": ("inference_app_starting",),
}
FAST = {  # the chart's own config values: short canary windows for a request loop of ~10 readings a second
    "OCCULOOP_CANARY_WINDOW_SECONDS": 5,
    "OCCULOOP_CANARY_MIN_REQUESTS": 10,
    "OCCULOOP_CANARY_MAX_P99_MS": 5000,  # training shares the two cores
    "OCCULOOP_CANARY_PROBE_SECONDS": 120,
    "OCCULOOP_SERVING_POLL_SECONDS": 2,
    "OCCULOOP_SERVING_METRICS_SECONDS": 1,
    "OCCULOOP_TRIGGER_POLL_SECONDS": 2,
    # two days of labels train a model a few points below the Light rule on the holdout (the gate's baseline rule
    # refuses it, rightly); the smoke is about the chain, not the model, so that margin is wide here
    "OCCULOOP_GATE_BASELINE_MARGIN": 0.1,
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def podman(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(TOOLS / "podman" / "containers.conf")}
    result = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=600, input=stdin)
    if check and result.returncode != 0:
        raise SystemExit(
            f"smoke: podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result


def container(component: str) -> str:
    """podman names a played Deployment's container <deployment>-pod-<n>-<container>."""
    names = podman("ps", "-a", "--format", "{{.Names}}").stdout.split()
    prefix = f"{RELEASE}-occuloop-{component}-pod"
    matching = [n for n in names if n.startswith(prefix) and not n.endswith("-infra")]
    if not matching:
        raise SystemExit(f"smoke: no container for {component}; there are: {names}")
    return matching[0]


def logs(component: str, tail: int = 4000) -> str:
    try:
        result = podman("logs", container(component), check=False)
        return (result.stdout + result.stderr)[-tail:]
    except SystemExit as error:
        return str(error)


def all_logs() -> str:
    return "\n".join(f"--- podman logs {component}\n{logs(component)}" for component in COMPONENTS)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = probe()
        except (requests.RequestException, OSError, RuntimeError):
            result = None
        if result:
            return result
        time.sleep(2)
    raise SystemExit(f"smoke: {what} did not happen within {timeout:.0f} s\n{all_logs()}")


def render(tag: str, ports: dict[str, int], keys: tuple[str, str]) -> list[dict[str, Any]]:
    sets = [
        "clearml.mode=embedded",
        f"clearml.accessKey={keys[0]}",
        f"clearml.secretKey={keys[1]}",
        "imagePullPolicy=Never",
        f"server.service.apiPort={ports['api']}",
        f"server.service.filesPort={ports['files']}",
        "services.mode=deployments",
        f"sync.port={ports['sync']}",
        f"trigger.port={ports['trigger']}",
        f"rollout.port={ports['rollout']}",
        f"serving.port={ports['serving']}",
        "serving.setup.enabled=false",
        "training.mode=agent",
    ]
    for role in ("server", "services", "training", "serving"):
        sets += [f"images.{role}.repository=localhost/occuloop-{role}", f"images.{role}.tag={tag}"]
    argv = [str(HELM), "template", RELEASE, str(ROOT / "helm" / "occuloop"), "--namespace", "smoke",
            "--kube-version", "1.31.0"]  # fmt: skip
    for item in sets:
        argv += ["--set", item]
    for name, value in FAST.items():
        argv += ["--set-json", f"config.{name}={json.dumps(value)}"]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(output) if d]


def for_podman(docs: list[dict[str, Any]], component: str, keys: tuple[str, str]) -> str:
    """The ConfigMap, the workload of one component and the claims it mounts, adapted as the module docstring says."""
    secret_values = {"access-key": keys[0], "secret-key": keys[1]}
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-config"):
            service_url = re.compile(rf"http://{RELEASE}-occuloop-[a-z-]+:")
            doc["data"] = {k: service_url.sub("http://127.0.0.1:", str(v)) for k, v in doc["data"].items()}
            out.append(doc)
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        if doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] != component:
            continue
        spec = doc["spec"]["template"]["spec"]
        if doc["kind"] == "StatefulSet":
            for claim in doc["spec"].pop("volumeClaimTemplates"):
                name = f"{doc['metadata']['name']}-{claim['metadata']['name']}"
                out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                            "spec": claim["spec"]})  # fmt: skip
                spec["volumes"].append(
                    {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": name}}
                )
            doc["kind"] = "Deployment"
            doc["spec"].pop("serviceName")
        for volume in spec.get("volumes", []):
            claim_name = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim_name in claims:
                out.append(claims[claim_name])
        spec["hostNetwork"] = True
        for item in spec["containers"] + spec.get("initContainers", []):
            item.pop("ports", None)  # with the host network, podman refuses port mappings
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                item.pop(probe, None)
            for env in item.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    env.pop("valueFrom")
                    env["value"] = secret_values[ref["key"]]
        out.append(doc)
    return yaml.safe_dump_all(out, sort_keys=False)


class Building:
    """The building's sensors: a reading every 0.1 s to the public endpoint, answered or not."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.answers: list[int] = []

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.wait(0.1):
            try:
                self.answers.append(session.post(self.url, json=EXAMPLE_READING, timeout=10).status_code)
            except requests.RequestException:
                self.answers.append(0)


def decisions_in(component: str) -> list[str]:
    """The `event` of every structured line in the pod's log (JSON lines, or event=... in text)."""
    events = []
    for line in logs(component, tail=10**7).splitlines():
        found = re.search(r'"event": ?"([a-z_]+)"', line) or re.search(r"event=([a-z_]+)", line)
        if found:
            events.append(found.group(1))
    return events


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default="smoke")
    parser.add_argument("--keep", action="store_true", help="leave the pods running")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="occuloop-smoke-"))
    names = ("api", "files", "sync", "trigger", "rollout", "serving")
    ports = {name: free_port() for name in names}
    keys = (secrets.token_hex(10).upper(), secrets.token_urlsafe(30))
    played: list[Path] = []
    started = time.monotonic()
    marks: list[tuple[str, float]] = []
    building: Building | None = None

    def mark(step: str, what: str) -> None:
        marks.append((step, time.monotonic() - started))
        print(f"smoke: {what} after {time.monotonic() - started:.0f} s", flush=True)

    def play(*components: str) -> None:
        docs = render(args.tag, ports, keys)
        for component in components:
            path = work / f"{component}.yaml"
            path.write_text(for_podman(docs, component, keys))
            podman("kube", "play", str(path))
            played.append(path)

    api_url = f"http://127.0.0.1:{ports['api']}"
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in ("sync", "trigger", "rollout", "serving")}
    try:
        play("server")
        wait_for("the control plane", lambda: requests.get(f"{api_url}/healthz", timeout=3).ok, 120)
        assert podman("exec", container("server"), "id", "-u").stdout.strip() == "10001"
        assert podman("exec", container("server"), "touch", "/opt/x", check=False).returncode != 0
        mark("server", f"control plane answers on {api_url} (uid 10001, read-only root)")
        api = Api(api_url, *keys)

        play("sync", "trigger", "rollout", "training-agent")
        wait_for("the sync", lambda: requests.get(f"{urls['sync']}/healthz", timeout=3).ok, 180)
        wait_for(
            "the trigger",
            lambda: "template_task_id" in requests.get(f"{urls['trigger']}/status", timeout=3).json(),
            300,
        )
        wait_for("the rollout controller", lambda: requests.get(f"{urls['rollout']}/healthz", timeout=3).ok, 300)
        wait_for("the training agent", lambda: api.call("workers.get_all", {}).get("workers"), 300)
        mark("services", "sync, trigger, rollout and the training agent are up")

        play("serving")  # its control plane exists now: the rollout controller created it
        building = Building(f"{urls['serving']}/serve/occupancy")
        threading.Thread(target=building.run, daemon=True).start()
        wait_for("the inference app", lambda: requests.get(f"{urls['serving']}/metrics", timeout=3).ok, 300)
        mark("serving", "the inference app is up (no model yet)")

        # the labeling tool: two daily sessions written atomically into the inbox volume, then "upload"
        podman("exec", container("sync"), "occuloop", "label-replay", "--inbox", "/inbox", "--sessions", "2")
        answer = requests.post(f"{urls['sync']}/sync?wait=300", timeout=320).json()
        assert answer.get("status") == "synced", answer
        mark("version", f"inbox -> dataset version {answer['version']} ({', '.join(answer['files'])})")

        def promoted() -> LoopState | None:
            state = read(api)
            return state if state.champion else None

        def fired() -> bool:
            run = read(api).run_for(answer["dataset_id"])
            return run is not None and run.status in ("in_progress", "completed")

        wait_for("the training run to start", fired, 300)
        mark("training", "training run started on the training agent")
        state = wait_for("a champion (training, gate, canary ramp, promotion)", promoted, 1500)
        mark("promoted", f"model {state.champion} promoted through the canary")

        def champion_answers() -> dict[str, Any] | None:
            body = requests.post(f"{urls['serving']}/serve/occupancy", json=EXAMPLE_READING, timeout=10).json()
            return body if body.get("model_id") == state.champion else None

        prediction = wait_for("the endpoint to answer with the champion", champion_answers, 120)
        assert prediction["dataset_id"] == answer["dataset_id"], prediction
        mark("prediction", f"POST /serve/occupancy -> occupied={prediction['occupied']} from "
             f"{prediction['model_id'][:12]} (dataset {prediction['dataset_version']})")  # fmt: skip

        for component, wanted in DECISIONS.items():
            events = decisions_in(component)
            missing = [event for event in wanted if event not in events]
            assert not missing, f"podman logs {component}: no {missing}\n{logs(component)}"
            print(f"smoke: podman logs {component}: " + " ".join(dict.fromkeys(e for e in events if e in wanted)))
        counted = {name: scrape(url) for name, url in {"server": api_url, **urls}.items()}
        assert counted["sync"].value("occuloop_sync_versions_finalized_total") == 1
        assert counted["sync"].value("occuloop_sync_files_accepted_total") == 2
        assert counted["trigger"].value("occuloop_trigger_runs_fired_total") == 1
        assert counted["rollout"].value("occuloop_rollout_decisions_total", decision="promoted") == 1
        assert counted["serving"].value("occuloop_serving_requests_total", version="1") > 0
        assert counted["server"].value("occuloop_server_queue_entries", queue="training") == 0
        print("smoke: GET /metrics of every pod parses and counted the loop (1 version, 1 run, 1 promotion)")
        for user in ("sync", "training-agent", "serving"):
            assert podman("exec", container(user), "id", "-u").stdout.strip() == "10001", user
        print("smoke: timeline " + ", ".join(f"{step} {seconds:.0f} s" for step, seconds in marks))
        print(f"smoke: passed in {time.monotonic() - started:.0f} s")
        return 0
    finally:
        if building is not None:
            building.stop.set()
        if not args.keep:
            for path in reversed(played):
                podman("kube", "down", str(path), check=False)
            for volume in ("server-data", "inbox"):
                podman("volume", "rm", "-f", f"{RELEASE}-occuloop-{volume}", check=False)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
