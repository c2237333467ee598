"""Scoring models on the pinned holdout: the numbers the gate decides on and the UI shows.

For every model (given as P(occupied) per holdout row) it computes accuracy, F1 and ROC AUC overall and per slice
(day/night, weekday/weekend), and for a pair of models a paired bootstrap confidence interval of the difference in
accuracy. Accuracy alone is weak here (predicting "unoccupied" everywhere scores 63.5 % on test 1), so F1 and AUC
are always reported next to it.

The bootstrap resamples blocks of consecutive minutes, not single rows: adjacent readings are nearly identical,
and an i.i.d. bootstrap would claim far more certainty than 2,665 correlated minutes can give.
Pure numpy: no TensorFlow, no I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .schema import LABEL, SLICES, TIMESTAMP

Probabilities = npt.NDArray[np.float64]
DAY_HOURS = range(7, 19)  # 07:00-18:59 is "day"; the rest, including the dark winter evening, is "night"
BOOTSTRAP_SAMPLES = 2000
BLOCK_MINUTES = 60


@dataclass(frozen=True)
class Metrics:
    rows: int
    occupied: int
    accuracy: float
    f1: float
    auc: float | None  # undefined when the slice has a single class
    precision: float
    recall: float
    confusion: dict[str, int]  # tn, fp, fn, tp


def metrics(labels: npt.ArrayLike, probabilities: npt.ArrayLike, threshold: float = 0.5) -> Metrics:
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probabilities, dtype=np.float64)
    predicted = (p > threshold).astype(np.int64)
    tp = int(np.sum((predicted == 1) & (y == 1)))
    tn = int(np.sum((predicted == 0) & (y == 0)))
    fp = int(np.sum((predicted == 1) & (y == 0)))
    fn = int(np.sum((predicted == 0) & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(
        rows=len(y),
        occupied=int(y.sum()),
        accuracy=float(np.mean(predicted == y)) if len(y) else float("nan"),
        f1=f1,
        auc=roc_auc(y, p),
        precision=precision,
        recall=recall,
        confusion={"tn": tn, "fp": fp, "fn": fn, "tp": tp},
    )


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float | None:
    """Area under the ROC curve by ranks (ties count half); None for a single class."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def roc_curve(labels: npt.ArrayLike, scores: npt.ArrayLike) -> tuple[list[float], list[float]]:
    """False- and true-positive rates at every distinct threshold, for the ROC plot."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    positives, negatives = max(int(y.sum()), 1), max(int(len(y) - y.sum()), 1)
    return [0.0, *(fps / negatives).tolist()], [0.0, *(tps / positives).tolist()]


def slices(readings: pd.DataFrame) -> dict[str, npt.NDArray[np.bool_]]:
    hours = readings[TIMESTAMP].dt.hour
    weekend = readings[TIMESTAMP].dt.day_of_week >= 5
    day = hours.isin(DAY_HOURS)
    masks = (day, ~day, ~weekend, weekend)  # in the order of schema.SLICES: day, night, weekday, weekend
    return {name: mask.to_numpy() for name, mask in zip(SLICES, masks, strict=True)}


@dataclass(frozen=True)
class ModelScore:
    name: str
    overall: Metrics
    by_slice: dict[str, Metrics]


def score(name: str, readings: pd.DataFrame, probabilities: npt.ArrayLike) -> ModelScore:
    labels = readings[LABEL].to_numpy()
    p = np.asarray(probabilities, dtype=np.float64)
    by_slice = {
        slice_name: metrics(labels[mask], p[mask]) for slice_name, mask in slices(readings).items() if mask.any()
    }
    return ModelScore(name, metrics(labels, p), by_slice)


@dataclass(frozen=True)
class Difference:
    """Accuracy of A minus accuracy of B on the same rows, with a 95 % block-bootstrap interval."""

    a: str
    b: str
    delta: float
    low: float
    high: float
    samples: int
    block: int


def paired_bootstrap(
    labels: npt.ArrayLike,
    probabilities_a: npt.ArrayLike,
    probabilities_b: npt.ArrayLike,
    *,
    names: tuple[str, str] = ("a", "b"),
    samples: int = BOOTSTRAP_SAMPLES,
    block: int = BLOCK_MINUTES,
    seed: int = 0,
    confidence: float = 0.95,
) -> Difference:
    y = np.asarray(labels, dtype=np.int64)
    correct_a = (np.asarray(probabilities_a) > 0.5).astype(np.int64) == y
    correct_b = (np.asarray(probabilities_b) > 0.5).astype(np.int64) == y
    gain = correct_a.astype(np.float64) - correct_b.astype(np.float64)
    n = len(gain)
    block = max(1, min(block, n))
    starts_per_sample = int(np.ceil(n / block))
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - block + 1, size=(samples, starts_per_sample))
    offsets = np.arange(block)
    indices = (starts[:, :, None] + offsets[None, None, :]).reshape(samples, -1)[:, :n]
    means = gain[indices].mean(axis=1)
    tail = (1 - confidence) / 2
    return Difference(
        a=names[0],
        b=names[1],
        delta=float(gain.mean()),
        low=float(np.quantile(means, tail)),
        high=float(np.quantile(means, 1 - tail)),
        samples=samples,
        block=block,
    )


@dataclass(frozen=True)
class EvaluationReport:
    holdout: str  # which holdout (dataset id or name) the rows came from
    rows: int
    scores: tuple[ModelScore, ...]
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def score_of(self, name: str) -> ModelScore:
        return next(item for item in self.scores if item.name == name)

    def table(self) -> list[list[str]]:
        rows = [["model", "accuracy", "F1", "AUC", *(f"acc {name}" for name in SLICES)]]
        for item in self.scores:
            auc = "n/a" if item.overall.auc is None else f"{item.overall.auc:.4f}"
            per_slice = [f"{item.by_slice[name].accuracy:.4f}" if name in item.by_slice else "-" for name in SLICES]
            rows.append([item.name, f"{item.overall.accuracy:.4f}", f"{item.overall.f1:.4f}", auc, *per_slice])
        return rows


def evaluate(
    holdout: str, readings: pd.DataFrame, models: dict[str, npt.ArrayLike], compare: tuple[tuple[str, str], ...] = ()
) -> EvaluationReport:
    """Score every model on the same holdout rows; `compare` lists (a, b) pairs for bootstrap differences."""
    labels = readings[LABEL].to_numpy()
    scored = tuple(score(name, readings, p) for name, p in models.items())
    differences = tuple(paired_bootstrap(labels, models[a], models[b], names=(a, b)) for a, b in compare)
    return EvaluationReport(holdout, len(readings), scored, differences)
