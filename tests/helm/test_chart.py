"""helm lint --strict (v3 and v4), the schema's rejections, the render matrix under strict Kubernetes schemas,
helm v4 `install --dry-run=client` with NOTES.txt, and `helm package`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import CHART, HELMS, KUBE_VERSIONS, VALUES_FILES, Render, Tools, documents, validate_strict


@pytest.mark.parametrize("helm", sorted(HELMS))
def test_lint_strict_default_and_every_ci_values_file(tools: Tools, helm: str) -> None:
    for values in ("", *VALUES_FILES):
        args = ["lint", "--strict", str(CHART), "--kube-version", "1.31.0"]
        if values:
            args += ["-f", str(CHART / "ci" / values)]
        result = tools.helm(helm, *args, check=False)
        assert result.returncode == 0, f"{helm} lint {values or 'values.yaml'}:\n{result.stdout}{result.stderr}"
        assert "0 chart(s) failed" in result.stdout


BAD_VALUES = {
    "unknown top-level key": {"replicaCount": 2},
    "unknown key in our section": {"serving": {"replica": 2}},
    "wrong type": {"serving": {"replicas": "two"}},
    "mode outside the enum": {"clearml": {"mode": "hybrid"}},
    "latest tag": {"images": {"serving": {"repository": "r/s", "tag": "latest", "digest": ""}}},
    "external mode without hosts": {"clearml": {"mode": "external", "existingSecret": "s"}},
    "limits removed": {"serving": {"resources": {"limits": None}}},  # null deletes the default map
    "services mode typo": {"services": {"mode": "deployment"}},
    "bad digest": {"images": {"server": {"repository": "r/s", "tag": "", "digest": "sha256:abc"}}},
}


@pytest.mark.parametrize("helm", sorted(HELMS))
@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_schema_rejects_bad_values(tools: Tools, tmp_path: Path, helm: str, case: str) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump(BAD_VALUES[case]))
    result = tools.template(helm, "-f", str(bad), check=False)
    assert result.returncode != 0, f"{case} was accepted"
    assert "schema" in result.stderr.lower() or "values don't meet" in result.stderr.lower(), result.stderr


def test_external_mode_without_credentials_fails_with_a_message(tools: Tools) -> None:
    result = tools.template(
        "v4", "--set", "clearml.mode=external", "--set", "clearml.external.apiHost=https://api.example.com",
        "--set", "clearml.external.filesHost=https://files.example.com", check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "existingSecret" in result.stderr


def test_render_matrix_is_complete(renders: list[Render]) -> None:
    assert len(VALUES_FILES) >= 4
    assert len(renders) == len(HELMS) * len(VALUES_FILES) * len(KUBE_VERSIONS)
    for render in renders:
        kinds = {d["kind"] for d in render.docs}
        assert {"Deployment", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"} <= kinds, render


def test_helm_v3_and_v4_render_the_same_objects(renders: list[Render]) -> None:
    def masked(render: Render) -> list[dict[str, object]]:
        docs = render.docs
        for doc in docs:  # generated credentials differ per render
            if doc["kind"] == "Secret":
                doc["data"] = {k: "<generated>" for k in doc["data"]}
            for key in ("checksum/secret",):
                annotations = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {})
                annotations.pop(key, None)
        return docs

    by_key = {(r.helm, r.values, r.kube): r for r in renders}
    for values in VALUES_FILES:
        assert masked(by_key["v3", values, "1.31.0"]) == masked(by_key["v4", values, "1.31.0"]), values


@pytest.mark.parametrize("kube", KUBE_VERSIONS)
def test_every_rendered_document_passes_strict_kubernetes_schemas(renders: list[Render], kube: str) -> None:
    files = [r.path for r in renders if r.kube == kube]
    result = validate_strict(files, kube)
    assert result.returncode == 0, result.stdout + result.stderr


def test_training_pod_template_is_a_valid_pod(renders: list[Render], tmp_path: Path) -> None:
    """The pod template lives inside a ConfigMap, where no schema check sees it: validate it as a Pod with the
    fields the glue adds (container image and command)."""
    pods = []
    for render in renders:
        if render.helm != "v4" or render.kube != "1.33.0":
            continue
        templates = [
            d for d in render.docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-pod-template")
        ]
        assert len(templates) == (render.values != "monitoring-values.yaml")  # training.mode=agent: no glue
        if not templates:
            continue
        config = templates[0]
        pod = yaml.safe_load(config["data"]["pod-template.yaml"])
        pod["metadata"]["name"] = "clearml-id-0123"
        pod["spec"]["containers"][0].update(image="occuloop-training:0.1.0", command=["bash", "-c", "true"])
        pods.append(pod)
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump_all(pods))
    result = validate_strict([path], "1.33.0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_dry_run_prints_notes_with_logs_commands(tools: Tools) -> None:
    result = tools.helm("v4", "install", "occ", str(CHART), "--dry-run=client", "--namespace", "ns1")
    notes = result.stdout.split("NOTES:", 1)[1]
    for command in (
        "kubectl -n ns1 logs -f statefulset/occ-occuloop-server",
        "kubectl -n ns1 logs -f deployment/occ-occuloop-sync",
        "kubectl -n ns1 logs -f deployment/occ-occuloop-trigger",
        "kubectl -n ns1 logs -f deployment/occ-occuloop-k8s-glue -c glue",
        "kubectl -n ns1 logs -f deployment/occ-occuloop-serving",
        "curl -X POST http://127.0.0.1:8080/serve/occupancy",
    ):
        assert command in notes, notes


def test_notes_link_the_clearml_ui_in_external_mode(tools: Tools) -> None:
    result = tools.helm(
        "v4", "install", "occ", str(CHART), "--dry-run=client",
        "-f", str(CHART / "ci" / "external-values.yaml"),
    )  # fmt: skip
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "ClearML UI: https://app.clearml.example.com" in notes
    assert "statefulset/" not in notes  # no embedded server


def test_package(tools: Tools, tmp_path: Path) -> None:
    result = tools.helm("v3", "package", str(CHART), "-d", str(tmp_path))
    (package,) = tmp_path.glob("occuloop-*.tgz")
    assert re.search(r"occuloop-\d+\.\d+\.\d+\.tgz", package.name), result.stdout


def test_documents_parse_and_carry_the_release_namespace(renders: list[Render]) -> None:
    for render in renders[:1]:
        for doc in documents(render.path.read_text()):
            assert doc["metadata"]["namespace"] == "occuloop-test", doc["metadata"]


def test_the_services_agent_runs_only_the_enabled_services(tools: Tools) -> None:
    docs = documents(tools.template("v4", "--set", "services.mode=agent", "--set", "rollout.enabled=false").stdout)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    (container,) = deployments["occ-occuloop-services-agent"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][container["args"].index("--services") + 1] == "sync,trigger"
    assert {port["name"] for port in container["ports"]} == {"sync", "trigger"}
    assert "occ-occuloop-rollout" not in deployments
