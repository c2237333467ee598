"""A model package loaded for serving: the SavedModel's `serve` function, its feature spec and its lineage.

The only serving module that imports TensorFlow (inside functions). Loaded packages are kept per process, keyed by
model id and folder: clearml-serving rebuilds every engine object after any configuration change (a canary step
included), and without this cache each rebuild would reload the SavedModel (~0.3 s) and retrace it.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.features import NEEDS_TIMESTAMP, FeatureSpec, unservable
from training.model import FEATURE_SPEC_FILE, MODEL_CARD_FILE, SAVED_MODEL_DIR

logger = logging.getLogger(__name__)

KEEP_LOADED = 4  # versions in a canary plus the ones just replaced
Predict = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Lineage:
    """Which model answered and which labeled data it was trained on."""

    model_id: str
    model_version: str
    dataset_id: str
    dataset_version: str
    labeling_sessions: tuple[str, ...]

    def body(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "model_version": self.model_version,
            "dataset_id": self.dataset_id,
            "dataset_version": self.dataset_version,
        }

    def headers(self) -> dict[str, str]:
        return {
            "X-Occuloop-Model-Id": self.model_id,
            "X-Occuloop-Model-Version": self.model_version,
            "X-Occuloop-Dataset-Id": self.dataset_id,
            "X-Occuloop-Dataset-Version": self.dataset_version,
        }


@dataclass(frozen=True)
class ServedModel:
    predict: Predict  # features (n x inputs, float32) -> P(occupied)
    spec: FeatureSpec
    card: dict[str, Any]
    folder: Path

    @property
    def needs_timestamp(self) -> bool:
        return any(name in NEEDS_TIMESTAMP for name in self.spec.names)

    def lineage(self, model_id: str, version: str) -> Lineage:
        return Lineage(
            model_id=model_id,
            model_version=version,
            dataset_id=str(self.card.get("dataset_id", "")),
            dataset_version=str(self.card.get("dataset_version", "")),
            labeling_sessions=tuple(str(name) for name in self.card.get("labeling_sessions", ())),
        )


_loaded: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
_lock = threading.Lock()


def package_folder(local_copy: Path) -> Path:
    """The package inside what `Model.get_local_copy()` returned (the extracted archive, or a folder inside it)."""
    if (local_copy / FEATURE_SPEC_FILE).is_file():
        return local_copy
    found = sorted(path.parent for path in local_copy.glob(f"*/{FEATURE_SPEC_FILE}"))
    if local_copy.is_dir() and found:
        return found[0]
    raise ValueError(f"{local_copy} is not an occuloop model package (no {FEATURE_SPEC_FILE})")


def served_model(local_copy: Path, model_id: str) -> ServedModel:
    key = (model_id, str(local_copy))
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
        model = _load(package_folder(local_copy))
        _loaded[key] = model
        _settle_heap()
        while len(_loaded) > KEEP_LOADED:
            evicted, _ = _loaded.popitem(last=False)
            logger.info("event=model_unloaded model_id=%s", evicted[0])
    logger.info(
        "event=model_loaded model_id=%s folder=%s inputs=%s", model_id, model.folder, ",".join(model.spec.names)
    )
    return model


def _settle_heap() -> None:
    """Exempt everything loaded so far from the cyclic garbage collector. With TensorFlow imported the app tracks
    ~400,000 objects, and each full collection stopped the process for ~230 ms (measured): a p99 of 390 ms at
    200 requests/s. Frozen objects are never scanned again; requests' short-lived objects still are."""
    gc.unfreeze()  # so this collection also reclaims the cycles of models evicted since the last load
    gc.collect()
    gc.freeze()


def _load(folder: Path) -> ServedModel:
    spec = FeatureSpec.from_json((folder / FEATURE_SPEC_FILE).read_text())  # refuses another feature-code version
    history = unservable(spec.names)
    if history:
        raise ValueError(f"the model's inputs {history} need the minutes before each reading; one reading is served")
    card = json.loads((folder / MODEL_CARD_FILE).read_text())
    predict = _serve_function(folder / SAVED_MODEL_DIR, len(spec.names))
    predict(np.zeros((1, len(spec.names)), dtype=np.float32))  # trace now, not on the first request
    return ServedModel(predict, spec, card, folder)


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


def _serve_function(saved_model: Path, inputs: int) -> Predict:
    import tensorflow as tf

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
