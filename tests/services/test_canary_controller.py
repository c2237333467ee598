"""The canary controller's `tick()` (services/rollout/controller.py), real, against fakes of what it talks to: a
serving plane that counts the traffic its weights route, the in-memory registry of test_gate_decisions (with the
real `Rollout` on top), a label source, and a clock that moves only when the test says so."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest
from prometheus_client import generate_latest

from services.rollout.controller import Controller
from services.rollout.receipts import DecidedBy
from services.rollout.states import with_state
from services.settings import CanarySettings
from serving.endpoints import Routing, VersionMetrics
from tests.services.test_gate_decisions import TRUTH, MemoryRegistry, _rollout
from tests.support.metrics import parse

SETTINGS = CanarySettings(window_seconds=10, min_requests=20, max_error_rate=0.05, max_p99_ms=100,
                          max_rate_shift=0.1, silence_seconds=5, min_labeled=20, labels_seconds=1)  # fmt: skip
REQUESTS_PER_TICK = 200


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Behaviour:
    """How one served version answers: its share of failures, of readings predicted occupied, its p99."""

    failed: float = 0.0
    occupied: float = 0.0
    p99_ms: float = 5.0
    silent: bool = False  # never counts a request (its model does not load)


class FakePlane:
    service_id = "plane"
    endpoint = "occupancy"

    def __init__(self) -> None:
        self.versions: dict[int, str] = {}
        self.weights: dict[int, float] = {}
        self.counters: dict[int, VersionMetrics] = {}
        self.minutes: dict[int, list[dict[str, Any]]] = {}
        self.behaviour: dict[str, Behaviour] = {}  # by model id
        self.weight_history: list[dict[int, float]] = []

    def current_routing(self) -> Routing:
        return Routing(self.service_id, self.endpoint, dict(self.versions), dict(self.weights))

    def register_version(self, model_id: str) -> int:
        number = max(self.versions, default=0) + 1
        self.versions[number] = model_id
        return number

    def set_canary(self, weights: Mapping[int, float]) -> Routing:
        self.weights = {version: weight for version, weight in weights.items() if weight > 0}
        self.weight_history.append(dict(self.weights))
        return self.current_routing()

    def read_metrics(self) -> dict[int, VersionMetrics]:
        return dict(self.counters)

    def read_served_minutes(self, limit: int = 2000) -> dict[int, list[dict[str, Any]]]:
        return {version: list(reports) for version, reports in self.minutes.items()}

    def serve(self, requests: int = REQUESTS_PER_TICK) -> None:
        """Route `requests` one-reading requests by the current weights, as the inference app would count them."""
        for version, weight in self.weights.items():
            behaviour = self.behaviour.get(self.versions[version], Behaviour())
            if behaviour.silent:
                continue
            share = round(requests * weight)
            before = self.counters.get(version, VersionMetrics())
            self.counters[version] = VersionMetrics(
                requests=before.requests + share,
                readings=before.readings + share,
                failed=before.failed + round(share * behaviour.failed),
                occupied=before.occupied + round(share * behaviour.occupied),
                latency_p99_ms=behaviour.p99_ms,
            )
            report = {"instance": "app-1", "report": len(self.minutes.get(version, [])), "minutes": {}}
            report["minutes"][f"minute-{len(self.weight_history)}"] = [share, round(share * behaviour.occupied)]
            self.minutes.setdefault(version, []).append(report)


class CanaryRegistry(MemoryRegistry):
    def __init__(self, *model_ids: str) -> None:
        super().__init__({model_id: TRUTH for model_id in model_ids})
        self.progress_of: dict[str, str] = {}
        self.steps_of: dict[str, list[float]] = {}

    def canaries(self) -> list[str]:
        return [m for m in reversed(self.tags) if "canary" in self.tags[m]]

    def progress(self, model_id: str) -> str:
        return self.progress_of.get(model_id, "")

    def set_progress(self, model_id: str, value: str) -> None:
        self.progress_of[model_id] = value

    def record_step(self, model_id: str, weight: float) -> None:
        self.steps_of.setdefault(model_id, []).append(weight)


class Labels:
    def __init__(self) -> None:
        self.labels: dict[str, int] = {}

    def current(self) -> Mapping[str, int]:
        return self.labels


class Loop:
    """The controller with its fakes: a champion `m1` served at 100 % as version 1, a canary `m2` waiting."""

    def __init__(self, settings: CanarySettings = SETTINGS) -> None:
        self.clock = Clock()
        self.plane = FakePlane()
        self.registry = CanaryRegistry("m1", "m2")
        self.labels = Labels()
        rollout = _rollout(self.registry)
        rollout.promote("m1", "the first champion")
        self.plane.set_canary({self.plane.register_version("m1"): 1.0})
        self.registry.tags["m2"] = with_state(self.registry.tags["m2"], "canary")
        self.settings = settings
        self.controller = self.restarted()

    def restarted(self) -> Controller:
        rollout = _rollout(self.registry)
        decided_by = DecidedBy("canary", "test", "pytest")
        self.controller = Controller(self.settings, self.plane, self.registry, rollout, decided_by,  # type: ignore[arg-type]
                                     labels=self.labels, clock=self.clock)  # fmt: skip
        return self.controller

    def run(self, seconds: float, *, every: float = 1.0) -> None:
        """Traffic, then a tick, every `every` seconds of the fake clock."""
        for _ in range(round(seconds / every)):
            self.plane.serve()
            self.clock.now += every
            self.controller.tick()

    def canary_weights(self) -> list[float]:
        """The canary's share after each change of the weights (a write that changes nothing is not a step)."""
        shares = [weights.get(2, 0.0) for weights in self.plane.weight_history]
        return [share for n, share in enumerate(shares) if n == 0 or share != shares[n - 1]]

    def rollback_receipt(self) -> dict[str, Any]:
        (receipt,) = [r for r in self.registry.receipts.values() if r["decision"] == "rolled_back"]
        return receipt


