"""The forward hold-out: the newest labeling session(s) of a dataset version are kept out of fitting.

A model is used on the days after the ones it learned from, so the honest test of a training run is the newest
data it was given: the run fits on the older sessions, stops early on the newest, and the gate compares that
model with the Light rule (and the champion) there — on days no model of the loop has trained on yet. The pinned
holdout (test 1, early February) never changes and cannot show that a model does worse on what comes next.

Pure pandas: which sessions are held out, and their rows. Sessions are ordered by their first minute (a session
is one day by the data contract), so "newest" does not depend on file names.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .schema import COLUMNS, FEATURES, LABEL, TIMESTAMP
from .sessions import Session

# The older sessions must be at least two days: a network fitted on one day is a coin toss between seeds
# (36 % or 98 % on test 1, occupancy-data-and-model.md §9), and the gate refuses one-day models anyway.
MIN_FIT_SESSIONS = 2
FORWARD_ARTIFACT = "forward_predictions"  # the training run's record of the forward rows; the gate reads it


@dataclass(frozen=True)
class ForwardSplit:
    fit: tuple[Session, ...]  # what the network learns from, oldest first
    held_out: tuple[Session, ...]  # the newest session(s); empty when none could be spared
    reason: str  # why nothing is held out ("" when something is)

    @property
    def names(self) -> list[str]:
        return [session.name for session in self.held_out]

    def fit_rows(self) -> pd.DataFrame:
        return _rows(self.fit)

    def held_out_rows(self) -> pd.DataFrame:
        return _rows(self.held_out)

    def all_rows(self) -> pd.DataFrame:
        return _rows((*self.fit, *self.held_out))


def _rows(sessions: Sequence[Session]) -> pd.DataFrame:
    if not sessions:
        return pd.DataFrame(columns=list(COLUMNS))
    rows = pd.concat([session.readings for session in sessions], ignore_index=True)
    return rows.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def _first_minute(session: Session) -> pd.Timestamp:
    return pd.Timestamp(session.readings[TIMESTAMP].min())


def split_newest(sessions: Sequence[Session], count: int, min_fit: int = MIN_FIT_SESSIONS) -> ForwardSplit:
    """Hold out the newest `count` sessions, if at least `min_fit` sessions holding both classes remain to fit."""
    ordered = tuple(sorted(sessions, key=lambda session: (_first_minute(session), session.name)))
    if count <= 0:
        return ForwardSplit(ordered, (), "no forward hold-out requested")
    if len(ordered) - count < min_fit:
        return ForwardSplit(
            ordered, (), f"{len(ordered)} session(s): holding out {count} would leave fewer than {min_fit} to fit on"
        )
    fit, held_out = ordered[:-count], ordered[-count:]
    labels = _rows(fit)[LABEL]
    if labels.nunique() < 2:
        return ForwardSplit(
            ordered, (), "the older sessions hold a single class: nothing to learn from without the newest"
        )
    return ForwardSplit(fit, held_out, "")


def rows_sha256(readings: pd.DataFrame) -> str:
    """SHA-256 of rows written as a labeling-session CSV: names the exact forward rows in a receipt."""
    out = readings[list(COLUMNS)].copy()
    out[TIMESTAMP] = pd.to_datetime(out[TIMESTAMP]).dt.strftime("%Y-%m-%d %H:%M:%S")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, lineterminator="\n")
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def artifact(
    split: ForwardSplit,
    challenger: npt.NDArray[np.float64],
    challenger_model: str,
    champion: tuple[str, npt.NDArray[np.float64]] | None,
) -> dict[str, Any]:
    """What the gate needs to score the forward rows without the dataset: the rows themselves (so it can run the
    Light rule, or the champion if it has to), the challenger's predictions there and, when the run found one,
    the champion's."""
    rows = split.held_out_rows()
    return {
        "sessions": split.names,
        "sha256": rows_sha256(rows),
        "readings": {
            TIMESTAMP: rows[TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist(),
            **{name: rows[name].astype(float).tolist() for name in FEATURES},
            LABEL: rows[LABEL].astype(int).tolist(),
        },
        "challenger": [round(float(p), 7) for p in challenger],
        "challenger_model": challenger_model,
        "champion": (
            {"model_id": champion[0], "probabilities": [round(float(p), 7) for p in champion[1]]}
            if champion is not None
            else None
        ),
    }
