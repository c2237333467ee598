"""How a training run turns labeling sessions into a network: the one recipe the training task and the
benchmarks share.

 1. hold out the newest session(s) (training/forward.py); with too few sessions, a stratified random share of
    the rows instead, as before the forward hold-out existed;
 2. fit the feature constants on the remaining rows, train with early stopping on the held-out rows: this is the
    *probe*, and its predictions on the held-out rows are the run's forward evidence for the gate;
 3. with `refit`, train again on every session for the probe's best epoch count; otherwise the probe is the model.

TensorFlow is imported only when a network is trained (training/model.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import features as feature_code
from .forward import ForwardSplit, split_newest
from .model import EpochCallback, TrainedNetwork, predict_with, refit_network, train_network
from .params import TrainingParams
from .schema import LABEL, TIMESTAMP
from .sessions import Session


@dataclass(frozen=True)
class Probe:
    """The network fitted without the held-out sessions, and what it predicted on them."""

    network: TrainedNetwork
    spec: feature_code.FeatureSpec
    held_out: pd.DataFrame  # the rows of the newest session(s)
    predictions: npt.NDArray[np.float64]  # P(occupied) per held-out row


@dataclass(frozen=True)
class FittedModel:
    network: TrainedNetwork  # the model to register
    spec: feature_code.FeatureSpec
    split: ForwardSplit
    probe: Probe | None  # None when nothing could be held out
    refit: bool  # the registered network was trained again on every session

    @property
    def model(self) -> Any:
        return self.network.model

    @property
    def seconds(self) -> float:
        return self.network.seconds + (self.probe.network.seconds if self.probe and self.refit else 0.0)


def split_for_early_stopping(readings: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified random split of the training rows; the validation part only decides when to stop."""
    rng = np.random.default_rng(seed)
    validation: list[npt.NDArray[np.int64]] = []
    labels = readings[LABEL].to_numpy()
    for value in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == value))
        validation.append(rows[: round(len(rows) * share)])
    held = np.zeros(len(readings), dtype=bool)
    held[np.concatenate(validation)] = True
    return readings[~held].reset_index(drop=True), readings[held].reset_index(drop=True)


def _labels(rows: pd.DataFrame) -> npt.NDArray[np.float32]:
    return rows[LABEL].to_numpy(dtype=np.float32)


def fit_model(
    sessions: Sequence[Session],
    params: TrainingParams,
    on_epoch: EpochCallback | None = None,
    on_refit_epoch: EpochCallback | None = None,
) -> FittedModel:
    """`on_epoch` hears every epoch of the early-stopped run (training and validation loss), `on_refit_epoch`
    every epoch of the refit."""
    split = split_newest(sessions, params.forward_sessions)
    if not split.held_out:
        fit_rows, stop_rows = split_for_early_stopping(split.fit_rows(), params.validation_share, params.seed)
        spec = feature_code.fit(fit_rows, params.feature_set)
        x_fit, x_stop = spec.transform(fit_rows), spec.transform(stop_rows)
        network = train_network(x_fit, _labels(fit_rows), x_stop, _labels(stop_rows), params, on_epoch)
        return FittedModel(network, spec, split, None, refit=False)

    fit_rows, held_out, every_row = split.fit_rows(), split.held_out_rows(), split.all_rows()
    spec = feature_code.fit(fit_rows, params.feature_set)
    # the held-out rows' inputs are computed with the minutes before them (the older sessions) as their history
    x_fit = spec.transform(fit_rows)
    x_held = spec.transform(every_row)[every_row[TIMESTAMP].isin(held_out[TIMESTAMP]).to_numpy()]
    # with a refit to follow, the probe's epochs are not the registered model's: they are not reported per epoch
    network = train_network(
        x_fit, _labels(fit_rows), x_held, _labels(held_out), params, None if params.refit else on_epoch
    )
    probe = Probe(network, spec, held_out, predict_with(network.model, x_held))
    if not params.refit:
        return FittedModel(network, spec, split, probe, refit=False)
    full_spec = feature_code.fit(every_row, params.feature_set)
    x_every = full_spec.transform(every_row)
    refitted = refit_network(x_every, _labels(every_row), network.best_epoch, params, on_refit_epoch)
    return FittedModel(refitted, full_spec, split, probe, refit=True)