def test_a_healthy_canary_is_ramped_through_every_step_to_champion(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="services.rollout")
    loop = Loop()
    loop.controller.tick()
    assert loop.plane.weights == {2: 0.1, 1: 0.9} and loop.registry.progress("m2") == "ramping"
    loop.run(5)
    assert loop.plane.weights == {2: 0.1, 1: 0.9}  # a pass needs the whole window
    loop.run(30)
    assert loop.canary_weights()[1:] == [0.1, 0.5, 1.0]  # each step once, in order
    assert loop.registry.pointer.read().model_id == "m2"
    assert loop.registry.tags == {"m1": ["retired"], "m2": ["champion"]}
    promoted = [r for r in loop.registry.receipts.values() if r["decision"] == "promoted"][-1]
    assert promoted["rule"] == "canary" and promoted["pointer"]["before"] == "m1"
    assert loop.registry.progress("m2") == "done" and loop.controller.status() == {"state": "following_champion"}
    assert loop.registry.steps_of == {"m2": [0.1, 0.5, 1.0]}  # recorded on the model, for the UI's step list
    steps = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=canary_step ")]
    assert [re.search(r" weight=(\S+) step=(\S+)", line).groups() for line in steps] == [  # type: ignore[union-attr]
        ("0.1", "1/3"),
        ("0.5", "2/3"),
        ("1", "3/3"),
    ]
    assert all(line.startswith("event=canary_step model_id=m2 dataset_id=d ") for line in steps)


def test_the_ramp_its_decisions_and_the_gate_receipts_show_in_the_controller_metrics() -> None:
    loop = Loop()
    gauges = loop.controller.metrics
    loop.controller.tick()
    assert (gauges.canary_version._value.get(), gauges.canary_step._value.get()) == (2, 1)
    assert gauges.canary_weight._value.get() == 0.1
    loop.run(12)
    assert gauges.canary_step._value.get() == 2 and gauges.canary_weight._value.get() == 0.5
    loop.run(30)
    found = parse(generate_latest(gauges.registry).decode())
    assert found.value("occuloop_rollout_decisions_total", decision="canary_step", rule="probe") == 1
    assert found.value("occuloop_rollout_decisions_total", decision="canary_step", rule="all_rules") == 2
    assert found.value("occuloop_rollout_decisions_total", decision="promoted") == 1
    assert found.value("occuloop_rollout_decisions_total", decision="rolled_back") == 0
    assert found.value("occuloop_rollout_canary_step") == 0 and found.value("occuloop_rollout_canary_version") == 0
    # the gate's receipts (the in-memory registry's), counted on the controller's first tick
    loop.registry.receipts["g1"] = {"decision": "gate_failed", "rule": "training_data"}
    loop.clock.now += 31
    loop.controller.tick()
    found = parse(generate_latest(gauges.registry).decode())
    assert found.value("occuloop_gate_receipts", decision="gate_failed", rule="training_data") == 1


