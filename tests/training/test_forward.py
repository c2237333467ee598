"""The forward hold-out: which sessions are kept out of fitting, the record the gate reads, the parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.forward import MIN_FIT_SESSIONS, artifact, rows_sha256, split_newest
from training.params import TrainingParams
from training.sessions import Session, training_sessions


@pytest.fixture(scope="module")
def sessions() -> list[Session]:
    return training_sessions()


def test_the_newest_session_is_held_out_whatever_order_the_files_come_in(sessions: list[Session]) -> None:
    shuffled = [sessions[2], sessions[0], sessions[1]]  # Feb 6, Feb 4, Feb 5
    split = split_newest(shuffled, 1)
    assert split.names == ["2015-02-06"] and [item.name for item in split.fit] == ["2015-02-04", "2015-02-05"]
    assert split.reason == ""
    fit, held = split.fit_rows(), split.held_out_rows()
    assert len(fit) == 369 + 1440 and len(held) == 1440
    assert fit["date"].max() < held["date"].min() and fit["date"].is_monotonic_increasing
    assert len(split.all_rows()) == len(fit) + len(held)


def test_two_newest_sessions_can_be_held_out(sessions: list[Session]) -> None:
    split = split_newest(sessions[:6], 2)
    assert split.names == ["2015-02-08", "2015-02-09"] and len(split.fit) == 4


def test_nothing_is_held_out_when_fewer_than_two_sessions_would_remain(sessions: list[Session]) -> None:
    assert MIN_FIT_SESSIONS == 2
    two = split_newest(sessions[:2], 1)
    assert two.held_out == () and len(two.fit) == 2 and "fewer than 2 to fit on" in two.reason
    assert split_newest(sessions[:1], 1).held_out == ()
    none = split_newest(sessions[:5], 0)
    assert none.held_out == () and none.reason == "no forward hold-out requested"
    assert split_newest(sessions[:3], 1, min_fit=1).names == ["2015-02-06"]


def test_nothing_is_held_out_when_the_older_sessions_hold_one_class(sessions: list[Session]) -> None:
    weekend = [sessions[3], sessions[4], sessions[5]]  # Feb 7 and 8 (nobody there), then Monday Feb 9
    split = split_newest(weekend, 1)
    assert split.held_out == () and "single class" in split.reason


def test_the_artifact_holds_the_rows_and_names_them_by_their_hash(sessions: list[Session]) -> None:
    split = split_newest(sessions[:3], 1)
    held = split.held_out_rows()
    predictions = np.linspace(0, 1, len(held))
    record = artifact(split, predictions, "probe", ("champion-id", predictions[::-1]))
    assert record["sessions"] == ["2015-02-06"] and record["challenger_model"] == "probe"
    assert record["sha256"] == rows_sha256(held) and len(record["sha256"]) == 64
    rebuilt = pd.DataFrame(record["readings"])
    assert len(rebuilt) == 1440 and rebuilt["Occupancy"].sum() == held["Occupancy"].sum()
    assert (pd.to_datetime(rebuilt["date"]).to_numpy() == held["date"].to_numpy()).all()
    assert record["champion"]["model_id"] == "champion-id" and record["champion"]["probabilities"][0] == 1.0
    assert artifact(split, predictions, "registered", None)["champion"] is None
    changed = held.copy()
    changed.loc[5, "Occupancy"] = 1 - changed.loc[5, "Occupancy"]
    assert rows_sha256(changed) != record["sha256"]


def test_params_cast_booleans_that_come_back_as_strings() -> None:
    assert TrainingParams.from_connected({"refit": "False"}).refit is False
    assert TrainingParams.from_connected({"refit": "true", "forward_sessions": "2"}).forward_sessions == 2
    assert TrainingParams.from_connected({"refit": True}).refit is True
    with pytest.raises(ValueError, match="refit"):
        TrainingParams.from_connected({"refit": "maybe"})
