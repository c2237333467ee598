"""The canary's pure decisions (services/rollout/canary_rules.py), the settings that feed them, and the gate's
`on_pass=canary` branch on the in-memory registry of test_gate_decisions."""

from __future__ import annotations

import pytest

from services.rollout.canary_rules import (
    HEALTHY,
    UNHEALTHY,
    WAIT,
    Counters,
    Window,
    judge,
    same_weights,
    step_index,
    weights_for,
)
from services.rollout.live_accuracy import ServedMinutes, Tally
from services.settings import CanarySettings, SettingsError
from tests.services.test_gate_decisions import TRUTH, MemoryRegistry, _rollout

SETTINGS = CanarySettings(window_seconds=10, min_requests=20, max_error_rate=0.05, max_p99_ms=100,
                          max_rate_shift=0.1, silence_seconds=5)  # fmt: skip
STEPS = (0.1, 0.5, 1.0)


def _window(canary: Counters, champion: Counters | None = None, *, seconds: float = 12, weight: float = 0.1,
            p99: float | None = 2.0) -> Window:  # fmt: skip
    return Window(seconds, weight, canary, champion, p99)


def test_the_step_comes_from_the_canary_weight() -> None:
    assert [step_index(w, STEPS) for w in (0.0, 0.05, 0.1, 0.099999, 0.3, 0.5, 1.0)] == [-1, -1, 0, 0, 0, 1, 2]
    assert weights_for(1, 2, 0.1) == {2: 0.1, 1: 0.9}
    assert weights_for(1, 2, 1.0) == {2: 1.0} and weights_for(None, 2, 0.5) == {2: 1.0}
    assert same_weights({2: 0.1, 1: 0.9}, {1: 0.9000001, 2: 0.1}) and not same_weights({1: 1.0}, {1: 0.9, 2: 0.1})
    assert same_weights({1: 1.0, 2: 0.0}, {1: 1.0})


def test_counters_difference_survives_an_app_restart() -> None:
    assert Counters(100, 100, 3, 40).since(Counters(60, 60, 1, 20)) == Counters(40, 40, 2, 20)
    assert Counters(5, 5, 0, 2).since(Counters(60, 60, 1, 20)) == Counters(5, 5, 0, 2)  # counters restarted


def test_a_healthy_window_needs_enough_requests_and_the_whole_window() -> None:
    champion = Counters(200, 200, 0, 80)
    assert judge(_window(Counters(30, 30, 0, 12), champion), SETTINGS).verdict == HEALTHY
    waiting = judge(_window(Counters(10, 10, 0, 4), champion), SETTINGS)
    assert (waiting.verdict, waiting.rule) == (WAIT, "min_requests")
    early = judge(_window(Counters(30, 30, 0, 12), champion, seconds=3), SETTINGS)
    assert (early.verdict, early.rule) == (WAIT, "window")


@pytest.mark.parametrize(
    ("canary", "champion", "p99", "rule"),
    [
        (Counters(40, 40, 3, 16), Counters(300, 300, 0, 120), 2.0, "error_rate"),
        (Counters(40, 40, 0, 16), Counters(300, 300, 0, 120), 180.0, "latency_p99"),
        (Counters(40, 40, 0, 36), Counters(300, 300, 0, 120), 2.0, "prediction_shift"),
        (Counters(0, 0, 0, 0), Counters(300, 300, 0, 120), None, "silent"),
    ],
)
def test_unhealthy_windows_fail_on_the_first_broken_rule_even_early(
    canary: Counters, champion: Counters, p99: float | None, rule: str
) -> None:
    health = judge(_window(canary, champion, seconds=6, p99=p99), SETTINGS)
    assert (health.verdict, health.rule) == (UNHEALTHY, rule), health.reason
    assert health.facts["canary_requests"] == canary.requests


def test_silence_is_only_failure_when_the_champion_is_busy_and_long_enough() -> None:
    assert judge(_window(Counters(), Counters(50, 50, 0, 20), seconds=30), SETTINGS).verdict == WAIT  # ~5.6 expected
    assert judge(_window(Counters(), Counters(900, 900, 0, 20), seconds=2), SETTINGS).verdict == WAIT  # too soon
    assert judge(_window(Counters(), None, seconds=60, weight=1.0), SETTINGS).verdict == WAIT  # no traffic at all


def test_at_full_traffic_the_prediction_rate_is_compared_with_the_champions_earlier_rate() -> None:
    alone = _window(Counters(40, 40, 0, 30), None, weight=1.0)
    assert judge(alone, SETTINGS).verdict == HEALTHY  # nothing to compare with
    assert judge(alone, SETTINGS, reference_rate=0.4).rule == "prediction_shift"
    assert judge(alone, SETTINGS, reference_rate=0.7).verdict == HEALTHY


