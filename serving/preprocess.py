"""The clearml-serving `custom` engine of the occupancy endpoint.

`occuloop serving setup` uploads this file as each version's preprocess code; the inference app loads it by path
(as a module named `Preprocess`), creates one `Preprocess` per endpoint version, sets `model_endpoint`, calls
`load()` with the model's local copy and then, per request, `preprocess -> process -> postprocess`.

So this file uses absolute imports only, and keeps no state of its own: the loaded SavedModel and the metrics live
in `serving.served_model` and `serving.telemetry`, which the app imports once. The features come from
`training.features`, the code that trained the model, checked against the version in the model's feature spec.

Every answer is a `Response` (the app passes it through unchanged), so a bad request gets a 422 naming each wrong
field instead of a 5xx, and every answer carries the model and dataset identity in its body and headers.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.responses import Response

from serving.request import FieldError, Readings, parse
from serving.served_model import Lineage, ServedModel, served_model
from serving.telemetry import Telemetry, process_telemetry
from training.schema import FEATURES, minute_key

THRESHOLD = 0.5  # P(occupied) above it is "occupied", as in training/evaluate.py


class Preprocess:
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
        self._telemetry.log_prediction(
            {"kind": "model_loaded", "endpoint": self._url, "labeling_sessions": self._lineage.labeling_sessions}
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
        return self._model.spec.transform(parsed.to_frame())

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
