"""The gate's rules on hand-made numbers: which rule decides, margins, slices, no champion, configuration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from services.rollout.assessment import ForwardRows, accuracy_interval, assess
from services.rollout.gate_rules import ALL_PASSED, NO_CHAMPION, Evidence, ForwardEvidence, TrainingFacts, decide
from services.settings import GateSettings, RolloutSettings, SettingsError
from training.evaluate import Difference, Metrics, ModelScore

ENOUGH = TrainingFacts(days=14, rows=16455, occupied=3241)


def _metrics(accuracy: float, rows: int = 1000) -> Metrics:
    return Metrics(rows, 300, accuracy, 0.9, 0.99, 0.9, 0.9, {"tn": 0, "fp": 0, "fn": 0, "tp": 0})


def _score(name: str, accuracy: float, **slices: float) -> ModelScore:
    return ModelScore(name, _metrics(accuracy), {key: _metrics(value, 500) for key, value in slices.items()})


def _difference(delta: float, low: float, high: float) -> Difference:
    return Difference("challenger", "other", delta, low, high, 2000, 60)


def _evidence(
    challenger: float = 0.978,
    baseline: float = 0.9786,
    champion: float | None = 0.978,
    low: float = -0.002,
    facts: TrainingFacts = ENOUGH,
    challenger_slices: dict[str, float] | None = None,
    champion_slices: dict[str, float] | None = None,
) -> Evidence:
    challenger_slices = challenger_slices or {"day": 0.95, "night": 1.0}
    champion_slices = champion_slices or {"day": 0.95, "night": 1.0}
    return Evidence(
        challenger=_score("challenger", challenger, **challenger_slices),
        baseline=_score("light_rule", baseline),
        vs_baseline=_difference(challenger - baseline, challenger - baseline - 0.01, challenger - baseline + 0.01),
        training=facts,
        champion=_score("champion", champion, **champion_slices) if champion is not None else None,
        vs_champion=_difference(0.0, low, 0.004) if champion is not None else None,
    )


def test_a_tie_with_the_champion_passes_on_all_rules() -> None:
    verdict = decide(_evidence(), GateSettings())
    assert verdict.passed and verdict.deciding_rule == ALL_PASSED
    assert {result.rule for result in verdict.results} == {
        "training_data",
        "baseline",
        "champion",
        "slice:day",
        "slice:night",
    }


def test_without_a_champion_the_baseline_rules_alone_decide() -> None:
    verdict = decide(_evidence(champion=None), GateSettings())
    assert verdict.passed and verdict.deciding_rule == NO_CHAMPION
    champion = next(result for result in verdict.results if result.rule == "champion")
    assert champion.skipped and not any(result.rule.startswith("slice:") for result in verdict.results)
    refused = decide(_evidence(champion=None, challenger=0.90), GateSettings())
    assert not refused.passed and refused.deciding_rule == "baseline"


@pytest.mark.parametrize(
    ("days", "occupied", "fragment"),
    [(1, 3241, "1 labeling session(s) < 2"), (14, 16, "16 occupied rows < 200"), (1, 16, "1 labeling session")],
)
def test_too_little_training_data_is_refused_first(days: int, occupied: int, fragment: str) -> None:
    facts = TrainingFacts(days=days, rows=369, occupied=occupied)
    verdict = decide(_evidence(facts=facts, challenger=0.5, low=-0.4), GateSettings())
    assert not verdict.passed and verdict.deciding_rule == "training_data" and fragment in verdict.reason
    assert [result.rule for result in verdict.results if not result.passed][:3] == [
        "training_data",
        "baseline",
        "champion",
    ]


def test_the_champion_rule_uses_the_lower_bound_of_the_interval() -> None:
    settings = GateSettings(champion_margin=0.005)
    assert decide(_evidence(low=-0.005), settings).passed  # exactly at the margin
    refused = decide(_evidence(low=-0.0051), settings)
    assert not refused.passed and refused.deciding_rule == "champion" and "-0.51 pt" in refused.reason
    assert decide(_evidence(low=-0.0051), dataclasses.replace(settings, champion_margin=0.01)).passed


def test_the_baseline_margin_is_a_point_comparison() -> None:
    settings = GateSettings(baseline_margin=0.01)
    assert decide(_evidence(challenger=0.9686, baseline=0.9786, champion=None), settings).passed
    refused = decide(_evidence(challenger=0.9647, baseline=0.9786, champion=None), settings)
    assert refused.deciding_rule == "baseline" and "0.9647 < Light rule 0.9786" in refused.reason


def test_a_slice_that_regresses_beyond_its_margin_is_refused() -> None:
    evidence = _evidence(challenger_slices={"day": 0.92, "night": 1.0}, champion_slices={"day": 0.95, "night": 1.0})
    verdict = decide(evidence, GateSettings(slice_margin=0.02))
    assert not verdict.passed and verdict.deciding_rule == "slice:day" and "-3.00 pt" in verdict.reason
    lenient = GateSettings(slice_margin=0.02, slice_margins=(("day", 0.05),))
    assert decide(evidence, lenient).passed


def test_a_slice_missing_from_the_holdout_is_skipped() -> None:
    evidence = _evidence(
        challenger_slices={"day": 0.95, "weekend": 0.5}, champion_slices={"day": 0.95, "weekday": 0.97}
    )
    verdict = decide(evidence, GateSettings())
    skipped = {result.rule for result in verdict.results if result.skipped}
    assert skipped == {"slice:weekday", "slice:weekend"} and verdict.passed


def test_assess_scores_challenger_champion_and_light_rule_on_the_same_rows() -> None:
    stamps = pd.date_range("2015-02-02 00:00", periods=600, freq="min")
    rng = np.random.default_rng(1)
    light = np.where((stamps.hour >= 8) & (stamps.hour < 9), 500.0, 0.0)
    readings = pd.DataFrame({"date": stamps, "Light": light, "Occupancy": (light > 0).astype(np.int64)})
    perfect = readings["Occupancy"].to_numpy(dtype=np.float64)
    noisy = np.where(rng.random(600) < 0.1, 1 - perfect, perfect)
    settings = GateSettings(bootstrap_samples=300)
    facts = TrainingFacts(3, 3000, 600)
    assessment = assess("holdout-1", readings, noisy, perfect, facts, settings)
    evidence = assessment.evidence
    assert evidence.baseline.overall.accuracy == 1.0 and evidence.champion is not None
    noisy_accuracy = float(np.mean((noisy > 0.5) == (perfect > 0.5)))
    assert evidence.vs_champion is not None and evidence.vs_champion.delta == pytest.approx(noisy_accuracy - 1)
    assert evidence.vs_champion.high <= 0 and assessment.intervals["champion"].low == 1.0
    verdict = decide(evidence, settings)
    assert not verdict.passed and verdict.deciding_rule == "baseline"
    alone = assess("holdout-1", readings, perfect, None, facts, settings)
    assert alone.evidence.champion is None and decide(alone.evidence, settings).deciding_rule == NO_CHAMPION
    with pytest.raises(ValueError, match="predictions for 600 holdout rows"):
        assess("holdout-1", readings, perfect[:10], None, facts, settings)


def test_accuracy_interval_brackets_the_accuracy() -> None:
    labels = np.array([0, 1] * 300)
    probabilities = np.where(np.arange(600) % 10 == 0, 1 - labels, labels).astype(np.float64)
    interval = accuracy_interval(labels, probabilities, 500)
    assert interval.accuracy == pytest.approx(0.9) and interval.low <= 0.9 <= interval.high


def _forward(challenger: float, rule: float, champion: float | None = None) -> ForwardEvidence:
    return ForwardEvidence(
        ("2015-02-06.csv",),
        _score("challenger", challenger),
        _score("light_rule", rule),
        _difference(challenger - rule, challenger - rule - 0.005, challenger - rule + 0.005),
        _score("champion", champion) if champion is not None else None,
        _difference(challenger - champion, -0.01, 0.01) if champion is not None else None,
    )


def test_the_forward_rule_compares_with_the_light_rule_on_the_held_out_session() -> None:
    settings = GateSettings(forward_margin=0.002)
    tie = dataclasses.replace(_evidence(), forward=_forward(0.9875, 0.9875, champion=0.99))
    verdict = decide(tie, settings)
    forward = next(result for result in verdict.results if result.rule == "forward")
    assert verdict.passed and forward.passed and not forward.skipped
    assert "2015-02-06.csv" in forward.detail and "champion 0.9900" in forward.detail
    assert decide(dataclasses.replace(tie, forward=_forward(0.9855, 0.9875)), settings).passed  # at the margin
    worse = dataclasses.replace(_evidence(champion=None), forward=_forward(0.9840, 0.9875))
    refused = decide(worse, settings)
    assert not refused.passed and refused.deciding_rule == "forward" and "-0.35 pt" in refused.reason
    assert decide(worse, dataclasses.replace(settings, forward_margin=0.005)).passed


def test_without_forward_rows_there_is_no_forward_rule_to_report() -> None:
    """Like the slice rules without a champion: the receipt's `forward` section says why nothing was held out."""
    evidence = dataclasses.replace(_evidence(), no_forward="2 session(s): holding out 1 would leave fewer than 2")
    assert "forward" not in {result.rule for result in decide(evidence, GateSettings()).results}


