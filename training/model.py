"""The Keras network of the design, its training, and its export as a TensorFlow SavedModel.

With training/onnx_export.py the only training module that imports TensorFlow (serving/savedmodel_runtime.py is the
other), and only inside functions: importing it costs ~3 s and ~600 MB, which data validation and its tests must
never pay.

A model package is a folder:
    saved_model/        the SavedModel; serving calls its `serve` signature, never `model.predict`
    model.onnx          the same network as an ONNX graph, which serving runs with onnxruntime (training/onnx_export.py)
    package_files.json  the SHA-256 of saved_model/ and model.onnx
    feature_spec.json   the fitted inputs (training/features.py), so serving computes exactly the same features
    model_card.json     where the model came from: dataset version, rows, metrics, code version
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .features import FeatureSpec
from .params import TrainingParams

logger = logging.getLogger(__name__)

SAVED_MODEL_DIR = "saved_model"
FEATURE_SPEC_FILE = "feature_spec.json"
MODEL_CARD_FILE = "model_card.json"

EpochCallback = Callable[[int, dict[str, float]], None]
Predict = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float64]]


@dataclass
class TrainedNetwork:
    model: Any  # keras.Model
    epochs: int  # epochs run before early stopping
    best_epoch: int
    seconds: float


def _quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter (oneDNN, CPU features) buries the run's own log lines."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_network(inputs: int, params: TrainingParams) -> Any:
    _quiet_tensorflow()
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((inputs,)),
            layers.BatchNormalization(momentum=params.batchnorm_momentum),
            layers.Dense(params.hidden_units, activation="relu"),
            layers.BatchNormalization(momentum=params.batchnorm_momentum),
            layers.Dropout(params.dropout),
            layers.Dense(params.hidden_units, activation="relu"),
            layers.BatchNormalization(momentum=params.batchnorm_momentum),
            layers.Dropout(params.dropout),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def _compiled(inputs: int, params: TrainingParams) -> Any:
    _quiet_tensorflow()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(params.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_network(inputs, params)
    model.compile(keras.optimizers.Adam(params.learning_rate), "binary_crossentropy", metrics=["accuracy"])
    return model


def _epoch_callbacks(on_epoch: EpochCallback | None) -> list[Any]:
    import keras

    if on_epoch is None:
        return []
    return [keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: on_epoch(epoch, dict(logs or {})))]


def train_network(
    x_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.float32],
    x_val: npt.NDArray[np.float32],
    y_val: npt.NDArray[np.float32],
    params: TrainingParams,
    on_epoch: EpochCallback | None = None,
) -> TrainedNetwork:
    """Fit with early stopping on the validation rows; the same seed and data give the same model."""
    model = _compiled(x_train.shape[1], params)
    import keras

    stopper = keras.callbacks.EarlyStopping("val_loss", patience=params.patience, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=params.max_epochs,
        batch_size=params.batch_size,
        callbacks=[stopper, *_epoch_callbacks(on_epoch)],
        verbose=0,
        shuffle=True,
    )
    seconds = time.perf_counter() - started
    losses = history.history["val_loss"]
    return TrainedNetwork(model, len(losses), int(np.argmin(losses)) + 1, seconds)


def refit_network(
    x_train: npt.NDArray[np.float32],
    y_train: npt.NDArray[np.float32],
    epochs: int,
    params: TrainingParams,
    on_epoch: EpochCallback | None = None,
) -> TrainedNetwork:
    """Fit on every row for a fixed number of epochs (the best epoch an early-stopped run found): nothing is left
    to stop on."""
    model = _compiled(x_train.shape[1], params)
    started = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=params.batch_size,
        callbacks=_epoch_callbacks(on_epoch),
        verbose=0,
        shuffle=True,
    )
    return TrainedNetwork(model, epochs, epochs, time.perf_counter() - started)


def predict_with(model: Any, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Batch prediction for evaluation (`predict_on_batch`: no per-call data-adapter overhead)."""
    return np.asarray(model.predict_on_batch(x), dtype=np.float64).reshape(-1)


def write_package(folder: Path, model: Any, spec: FeatureSpec, card: dict[str, Any]) -> Path:
    """The model package: SavedModel + the same network in ONNX + feature spec + model card + file digests."""
    from .onnx_export import ONNX_FILE, export_onnx, record_files

    folder.mkdir(parents=True, exist_ok=True)
    model.export(str(folder / SAVED_MODEL_DIR), format="tf_saved_model", verbose=False)
    export_onnx(folder / SAVED_MODEL_DIR, folder / ONNX_FILE, len(spec.names))
    record_files(folder, (SAVED_MODEL_DIR, ONNX_FILE))
    (folder / FEATURE_SPEC_FILE).write_text(spec.to_json())
    (folder / MODEL_CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True, default=str))
    return folder


@dataclass
class LoadedPackage:
    predict: Predict  # features (float32, n x inputs) -> P(occupied)
    spec: FeatureSpec
    card: dict[str, Any]


def load_package(folder: Path) -> LoadedPackage:
    """Load a package for inference through the SavedModel's `serve` signature."""
    _quiet_tensorflow()
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder / SAVED_MODEL_DIR))

    def predict(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        # through `loaded`, not a saved `loaded.serve`: the function's variables live as long as the object does
        return np.asarray(loaded.serve(tf.constant(x, dtype=tf.float32)), dtype=np.float64).reshape(-1)

    spec = FeatureSpec.from_json((folder / FEATURE_SPEC_FILE).read_text())
    card = json.loads((folder / MODEL_CARD_FILE).read_text())
    return LoadedPackage(predict, spec, card)
