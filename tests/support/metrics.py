"""Reading occuloop's `/metrics` as Prometheus would: the text format parsed with prometheus_client's own parser."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

CHART = Path(__file__).resolve().parents[2] / "helm" / "occuloop"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
NAME = re.compile(r"\b(occuloop_[a-z0-9_]+)")
SUFFIXES = ("_bucket", "_count", "_sum", "_total")


@dataclass(frozen=True)
class Scrape:
    families: dict[str, Metric]  # by family name (a counter's without `_total`)

    def value(self, sample: str, **labels: str) -> float:
        """The sum of the samples called `sample` whose labels include `labels` (0 when there are none)."""
        return sum(
            s.value
            for family in self.families.values()
            for s in family.samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def labels(self, sample: str, label: str) -> set[str]:
        return {s.labels[label] for f in self.families.values() for s in f.samples if s.name == sample}

    @property
    def names(self) -> set[str]:
        """Every name a query could use: family names, the sample names of their type, even before a first sample."""
        found = set()
        for name, family in self.families.items():
            found.add(name)
            found.update(sample_names(name, family.type))
            found.update(s.name for s in family.samples)
        return found


def sample_names(name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{name}_total"}
    if kind == "histogram":
        return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return {name}


def parse(text: str) -> Scrape:
    return Scrape({family.name: family for family in text_string_to_metric_families(text)})


def scrape(base_url: str, timeout: float = 10) -> Scrape:
    answer = requests.get(f"{base_url.rstrip('/')}/metrics", timeout=timeout)
    answer.raise_for_status()
    assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers
    return parse(answer.text)


def names_in(expressions: Iterable[str]) -> set[str]:
    """The occuloop metric names a set of PromQL expressions use."""
    return {match for expression in expressions for match in NAME.findall(expression)}


def dashboard_expressions(dashboard: Mapping[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def rule_expressions(rules_doc: Mapping[str, Any]) -> list[str]:
    return [rule["expr"] for group in rules_doc["spec"]["groups"] for rule in group["rules"]]


def defined() -> Scrape:
    """What every occuloop process's registry holds (each as its /metrics shows it), in one."""
    from prometheus_client import generate_latest

    from services.clearml_server.metrics import ServerMetrics
    from services.rollout.metrics import RolloutMetrics
    from services.sync.metrics import SyncMetrics
    from services.trigger.metrics import TriggerMetrics
    from services.ui.metrics import UiMetrics
    from serving.metrics import ServingMetrics

    serving = ServingMetrics()
    serving.watch_canary(lambda: {})
    ui = UiMetrics()
    ui.page_seconds.labels(route="/", status="200")  # a labeled histogram shows its series once it has one
    registries = [m.registry for m in (SyncMetrics(), TriggerMetrics(), RolloutMetrics(), serving, ui)]
    registries.append(ServerMetrics(queue_depths=lambda: {}).registry)
    families: dict[str, Metric] = {}
    for registry in registries:
        families.update(parse(generate_latest(registry).decode()).families)
    return Scrape(families)


def rendered_rules(rendered: str) -> dict[str, Any]:
    (rule,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "PrometheusRule"]
    return dict(rule)