def test_assess_scores_the_forward_rows_like_the_holdout() -> None:
    stamps = pd.date_range("2015-02-06 00:00", periods=300, freq="min")
    light = np.where((stamps.hour >= 2) & (stamps.hour < 3), 500.0, 0.0)
    readings = pd.DataFrame({"date": stamps, "Light": light, "Occupancy": (light > 0).astype(np.int64)})
    truth = readings["Occupancy"].to_numpy(dtype=np.float64)
    wrong = truth.copy()
    wrong[:30] = 1.0  # half an hour of false alarms
    rows = ForwardRows(("2015-02-06.csv",), "f" * 64, readings, wrong, "probe", truth, {"challenger": "test"})
    settings = GateSettings(bootstrap_samples=200)
    assessment = assess("holdout-1", readings, truth, truth, TrainingFacts(3, 3000, 600), settings, rows)
    forward = assessment.evidence.forward
    assert forward is not None and forward.sessions == ("2015-02-06.csv",)
    assert forward.challenger.overall.accuracy == pytest.approx(0.9) and forward.baseline.overall.accuracy == 1.0
    assert forward.vs_champion is not None and forward.vs_champion.delta == pytest.approx(-0.1)
    assert assessment.forward is not None and assessment.forward.intervals["challenger"].accuracy == pytest.approx(0.9)
    verdict = decide(assessment.evidence, settings)
    assert not verdict.passed and verdict.deciding_rule == "forward"
    skipped = assess("holdout-1", readings, truth, None, TrainingFacts(3, 3000, 600), settings, "too few sessions")
    assert skipped.evidence.forward is None and skipped.evidence.no_forward == "too few sessions"


