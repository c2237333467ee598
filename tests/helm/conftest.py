"""Chart test wiring: the pinned tools of mk/k8s.mk and every render of the chart, made once per session.

The matrix (helm v3 and v4 x helm/occuloop/ci/*-values.yaml x Kubernetes 1.29/1.31/1.33) is rendered in
parallel threads at first use (about 50 ms a render) and shared by all tests here.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "occuloop"
TOOLS = ROOT / ".tools"
HELMS = {"v3": TOOLS / "helm-v3" / "helm", "v4": TOOLS / "helm-v4" / "helm"}
KUBECTL = TOOLS / "bin" / "kubectl"
TOOLS_PYTHON = TOOLS / "venv" / "bin" / "python"
HADOLINT = TOOLS / "venv" / "bin" / "hadolint"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
KUBE_VERSIONS = ("1.29.0", "1.31.0", "1.33.0")
VALUES_FILES = tuple(sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")))
RELEASE, NAMESPACE = "occ", "occuloop-test"


def require(path: Path) -> Path:
    """`make test` installs the tools and sets OCCULOOP_REQUIRE_K8S_TOOLS=1, so a missing tool fails there; a bare
    `pytest` or `make test-fast` on a machine without them skips these tests instead."""
    if not path.exists():
        message = f"{path} is missing: run `make k8s-tools` (make test does it)"
        if os.environ.get("OCCULOOP_REQUIRE_K8S_TOOLS") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def helm_env(home: Path) -> dict[str, str]:
    """Helm writes caches and config under these; keep them out of ~ (CI) and apart per session."""
    env = dict(os.environ)
    for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[key] = str(home / key.lower())
    env["KUBECONFIG"] = str(home / "no-cluster")  # never reach a real cluster from a test
    return env


@dataclass
class Tools:
    home: Path

    def helm(self, version: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(require(HELMS[version])), *args],
            capture_output=True,
            text=True,
            env=helm_env(self.home),
            check=check,
            timeout=120,
        )

    def template(
        self, version: str, *args: str, kube: str = "1.31.0", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.helm(
            version,
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            kube,
            *args,
            check=check,
        )

    def kustomize(self, overlay: str) -> str:
        # kustomize 5.7 calls `helm version -c`, which helm v4 removed: overlays inflate with helm v3.
        return subprocess.run(
            [str(require(KUBECTL)), "kustomize", "--enable-helm", "--helm-command", str(require(HELMS["v3"])),
             str(ROOT / "k8s" / "overlays" / overlay)],
            capture_output=True, text=True, env=helm_env(self.home), check=True, timeout=120,
        ).stdout  # fmt: skip


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


@dataclass
class Render:
    helm: str
    values: str
    kube: str
    path: Path

    @property
    def docs(self) -> list[dict[str, Any]]:
        return documents(self.path.read_text())


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    for path in (*HELMS.values(), KUBECTL, TOOLS_PYTHON, HADOLINT, CHECKOV):
        require(path)
    return Tools(tmp_path_factory.mktemp("helm-home"))


@pytest.fixture(scope="session")
def renders(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> list[Render]:
    out = tmp_path_factory.mktemp("rendered")
    jobs = [(h, v, k) for h in HELMS for v in VALUES_FILES for k in KUBE_VERSIONS]

    def render(job: tuple[str, str, str]) -> Render:
        helm, values, kube = job
        path = out / helm / values.removesuffix("-values.yaml") / f"k8s-{kube}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        result = tools.template(helm, "-f", str(CHART / "ci" / values), kube=kube)
        path.write_text(result.stdout)
        return Render(helm, values, kube, path)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(render, jobs))


@pytest.fixture(scope="session")
def overlays(tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("kustomized")
    result = {}
    for overlay in ("dev", "prod"):
        path = out / f"{overlay}.yaml"
        path.write_text(tools.kustomize(overlay))
        result[overlay] = path
    return result


def validate_strict(files: Sequence[Path], kube: str) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict on every document of every file (one process per Kubernetes version)."""
    return subprocess.run(
        [str(require(TOOLS / "venv" / "bin" / "kubernetes-validate")), "--strict", "--quiet", "-k", kube,
         *map(str, files)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
