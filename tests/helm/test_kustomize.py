"""The kustomize overlays inflate the chart (no copy of its manifests), patch it, and render valid objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import ROOT, documents, validate_strict

OVERLAYS = ROOT / "k8s" / "overlays"


def test_overlays_hold_no_copy_of_the_chart() -> None:
    for overlay in ("dev", "prod"):
        files = sorted(p.name for p in (OVERLAYS / overlay).iterdir())
        assert files == ["kustomization.yaml", "values.yaml"], files  # no manifests, no inflated charts/ cache
        text = (OVERLAYS / overlay / "kustomization.yaml").read_text()
        assert "helmCharts:" in text and "chartHome: ../../../helm" in text


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlay_renders_valid_objects(overlays: dict[str, Path], overlay: str) -> None:
    for kube in ("1.29.0", "1.33.0"):
        result = validate_strict([overlays[overlay]], kube)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dev_overlay_patches(overlays: dict[str, Path]) -> None:
    docs = documents(overlays["dev"].read_text())
    assert {d["metadata"]["namespace"] for d in docs} == {"occuloop-dev"}
    assert all(d["metadata"]["labels"]["occuloop.io/environment"] == "dev" for d in docs)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    serving = by_name["Deployment", "occuloop-serving"]["spec"]["template"]["spec"]["containers"][0]
    assert serving["image"] == "ghcr.io/occuloop/occuloop-serving:0.1.0-dev"
    assert serving["resources"]["limits"]["memory"] == "1536Mi"
    server = by_name["StatefulSet", "occuloop-server"]
    assert server["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert server["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.1.0-dev")
    assert ("Deployment", "occuloop-sync") in by_name  # services.mode=deployments from the overlay's values
    binding = by_name["RoleBinding", "occuloop-k8s-glue"]
    assert binding["subjects"][0]["namespace"] == "occuloop-dev"


def test_prod_overlay_patches(overlays: dict[str, Path]) -> None:
    docs = documents(overlays["prod"].read_text())
    assert {d["metadata"]["namespace"] for d in docs} == {"occuloop"}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    assert ("StatefulSet", "occuloop-server") not in by_name and ("Secret", "occuloop-credentials") not in by_name
    assert ("HorizontalPodAutoscaler", "occuloop-serving") in by_name and ("Ingress", "occuloop-serving") in by_name
    serving = by_name["Deployment", "occuloop-serving"]["spec"]["template"]["spec"]
    assert serving["containers"][0]["image"] == "registry.example.com/occuloop/serving:0.1.0"
    assert serving["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname"
    glue = by_name["Deployment", "occuloop-k8s-glue"]["spec"]["template"]["spec"]["containers"][0]
    assert glue["resources"]["limits"]["memory"] == "1Gi"
