"""The chart's Prometheus and Grafana objects: scrape annotations, the optional ServiceMonitor and its metrics
Services, the dashboard ConfigMap, the optional PrometheusRule checked and unit-tested with promtool (Debian's
`prometheus` package, fetched by `make k8s-tools`), and every metric name the dashboard and the alerts use defined
by the processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.metrics import (
    DASHBOARD,
    SUFFIXES,
    dashboard_expressions,
    defined,
    names_in,
    rendered_rules,
    rule_expressions,
)

from .conftest import CHART, RELEASE, TOOLS, Tools, documents, require

PROMTOOL = TOOLS / "bin" / "promtool"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool" / "alerts_test.yaml"
MONITORING = str(CHART / "ci" / "monitoring-values.yaml")


def test_every_metric_the_dashboard_and_the_alerts_use_is_defined(tools: Tools) -> None:
    rules = rendered_rules(tools.template("v4", "-f", MONITORING).stdout)
    dashboard = json.loads(DASHBOARD.read_text())
    used = names_in(dashboard_expressions(dashboard)) | names_in(rule_expressions(rules))
    known = defined()
    assert used and not used - known.names, sorted(used - known.names)
    bases = {name.removesuffix(suffix) for name in used for suffix in SUFFIXES if name.endswith(suffix)} | used
    unused = {name for name in known.families if name.startswith("occuloop_") and name not in bases}
    assert not unused, f"defined but on no dashboard panel nor alert: {sorted(unused)}"


def test_dashboard_is_grafana_json_with_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] and dashboard["title"] == "occuloop"
    variables = {item["name"]: item for item in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("throughput", "quarantine", "trigger lag", "training duration", "gate outcomes", "canary",
                  "latency per version", "errors per version"):  # fmt: skip
        assert topic in titles, topic


def test_defaults_annotate_pods_and_ship_the_dashboard_but_no_operator_objects(tools: Tools) -> None:
    docs = documents(tools.template("v4").stdout)
    kinds = {d["kind"] for d in docs}
    assert "ServiceMonitor" not in kinds and "PrometheusRule" not in kinds
    ports = {"server": "8008", "sync": "8090", "trigger": "8091", "rollout": "8092", "serving": "8080", "ui": "8080"}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
            annotations = doc["spec"]["template"]["metadata"]["annotations"]
            if component in ports:
                assert annotations["prometheus.io/scrape"] == "true", component
                assert annotations["prometheus.io/port"] == ports[component]
                assert annotations["prometheus.io/path"] == "/metrics"
            else:
                assert "prometheus.io/scrape" not in annotations, component  # the glue serves no /metrics
    (dashboard,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["occuloop.json"]) == json.loads(DASHBOARD.read_text())
    off = documents(tools.template("v4", "--set", "metrics.podAnnotations=false",
                                   "--set", "metrics.dashboard.enabled=false").stdout)  # fmt: skip
    assert not any(d["metadata"]["name"].endswith("-dashboard") for d in off)
    assert "prometheus.io/scrape" not in json.dumps(off)


def test_service_monitor_selects_one_metrics_service_per_process(tools: Tools) -> None:
    for services_mode in ("deployments", "agent"):
        docs = documents(tools.template("v4", "-f", MONITORING, "--set", f"services.mode={services_mode}").stdout)
        (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s",
                                                 "scrapeTimeout": "10s"}]  # fmt: skip
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [d for d in docs if d["kind"] == "Service" and _matches(selector, d["metadata"]["labels"])]
        names = sorted(d["metadata"]["name"].removeprefix(f"{RELEASE}-occuloop-") for d in selected)
        assert names == [
            "rollout-metrics", "server-metrics", "serving-metrics", "sync-metrics", "trigger-metrics", "ui-metrics"
        ]  # fmt: skip
        pods = {d["metadata"]["name"]: d["spec"]["selector"]["app.kubernetes.io/component"] for d in selected}
        expected = "services-agent" if services_mode == "agent" else "sync"
        assert pods[f"{RELEASE}-occuloop-sync-metrics"] == expected
        assert all(d["spec"]["clusterIP"] == "None" and d["spec"]["ports"][0]["name"] == "metrics" for d in selected)
        (scrape,) = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"].endswith("-scrape")]
        assert {p["port"] for p in scrape["spec"]["ingress"][0]["ports"]} == {8008, 8090, 8091, 8092, 8080}


def test_service_monitor_behind_network_policies_needs_scrape_peers(tools: Tools) -> None:
    result = tools.template("v4", "--set", "metrics.serviceMonitor.enabled=true", check=False)
    assert result.returncode != 0 and "metrics.scrapeFrom" in result.stderr


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(require(PROMTOOL)), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_alert_rules_pass_promtool_check_and_their_unit_tests(tools: Tools, tmp_path: Path) -> None:
    rules = rendered_rules(tools.template("v4", "-f", MONITORING).stdout)
    assert rules["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    names = {rule["alert"] for group in rules["spec"]["groups"] for rule in group["rules"]}
    assert names == {"OcculoopNoVersionFinalized", "OcculoopTriggerLagHigh", "OcculoopVersionsWaitingForTraining",
                     "OcculoopCanaryRolledBack", "OcculoopServingErrorRate", "OcculoopServingLatencyP99"}  # fmt: skip
    full = tmp_path / "full.yaml"
    full.write_text(yaml.safe_dump({"groups": rules["spec"]["groups"]}))
    checked = _promtool("check", "rules", str(full), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bare: dict[str, Any] = {"groups": [{**g, "rules": [_without_annotations(r) for r in g["rules"]]}
                                       for g in rules["spec"]["groups"]]}  # fmt: skip
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(bare))
    shutil.copy(PROMTOOL_TESTS, tmp_path / "alerts_test.yaml")
    tested = _promtool("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_thresholds_come_from_the_values(tools: Tools) -> None:
    rules = rendered_rules(tools.template("v4", "-f", MONITORING, "--set", "metrics.prometheusRule.noVersionHours=12",
                                          "--set-json", "metrics.prometheusRule.servingP99Seconds=0.5").stdout)  # fmt: skip
    text = json.dumps(rules)
    assert "[12h]" in text and "> 0.5" in text and "[6h]" not in text


def _without_annotations(rule: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in rule.items() if key != "annotations"}


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel's query as a recording rule (Grafana's variables replaced by values)."""
    dashboard = json.loads(DASHBOARD.read_text())
    rules = [
        {
            "record": f"occuloop:dashboard_{n}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$namespace", ".*"),
        }
        for n, expr in enumerate(dashboard_expressions(dashboard))
    ]
    path = tmp_path / "dashboard.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = _promtool("check", "rules", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("bad", ["metrics.prometheusRule.noVersionHours=1.5", "metrics.serviceMonitor.interval=soon"])
def test_schema_refuses_bad_monitoring_values(tools: Tools, bad: str) -> None:
    assert tools.template("v4", "--set", bad, check=False).returncode != 0
