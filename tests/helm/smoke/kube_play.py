"""Run the chart's embedded-mode release with `podman kube play` and request a prediction (make smoke-containers).

podman 4.3 plays Pods, Deployments, ConfigMaps and PVCs, and nothing else of a release, so the rendered documents
are adapted, and only as far as podman needs (everything else — images, commands, env, security contexts,
resources, volumes — is the chart's own output):
- the StatefulSet becomes a Deployment and its volumeClaimTemplate a PVC;
- `kind: Secret` is rejected by podman 4.3, so each secretKeyRef is replaced by its value;
- Services do not exist: pods use the host network, and the Service host names in the ConfigMap become 127.0.0.1
  (the ports are free ones chosen here, set through the chart's own values);
- probes are dropped (podman turns httpGet probes into curl healthchecks; the images have no curl) and replaced
  by the same requests from outside: /healthz on the server, a prediction on serving.
The serving pod runs the chart's own command (`occuloop serving --name ... run`). Its control plane is created here
with the real clearml-serving CLI and a small custom engine (the Light rule) instead of `occuloop serving setup`,
which needs a trained occuloop model package: a training run does not fit a smoke test.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

from services.child_processes import EmbeddedServer
from tests.support.clients import Clients

ROOT = Path(__file__).resolve().parents[3]
TOOLS = ROOT / ".tools"
HELM = TOOLS / "helm-v4" / "helm"
RELEASE = "occ"
SAMPLE = {"Temperature": 23.1, "Humidity": 27.2, "Light": 426.0, "CO2": 721.25, "HumidityRatio": 0.00479}
T = TypeVar("T")

PREPROCESS = '''"""Smoke-test engine for clearml-serving `custom`: the Light rule, until occuloop's engine code lands."""
from typing import Any


