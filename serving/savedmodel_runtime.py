"""The SavedModel fallback: a package without `model.onnx` (trained before training exported ONNX) is served through
its SavedModel's `serve` function. The only serving module that imports TensorFlow, and only when such a package
loads: the serving image built without TensorFlow refuses these packages with a message that says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

RUNTIME = "tensorflow"


class NoTensorFlow(RuntimeError):
    """A package without ONNX reached an image without TensorFlow."""


class _ServeFunction:
    """The concrete function of the SavedModel's `serve` endpoint, holding the loaded object that owns its
    variables (they are freed with it)."""

    def __init__(self, loaded: Any, concrete: Any, constant: Callable[..., Any]) -> None:
        self._loaded = loaded
        self._concrete = concrete
        self._constant = constant  # tf.constant

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        # the signature takes float32 only (a float64 tensor is refused); FeatureSpec.transform returns float32,
        # so this is no copy
        output = self._concrete(self._constant(np.asarray(x, dtype=np.float32))).numpy()
        return output.reshape(-1).astype(np.float64)  # type: ignore[no-any-return]


def _skip_load(kind: Any, info: Any) -> Any:
    return None if str(kind) == "load" else info  # CallbackType prints as its value


def _untracked_loads() -> None:
    """The app's ClearML task would register every SavedModel it loads as a new input model named `saved_model`
    (the SDK's TensorFlow binding); the served model is already known by id, so loads are not tracked."""
    try:
        from clearml.binding.frameworks import WeightsFileHandler
    except ImportError:  # the engine without ClearML (in-process benchmarks)
        return
    WeightsFileHandler.add_pre_callback(_skip_load)


def serve_function(saved_model: Path, inputs: int) -> Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float64]]:
    try:
        import tensorflow as tf
    except ImportError as missing:
        raise NoTensorFlow(
            f"{saved_model.parent} has no model.onnx (trained before ONNX export) and this serving image has no "
            "TensorFlow: retrain the model, or serve it from the image with TensorFlow (Dockerfile target "
            "serving-tensorflow)"
        ) from missing

    try:
        # One reading is a few tiny matmuls: handing them between threads costs more than it saves (measured on a
        # busy machine: a call's p99 4 ms with the default pools, 0.4 ms with one thread each). Only possible
        # before TensorFlow's runtime starts, i.e. for the first model a process loads.
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    if tf.config.threading.get_inter_op_parallelism_threads() != 1:
        logger.warning("event=tensorflow_threads_not_pinned reason=runtime_already_started")
    _untracked_loads()
    loaded = tf.saved_model.load(str(saved_model))
    # The concrete function of the `serve` endpoint skips the restored function's argument dispatch
    # (0.2 ms instead of 0.4 ms a call).
    concrete = loaded.serve.get_concrete_function(tf.TensorSpec([None, inputs], tf.float32))
    return _ServeFunction(loaded, concrete, tf.constant)
