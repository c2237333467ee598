"""Reading occuloop's `/metrics` as Prometheus would: the text format parsed with prometheus_client's own parser."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

CHART = Path(__file__).resolve().parents[2] / "helm" / "occuloop"
DASHBOARD = CHART / "files" / "grafana-dashboard.json"
PROCESSES = ("server", "sync", "trigger", "rollout", "serving", "ui")  # every process of a loop that serves /metrics
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


# -- a live loop's metrics (tests/live_loop/test_metrics.py) ----------------------------------------------------


@dataclass
class LoopScrapes:
    """The loop's processes by their base URLs, and what each said when."""

    urls: dict[str, str]  # process -> http://127.0.0.1:<port> (the server: its API port)
    rows: list[tuple[str, Scrape, Scrape]] = field(default_factory=list)  # (row, sync, trigger) after each row

    def after_row(self, row: str) -> None:
        self.rows.append((row, scrape(self.urls["sync"]), scrape(self.urls["trigger"])))

    def eventually(self, process: str, holds: Callable[[Scrape], bool], timeout: float = 90) -> Scrape:
        """The process's metrics once `holds` is true of them (the ledger-derived ones follow a poll behind)."""
        deadline = time.monotonic() + timeout
        while True:
            found = scrape(self.urls[process])
            if holds(found) or time.monotonic() > deadline:
                return found
            time.sleep(2)


def check_loop_metrics(scrapes: LoopScrapes, accepted: int, quarantined: dict[str, int]) -> dict[str, Scrape]:
    """What a finished run of the loop must show; returns the final scrapes by process."""
    done = 0
    for row, sync, trigger in scrapes.rows:  # one more version and one more run per accepted session, in order
        done += row.split()[1] != "(flipped)"
        assert sync.value("occuloop_sync_versions_finalized_total") == done, row
        assert sync.value("occuloop_sync_files_accepted_total") == done, row
        assert trigger.value("occuloop_trigger_runs_fired_total") == done, row
    sync = scrape(scrapes.urls["sync"])
    assert sync.value("occuloop_sync_files_accepted_total") == accepted
    assert sync.value("occuloop_sync_versions_finalized_total") == accepted
    assert sync.value("occuloop_sync_versions_finalized_total", reason="requested") == accepted  # the upload button
    for reason, count in quarantined.items():
        assert sync.value("occuloop_sync_files_quarantined_total", reason=reason) == count
    assert sync.value("occuloop_sync_backlog_files") == 0
    assert sync.value("occuloop_sync_last_finalize_timestamp_seconds") > time.time() - 3600
    assert sync.value("occuloop_sync_server_call_duration_seconds_count", operation="finalize") == accepted

    trigger = scrapes.eventually(
        "trigger", lambda f: f.value("occuloop_training_run_duration_seconds_count") == accepted
    )
    assert trigger.value("occuloop_trigger_runs_fired_total") == accepted
    assert trigger.value("occuloop_trigger_versions") == accepted
    assert trigger.value("occuloop_trigger_versions_pending") == 0
    assert trigger.value("occuloop_trigger_lag_seconds_count") == accepted
    assert trigger.value("occuloop_trigger_notifications_total") >= accepted  # the sync's push per version
    assert trigger.value("occuloop_training_runs", status="completed") == accepted
    assert trigger.value("occuloop_training_run_duration_seconds_count", status="completed") == accepted
    assert trigger.value("occuloop_training_run_duration_seconds_sum") > 0

    rollout = scrapes.eventually(
        "rollout", lambda f: f.value("occuloop_gate_receipts") == accepted, timeout=60
    )  # counted every 30 s
    assert rollout.value("occuloop_gate_receipts", decision="gate_failed", rule="training_data") == 1
    assert rollout.value("occuloop_gate_receipts", decision="gate_passed") == accepted - 1
    assert rollout.value("occuloop_rollout_decisions_total", decision="promoted") == accepted - 1
    assert rollout.value("occuloop_rollout_decisions_total", decision="rolled_back") == 0
    assert (
        rollout.value("occuloop_rollout_canary_step") == 0
        and rollout.value("occuloop_rollout_canary_weight_ratio") == 0
    )

    serving = scrapes.eventually("serving", lambda f: f.value("occuloop_serving_requests_total") > 0)
    versions = serving.labels("occuloop_serving_requests_total", "version")
    assert versions and versions <= {str(n) for n in range(1, accepted + 1)}, versions
    assert serving.value("occuloop_serving_failed_total") == 0
    assert sum(serving.value("occuloop_serving_canary_weight_ratio", version=v) for v in versions) == pytest.approx(1)

    server = scrape(scrapes.urls["server"])
    # each run and each gate task went through the training queue, and nothing waits there any more
    assert server.value("occuloop_server_requests_total", endpoint="tasks.enqueue", status="200") >= 2 * accepted
    assert server.value("occuloop_server_queue_entries", queue="training") == 0
    assert server.value("occuloop_server_request_duration_seconds_count", endpoint="queues.get_next_task") > 0

    # the UI timed the pages it answered (the loop's own health checks at least), by route template
    ui = scrapes.eventually("ui", lambda f: f.value("occuloop_ui_request_duration_seconds_count") > 0)
    assert "/healthz" in ui.labels("occuloop_ui_request_duration_seconds_count", "route")

    final = {"sync": sync, "trigger": trigger, "rollout": rollout, "serving": serving, "server": server, "ui": ui}
    exposed = set().union(*(found.names for found in final.values()))
    rules = (CHART / "templates" / "prometheusrule.yaml").read_text()
    used = names_in(dashboard_expressions(json.loads(DASHBOARD.read_text()))) | names_in([rules])
    assert not used - exposed, f"used by the dashboard or the alerts, exposed by no process: {sorted(used - exposed)}"
    return final