class Preprocess:
    def load(self, local_file_name: str) -> Any:
        return local_file_name

    def preprocess(self, body: dict, state: dict, collect_custom_statistics_fn: Any = None) -> Any:
        return body

    def process(self, data: Any, state: dict, collect_custom_statistics_fn: Any = None) -> Any:
        return {"Occupancy": int(float(data["Light"]) > 364.5), "engine": "smoke-light-rule"}

    def postprocess(self, data: Any, state: dict, collect_custom_statistics_fn: Any = None) -> dict:
        return data
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": str(TOOLS / "podman" / "containers.conf")}
    result = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise SystemExit(
            f"smoke: podman {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return result


def container(component: str) -> str:
    """podman names a played Deployment's container <deployment>-pod-<n>-<container>."""
    names = podman("ps", "--format", "{{.Names}}").stdout.split()
    prefix = f"{RELEASE}-occuloop-{component}-pod"
    matching = [n for n in names if n.startswith(prefix) and n.endswith(f"-{component}")]
    if not matching:
        raise SystemExit(f"smoke: no running container for {component}; running: {names}")
    return matching[0]


def logs(component: str) -> str:
    try:
        return podman("logs", container(component), check=False).stdout[-3000:]
    except SystemExit as error:
        return str(error)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, on_timeout: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = probe()
        except requests.RequestException:
            result = None
        if result is not None:
            return result
        time.sleep(2)
    raise SystemExit(f"smoke: {what} did not answer within {timeout:.0f} s\n{on_timeout()}")


def render(tag: str, ports: dict[str, int], keys: tuple[str, str]) -> list[dict[str, Any]]:
    sets = [
        "clearml.mode=embedded",
        f"clearml.accessKey={keys[0]}",
        f"clearml.secretKey={keys[1]}",
        "imagePullPolicy=Never",
        f"server.service.apiPort={ports['api']}",
        f"server.service.filesPort={ports['files']}",
        f"serving.port={ports['serving']}",
        "serving.setup.enabled=false",
    ]
    for role in ("server", "services", "training", "serving"):
        sets += [f"images.{role}.repository=localhost/occuloop-{role}", f"images.{role}.tag={tag}"]
    argv = [str(HELM), "template", RELEASE, str(ROOT / "helm" / "occuloop"), "--namespace", "smoke",
            "--kube-version", "1.31.0"]  # fmt: skip
    for item in sets:
        argv += ["--set", item]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [d for d in yaml.safe_load_all(output) if d]


def for_podman(docs: list[dict[str, Any]], component: str, keys: tuple[str, str], ports: dict[str, int]) -> str:
    """The ConfigMap plus the workload of one component, adapted as the module docstring says."""
    server_host = f"http://{RELEASE}-occuloop-server:"
    secret_values = {"access-key": keys[0], "secret-key": keys[1]}
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-config"):
            doc["data"] = {k: str(v).replace(server_host, "http://127.0.0.1:") for k, v in doc["data"].items()}
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
        spec["hostNetwork"] = True
        for container in spec["containers"] + spec.get("initContainers", []):
            container.pop("ports", None)  # with the host network, podman refuses port mappings
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                container.pop(probe, None)
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    item.pop("valueFrom")
                    item["value"] = secret_values[ref["key"]]
        out.append(doc)
    return yaml.safe_dump_all(out, sort_keys=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default="smoke")
    parser.add_argument("--keep", action="store_true", help="leave the pods running")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="occuloop-smoke-"))
    ports = {"api": free_port(), "files": free_port(), "serving": free_port()}
    keys = (secrets.token_hex(10).upper(), secrets.token_urlsafe(30))
    played: list[Path] = []
    started = time.monotonic()
    try:
        server_yaml = work / "server.yaml"
        server_yaml.write_text(for_podman(render(args.tag, ports, keys), "server", keys, ports))
        podman("kube", "play", str(server_yaml))
        played.append(server_yaml)
        api = f"http://127.0.0.1:{ports['api']}"
        wait_for(
            "the control plane",
            lambda: True if requests.get(f"{api}/healthz", timeout=3).ok else None,
            120,
            lambda: logs("server"),
        )
        user = podman("exec", container("server"), "id", "-u").stdout.strip()
        assert user == "10001", user
        denied = podman("exec", container("server"), "touch", "/opt/x", check=False)
        assert denied.returncode != 0, "the root filesystem is writable"
        print(
            f"smoke: control plane answers on {api} (uid {user}, read-only root) after {time.monotonic() - started:.0f} s"
        )

        env = {
            "CLEARML_API_HOST": api,
            "CLEARML_WEB_HOST": api,
            "CLEARML_FILES_HOST": f"http://127.0.0.1:{ports['files']}",
            "CLEARML_API_ACCESS_KEY": keys[0],
            "CLEARML_API_SECRET_KEY": keys[1],
        }
        server = EmbeddedServer(None, work, api, env["CLEARML_FILES_HOST"], env)  # type: ignore[arg-type]
        clients = Clients(server, work / "clients")
        model = clients.flow("model_flow", "smoke-serving", "smoke-model")["id"]
        (clients.workdir / "preprocess.py").write_text(PREPROCESS)
        # The control plane the chart's `occuloop serving --name "occuloop serving" run` looks up by name.
        created = clients.cli(
            "clearml-serving", "create", "--name", "occuloop serving", "--project", "occuloop/serving"
        )
        service_id = created.split("id=", 1)[1][:32]
        clients.cli("clearml-serving", "--id", service_id, "model", "add", "--engine", "custom", "--endpoint",
                    "occupancy", "--model-id", model, "--preprocess", "preprocess.py")  # fmt: skip

        serving_yaml = work / "serving.yaml"
        serving_yaml.write_text(for_podman(render(args.tag, ports, keys), "serving", keys, ports))
        podman("kube", "play", str(serving_yaml))
        played.append(serving_yaml)
        url = f"http://127.0.0.1:{ports['serving']}/serve/occupancy"

        def predict() -> dict[str, Any] | None:
            response = requests.post(url, json=SAMPLE, timeout=10)
            return dict(response.json()) if response.status_code == 200 else None

        answer = wait_for(
            "the serving endpoint",
            predict,
            240,
            lambda: logs("serving"),
        )
        assert answer["Occupancy"] == 1, answer
        dark = requests.post(url, json={**SAMPLE, "Light": 0.0}, timeout=10).json()
        assert dark["Occupancy"] == 0, dark
        assert podman("exec", container("serving"), "id", "-u").stdout.strip() == "10001"
        assert podman("exec", container("serving"), "touch", "/opt/x", check=False).returncode != 0
        print(f"smoke: POST {url} -> {answer} (and 0 in the dark) after {time.monotonic() - started:.0f} s")
        print("smoke: passed")
        return 0
    finally:
        if not args.keep:
            for path in reversed(played):
                podman("kube", "down", str(path), check=False)
            podman("volume", "rm", "-f", f"{RELEASE}-occuloop-server-data", check=False)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
