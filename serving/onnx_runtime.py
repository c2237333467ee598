"""A model package's ONNX graph (`model.onnx`, training/onnx_export.py) run by onnxruntime: the serving path.

The only module that imports onnxruntime. One reading is a few tiny matmuls, so the session is tuned for one-row
calls: one intra-op and one inter-op thread (handing work between threads costs more than it saves), every graph
optimisation, and no spinning: idle pool threads would otherwise spin on the 2 cores the app shares with its HTTP
stack. A call costs ~0.01 ms against ~0.3 ms for the SavedModel's `serve` function (BENCHMARKS.md, "Serving").
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime

from training.onnx_export import PACKAGE_FILES, sha256_of

RUNTIME = "onnxruntime"


class DigestMismatch(ValueError):
    """The package's graph is not the one training wrote (package_files.json)."""


class OnnxFunction:
    """P(occupied) for float32 features (n x inputs), through one onnxruntime session."""

    def __init__(self, graph: Path) -> None:
        _check_digest(graph)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._outputs = [self._session.get_outputs()[0].name]

    def __call__(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        (output,) = self._session.run(self._outputs, {self._input: np.asarray(x, dtype=np.float32)})
        return np.asarray(output, dtype=np.float64).reshape(-1)


def _check_digest(graph: Path) -> None:
    recorded = json.loads((graph.parent / PACKAGE_FILES).read_text()).get(graph.name, {}).get("sha256")
    actual = sha256_of(graph)
    if recorded != actual:
        raise DigestMismatch(f"{graph} has SHA-256 {actual}, the package records {recorded}")