def _report(instance: str, number: int, minutes: dict[str, list[int]]) -> dict[str, object]:
    return {"endpoint": "occupancy/2", "instance": instance, "report": number, "minutes": minutes}


def test_served_minutes_are_joined_with_labels_that_arrive_later() -> None:
    served = ServedMinutes()
    assert served.add(2, [_report("a", 1, {"2015-02-05T10:01": [3, 3], "2015-02-05T10:02": [2, 0]})]) == 1
    assert served.add(2, [_report("a", 1, {"2015-02-05T10:01": [3, 3]})]) == 0  # the same report read again
    assert served.add(2, [_report("b", 1, {"2015-02-05T10:01": [1, 0]})]) == 1  # another app instance
    assert served.tally(2, {}) == Tally() and served.tally(None, {"2015-02-05T10:01": 1}) == Tally()
    # 10:01 occupied: 3 of the 4 readings said so; 10:02 empty: both said empty; 10:03 was never served
    labels = {"2015-02-05T10:01": 1, "2015-02-05T10:02": 0, "2015-02-05T10:03": 1}
    assert served.tally(2, labels) == Tally(6, 5)
    assert served.tally(3, labels) == Tally()  # a version that served nothing labeled
    assert served.add(3, [_report("a", 1, {"2015-02-05T10:02": [1, 1]})]) == 1  # one report covers every version
    assert served.tally(3, labels) == Tally(1, 0)


def test_live_accuracy_rolls_back_only_with_enough_labeled_readings_on_both_sides() -> None:
    settings = CanarySettings(window_seconds=10, min_requests=20, max_rate_shift=0.1, min_labeled=30,
                              max_accuracy_drop=0.05)  # fmt: skip
    counters, champion = Counters(30, 30, 0, 12), Counters(200, 200, 0, 80)

    def live(canary: Tally, reference: Tally) -> Window:
        return Window(12, 0.1, counters, champion, 2.0, canary, reference)

    worse = judge(live(Tally(40, 30), Tally(400, 390)), settings)
    assert (worse.verdict, worse.rule) == (UNHEALTHY, "live_accuracy"), worse.reason
    assert worse.facts["canary_live_accuracy"] == 0.75 and worse.facts["champion_live_labeled"] == 400
    assert "75.0 % of 40" in worse.reason and "97.5 % of 400" in worse.reason
    assert judge(live(Tally(20, 0), Tally(400, 390)), settings).verdict == HEALTHY  # too few labeled yet
    assert judge(live(Tally(40, 30), Tally(20, 20)), settings).verdict == HEALTHY  # nothing sure to compare with
    assert judge(live(Tally(40, 38), Tally(400, 390)), settings).verdict == HEALTHY  # 95.0 vs 97.5: within 5 points
    assert judge(live(Tally(), Tally()), settings).facts["canary_live_accuracy"] is None


def test_canary_settings_from_the_environment() -> None:
    settings = CanarySettings.from_env({"OCCULOOP_CANARY_STEPS": "5,25,100", "OCCULOOP_CANARY_WINDOW_SECONDS": "3",
                                        "OCCULOOP_GATE_ON_PASS": "canary"})  # fmt: skip
    assert settings.steps == (0.05, 0.25, 1.0) and settings.window_seconds == 3
    assert settings.rollout.on_pass == "canary"
    labels = CanarySettings.from_env({"OCCULOOP_DATASET_PROJECT": "p", "OCCULOOP_DATASET_NAME": "n",
                                      "OCCULOOP_CANARY_MIN_LABELED": "7", "OCCULOOP_CANARY_MAX_ACCURACY_DROP": "0.1"})  # fmt: skip
    assert (labels.labels_project, labels.labels_name, labels.min_labeled, labels.max_accuracy_drop) == (
        "p",
        "n",
        7,
        0.1,
    )
    assert CanarySettings().labels_name == "labeled"  # the sync's dataset by default
    for bad in ("50,10,100", "10,50", "x", "0,100"):
        with pytest.raises(SettingsError, match="OCCULOOP_CANARY_STEPS"):
            CanarySettings.from_env({"OCCULOOP_CANARY_STEPS": bad})


def test_a_passed_gate_in_canary_mode_tags_the_model_canary_and_leaves_the_pointer() -> None:
    registry = MemoryRegistry({"m1": TRUTH, "m2": TRUTH})
    assert [o.decision for o in _rollout(registry).gate("m1")] == ["gate_passed", "promoted"]
    outcomes = _rollout(registry, on_pass="canary").gate("m2")
    assert [o.decision for o in outcomes] == ["gate_passed"]
    assert registry.tags == {"m1": ["champion"], "m2": ["canary"]} and registry.pointer.state.model_id == "m1"
    promoted = _rollout(registry).promote("m2", "canary healthy", rule="canary")
    assert promoted.rule == "canary" and registry.tags == {"m1": ["retired"], "m2": ["champion"]}
