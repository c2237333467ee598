"""A model package loaded for serving: its network (the ONNX graph through onnxruntime, or the SavedModel when the
package has no graph), its feature spec, its lineage, and which runtime answers.

Loaded packages are kept per process, keyed by model id and folder: clearml-serving rebuilds every engine object
after any configuration change (a canary step included), and without this cache each rebuild would reload the
network (and retrace a SavedModel).
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
from training.onnx_export import ONNX_FILE

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

    runtime: str  # what runs the network: "onnxruntime", or "tensorflow" for a package without ONNX

    def body(self) -> dict[str, str]:
        return {
            "model_id": self.model_id,
            "model_version": self.model_version,
            "dataset_id": self.dataset_id,
            "dataset_version": self.dataset_version,
            "runtime": self.runtime,
        }

    def headers(self) -> dict[str, str]:
        return {
            "X-Occuloop-Model-Id": self.model_id,
            "X-Occuloop-Model-Version": self.model_version,
            "X-Occuloop-Dataset-Id": self.dataset_id,
            "X-Occuloop-Dataset-Version": self.dataset_version,
            "X-Occuloop-Runtime": self.runtime,
        }


@dataclass(frozen=True)
class ServedModel:
    predict: Predict  # features (n x inputs, float32) -> P(occupied)
    spec: FeatureSpec
    card: dict[str, Any]
    folder: Path
    runtime: str

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
            runtime=self.runtime,
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
        "event=model_loaded model_id=%s folder=%s inputs=%s runtime=%s",
        model_id,
        model.folder,
        ",".join(model.spec.names),
        model.runtime,
    )
    return model


def _settle_heap() -> None:
    """Exempt everything loaded so far from the cyclic garbage collector. With TensorFlow imported (the SavedModel
    path) the app tracks ~400,000 objects, and each full collection stopped the process for ~230 ms (measured): a
    p99 of 390 ms at 200 requests/s. Frozen objects are never scanned again; requests' short-lived objects still
    are. Without TensorFlow the heap is far smaller, and freezing it costs nothing."""
    gc.unfreeze()  # so this collection also reclaims the cycles of models evicted since the last load
    gc.collect()
    gc.freeze()


def _load(folder: Path) -> ServedModel:
    spec = FeatureSpec.from_json((folder / FEATURE_SPEC_FILE).read_text())  # refuses another feature-code version
    history = unservable(spec.names)
    if history:
        raise ValueError(f"the model's inputs {history} need the minutes before each reading; one reading is served")
    card = json.loads((folder / MODEL_CARD_FILE).read_text())
    predict, runtime = _network(folder, len(spec.names))
    predict(np.zeros((1, len(spec.names)), dtype=np.float32))  # warm (or trace) now, not on the first request
    return ServedModel(predict, spec, card, folder, runtime)


def _network(folder: Path, inputs: int) -> tuple[Predict, str]:
    """The ONNX graph when the package has one; otherwise the SavedModel (imports TensorFlow)."""
    if (folder / ONNX_FILE).is_file():
        from serving import onnx_runtime

        return onnx_runtime.OnnxFunction(folder / ONNX_FILE), onnx_runtime.RUNTIME
    from serving import savedmodel_runtime

    return savedmodel_runtime.serve_function(folder / SAVED_MODEL_DIR, inputs), savedmodel_runtime.RUNTIME
