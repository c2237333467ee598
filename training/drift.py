"""Distribution shift between a new batch and a reference, per sensor: PSI and the two-sample KS statistic.

Reported, never blocking: a one-day batch compared with a week "drifts" on temperature, humidity and CO2 every
day (KS 0.67-0.93, PSI 5.7-8.3 on days where every model is at 99 %+), so these numbers are for the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from .schema import FEATURES

BINS = 10
EPSILON = 1e-4  # keeps empty bins from sending PSI to infinity


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks: float


@dataclass(frozen=True)
class Reference:
    """One sensor's reference distribution, prepared once: its finite values sorted, the PSI bin edges (the
    reference's quantiles) and its share per bin. A batch of files is measured against one reference."""

    values: npt.NDArray[np.float64]
    edges: npt.NDArray[np.float64]
    shares: npt.NDArray[np.float64]

    @classmethod
    def of(cls, reference: npt.ArrayLike, bins: int = BINS) -> Reference:
        ref = np.asarray(reference, dtype=np.float64)
        ref = np.sort(ref[np.isfinite(ref)])
        if ref.size == 0:
            return cls(ref, np.empty(0), np.empty(0))
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
        if edges.size < 2:  # a constant reference (Light at night): two bins, "that value" and "anything else"
            return cls(ref, edges, np.array([1.0, 0.0]))
        return cls(ref, edges, np.histogram(ref, edges)[0] / ref.size)


def psi(reference: npt.ArrayLike | Reference, current: npt.ArrayLike, bins: int = BINS) -> float:
    """Population stability index over the reference's quantile bins."""
    ref = reference if isinstance(reference, Reference) else Reference.of(reference, bins)
    cur = np.asarray(current, dtype=np.float64)
    cur = cur[np.isfinite(cur)]
    if ref.values.size == 0 or cur.size == 0:
        return float("nan")
    if ref.edges.size < 2:
        same = float(np.mean(cur == ref.values[0]))
        cur_share = np.array([same, 1.0 - same])
    else:
        cur_share = np.histogram(np.clip(cur, ref.edges[0], ref.edges[-1]), ref.edges)[0] / cur.size
    ref_share, cur_share = np.maximum(ref.shares, EPSILON), np.maximum(cur_share, EPSILON)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def ks_statistic(reference: npt.ArrayLike | Reference, current: npt.ArrayLike) -> float:
    """The largest gap between the two empirical CDFs."""
    ref = reference.values if isinstance(reference, Reference) else Reference.of(reference).values
    cur = np.sort(np.asarray(current, dtype=np.float64))
    cur = cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    values = np.concatenate([ref, cur])
    gap = np.searchsorted(ref, values, side="right") / ref.size - np.searchsorted(cur, values, side="right") / cur.size
    return float(np.max(np.abs(gap)))


DriftReference = Mapping[str, Reference]  # per sensor


def prepare(reference: pd.DataFrame) -> DriftReference:
    """Each sensor of a reference frame prepared once; a caller measuring many files against the same frame (the
    sync, every file of a batch) prepares it once and passes this instead of the frame."""
    return {name: Reference.of(reference[name]) for name in FEATURES}


def feature_drift(reference: pd.DataFrame | DriftReference, current: pd.DataFrame) -> list[FeatureDrift]:
    prepared = prepare(reference) if isinstance(reference, pd.DataFrame) else reference
    return [
        FeatureDrift(
            name, round(psi(prepared[name], current[name]), 4), round(ks_statistic(prepared[name], current[name]), 4)
        )
        for name in FEATURES
    ]