def test_a_step_waits_for_enough_requests_even_after_its_window() -> None:
    loop = Loop()
    loop.controller.tick()
    for _ in range(15):  # one canary request a second: 15 s is past the window, 15 requests are not enough
        loop.plane.serve(requests=10)
        loop.clock.now += 1.0
        loop.controller.tick()
    assert loop.plane.weights == {2: 0.1, 1: 0.9} and loop.registry.pointer.read().model_id == "m1"
    loop.run(1)
    assert loop.plane.weights == {2: 0.5, 1: 0.5}


@pytest.mark.parametrize(
    ("behaviour", "rule"),
    [
        (Behaviour(failed=0.2), "error_rate"),
        (Behaviour(p99_ms=400.0), "latency_p99"),
        (Behaviour(silent=True), "silent"),
        (Behaviour(occupied=0.9), "prediction_shift"),
    ],
)
def test_an_unhealthy_canary_is_rolled_back_by_the_rule_it_breaks(behaviour: Behaviour, rule: str) -> None:
    loop = Loop()
    loop.plane.behaviour["m2"] = behaviour
    loop.controller.tick()
    loop.run(8)
    assert loop.plane.weights == {1: 1.0}  # users first: the champion has all the traffic back
    receipt = loop.rollback_receipt()
    assert receipt["rule"] == f"canary:{rule}" and receipt["pointer"]["after"] == "m1"
    assert receipt["canary"]["window"]["weight"] == 0.1
    assert loop.registry.tags["m2"] == ["rejected"] and loop.registry.progress("m2") == "done"
    assert loop.registry.pointer.read().model_id == "m1"
    rolled_back = loop.controller.metrics.decisions.labels(decision="rolled_back", rule=f"canary:{rule}")
    assert rolled_back._value.get() == 1


def test_a_canary_wrong_about_the_minutes_labeled_since_is_rolled_back_on_live_accuracy() -> None:
    loop = Loop(replace(SETTINGS, max_rate_shift=1.0))  # same occupied share as the champion, wrong minutes
    loop.plane.behaviour["m1"] = Behaviour(occupied=1.0)
    loop.plane.behaviour["m2"] = Behaviour(occupied=0.0)
    loop.controller.tick()
    loop.run(3)
    loop.labels.labels = {f"minute-{n}": 1 for n in range(10)}  # every served minute was occupied
    loop.run(3)
    receipt = loop.rollback_receipt()
    assert receipt["rule"] == "canary:live_accuracy" and receipt["canary"]["window"]["canary_live_accuracy"] == 0.0
    assert loop.plane.weights == {1: 1.0}


def test_a_restarted_controller_resumes_at_the_step_the_weights_show_and_judges_a_fresh_window() -> None:
    loop = Loop()
    loop.controller.tick()
    loop.run(12)
    assert loop.plane.weights == {2: 0.5, 1: 0.5}
    steps_before = len(loop.plane.weight_history)
    loop.restarted()  # kill -9: everything the old process knew is gone
    loop.run(5)
    assert loop.plane.weights == {2: 0.5, 1: 0.5} and len(loop.plane.weight_history) == steps_before  # not retaken
    status = loop.controller.status()
    assert {key: status[key] for key in ("state", "model_id", "version", "weight", "step")} == {
        "state": "canary", "model_id": "m2", "version": 2, "weight": 0.5, "step": "2/3"
    }  # fmt: skip
    assert status["window"]["verdict"] == "wait"  # the fresh window is still being filled
    loop.run(20)
    assert loop.canary_weights()[1:] == [0.1, 0.5, 1.0] and loop.registry.pointer.read().model_id == "m2"


def test_a_restart_in_the_middle_of_a_rollback_finishes_it() -> None:
    loop = Loop()
    loop.controller.tick()
    loop.registry.set_progress("m2", "rolling_back")  # the old process died after deciding, before the receipt
    loop.restarted()
    loop.run(1)
    assert loop.plane.weights == {1: 1.0} and loop.rollback_receipt()["rule"] == "canary:resumed"
    assert loop.registry.tags["m2"] == ["rejected"]


def test_without_a_canary_serving_follows_the_champion_pointer() -> None:
    loop = Loop()
    loop.registry.tags["m2"] = ["candidate"]
    _rollout(loop.registry).promote("m2", "an operator")
    loop.run(1)
    assert loop.plane.versions[2] == "m2" and loop.plane.weights == {2: 1.0}
