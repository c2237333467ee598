"""The package's ONNX graph is the SavedModel's network: the same probabilities (within 1e-5) on both holdouts and
on edge readings, through the runtime serving uses; the package records the digest of each file; the engine answers
through onnxruntime, or through the SavedModel for a package without a graph, and says which (in-process, no HTTP:
tests/serving/test_endpoint.py runs the real app)."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from serving.engine import Engine
from serving.onnx_runtime import DigestMismatch, OnnxFunction
from training import features
from training.model import SAVED_MODEL_DIR, load_package, train_network, write_package
from training.onnx_export import ONNX_FILE, PACKAGE_FILES, sha256_of
from training.params import TrainingParams
from training.readings import uci
from training.schema import FEATURES, SENSORS, TIMESTAMP
from training.sessions import training_sessions

# Wider than the serving tests' tiny networks, so that the three layers carry real, unequal weights.
PARAMS = TrainingParams(hidden_units=32, max_epochs=3, patience=2, seed=11, batch_size=256)


def edge_readings() -> pd.DataFrame:
    """Every corner of the data contract's ranges (each sensor at its lowest and highest accepted value), at
    midnight, just before midnight and on a weekend noon."""
    corners = list(itertools.product(*((SENSORS[name].low, SENSORS[name].high) for name in FEATURES)))
    stamps = [pd.Timestamp("2015-02-07 00:00"), pd.Timestamp("2015-02-08 23:59"), pd.Timestamp("2015-02-09 12:00")]
    rows = [dict(zip(FEATURES, corner, strict=True)) | {TIMESTAMP: stamp} for corner in corners for stamp in stamps]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module", params=["light-gated", "light-time"])
def package(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = pd.concat([item.readings for item in training_sessions()[1:3]], ignore_index=True)
    held = np.arange(len(rows)) % 5 == 0  # every fifth minute decides when to stop; which ones does not matter here
    spec = features.fit(rows[~held], request.param)
    x, y = spec.transform(rows), rows["Occupancy"].to_numpy(dtype=np.float32)
    network = train_network(x[~held], y[~held], x[held], y[held], PARAMS)
    return write_package(tmp_path_factory.mktemp(request.param) / "package", network.model, spec, {})


@pytest.mark.parametrize("readings", ["test1", "test2", "edges"])
def test_onnx_and_savedmodel_give_the_same_probabilities(package: Path, readings: str) -> None:
    rows = edge_readings() if readings == "edges" else uci(readings)
    saved = load_package(package)
    x = saved.spec.transform(rows)
    expected = saved.predict(x)
    onnx = OnnxFunction(package / ONNX_FILE)
    np.testing.assert_allclose(onnx(x), expected, rtol=0, atol=1e-5)
    one_by_one = np.concatenate([onnx(x[[index]]) for index in range(0, len(x), 61)])  # serving's one-row calls
    np.testing.assert_allclose(one_by_one, expected[::61], rtol=0, atol=1e-5)
    assert expected.min() < 0.5 < expected.max() or readings == "edges"  # both answers occur on the holdouts


def test_the_package_records_each_file_digest_and_serving_refuses_an_altered_graph(package: Path) -> None:
    files = json.loads((package / PACKAGE_FILES).read_text())
    assert files[SAVED_MODEL_DIR]["sha256"] == sha256_of(package / SAVED_MODEL_DIR)
    assert files[ONNX_FILE]["sha256"] == sha256_of(package / ONNX_FILE)
    assert files[ONNX_FILE]["opset"] == 17 and files[ONNX_FILE]["converter"] == "tf2onnx 1.17.0"
    altered = package.parent / "altered"
    altered.mkdir(exist_ok=True)
    (altered / PACKAGE_FILES).write_text(json.dumps(files))
    (altered / ONNX_FILE).write_bytes((package / ONNX_FILE).read_bytes()[:-1])  # truncated in transit
    with pytest.raises(DigestMismatch, match="SHA-256"):
        OnnxFunction(altered / ONNX_FILE)


def _engine(package: Path, model_id: str) -> Engine:
    engine = Engine()
    engine.model_endpoint = SimpleNamespace(serving_url="occupancy", version="1", model_id=model_id, auxiliary_cfg={})
    engine.load(str(package))
    return engine


def _answer(engine: Engine, body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    state: dict[str, Any] = {}
    response = engine.postprocess(engine.process(engine.preprocess(body, state), state), state)
    assert response.status_code == 200, response.body
    return json.loads(bytes(response.body)), dict(response.headers)


def _rest(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "probability"}


def test_the_engine_answers_through_onnx_or_the_savedmodel_fallback_and_says_which(
    package: Path, tmp_path: Path
) -> None:
    without_graph = tmp_path / "package"
    shutil.copytree(package, without_graph, ignore=shutil.ignore_patterns(ONNX_FILE))  # trained before ONNX export
    rows = uci("test1").iloc[::500]
    bodies = [
        {**{name: float(row[name]) for name in FEATURES}, "timestamp": row[TIMESTAMP].isoformat(), "room": "A"}
        for _, row in rows.iterrows()
    ]
    expected = load_package(package).predict(load_package(package).spec.transform(rows))
    for folder, model_id, runtime in ((package, "onnx", "onnxruntime"), (without_graph, "saved", "tensorflow")):
        engine = _engine(folder, f"{model_id}-{package.parent.name}")
        singles = [_answer(engine, body) for body in bodies]
        assert {answer["runtime"] for answer, _ in singles} == {runtime}
        assert {headers["x-occuloop-runtime"] for _, headers in singles} == {runtime}
        probabilities = [answer["probability"] for answer, _ in singles]
        np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-5)
        batch, _ = _answer(engine, {"readings": bodies})  # a batch answers like its readings one by one
        assert [answer["probability"] for answer in batch] == pytest.approx(probabilities, abs=1e-6)
        assert [_rest(answer) for answer in batch] == [_rest(answer) for answer, _ in singles]
