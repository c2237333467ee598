"""The canary controller's Prometheus metrics (`GET /metrics` on `occuloop rollout`'s HTTP port; services/metrics.py
says how).

    occuloop_rollout_canary_step                       the ramp's current step, 1-based (0: no canary)
    occuloop_rollout_canary_weight_ratio               the canary's share of the public endpoint (0: no canary)
    occuloop_rollout_canary_version                    the served version number being ramped (0: none)
    occuloop_rollout_decisions_total{decision, rule}   the controller's decisions: canary_step (rule = the step,
                                                       e.g. 2/3), promoted (canary), rolled_back (canary:<rule>),
                                                       champion_routed (pointer)
    occuloop_rollout_live_accuracy_ratio{role}         live accuracy on labeled served minutes, canary and champion
    occuloop_rollout_live_labeled_readings{role}       the labeled readings behind it
    occuloop_rollout_step_failures_total               failed ticks (retried after a backoff)
    occuloop_gate_receipts{decision, rule}             gate receipts on the server: gate_passed / gate_failed by
                                                       deciding rule (counted every GATE_RECEIPTS_SECONDS)

The gate runs as a task under clearml-agent (nothing to scrape); its receipts on the server are the record, so the
controller, which watches the rollout project anyway, counts them. A count of records that exist is a gauge: a
restart of the controller neither resets it nor replays it as new decisions (`delta(...[1h])` is the hour's).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Gauge

from ..metrics import new_registry
from .live_accuracy import Tally

GATE_RECEIPTS_SECONDS = 30.0  # how often the gate's receipts are counted
ROLES = ("canary", "champion")
ROLLBACK_RULES = ("probe", "resumed", "error_rate", "latency_p99", "silent", "live_accuracy", "prediction_shift")
DECISIONS = (
    ("canary_step", "probe"),  # the first step, once the new version answered its probe
    ("canary_step", "all_rules"),  # the next steps, after a healthy window
    ("promoted", "canary"),
    ("champion_routed", "pointer"),
    *(("rolled_back", f"canary:{rule}") for rule in ROLLBACK_RULES),
)


class RolloutMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        r = self.registry
        self.canary_step = Gauge(
            "occuloop_rollout_canary_step", "The ramp's current step, 1-based (0: none)", registry=r
        )
        self.canary_weight = Gauge(
            "occuloop_rollout_canary_weight_ratio", "The canary's share of the public endpoint (0: none)", registry=r
        )
        self.canary_version = Gauge(
            "occuloop_rollout_canary_version", "The served version number being ramped (0: none)", registry=r
        )
        self.decisions = Counter(
            "occuloop_rollout_decisions", "The canary controller's decisions, by rule", ["decision", "rule"], registry=r
        )
        for decision, rule in DECISIONS:  # present from the start, so that increase() sees the first of each
            self.decisions.labels(decision=decision, rule=rule)
        self.live_accuracy = Gauge(
            "occuloop_rollout_live_accuracy_ratio",
            "Live accuracy on labeled served minutes during the ramp",
            ["role"],
            registry=r,
        )
        self.live_labeled = Gauge(
            "occuloop_rollout_live_labeled_readings",
            "Labeled served readings behind the live accuracy",
            ["role"],
            registry=r,
        )
        self.step_failures = Counter("occuloop_rollout_step_failures", "Failed ticks (retried)", registry=r)
        self.gate_receipts = Gauge(
            "occuloop_gate_receipts",
            "Gate receipts on the server, by decision and deciding rule",
            ["decision", "rule"],
            registry=r,
        )

    def ramp(self, version: int, step: int, weight: float) -> None:
        """The ramp's position; version 0 and step 0 when no canary is ramping."""
        self.canary_version.set(version)
        self.canary_step.set(step)
        self.canary_weight.set(weight)
        if not step:
            for role in ROLES:
                self.live_accuracy.labels(role=role).set(float("nan"))
                self.live_labeled.labels(role=role).set(0)

    def live(self, canary: Tally, champion: Tally) -> None:
        for role, tally in (("canary", canary), ("champion", champion)):
            self.live_accuracy.labels(role=role).set(float("nan") if tally.accuracy is None else tally.accuracy)
            self.live_labeled.labels(role=role).set(tally.labeled)

    def gate(self, counts: Mapping[tuple[str, str], int]) -> None:
        """The gate receipts the server holds, by (decision, rule)."""
        for (decision, rule), count in counts.items():
            self.gate_receipts.labels(decision=decision, rule=rule).set(count)
