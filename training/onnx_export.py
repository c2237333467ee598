"""The network as an ONNX graph beside its SavedModel, and the digests of both files in the package.

Serving runs `model.onnx` with onnxruntime: one reading costs ~0.01 ms there against ~0.3 ms through the
SavedModel's `serve` function, and the serving image needs no TensorFlow (BENCHMARKS.md, "Serving"). The graph is
converted from the SavedModel just written (its `serve` endpoint, by tf2onnx), so both files are the same network:
tests/training/test_onnx_export.py checks their probabilities agree within 1e-5 on both holdouts and edge readings.

`package_files.json` records each file's SHA-256 (a folder's digest covers its relative paths and bytes), so
serving can tell a package whose graph was altered or truncated in transit from the one training wrote.
Imports TensorFlow and tf2onnx inside functions only, like training/model.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

ONNX_FILE = "model.onnx"
PACKAGE_FILES = "package_files.json"
ONNX_OPSET = 17
INPUT_NAME = "features"


def export_onnx(saved_model: Path, target: Path, inputs: int) -> None:
    """Convert the SavedModel's `serve` endpoint (float32, n x inputs -> n x 1) into an ONNX graph."""
    import tensorflow as tf
    import tf2onnx

    signature = (tf.TensorSpec((None, inputs), tf.float32, name=INPUT_NAME),)
    loaded = tf.saved_model.load(str(saved_model))
    # a fresh tf.function around `serve`: its own signature names the input (the exported one calls it
    # `keras_tensor`), and tf2onnx traces it like any function
    serve = tf.function(lambda features: loaded.serve(features), input_signature=signature)
    graph, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    target.write_bytes(graph.SerializeToString())


def sha256_of(path: Path) -> str:
    """A file's SHA-256, or a folder's: over each file's relative path and bytes, in sorted order."""
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
        return digest.hexdigest()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0" + item.read_bytes() + b"\0")
    return digest.hexdigest()


def record_files(folder: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """Write `package_files.json`: each named file's digest, and how the ONNX graph was made."""
    from importlib import metadata

    files: dict[str, Any] = {name: {"sha256": sha256_of(folder / name)} for name in names}
    if ONNX_FILE in files:
        files[ONNX_FILE] |= {"opset": ONNX_OPSET, "converter": f"tf2onnx {metadata.version('tf2onnx')}"}
    (folder / PACKAGE_FILES).write_text(json.dumps(files, indent=2, sort_keys=True))
    return files