def test_gate_settings_come_from_the_environment_and_fail_loudly() -> None:
    settings = RolloutSettings.from_env(
        {
            "OCCULOOP_GATE_CHAMPION_MARGIN": "0.01",
            "OCCULOOP_GATE_SLICE_MARGINS": "night=0.005, day=0.03",
            "OCCULOOP_GATE_MIN_DAYS": "3",
            "OCCULOOP_GATE_FORWARD_MARGIN": "0.004",
            "OCCULOOP_GATE_ON_PASS": "hold",
            "OCCULOOP_ROLLOUT_PROJECT": "x/rollout",
        }
    )
    assert settings.gate.champion_margin == 0.01 and settings.gate.min_days == 3 and settings.on_pass == "hold"
    assert settings.gate.forward_margin == 0.004
    assert settings.gate.margin_for("night") == 0.005 and settings.gate.margin_for("weekday") == 0.02
    assert settings.project == "x/rollout" and RolloutSettings.from_env({}) == RolloutSettings()
    with pytest.raises(SettingsError, match="OCCULOOP_GATE_SLICE_MARGINS"):
        RolloutSettings.from_env({"OCCULOOP_GATE_SLICE_MARGINS": "noon=0.1"})
    with pytest.raises(SettingsError, match="OCCULOOP_GATE_ON_PASS"):
        RolloutSettings.from_env({"OCCULOOP_GATE_ON_PASS": "yolo"})
    with pytest.raises(SettingsError, match="OCCULOOP_GATE_BASELINE_MARGIN"):
        RolloutSettings.from_env({"OCCULOOP_GATE_BASELINE_MARGIN": "-1"})
    with pytest.raises(SettingsError, match="OCCULOOP_GATE_FORWARD_MARGIN"):
        RolloutSettings.from_env({"OCCULOOP_GATE_FORWARD_MARGIN": "two"})
