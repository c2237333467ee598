"""A tiny fixed network: training is deterministic, the SavedModel package reproduces the Keras model, and the
evaluation numbers computed from it are reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import features
from training.evaluate import evaluate
from training.fitting import split_for_early_stopping
from training.model import load_package, predict_with, train_network, write_package
from training.params import TrainingParams
from training.readings import uci
from training.sessions import training_sessions

TINY = TrainingParams(hidden_units=8, max_epochs=4, patience=2, seed=7, batch_size=256)


@pytest.fixture(scope="module")
def tiny_training() -> pd.DataFrame:
    return pd.concat([item.readings for item in training_sessions()[1:3]], ignore_index=True)  # Feb 5 and 6


def _train(rows: pd.DataFrame) -> tuple[object, features.FeatureSpec]:
    fit_rows, stop_rows = split_for_early_stopping(rows, TINY.validation_share, TINY.seed)
    spec = features.fit(fit_rows, TINY.feature_set)
    network = train_network(
        spec.transform(fit_rows),
        fit_rows["Occupancy"].to_numpy(dtype=np.float32),
        spec.transform(stop_rows),
        stop_rows["Occupancy"].to_numpy(dtype=np.float32),
        TINY,
    )
    return network.model, spec


def test_same_seed_same_data_same_model_and_same_evaluation(tiny_training: pd.DataFrame) -> None:
    test1 = uci("test1")
    first_model, spec = _train(tiny_training)
    second_model, again = _train(tiny_training)
    first = predict_with(first_model, spec.transform(test1))
    second = predict_with(second_model, again.transform(test1))
    np.testing.assert_array_equal(first, second)
    report = evaluate("test1", test1, {"tiny": first})
    assert report.to_dict() == evaluate("test1", test1, {"tiny": second}).to_dict()


def test_the_package_reloads_and_predicts_like_the_keras_model(tiny_training: pd.DataFrame, tmp_path: Path) -> None:
    model, spec = _train(tiny_training)
    test1 = uci("test1")
    write_package(tmp_path / "package", model, spec, {"dataset_id": "d1"})
    loaded = load_package(tmp_path / "package")
    assert loaded.spec == spec and loaded.card == {"dataset_id": "d1"}
    np.testing.assert_allclose(
        loaded.predict(loaded.spec.transform(test1)), predict_with(model, spec.transform(test1)), atol=1e-5
    )
    one = loaded.predict(loaded.spec.transform(test1.iloc[[0]]))
    assert one.shape == (1,) and 0.0 <= float(one[0]) <= 1.0
