"""Features are fitted on training rows only, travel with the model, and give the same inputs in serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.features import FEATURE_SETS, FEATURES_VERSION, NEEDS_HISTORY, FeatureSpec, best_threshold, fit
from training.params import TrainingParams
from training.readings import uci
from training.schema import FEATURES, TIMESTAMP


def test_fitted_constants_come_from_training_rows_only() -> None:
    training = uci("training")
    spec = fit(training, "light-time")
    occupied_light = training.loc[training["Occupancy"] == 1, "Light"]
    assert spec.light_cap == pytest.approx(float(np.quantile(occupied_light, 0.99)))
    assert 364 < spec.light_threshold < 366  # the documented Light rule is 364.5
    assert spec.fitted_on["rows"] == len(training) and spec.fitted_on["last"].startswith("2015-02-10")


def test_best_threshold_minimizes_training_errors() -> None:
    light = np.array([0.0, 10, 20, 400, 450, 500])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert best_threshold(light, labels) == 210.0


def test_spec_round_trips_through_json_and_refuses_other_versions() -> None:
    spec = fit(uci("training"), "light-time")
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    stale = spec.to_json().replace(f'"version": {FEATURES_VERSION}', '"version": 999')
    with pytest.raises(ValueError, match="version"):
        FeatureSpec.from_json(stale)


@pytest.mark.parametrize(
    "feature_set", sorted(name for name, names in FEATURE_SETS.items() if not set(names) & NEEDS_HISTORY)
)
def test_one_reading_at_a_time_gives_the_same_inputs_as_the_whole_frame(feature_set: str) -> None:
    """Serving transforms a single reading; training transforms the whole frame: same numbers (inputs from the
    recent stream need the minutes before: tests/training/test_recent_stream.py)."""
    test1 = uci("test1")
    spec = fit(uci("training"), feature_set)
    whole = spec.transform(test1)
    one_by_one = np.vstack([spec.transform(test1.iloc[[index]]) for index in range(0, len(test1), 97)])
    np.testing.assert_array_equal(whole[::97], one_by_one)
    assert whole.dtype == np.float32 and whole.shape[1] == len(FEATURE_SETS[feature_set])


def test_bright_daylight_reads_as_the_brightest_training_light() -> None:
    spec = fit(uci("training"), "light-time")
    reading = pd.DataFrame({"date": [pd.Timestamp("2015-02-03 12:00")], "Light": [1500.0]})
    capped, light_on = spec.transform(
        reading.assign(**{name: [0.0] for name in ("Temperature", "Humidity", "CO2", "HumidityRatio")})
    )[0][:2]
    assert capped == pytest.approx(spec.light_cap, rel=1e-6) and light_on == 1.0


def test_params_cast_values_that_come_back_as_strings() -> None:
    params = TrainingParams.from_connected({"seed": "7", "dropout": "0.25", "dataset_id": "abc", "unknown": "x"})
    assert (params.seed, params.dropout, params.dataset_id) == (7, 0.25, "abc")
    with pytest.raises(ValueError, match="seed"):
        TrainingParams.from_connected({"seed": "seven"})


@pytest.mark.parametrize("feature_set", sorted(FEATURE_SETS))
def test_arrays_by_column_give_the_same_inputs_as_the_frame(feature_set: str) -> None:
    """Serving hands the transforms plain arrays (no DataFrame): the same numbers, weekends and midnights included."""
    test2 = uci("test2")
    spec = fit(uci("training"), feature_set)
    columns = {name: test2[name].to_numpy(dtype=np.float64) for name in FEATURES}
    columns[TIMESTAMP] = test2[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
    np.testing.assert_array_equal(spec.transform(columns), spec.transform(test2))
    assert set(test2[TIMESTAMP].dt.day_of_week) == set(range(7))
