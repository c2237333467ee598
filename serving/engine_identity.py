"""Which engine this is: the entry point version stored versions must carry, and a digest of the sources that shape
an answer, the same in every process that has the same code (the serving image, and the rollout controller that
registers versions with it).

Kept apart from serving/engine.py so that the control plane (`serving.endpoints`, imported by services) can record
it without importing the engine, starlette and the model loading behind it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

# What serving/preprocess.py (stored with each version) and serving/engine.py agree on: `engine_for(n)` returns the
# engine class. Bump it, and the number in preprocess.py with it, only when that agreement changes: versions stored
# with another entry point are then refused at load, and the rollout controller registers their models again.
ENTRY_POINT_VERSION = 1
ENGINE_MODULES = (  # the code that shapes an answer
    "serving.engine",
    "serving.preprocess",
    "serving.request",
    "serving.served_model",
    "serving.onnx_runtime",
    "serving.savedmodel_runtime",
    "serving.telemetry",
    "training.features",
    "training.schema",
)


@functools.cache
def engine_code() -> str:
    """12 hex digits of the SHA-256 of the engine modules' sources (wherever they are installed), read once."""
    digest = hashlib.sha256()
    for name in ENGINE_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()[:12]
