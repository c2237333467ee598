"""Holdout predictions in, the gate's evidence out: the evaluation engine applied to challenger, champion, Light rule.

Pure numpy (training/evaluate.py does the statistics): how the predictions were obtained — a training run's stored
`holdout_predictions` artifact or a reloaded SavedModel — is the caller's business (registry.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.baselines import light_rule
from training.evaluate import EvaluationReport, evaluate, paired_bootstrap
from training.schema import LABEL

from ..settings import GateSettings
from .gate_rules import Evidence, TrainingFacts

CHALLENGER, CHAMPION, BASELINE = "challenger", "champion", "light_rule"


@dataclass(frozen=True)
class Interval:
    """A model's own holdout accuracy with its 95 % block-bootstrap interval."""

    accuracy: float
    low: float
    high: float


@dataclass(frozen=True)
class Assessment:
    report: EvaluationReport
    evidence: Evidence
    intervals: dict[str, Interval]  # by role: challenger, champion, light_rule

    def comparisons(self) -> dict[str, Any]:
        vs_champion = self.evidence.vs_champion
        return {
            "challenger_vs_champion": asdict(vs_champion) if vs_champion is not None else None,
            "challenger_vs_baseline": asdict(self.evidence.vs_baseline),
        }


def accuracy_interval(labels: npt.ArrayLike, probabilities: npt.ArrayLike, samples: int) -> Interval:
    """The engine's paired bootstrap against a model that is always wrong: the difference is the accuracy itself."""
    y = np.asarray(labels, dtype=np.int64)
    always_wrong = (1 - y).astype(np.float64)
    difference = paired_bootstrap(y, probabilities, always_wrong, samples=samples)
    return Interval(difference.delta, difference.low, difference.high)


def assess(
    holdout_id: str,
    readings: pd.DataFrame,
    challenger: npt.ArrayLike,
    champion: npt.ArrayLike | None,
    training: TrainingFacts,
    settings: GateSettings,
) -> Assessment:
    """Score challenger, champion (if any) and the Light rule on the same holdout rows, with paired intervals."""
    predictions: dict[str, npt.ArrayLike] = {CHALLENGER: challenger, BASELINE: light_rule(readings)}
    pairs: list[tuple[str, str]] = [(CHALLENGER, BASELINE)]
    if champion is not None:
        predictions[CHAMPION] = champion
        pairs.insert(0, (CHALLENGER, CHAMPION))
    for role, values in predictions.items():
        if len(np.asarray(values)) != len(readings):
            raise ValueError(f"{role} has {len(np.asarray(values))} predictions for {len(readings)} holdout rows")
    labels = readings[LABEL].to_numpy()
    differences = {
        (a, b): paired_bootstrap(
            labels, predictions[a], predictions[b], names=(a, b), samples=settings.bootstrap_samples
        )
        for a, b in pairs
    }
    scored = evaluate(holdout_id, readings, predictions)
    report = EvaluationReport(scored.holdout, scored.rows, scored.scores, tuple(differences.values()))
    evidence = Evidence(
        challenger=report.score_of(CHALLENGER),
        baseline=report.score_of(BASELINE),
        vs_baseline=differences[(CHALLENGER, BASELINE)],
        training=training,
        champion=report.score_of(CHAMPION) if champion is not None else None,
        vs_champion=differences.get((CHALLENGER, CHAMPION)),
    )
    intervals = {
        role: accuracy_interval(labels, values, settings.bootstrap_samples) for role, values in predictions.items()
    }
    return Assessment(report, evidence, intervals)
