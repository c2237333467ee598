"""Inputs from the recent stream: changes over k minutes and minutes since the light switched, with gaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.features import DEFAULT_FEATURE_SET, FEATURE_SETS, NEEDS_HISTORY, fit, minute_stamps, unservable
from training.readings import uci
from training.recent_stream import SWITCH_CAP_MINUTES, change_over, in_time_order, minutes_in_state


def test_a_change_over_k_minutes_uses_the_reading_k_minutes_back() -> None:
    minutes = np.arange(10, dtype=np.int64)
    co2 = 400.0 + 2.0 * minutes  # +2 ppm a minute
    assert change_over(minutes, co2, 5).tolist() == [0.0] * 5 + [10.0] * 5  # no history for the first five


def test_a_short_gap_is_bridged_and_scaled_to_k_minutes() -> None:
    minutes = np.array([0, 1, 2, 3, 7, 8], dtype=np.int64)  # minutes 4-6 are missing
    co2 = 400.0 + 2.0 * minutes
    change = change_over(minutes, co2, 3)
    # minute 7: the latest reading at or before minute 4 is minute 3 (4 minutes back, within 2k): 8 ppm * 3/4
    assert change[4] == pytest.approx(6.0) and change[5] == pytest.approx(6.0)


def test_a_long_gap_gives_the_neutral_value() -> None:
    minutes = np.array([0, 1, 2, 30, 31], dtype=np.int64)
    co2 = np.array([400.0, 410, 420, 900, 905])
    change = change_over(minutes, co2, 5)
    assert change[3] == 0.0 and change[4] == 0.0  # minute 2 is 28-29 minutes back: more than 2k, not bridged


def test_minutes_since_the_light_switched_count_up_and_saturate() -> None:
    minutes = np.arange(100, dtype=np.int64)
    on = (minutes >= 10) & (minutes < 90)
    since = minutes_in_state(minutes, on)
    assert since[0] == SWITCH_CAP_MINUTES  # the run began before the first reading: long ago as far as we know
    assert since[10] == 0 and since[15] == 5 and since[80] == SWITCH_CAP_MINUTES
    assert since[90] == 0 and since[99] == 9


def test_a_gap_restarts_the_count_as_unknown() -> None:
    minutes = np.array([0, 1, 2, 20, 21], dtype=np.int64)
    on = np.array([False, True, True, True, True])
    since = minutes_in_state(minutes, on)
    assert since.tolist() == [SWITCH_CAP_MINUTES, 0, 1, SWITCH_CAP_MINUTES, SWITCH_CAP_MINUTES]


def test_readings_out_of_time_order_get_the_inputs_of_their_minute() -> None:
    readings = uci("training").iloc[:600]
    spec = fit(readings, "light-stream")
    assert set(spec.names) & NEEDS_HISTORY
    in_order = spec.transform(readings)
    shuffled = readings.sample(frac=1, random_state=3)
    np.testing.assert_array_equal(spec.transform(shuffled), in_order[shuffled.index.to_numpy()])
    assert in_time_order(minute_stamps(readings)) is None


def test_a_reading_alone_gets_the_neutral_history_values() -> None:
    readings = uci("training")
    spec = fit(readings, "light-stream")
    alone = spec.transform(readings.iloc[[1000]])[0]
    values = dict(zip(spec.names, alone, strict=True))
    assert values["co2_change_5"] == values["light_change_1"] == 0.0
    assert values["minutes_since_switch"] == SWITCH_CAP_MINUTES


def test_stamps_ending_in_59_seconds_round_to_their_minute() -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2015-02-05 10:00:59", "2015-02-05 10:01:00"])})
    assert np.diff(minute_stamps(frame)).tolist() == [0]


def test_inputs_from_the_recent_stream_are_not_served(tmp_path: Path) -> None:
    """Tried and not adopted (BENCHMARKS.md, "Forward"): the endpoint answers one reading, so serving refuses a
    package whose inputs need the minutes before it (before any TensorFlow is loaded), and training refuses to
    register one."""
    from serving.served_model import _load

    assert unservable(FEATURE_SETS["rule-trend"]) == sorted(set(FEATURE_SETS["rule-trend"]) - {"light_rule"})
    assert unservable(FEATURE_SETS[DEFAULT_FEATURE_SET]) == []
    spec = fit(uci("training"), "rule-trend")
    (tmp_path / "feature_spec.json").write_text(spec.to_json())
    (tmp_path / "model_card.json").write_text("{}")
    with pytest.raises(ValueError, match="need the minutes before each reading"):
        _load(tmp_path)
