"""The reference models every candidate is compared with: the one-line Light rule and logistic regression.

Both are cheap and strong on this data (the rule scores 97.86 % / 99.31 % on the two published test sets), so
"at least as good as the Light rule" is the honest bar for a learned model. numpy and pandas only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .schema import FEATURES, LABEL

LIGHT_RULE_THRESHOLD = 364.5  # lux; chosen on the training file (occupancy-data-and-model.md §4)


def light_rule(
    readings: pd.DataFrame | Mapping[str, npt.NDArray[Any]], threshold: float = LIGHT_RULE_THRESHOLD
) -> npt.NDArray[np.float64]:
    """P(occupied) of the Light rule: 1.0 above the threshold, 0.0 at or below it. Readings as a frame, or as
    arrays by column (how serving hands them to training/features.py)."""
    return (np.asarray(readings["Light"], dtype=np.float64) > threshold).astype(np.float64)


@dataclass(frozen=True)
class LogisticRegression:
    """L2-regularized logistic regression on standardized sensors, fitted by Newton's method (deterministic)."""

    mean: npt.NDArray[np.float64]
    scale: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]  # bias first

    @classmethod
    def fit(cls, readings: pd.DataFrame, l2: float = 1e-3, iterations: int = 50) -> LogisticRegression:
        x = readings[list(FEATURES)].to_numpy(dtype=np.float64)
        y = readings[LABEL].to_numpy(dtype=np.float64)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        design = np.column_stack([np.ones(len(x)), (x - mean) / scale])
        weights = np.zeros(design.shape[1])
        penalty = l2 * np.eye(design.shape[1])
        penalty[0, 0] = 0.0
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-design @ weights))
            gradient = design.T @ (p - y) / len(y) + penalty @ weights
            hessian = (design.T * (p * (1 - p))) @ design / len(y) + penalty
            step = np.linalg.solve(hessian + 1e-9 * np.eye(len(weights)), gradient)
            weights -= step
            if np.max(np.abs(step)) < 1e-8:
                break
        return cls(mean, scale, weights)

    def predict_proba(self, readings: pd.DataFrame) -> npt.NDArray[np.float64]:
        x = (readings[list(FEATURES)].to_numpy(dtype=np.float64) - self.mean) / self.scale
        logits = self.weights[0] + x @ self.weights[1:]
        probabilities: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-np.clip(logits, -500, 500)))
        return probabilities
