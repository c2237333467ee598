"""Everything a training run can be told, in one place: the network's design and the run's inputs.

These values are connected to the ClearML task (section `General`), so a cloned task carries them and any of them
can be overridden per run — the trigger overrides `dataset_id`. They are deliberately not environment variables.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .features import DEFAULT_FEATURE_SET

PARAMETER_SECTION = "General"
# `occuloop demo --fast`: the parameters it overrides (the benchmarks measure the same overrides)
FAST_OVERRIDES: dict[str, Any] = {"max_epochs": 8}
DATASET_PARAMETER = f"{PARAMETER_SECTION}/dataset_id"  # what the trigger overrides with '${dataset.id}'


@dataclass(frozen=True)
class TrainingParams:
    # inputs of the run
    dataset_id: str = ""  # the labeled dataset version to train on (empty: the latest finalized one)
    dataset_project: str = "occuloop/labels"
    dataset_name: str = "labeled"
    holdout_dataset_id: str = ""  # empty: the pinned holdout registered in `holdout_project`
    holdout_project: str = "occuloop/holdout"
    model_name: str = "occupancy"
    gate_queue: str = ""  # non-empty: end the run by enqueueing the gate for the new model (training/gate_step.py)
    gate_project: str = "occuloop/rollout"
    # the network of the design: BatchNorm, two Dense+BatchNorm+Dropout blocks, a sigmoid output
    hidden_units: int = 255
    dropout: float = 0.3
    # of the moving mean/variance BatchNorm uses at inference. Keras' 0.99 needs ~500 steps to settle: a first
    # model trained on two days (~50 steps an epoch) was sometimes restored to epoch 1 and answered "empty"
    # everywhere (BENCHMARKS.md, "Forward"); 0.9 settles within an epoch or two
    batchnorm_momentum: float = 0.9
    patience: int = 5  # early stopping on validation loss, best weights restored
    max_epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 0.001
    # the newest labeling session(s) are held out of fitting: early stopping and the gate's forward evidence
    forward_sessions: int = 1  # 0: none (a random `validation_share` of the rows decides when to stop)
    refit: bool = False  # then train again on every session for the best epoch count (training/fitting.py)
    validation_share: float = 0.2  # of the training rows, for early stopping when no session is held out
    seed: int = 42
    # inputs derived from the readings, fitted on the training rows only (training/features.py)
    feature_set: str = DEFAULT_FEATURE_SET  # see FEATURE_SETS in training/features.py and BENCHMARKS.md

    def as_connected(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_connected(cls, values: dict[str, Any]) -> TrainingParams:
        """Values come back from ClearML as strings when overridden; cast each to its field's type."""
        defaults = cls()
        cast: dict[str, Any] = {}
        for item in dataclasses.fields(cls):
            if item.name not in values:
                continue
            kind = type(getattr(defaults, item.name))
            raw = values[item.name]
            try:
                if kind is bool and isinstance(raw, str):  # bool("False") is True
                    cast[item.name] = _boolean(item.name, raw)
                    continue
                cast[item.name] = kind(raw) if not isinstance(raw, kind) else raw
            except (TypeError, ValueError) as error:
                raise ValueError(f"parameter {item.name}={raw!r} is not a valid {kind.__name__}") from error
        return dataclasses.replace(defaults, **cast)


def _boolean(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"parameter {name}={raw!r} is not a valid bool")
