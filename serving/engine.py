"""The engine of the occupancy endpoint: the clearml-serving `custom` engine class every version runs.

clearml-serving stores a preprocess file with each version and runs the class `Preprocess` it defines. occuloop's
stored file is `serving/preprocess.py`, an entry point with no logic of its own: it takes `Engine` from this module,
which ships in the serving image. So every version, however long ago it was registered, answers with the engine
code of the image that runs it, and an engine change reaches every version with the image (issue 16: when the
whole engine was stored per version, versions registered before a change kept answering the old way, silently).
What each version keeps is the identity of the engine it was registered with (`engine_code` in its endpoint
options), written beside the running engine's in the `model_loaded` record of the prediction log when it loads. An entry point of another ENTRY_POINT_VERSION is
refused at load, loudly (`EngineMismatch`): the canary probe then rolls such a version back.

Per request clearml-serving calls `preprocess -> process -> postprocess`, after `load()` with the model's local
copy. The loaded network (the package's ONNX graph through onnxruntime, or its SavedModel for a package without
one) and the metrics live in `serving.served_model` and `serving.telemetry` (one per process); every answer names
the runtime that ran the network. The features come from `training.features`, the code that trained the model,
checked against the version in the model's feature spec, computed on arrays (`Readings.columns()`). Every answer is a `Response` (the app passes it through unchanged), so a bad request gets a
422 naming each wrong field instead of a 5xx, and every answer carries the model and dataset identity in its body
and headers.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.responses import Response

from serving.engine_identity import ENTRY_POINT_VERSION, engine_code
from serving.request import FieldError, Readings, parse
from serving.served_model import Lineage, ServedModel, served_model
from serving.telemetry import Telemetry, process_telemetry
from training.schema import FEATURES, minute_key

THRESHOLD = 0.5  # P(occupied) above it is "occupied", as in training/evaluate.py


class EngineMismatch(RuntimeError):
    """A version's stored entry point does not fit this image's engine."""


def engine_for(entry_point_version: int) -> type[Engine]:
    """The engine class for a version's stored entry point; EngineMismatch when they do not fit."""
    if entry_point_version != ENTRY_POINT_VERSION:
        raise EngineMismatch(
            f"this version was registered with engine entry point {entry_point_version}, and this image's engine "
            f"takes entry point {ENTRY_POINT_VERSION} (engine code {engine_code()}): register the model again "
            "(occuloop rollout does so for the champion; occuloop serving setup --model-id for any model)"
        )
    return Engine


class Engine:
    model_endpoint: Any  # clearml_serving ModelEndpoint, set by the app before load()

    def __init__(self) -> None:
        self._model: ServedModel | None = None
        self._lineage: Lineage | None = None
        self._url = ""
        self._body: dict[str, str] = {}
        self._headers: dict[str, str] = {}
        self._telemetry: Telemetry = process_telemetry()

    def load(self, local_file_name: str) -> Any:
        endpoint = self.model_endpoint
        version = str(endpoint.version or "")
        self._url = f"{endpoint.serving_url}/{version}" if version else str(endpoint.serving_url)
        self._model = served_model(Path(local_file_name), str(endpoint.model_id))
        self._lineage = self._model.lineage(str(endpoint.model_id), version)
        self._body = self._lineage.body()  # the same for every answer of this version: built once
        self._headers = self._lineage.headers()
        options = dict(endpoint.auxiliary_cfg or {})
        self._telemetry.sample_rate = float(options.get("prediction_log_rate", self._telemetry.sample_rate))
        self._telemetry.interval = float(options.get("metrics_seconds", self._telemetry.interval))
        self._telemetry.start()
        registered_with = str(options.get("engine_code", "unknown"))
        self._telemetry.log_prediction(
            {
                "kind": "model_loaded",
                "endpoint": self._url,
                "labeling_sessions": self._lineage.labeling_sessions,
                "engine_code": engine_code(),
                "registered_with_engine_code": registered_with,
            }
            | self._lineage.body()
        )
        return self._model

    def preprocess(self, body: Any, state: dict[str, Any], collect_custom_statistics_fn: Any = None) -> Any:
        state["started"] = time.perf_counter()
        assert self._model is not None
        parsed = parse(body, needs_timestamp=self._model.needs_timestamp)
        if isinstance(parsed, list):
            state["errors"] = parsed
            return None
        state["readings"] = parsed
        return self._model.spec.transform(parsed.columns())

    def process(self, data: Any, state: dict[str, Any], collect_custom_statistics_fn: Any = None) -> Any:
        if data is None:
            return None
        assert self._model is not None
        try:
            return self._model.predict(data)
        except Exception:
            self._telemetry.record(self._url, seconds=time.perf_counter() - state["started"], outcome="failed")
            raise

    def postprocess(self, data: Any, state: dict[str, Any], collect_custom_statistics_fn: Any = None) -> Response:
        request_id = uuid.uuid4().hex
        headers = {**self._headers, "X-Occuloop-Request-Id": request_id}
        errors: list[FieldError] | None = state.get("errors")
        if errors is not None:
            self._telemetry.record(self._url, seconds=time.perf_counter() - state["started"], outcome="rejected")
            body = {"error": "invalid_request", "detail": [error.to_dict() for error in errors]}
            return _json(body, 422, headers)
        readings: Readings = state["readings"]
        answers = [
            {"occupied": p > THRESHOLD, "probability": p, **self._body, **echo}
            for p, echo in zip(data.tolist(), readings.echoes, strict=True)
        ]
        occupied = sum(1 for answer in answers if answer["occupied"])
        seconds = time.perf_counter() - state["started"]
        minutes = [
            (minute_key(stamp), answer["occupied"])
            for stamp, answer in zip(readings.timestamps, answers, strict=True)
            if stamp is not None
        ]
        self._telemetry.record(self._url, seconds=seconds, readings=len(answers), occupied=occupied, minutes=minutes)
        if self._telemetry.sampled():
            self._log(request_id, readings, answers, seconds)
        return _json(answers if readings.batch else answers[0], 200, headers)

    def _log(self, request_id: str, readings: Readings, answers: list[dict[str, Any]], seconds: float) -> None:
        """One sampled request: enough to trace the answer to the model, the dataset version and its sessions."""
        self._telemetry.log_prediction(
            {
                "kind": "prediction",
                "request_id": request_id,
                "endpoint": self._url,
                **self._body,
                "inputs": [
                    {**dict(zip(FEATURES, map(float, row), strict=True)), "timestamp": stamp, **echo}
                    for row, stamp, echo in zip(readings.values, readings.timestamps, readings.echoes, strict=True)
                ],
                "outputs": [{"occupied": a["occupied"], "probability": a["probability"]} for a in answers],
                "latency_ms": round(seconds * 1000, 3),
                "ts": time.time(),
            }
        )


def _json(body: Any, status: int, headers: dict[str, str]) -> Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    return Response(text, status_code=status, headers=headers, media_type="application/json")
