"""Project rules on the rendered objects of every values file (helm v4, Kubernetes 1.31; v3 renders the same
objects, see test_chart.py): credentials only via secretKeyRef, probes, resources and the hardened security
context on every container, least-privilege RBAC, distinct selectors, checksums, standard labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import NAMESPACE, RELEASE, VALUES_FILES, Render

WORKLOADS = ("Deployment", "StatefulSet")
CREDENTIAL_ENV = (
    "CLEARML_API_ACCESS_KEY",
    "CLEARML_API_SECRET_KEY",
    "OCCULOOP_SERVER_ACCESS_KEY",
    "OCCULOOP_SERVER_SECRET_KEY",
)
PRE_CREATED_SECRETS = ("clearml-credentials", "occuloop-ui-reader")  # named in ci/ values files, not rendered
UI_LOGIN_ENV = ("OCCULOOP_UI_USER", "OCCULOOP_UI_PASSWORD")  # the UI's basic auth: from a Secret, like the keys
STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by", "app.kubernetes.io/component", "helm.sh/chart")  # fmt: skip


@pytest.fixture(scope="module", params=VALUES_FILES)
def docs(request: pytest.FixtureRequest, renders: list[Render]) -> list[dict[str, Any]]:
    (render,) = [r for r in renders if r.helm == "v4" and r.kube == "1.31.0" and r.values == request.param]
    return render.docs


def kinds(docs: list[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in names]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, pod metadata, pod spec) of every workload, the helm test Pod and the training pod template."""
    import yaml

    for d in kinds(docs, *WORKLOADS):
        yield d["metadata"]["name"], d["spec"]["template"]["metadata"], d["spec"]["template"]["spec"]
    for d in kinds(docs, "Pod"):
        yield d["metadata"]["name"], d["metadata"], d["spec"]
    for d in kinds(docs, "ConfigMap"):
        if "pod-template.yaml" in d.get("data", {}):
            template = yaml.safe_load(d["data"]["pod-template.yaml"])
            yield "training pod template", template["metadata"], template["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_credentials_only_through_secret_key_refs(docs: list[dict[str, Any]]) -> None:
    secrets = {d["metadata"]["name"] for d in kinds(docs, "Secret")}
    for name, _, spec in pod_specs(docs):
        for container in containers(spec):
            env = {e["name"]: e for e in container.get("env", [])}
            for item in env.values():
                assert "value" not in item or not any(
                    w in item["name"] for w in ("KEY", "SECRET", "PASSWORD", "TOKEN")
                ), (name, item)
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, (name, source)  # every secret value is named, never bulk-loaded
            if name.endswith("test-prediction"):
                continue
            keys = [k for k in CREDENTIAL_ENV if k in env]
            assert len(keys) == 2, (name, container["name"])  # every occuloop process gets exactly one key pair
            for key in UI_LOGIN_ENV:
                assert key not in env or "secretKeyRef" in env[key].get("valueFrom", {}), (name, key)
            for key in keys:
                ref = env[key]["valueFrom"]["secretKeyRef"]
                assert ref["name"] in secrets or ref["name"] in PRE_CREATED_SECRETS, (name, ref)
    for config in kinds(docs, "ConfigMap"):
        assert not set(config.get("data", {})) & set(CREDENTIAL_ENV + UI_LOGIN_ENV), config["metadata"]["name"]


def test_every_container_has_probes_resources_and_the_hardened_security_context(docs: list[dict[str, Any]]) -> None:
    checked = 0
    for name, _, spec in pod_specs(docs):
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True and pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(spec):
            where = f"{name}/{container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security.get("privileged", False) is False, where
            assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"], where
            assert security["seccompProfile"]["type"] == "RuntimeDefault", where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where
            long_running = (
                container in spec["containers"]
                and name not in ("training pod template",)
                and not name.endswith("test-prediction")
            )
            if long_running:
                assert "livenessProbe" in container and "readinessProbe" in container, where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where  # the only writable path besides data volumes
            checked += 1
    assert checked >= 5


def test_images_are_pinned_and_never_latest(docs: list[dict[str, Any]]) -> None:
    for name, _, spec in pod_specs(docs):
        for container in containers(spec):
            image = container.get("image")
            if image is None:
                assert name == "training pod template"  # the glue sets the image
                continue
            assert "@sha256:" in image or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), image
    for glue in [d for d in kinds(docs, "Deployment") if d["metadata"]["name"].endswith("k8s-glue")]:
        env = {e["name"]: e.get("value") for e in glue["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert not env["CLEARML_DOCKER_IMAGE"].endswith(":latest")


def test_rbac_is_namespaced_and_least_privilege(docs: list[dict[str, Any]]) -> None:
    assert not kinds(docs, "ClusterRole", "ClusterRoleBinding")
    allowed = {
        "pods": {"get", "list", "watch", "create", "patch", "delete"},
        "pods/log": {"get"},
        "events": {"list"},
    }
    roles = kinds(docs, "Role")
    glue = any(d["metadata"]["name"].endswith("-k8s-glue") for d in kinds(docs, "Deployment"))
    assert len(roles) == glue  # training.mode=agent: no glue, no Kubernetes API access at all
    if not glue:
        assert not kinds(docs, "RoleBinding", "ServiceAccount")
        assert all(spec.get("automountServiceAccountToken") is False for _, _, spec in pod_specs(docs))
        return
    for rule in roles[0]["rules"]:
        assert rule["apiGroups"] == [""], rule
        for resource in rule["resources"]:
            assert resource in allowed, f"{resource} is not needed by the glue or the recorder"
            assert set(rule["verbs"]) <= allowed[resource], rule
        assert "*" not in rule["verbs"] and "*" not in rule["resources"]
    (binding,) = kinds(docs, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": roles[0]["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": roles[0]["metadata"]["name"], "namespace": NAMESPACE}
    ]
    # Only the glue pod gets an API token; every other pod has none.
    for name, _, spec in pod_specs(docs):
        token = spec.get("automountServiceAccountToken")
        if name.endswith("k8s-glue"):
            assert token is True and spec["serviceAccountName"] == roles[0]["metadata"]["name"]
        else:
            assert token is False, name


def test_selectors_are_distinct_and_services_reach_exactly_one_workload(docs: list[dict[str, Any]]) -> None:
    workloads = kinds(docs, *WORKLOADS)
    for a in workloads:
        selector = a["spec"]["selector"]["matchLabels"]
        assert matches(selector, a["spec"]["template"]["metadata"]["labels"])
        others = [
            b["metadata"]["name"]
            for b in workloads
            if b is not a and matches(selector, b["spec"]["template"]["metadata"]["labels"])
        ]
        assert not others, f"{a['metadata']['name']} selects the pods of {others}"
    for service in kinds(docs, "Service"):
        selected = [
            w for w in workloads if matches(service["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, service["metadata"]["name"]
        port_names = {
            p["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, (service["metadata"]["name"], port)
    for pdb in kinds(docs, "PodDisruptionBudget"):
        selected = [
            w
            for w in workloads
            if matches(pdb["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(selected) == 1, pdb["metadata"]["name"]
    for policy in kinds(docs, "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert any(matches(selector, w["spec"]["template"]["metadata"]["labels"]) for w in workloads), policy[
            "metadata"
        ]["name"]


def test_every_long_running_pod_is_covered_by_a_pdb_and_an_ingress_policy(docs: list[dict[str, Any]]) -> None:
    pdbs = [p["spec"]["selector"]["matchLabels"] for p in kinds(docs, "PodDisruptionBudget")]
    policies = [p["spec"]["podSelector"]["matchLabels"] for p in kinds(docs, "NetworkPolicy")]
    for workload in kinds(docs, *WORKLOADS):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(matches(s, labels) for s in pdbs), workload["metadata"]["name"]
        assert any(matches(s, labels) for s in policies), workload["metadata"]["name"]


def test_checksum_annotations_and_standard_labels(docs: list[dict[str, Any]]) -> None:
    for workload in kinds(docs, *WORKLOADS):
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert len(annotations["checksum/config"]) == 64, workload["metadata"]["name"]
    for doc in docs:
        labels = doc["metadata"]["labels"]
        for label in STANDARD_LABELS:
            assert label in labels, (doc["kind"], doc["metadata"]["name"], label)
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert doc["metadata"]["namespace"] == NAMESPACE


def test_mode_specific_objects(docs: list[dict[str, Any]], request: pytest.FixtureRequest) -> None:
    values = request.node.callspec.params["docs"]
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    config = next(d for d in kinds(docs, "ConfigMap") if d["metadata"]["name"].endswith("-config"))["data"]
    embedded = values != "external-values.yaml"
    assert (("StatefulSet", f"{RELEASE}-occuloop-server") in names) is embedded
    assert (("Secret", f"{RELEASE}-occuloop-credentials") in names) is embedded  # external: existingSecret only
    if embedded:
        assert config["CLEARML_API_HOST"] == f"http://{RELEASE}-occuloop-server:8008"
        assert config["CLEARML_FILES_HOST"] == f"http://{RELEASE}-occuloop-server:8081"
        (server,) = kinds(docs, "StatefulSet")
        assert server["spec"]["replicas"] == 1 and server["spec"]["volumeClaimTemplates"]
    else:
        assert config["CLEARML_API_HOST"] == "https://api.clearml.example.com"
    deployments = {d["metadata"]["name"].removeprefix(f"{RELEASE}-occuloop-"): d for d in kinds(docs, "Deployment")}
    agent_mode = values == "embedded-values.yaml"  # the only CI values file that selects services.mode=agent
    sync_pod = "services-agent" if agent_mode else "sync"
    if agent_mode:
        assert "services-agent" in deployments and not {"sync", "trigger", "rollout"} & set(deployments)
        pod = deployments["services-agent"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        # every container start registers the services (an init container would not run on a container restart)
        assert "initContainers" not in pod
        assert container["args"] == [
            "services-agent", "--queue", "occuloop-services", "--worker-id", f"{RELEASE}-occuloop-services-agent",
            "--services", "sync,trigger,rollout",
        ]  # fmt: skip
        assert container["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-occuloop-config"}}]
        assert {port["name"] for port in container["ports"]} == {"sync", "trigger", "rollout"}
        assert pod["terminationGracePeriodSeconds"] >= 45 + 10  # the services agent's shutdown bound
    else:
        assert {"sync", "trigger"} <= set(deployments) and "services-agent" not in deployments
    volumes = {v["name"]: v for v in deployments[sync_pod]["spec"]["template"]["spec"]["volumes"]}
    mounts = {
        m["name"]: m["mountPath"]
        for m in deployments[sync_pod]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts["inbox"] == "/inbox" and "persistentVolumeClaim" in volumes["inbox"]
    hpa = kinds(docs, "HorizontalPodAutoscaler")
    ingress = [d for d in kinds(docs, "Ingress") if d["metadata"]["name"].endswith("-serving")]  # the UI's: ui tests
    if values == "hpa-ingress-values.yaml":
        assert hpa and ingress and "replicas" not in deployments["serving"]["spec"]
        assert (
            ingress[0]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
            == f"{RELEASE}-occuloop-serving"
        )
    else:
        assert not hpa and not ingress


def test_readiness_and_helm_test_request_a_real_prediction(docs: list[dict[str, Any]]) -> None:
    (serving,) = [d for d in kinds(docs, "Deployment") if d["metadata"]["name"].endswith("-serving")]
    probe = " ".join(serving["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"])
    assert "/serve/occupancy" in probe and '"Light"' in probe
    (test_pod,) = kinds(docs, "Pod")
    assert test_pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = test_pod["spec"]["containers"][0]["args"][0]
    assert f"http://{RELEASE}-occuloop-serving:8080/serve/occupancy" in script and "CO2" in script
