"""Holdout predictions in, the gate's evidence out: the evaluation engine applied to challenger, champion, Light rule.

Twice: on the pinned holdout, and on the forward rows — the newest session(s) the challenger's training run held
out of fitting, where the champion (trained before they were labeled) meets it on days neither learned from.
Pure numpy (training/evaluate.py does the statistics): how the predictions were obtained — a training run's stored
`holdout_predictions` / `forward_predictions` artifacts or a reloaded SavedModel — is the caller's business
(registry.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.baselines import light_rule
from training.evaluate import EvaluationReport, evaluate, paired_bootstrap
from training.schema import LABEL

from ..settings import GateSettings
from .gate_rules import Evidence, ForwardEvidence, TrainingFacts

CHALLENGER, CHAMPION, BASELINE = "challenger", "champion", "light_rule"


@dataclass(frozen=True)
class Interval:
    """A model's own holdout accuracy with its 95 % block-bootstrap interval."""

    accuracy: float
    low: float
    high: float


@dataclass(frozen=True)
class ForwardRows:
    """The newest session(s) a training run held out of fitting, and the models' answers there."""

    sessions: tuple[str, ...]
    sha256: str  # of the rows as a labeling-session CSV (training/forward.py rows_sha256)
    readings: pd.DataFrame  # date, the five sensors, Occupancy
    challenger: npt.NDArray[np.float64]  # P(occupied) of the network fitted without these rows
    challenger_model: str  # "registered" or "probe" (fitted without them; the registered model was refit on all)
    champion: npt.NDArray[np.float64] | None
    sources: dict[str, str]  # where each role's predictions came from
    notes: tuple[str, ...] = ()  # e.g. the champion was trained on these sessions too


@dataclass(frozen=True)
class Assessment:
    report: EvaluationReport
    evidence: Evidence
    intervals: dict[str, Interval]  # by role: challenger, champion, light_rule
    forward: Assessment | None = None  # the same on the forward rows
    forward_rows: ForwardRows | None = None

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
    forward: ForwardRows | str | None = None,
) -> Assessment:
    """Score challenger, champion (if any) and the Light rule on the same holdout rows, with paired intervals;
    the same on the forward rows when given (a string says why there are none)."""
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
    if isinstance(forward, str):
        return Assessment(report, dataclasses.replace(evidence, no_forward=forward), intervals)
    if forward is None:
        return Assessment(report, evidence, intervals)
    ahead = assess(
        "forward:" + ",".join(forward.sessions),
        forward.readings,
        forward.challenger,
        forward.champion,
        training,
        settings,
    )
    seen = ahead.evidence
    evidence = dataclasses.replace(
        evidence,
        forward=ForwardEvidence(
            forward.sessions, seen.challenger, seen.baseline, seen.vs_baseline, seen.champion, seen.vs_champion
        ),
    )
    return Assessment(report, evidence, intervals, ahead, forward)
