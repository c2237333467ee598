"""The UI in the chart (issue 15): its Deployment, Service and optional Ingress, CLEARML_WEB_HOST and the embedded
server's redirects pointing at it, read credentials and basic auth only through Secrets, its NetworkPolicies, and
NOTES.txt saying how to open it. The project rules every workload follows are in test_rendered_objects.py."""

from __future__ import annotations

from typing import Any

from .conftest import CHART, RELEASE, Render, Tools, documents

UI = f"{RELEASE}-occuloop-ui"


def rendered(renders: list[Render], values: str) -> list[dict[str, Any]]:
    (render,) = [r for r in renders if r.helm == "v4" and r.kube == "1.31.0" and r.values == values]
    return render.docs


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def config(docs: list[dict[str, Any]]) -> dict[str, str]:
    return dict(named(docs, "ConfigMap", f"{RELEASE}-occuloop-config")["data"])


def test_by_default_the_sdk_links_and_the_servers_redirects_lead_to_the_ui_service(renders: list[Render]) -> None:
    docs = rendered(renders, "embedded-values.yaml")
    service = named(docs, "Service", UI)
    assert service["spec"]["ports"][0]["port"] == 8080
    data = config(docs)
    assert data["CLEARML_WEB_HOST"] == data["OCCULOOP_SERVER_WEB_HOST"] == f"http://{UI}:8080"
    assert data["OCCULOOP_UI_SYNC_URL"] == f"http://{RELEASE}-occuloop-sync:8090"
    assert data["OCCULOOP_UI_ROLLOUT_URL"] == f"http://{RELEASE}-occuloop-rollout:8092"
    named(docs, "Service", f"{RELEASE}-occuloop-rollout")  # the UI reads the controller's status through it
    container = named(docs, "Deployment", UI)["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:1] == ["ui"] and container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    policy = named(docs, "NetworkPolicy", UI)
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert egress_ports == {8008, 8081, 8090, 8091, 8092, 53}  # the API, files, the status ports, DNS: nothing else


def test_published_with_basic_auth_and_its_own_read_credentials(renders: list[Render]) -> None:
    docs = rendered(renders, "ui-values.yaml")
    assert config(docs)["CLEARML_WEB_HOST"] == "https://loop.example.com"
    ingress = named(docs, "Ingress", UI)
    assert ingress["spec"]["rules"][0]["host"] == "loop.example.com" and ingress["spec"]["tls"][0]["secretName"]
    env = {e["name"]: e for e in named(docs, "Deployment", UI)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLEARML_API_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "occuloop-ui-reader"
    assert env["OCCULOOP_UI_USER"]["valueFrom"]["secretKeyRef"] == {"name": "occuloop-ui-login", "key": "username"}
    assert env["OCCULOOP_UI_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "occuloop-ui-login", "key": "password"}
    ui_policy = named(docs, "NetworkPolicy", UI)
    assert ui_policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    sync_policy = named(docs, "NetworkPolicy", f"{RELEASE}-occuloop-sync-ingress")
    peers = sync_policy["spec"]["ingress"][0]["from"]
    assert any(
        (p.get("podSelector") or {}).get("matchLabels", {}).get("app.kubernetes.io/component") == "ui" for p in peers
    )


def test_without_the_ui_the_web_host_falls_back_to_the_api(tools: Tools) -> None:
    docs = documents(tools.template("v4", "--set", "ui.enabled=false").stdout)
    assert not [d for d in docs if d["metadata"]["name"] == UI]
    assert config(docs)["CLEARML_WEB_HOST"] == f"http://{RELEASE}-occuloop-server:8008"
    assert "OCCULOOP_SERVER_WEB_HOST" not in config(docs)


def test_notes_say_how_to_open_the_ui_and_how_to_protect_it(tools: Tools) -> None:
    notes = tools.helm("v4", "install", "occ", str(CHART), "--dry-run=client", "--namespace", "ns1").stdout
    notes = notes.split("NOTES:", 1)[1]
    assert "kubectl -n ns1 port-forward svc/occ-occuloop-ui 8080:8080" in notes and "http://127.0.0.1:8080/" in notes
    assert "No built-in authentication" in notes
    published = tools.helm("v4", "install", "occ", str(CHART), "--dry-run=client", "-f",
                           str(CHART / "ci" / "ui-values.yaml")).stdout.split("NOTES:", 1)[1]  # fmt: skip
    assert "https://loop.example.com/" in published and "Secret occuloop-ui-login (basic auth)" in published
