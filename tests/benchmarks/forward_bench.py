"""Forward evaluation (issue 21): train on the first N labeling sessions, score on every later day.

A model is used on the days after the ones it learned from, so this is the measurement that says whether the
loop's champion beats the one-line Light rule where it matters. For N = 2 .. 13 sessions, every seed and every
training mode, the training task's own recipe (training/fitting.py: forward hold-out, early stopping, refit) runs
in-process (no ClearML), and the models are scored on all later days (sessions N+1 .. 14 and the held-out Feb 17),
next to the Light rule and logistic regression (scikit-learn, standardized sensors) fitted on the same N sessions.

Each trained model's predictions on all 20,560 minutes are kept (`--cache DIR`, one .npz per model), so every
analysis — per day, pooled, the probe's held-out session, test 1 — is computed from the same models, and a
re-run trains only what is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.baselines import light_rule
from training.features import FEATURE_SETS
from training.fitting import fit_model
from training.model import predict_with
from training.params import FAST_OVERRIDES, TrainingParams
from training.readings import uci
from training.schema import FEATURES, LABEL, TIMESTAMP
from training.sessions import Session, training_sessions

SEEDS = (42, 1, 2, 3, 4)
COUNTS = tuple(range(2, 14))  # N: at least two sessions (the gate's minimum), at least one later session
MODES: dict[str, TrainingParams] = {
    "default": TrainingParams(),
    "fast": dataclasses.replace(TrainingParams(), **FAST_OVERRIDES),
}


@dataclass(frozen=True)
class Minutes:
    """All 20,560 UCI minutes in time order, with the day and the session (or holdout) each belongs to."""

    readings: pd.DataFrame
    day: npt.NDArray[np.str_]
    sessions: tuple[Session, ...]  # the 14 training sessions, in time order

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        return self.readings[LABEL].to_numpy(dtype=np.int64)


def minutes() -> Minutes:
    every = pd.concat([uci("test1"), uci("training"), uci("test2")], ignore_index=True)
    every = every.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)
    day = every[TIMESTAMP].dt.strftime("%Y-%m-%d").to_numpy(dtype=str)
    return Minutes(every, day, tuple(training_sessions()))


def later_mask(data: Minutes, count: int) -> npt.NDArray[np.bool_]:
    """Every minute after the first `count` sessions: the later sessions and the held-out day (not test 1)."""
    last = data.sessions[count - 1].readings[TIMESTAMP].max()
    return (data.readings[TIMESTAMP] > last).to_numpy()


LEGACY_DEFAULTS: dict[str, Any] = {
    "stop_on": "val_loss",
    "batchnorm_momentum": 0.99,
}  # parameters added later: at these values, keys from before stay valid


def _key(params: TrainingParams, count: int, extra: str) -> str:
    connected = {
        k: v
        for k, v in params.as_connected().items()
        if k not in ("dataset_id", "gate_queue") and LEGACY_DEFAULTS.get(k, object()) != v
    }
    inputs = FEATURE_SETS[params.feature_set]  # a set's definition can change under its name
    text = json.dumps({"params": connected, "inputs": inputs, "sessions": count, "extra": extra}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def train_one(data: Minutes, params: TrainingParams, count: int, cache: Path | None) -> dict[str, Any]:
    """One run of the training recipe on the first `count` sessions; P(occupied) of the registered model and of
    the probe (fitted without the newest session) on every minute, cached by parameters and session count."""
    path = cache / f"{_key(params, count, 'v1')}.npz" if cache else None
    if path is not None and path.exists():
        stored = np.load(path, allow_pickle=False)
        return {**json.loads(str(stored["meta"])), "final": stored["final"], "probe": stored["probe"]}
    started = time.perf_counter()
    fitted = fit_model(data.sessions[:count], params)
    final = predict_with(fitted.model, fitted.spec.transform(data.readings)).astype(np.float32)
    probe = (
        predict_with(fitted.probe.network.model, fitted.probe.spec.transform(data.readings)).astype(np.float32)
        if fitted.probe is not None
        else np.full(len(data.readings), np.nan, dtype=np.float32)
    )
    meta = {
        "sessions": count,
        "seed": params.seed,
        "held_out": fitted.split.names,
        "refit": fitted.refit,
        "epochs": fitted.probe.network.epochs if fitted.probe else fitted.network.epochs,
        "best_epoch": fitted.probe.network.best_epoch if fitted.probe else fitted.network.best_epoch,
        "fit_seconds": round(fitted.seconds, 2),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    if path is not None and cache is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, meta=json.dumps(meta), final=final, probe=probe)
        if fitted.refit:  # the probe is, bit for bit, the model of the same recipe without refit: keep it as that
            alone = {**meta, "refit": False, "fit_seconds": round(fitted.probe.network.seconds, 2)}  # type: ignore[union-attr]
            twin = cache / f"{_key(dataclasses.replace(params, refit=False), count, 'v1')}.npz"
            np.savez_compressed(twin, meta=json.dumps(alone), final=probe, probe=probe)
    return {**meta, "final": final, "probe": probe}


def baselines(data: Minutes, count: int) -> dict[str, npt.NDArray[np.float64]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = pd.concat([session.readings for session in data.sessions[:count]], ignore_index=True)
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    logistic.fit(rows[list(FEATURES)].to_numpy(), rows[LABEL].to_numpy())
    return {
        "light_rule": light_rule(data.readings),
        "logistic_regression": logistic.predict_proba(data.readings[list(FEATURES)].to_numpy())[:, 1],
    }


def accuracy(labels: npt.NDArray[np.int64], probabilities: npt.ArrayLike, mask: npt.NDArray[np.bool_]) -> float:
    predicted = np.asarray(probabilities)[mask] > 0.5
    return float(np.mean(predicted == (labels[mask] == 1)))


def sweep(
    modes: dict[str, TrainingParams],
    seeds: Iterable[int],
    counts: Iterable[int],
    cache: Path | None,
    progress: bool = True,
) -> dict[str, Any]:
    """Every (mode, N, seed) run of the recipe, scored on the later days, the probe's held-out day and test 1."""
    data = minutes()
    labels = data.labels
    test1 = (data.readings[TIMESTAMP] < data.sessions[0].readings[TIMESTAMP].min()).to_numpy()
    runs: list[dict[str, Any]] = []
    references: dict[int, dict[str, Any]] = {}
    for count in counts:
        later = later_mask(data, count)
        newest = data.day == data.sessions[count - 1].name
        base = baselines(data, count)
        references[count] = {
            "later_rows": int(later.sum()),
            "last_day": data.sessions[count - 1].name,
            **{
                name: {
                    "later": accuracy(labels, p, later),
                    "newest": accuracy(labels, p, newest),
                    "test1": accuracy(labels, p, test1),
                    "days": _per_day(data, labels, p, later),
                }
                for name, p in base.items()
            },
        }
        for mode, params in modes.items():
            for seed in seeds:
                run = train_one(data, dataclasses.replace(params, seed=seed), count, cache)
                scored = {
                    "mode": mode,
                    **{key: value for key, value in run.items() if key not in ("final", "probe")},
                    "later": accuracy(labels, run["final"], later),
                    "test1": accuracy(labels, run["final"], test1),
                    "days": _per_day(data, labels, run["final"], later),
                }
                if run["held_out"]:
                    scored["probe_later"] = accuracy(labels, run["probe"], later)
                    scored["probe_newest"] = accuracy(labels, run["probe"], newest)
                runs.append(scored)
                if progress:
                    print(
                        f"N={count:2d} {mode:8s} seed={seed:2d} later {100 * scored['later']:.2f} "
                        f"(rule {100 * references[count]['light_rule']['later']:.2f}) epochs {run['epochs']} "
                        f"best {run['best_epoch']} {run['wall_seconds']:.1f} s",
                        flush=True,
                    )
    return {"runs": runs, "references": {str(key): value for key, value in references.items()}}


def _per_day(
    data: Minutes, labels: npt.NDArray[np.int64], probabilities: npt.ArrayLike, later: npt.NDArray[np.bool_]
) -> dict[str, float]:
    days = sorted(set(data.day[later]))
    return {day: accuracy(labels, probabilities, later & (data.day == day)) for day in days}
