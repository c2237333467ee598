"""The labeling sessions cut from the UCI data, the drift statistics and the baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.baselines import LogisticRegression, light_rule
from training.drift import ks_statistic, psi
from training.readings import read_readings, uci
from training.sessions import HELD_OUT_DAY, holdouts, training_sessions, write


def test_fourteen_daily_sessions_and_two_holdouts_as_documented() -> None:
    sessions = training_sessions()
    assert [item.name for item in sessions][:2] == ["2015-02-04", "2015-02-05"] and len(sessions) == 14
    assert HELD_OUT_DAY not in [item.name for item in sessions]
    rows = {item.name: len(item.readings) for item in sessions}
    assert rows["2015-02-04"] == 369 and rows["2015-02-18"] == 560 and sum(rows.values()) == 16_455
    weekends = [item.name for item in sessions if item.readings["Occupancy"].sum() == 0]
    assert weekends == ["2015-02-07", "2015-02-08", "2015-02-14", "2015-02-15"]
    pinned = holdouts()
    assert len(pinned["test1"]) == 2665 and len(pinned[HELD_OUT_DAY]) == 1440
    training_minutes = {minute for item in sessions for minute in item.readings["date"]}
    assert not training_minutes & set(pinned["test1"]["date"]) and not training_minutes & set(
        pinned[HELD_OUT_DAY]["date"]
    )


def test_written_sessions_read_back_identically(tmp_path: Path) -> None:
    session_files, holdout_files = write(tmp_path)
    assert len(session_files) == 14 and {path.name for path in holdout_files} == {"test1.csv", f"{HELD_OUT_DAY}.csv"}
    first = read_readings(session_files[0])
    assert first.equals(training_sessions()[0].readings)


def test_psi_and_ks_are_zero_for_identical_samples_and_large_for_shifted_ones() -> None:
    rng = np.random.default_rng(1)
    sample = rng.normal(0, 1, 5000)
    assert psi(sample, sample) < 1e-9 and ks_statistic(sample, sample) == 0
    assert psi(sample, sample + 3) > 1 and ks_statistic(sample, sample + 3) > 0.8
    assert psi(np.zeros(100), np.zeros(50)) < 1e-9  # a constant reference (Light at night) does not crash


def test_documented_drift_between_training_and_test_2() -> None:
    training, test2 = uci("training"), uci("test2")
    assert 0.6 < ks_statistic(training["CO2"], test2["CO2"]) < 0.7  # the doc: up to 0.67 (CO2)


def test_baselines_reproduce_the_documented_accuracies() -> None:
    training, test1, test2 = uci("training"), uci("test1"), uci("test2")
    assert round(float(np.mean((light_rule(test1) > 0.5) == test1["Occupancy"])), 4) == 0.9786
    assert round(float(np.mean((light_rule(test2) > 0.5) == test2["Occupancy"])), 4) == 0.9931
    model = LogisticRegression.fit(training)
    assert float(np.mean((model.predict_proba(test1) > 0.5) == test1["Occupancy"])) > 0.97
    again = LogisticRegression.fit(training)
    assert np.array_equal(model.weights, again.weights)  # deterministic
