"""Choosing the recipe honestly (issue 21), then measuring it forward: every choice of inputs and
hyper-parameters is judged on the days of `datatraining.txt` only (leave-later-days-out); test 1 and test 2 are
looked at once, in the forward sweep of the chosen recipe against the one before (forward_bench.sweep).

Candidates are explicit about every parameter that changed during the search, so changing the defaults later
does not change what a candidate was; they were tried in rounds, each prompted by the previous one's failures
(BENCHMARKS.md, "Forward").
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.forward_bench import COUNTS, MODES, SEEDS, accuracy, later_mask, minutes, sweep, train_one
from training.baselines import light_rule
from training.features import FEATURE_SETS
from training.params import TrainingParams

SELECTION_COUNTS = tuple(range(2, 7))  # fit on the first 2..6 days of datatraining.txt ...
SELECTION_LAST_DAY = "2015-02-10"  # ... score on its later days only: test 1 and test 2 are never looked at


def selection(
    candidates: dict[str, tuple[TrainingParams, tuple[int, ...]]], cache: Path | None, progress: bool = True
) -> dict[str, Any]:
    """Leave-later-days-out on the 7 days of `datatraining.txt`: each candidate is trained on the first k days
    (k = 2..6) and scored on the remaining days of that file, against the Light rule on the same minutes. A
    candidate with `refit` also yields the same recipe without refit (its probe), scored as `<name> (no refit)`."""
    data = minutes()
    labels = data.labels
    rule = light_rule(data.readings)
    scores: dict[str, list[dict[str, Any]]] = {}
    for count in SELECTION_COUNTS:
        later = later_mask(data, count) & (data.day <= SELECTION_LAST_DAY)
        rule_accuracy = accuracy(labels, rule, later)
        for name, (params, seeds) in candidates.items():
            for seed in seeds:
                run = train_one(data, dataclasses.replace(params, seed=seed), count, cache)
                variants = {name: run["final"]}
                if run["refit"]:
                    variants[f"{name} (no refit)"] = run["probe"]
                for variant, probabilities in variants.items():
                    delta = accuracy(labels, probabilities, later) - rule_accuracy
                    scores.setdefault(variant, []).append(
                        {"sessions": count, "seed": seed, "delta": delta, "epochs": run["epochs"]}
                    )
                    if progress:
                        print(f"selection k={count} {variant} seed={seed} delta {100 * delta:+.2f} pt", flush=True)
    return {
        variant: {
            "mean_delta": float(np.mean([cell["delta"] for cell in cells])),
            "worst_delta": float(min(cell["delta"] for cell in cells)),
            "from_3_worst_delta": float(min(cell["delta"] for cell in cells if cell["sessions"] >= 3)),
            "cells_below_0.2": sum(cell["delta"] < -0.002 for cell in cells if cell["sessions"] >= 3),
            "cells": cells,
        }
        for variant, cells in scores.items()
    }


# -- what was tried ----------------------------------------------------------------------------------------------

TWO_SEEDS, FIVE_SEEDS = (42, 1), SEEDS


def _recipe(**changes: Any) -> TrainingParams:
    """The recipe as the search began (the design's BatchNorm with Keras' momentum 0.99, early stopping on the
    validation loss with patience 5, up to 100 epochs, the newest session held out, no refit), changed."""
    base = dataclasses.replace(
        TrainingParams(),
        batchnorm_momentum=0.99,
        patience=5,
        max_epochs=100,
        forward_sessions=1,
        refit=False,
    )
    return dataclasses.replace(base, **changes)


BEFORE = _recipe(feature_set="light-gated", forward_sessions=0)  # the recipe before issue 21
STEADY = {"batchnorm_momentum": 0.9}  # round 3: BatchNorm statistics that settle within a few epochs
CANDIDATES: dict[str, tuple[TrainingParams, tuple[int, ...]]] = {
    # round 1: inputs (the Light rule's verdict, capped Light, CO2, the recent stream), refit or not
    "light-gated, random split (before)": (BEFORE, TWO_SEEDS),
    "light-gated": (_recipe(feature_set="light-gated", refit=True), TWO_SEEDS),
    "light-stream": (_recipe(feature_set="light-stream", refit=True), TWO_SEEDS),
    "rule-light": (_recipe(feature_set="rule-light", refit=True), TWO_SEEDS),
    "rule-gated": (_recipe(feature_set="rule-gated", refit=True), TWO_SEEDS),
    "rule-stream": (_recipe(feature_set="rule-stream", refit=True), TWO_SEEDS),
    "rule-gated-stream": (_recipe(feature_set="rule-gated-stream", refit=True), TWO_SEEDS),
    "rule-trend": (_recipe(feature_set="rule-trend", refit=True), TWO_SEEDS),
    "rule-trend, random split": (_recipe(feature_set="rule-trend", forward_sessions=0), TWO_SEEDS),
    "rule-co2-trend": (_recipe(feature_set="rule-co2-trend", refit=True), TWO_SEEDS),
    "rule-lit-trend": (_recipe(feature_set="rule-lit-trend", refit=True), TWO_SEEDS),
    "rule-co2-lit-trend": (_recipe(feature_set="rule-co2-lit-trend", refit=True), TWO_SEEDS),
    # round 2: the two inputs that never lost, five seeds, and at most 8 epochs (the old --fast)
    "rule-co2": (_recipe(feature_set="rule-co2", refit=True), FIVE_SEEDS),
    "rule": (_recipe(feature_set="rule"), FIVE_SEEDS),
    "rule, 8 epochs": (_recipe(feature_set="rule", max_epochs=8), FIVE_SEEDS),
    # round 3: BatchNorm momentum 0.9
    "rule, momentum 0.9": (_recipe(feature_set="rule", **STEADY), FIVE_SEEDS),
    "rule-co2, momentum 0.9": (_recipe(feature_set="rule-co2", **STEADY), FIVE_SEEDS),
    "rule, momentum 0.9, 8 epochs": (_recipe(feature_set="rule", max_epochs=8, **STEADY), FIVE_SEEDS),
    "rule-co2, momentum 0.9, 8 epochs": (_recipe(feature_set="rule-co2", max_epochs=8, **STEADY), FIVE_SEEDS),
    "rule, momentum 0.9, refit": (_recipe(feature_set="rule", refit=True, **STEADY), FIVE_SEEDS),
    # round 4: with steady statistics, do the richer inputs stop losing?
    "light-gated, momentum 0.9": (_recipe(feature_set="light-gated", **STEADY), TWO_SEEDS),
    "rule-lit-trend, momentum 0.9": (_recipe(feature_set="rule-lit-trend", **STEADY), TWO_SEEDS),
    "rule-trend, momentum 0.9": (_recipe(feature_set="rule-trend", **STEADY), TWO_SEEDS),
}


def sweep_configurations() -> dict[str, TrainingParams]:
    return {
        "before, default": BEFORE,
        "before, fast": dataclasses.replace(BEFORE, max_epochs=8),  # `occuloop demo --fast` before issue 21
        "default": MODES["default"],
        "fast": MODES["fast"],
    }


BEFORE_SEEDS = TWO_SEEDS  # the recipe before is context; the chosen one gets every seed


def run_all(quick: bool = False, cache: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="occuloop-forward-") as scratch:
        folder = cache or Path(scratch)  # models are shared between the selection and the sweep either way
        candidates = dict(list(CANDIDATES.items())[:2]) if quick else CANDIDATES
        if quick:
            candidates = {name: (params, seeds[:1]) for name, (params, seeds) in candidates.items()}
        tried = selection(candidates, folder)
        configurations = sweep_configurations()
        counts = COUNTS[:2] if quick else COUNTS
        before = {name: params for name, params in configurations.items() if name.startswith("before")}
        after = {name: params for name, params in configurations.items() if name not in before}
        swept = sweep(before, BEFORE_SEEDS[:1] if quick else BEFORE_SEEDS, counts, folder)
        chosen = sweep(after, SEEDS[:1] if quick else SEEDS, counts, folder)
    return {
        "selection": {name: {k: v for k, v in value.items() if k != "cells"} for name, value in tried.items()},
        "candidates": {
            name: {"inputs": list(FEATURE_SETS[params.feature_set]), "seeds": list(seeds)}
            for name, (params, seeds) in CANDIDATES.items()
        },
        "configurations": {name: params.as_connected() for name, params in configurations.items()},
        "runs": swept["runs"] + chosen["runs"],
        "references": chosen["references"],
    }
