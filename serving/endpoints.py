"""The serving control plane as a small Python API: what `occuloop serving setup` and the rollout controller call.

State lives where clearml-serving keeps it, in the control-plane task (configuration objects `endpoints` and
`canary`, one `py_code_<endpoint>_<n>` artifact per version); the inference app polls it. occuloop's layout:

    <endpoint>/<n>   one model version, engine `custom` with serving/preprocess.py (an entry point into the image's
                     serving/engine.py), n = 1, 2, ... in order; its options record the engine code it was
                     registered with
    <endpoint>       the public canary endpoint over the versions, with weights

Every write first reads the current state and writes nothing when it already holds, so each call is idempotent.
Writes are read-modify-write of the whole configuration: one writer at a time (the rollout controller, or a
person running setup), not both at once. This module imports clearml and clearml-serving, never TensorFlow.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.engine_identity import ENTRY_POINT_VERSION, engine_code
from serving.telemetry import METRICS_TITLE, PREDICTION_EVENT, SERVED_MINUTES_EVENT

logger = logging.getLogger(__name__)

ENGINE_FILE = Path(__file__).resolve().parent / "preprocess.py"  # the entry point stored with each version
ENGINE = "custom"
INSTANCE_SUFFIX = " - serve instance"  # clearml-serving names the app's task "<service name> - serve instance"


class ServingError(ValueError):
    """A request the control plane cannot honour (unknown model or version, bad weights); the message says why."""


@dataclass(frozen=True)
class Routing:
    service_id: str
    endpoint: str
    versions: dict[int, str]  # version -> model id
    weights: dict[int, float]  # version -> share of the public endpoint's traffic (sums to 1; empty: no canary)


@dataclass(frozen=True)
class VersionMetrics:
    """Summed over the running inference apps; counters since each app started."""

    requests: int = 0
    readings: int = 0
    rejected: int = 0  # 422s
    failed: int = 0  # engine exceptions (5xx)
    occupied: int = 0  # readings predicted occupied
    latency_p50_ms: float | None = None  # the slowest app's, over its last reporting interval
    latency_p99_ms: float | None = None
    instances: int = 0

    @property
    def occupied_rate(self) -> float | None:
        return self.occupied / self.readings if self.readings else None

    @property
    def error_rate(self) -> float | None:
        return self.failed / self.requests if self.requests else None


@dataclass
class ServingPlane:
    """One clearml-serving control-plane task and occuloop's endpoint on it."""

    service_id: str
    endpoint: str = "occupancy"
    service_name: str = ""
    service_project: str = ""
    engine_options: dict[str, float] = field(default_factory=dict)  # auxiliary_cfg of new versions

    def _processor(self) -> Any:
        from clearml_serving.serving.model_request_processor import ModelRequestProcessor

        processor = ModelRequestProcessor(task_id=self.service_id)
        processor.deserialize(skip_sync=True)
        return processor

    def _versions(self, processor: Any) -> dict[int, Any]:
        found: dict[int, Any] = {}
        for url, endpoint in processor.get_endpoints().items():
            number = self._version_number(url)
            if number is not None:
                found[number] = endpoint
        return found

    def _version_number(self, url: str) -> int | None:
        """n for `<endpoint>/<n>` (a version of this endpoint), else None."""
        base, _, version = url.rpartition("/")
        return int(version) if base == self.endpoint and version.isdigit() else None

    def register_version(self, model_id: str) -> int:
        """Serve `model_id` as `<endpoint>/<n>`; the same model id always gets the same n, unless that version was
        stored with another engine entry point (serving/engine.py): then it gets a new one."""
        processor = self._processor()
        versions = self._versions(processor)
        for number, endpoint in versions.items():
            if endpoint.model_id == model_id and _entry_point(endpoint) == ENTRY_POINT_VERSION:
                return number
        _check_model(model_id)
        from clearml_serving.serving.endpoints import ModelEndpoint

        number = max(versions, default=0) + 1
        processor.add_endpoint(
            ModelEndpoint(
                engine_type=ENGINE,
                serving_url=self.endpoint,
                version=str(number),
                model_id=model_id,
                auxiliary_cfg={
                    **self.engine_options,
                    "engine_code": engine_code(),  # which engine registered it: logged beside the running one
                    "entry_point": ENTRY_POINT_VERSION,
                },
            ),
            preprocess_code=str(ENGINE_FILE),
        )
        processor.serialize()
        logger.info(
            "event=version_registered service_id=%s endpoint=%s/%d model_id=%s",
            self.service_id,
            self.endpoint,
            number,
            model_id,
        )
        return number

    def set_canary(self, weights: Mapping[int, float]) -> Routing:
        """Route the public endpoint over versions by weight, e.g. {2: 0.1, 1: 0.9}; zero weights are dropped."""
        from clearml_serving.serving.endpoints import CanaryEP

        processor = self._processor()
        versions = self._versions(processor)
        wanted = _normalized(weights, set(versions))
        if self._weights(processor) == wanted:
            return self._routing(processor)
        order = sorted(wanted, reverse=True)  # newest first, as `model canary` lists them
        processor.add_canary_endpoint(
            CanaryEP(
                endpoint=self.endpoint,
                weights=[wanted[number] for number in order],
                load_endpoints=[f"{self.endpoint}/{number}" for number in order],
            )
        )
        processor.serialize()
        shares = json.dumps({str(k): v for k, v in wanted.items()}, separators=(",", ":"))
        logger.info("event=canary_set service_id=%s endpoint=%s weights=%s", self.service_id, self.endpoint, shares)
        return self._routing(processor)

    def current_routing(self) -> Routing:
        return self._routing(self._processor())

    def _routing(self, processor: Any) -> Routing:
        """The versions this engine can serve (a version stored with another entry point is left out, so the
        rollout controller registers its model again) and the public endpoint's weights."""
        versions = {
            number: str(endpoint.model_id)
            for number, endpoint in sorted(self._versions(processor).items())
            if _entry_point(endpoint) == ENTRY_POINT_VERSION
        }
        return Routing(self.service_id, self.endpoint, versions, self._weights(processor))

    def _weights(self, processor: Any) -> dict[int, float]:
        canary = processor.get_canary_endpoints().get(self.endpoint)
        if canary is None or not canary.load_endpoints:
            return {}
        weights: dict[int, float] = {}
        for url, weight in zip(canary.load_endpoints, canary.weights, strict=False):
            number = self._version_number(str(url))
            if number is not None:
                weights[number] = float(weight)
        return weights

    def read_metrics(self) -> dict[int, VersionMetrics]:
        """Live per-version metrics, summed over the running inference apps of this service (serving/telemetry.py)."""
        totals: dict[int, dict[str, Any]] = {}
        for task in self._instances():
            for title, series in task.get_last_scalar_metrics().items():
                if not title.startswith(METRICS_TITLE):
                    continue
                number = self._version_number(title.removeprefix(METRICS_TITLE))
                if number is None:
                    continue
                into = totals.setdefault(number, {"instances": 0})
                into["instances"] += 1
                for name, values in series.items():
                    value = float(values["last"])
                    if name.startswith("latency_"):
                        into[name] = max(value, into.get(name, value))
                    else:
                        into[name] = into.get(name, 0) + int(value)
        return {
            number: VersionMetrics(
                requests=values.get("requests", 0),
                readings=values.get("readings", 0),
                rejected=values.get("rejected", 0),
                failed=values.get("failed", 0),
                occupied=values.get("occupied", 0),
                latency_p50_ms=values.get("latency_p50_ms"),
                latency_p99_ms=values.get("latency_p99_ms"),
                instances=values["instances"],
            )
            for number, values in sorted(totals.items())
        }

    def read_prediction_log(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest sampled predictions (and model loads) of the running apps, oldest first."""
        return self._console_records(PREDICTION_EVENT, limit)

    def read_served_minutes(self, limit: int = 2000) -> dict[int, list[dict[str, Any]]]:
        """Per version of the endpoint, the newest `served_minutes` reports of the running apps (telemetry.py):
        which minutes each version answered for, and how many of those readings it predicted occupied."""
        found: dict[int, list[dict[str, Any]]] = {}
        for record in self._console_records(SERVED_MINUTES_EVENT, limit):
            number = self._version_number(str(record.get("endpoint", "")))
            if number is not None:
                found.setdefault(number, []).append(record)
        return found

    def _console_records(self, event: str, limit: int) -> list[dict[str, Any]]:
        """The JSON records of the `event=...` lines in the running apps' console logs, oldest first."""
        records: list[dict[str, Any]] = []
        for task in self._instances():
            for message in task.get_reported_console_output(number_of_reports=limit):
                for line in str(message).splitlines():
                    if line.startswith(event):
                        records.append(json.loads(line[len(event) :]))
        return records[-limit:]

    def _instances(self) -> list[Any]:
        from clearml import Task

        name = (self.service_name or self._service_task().name) + INSTANCE_SUFFIX
        ids = Task.query_tasks(
            project_name=self.service_project or None,
            task_name=f"^{re.escape(name)}$",
            task_filter={"type": ["inference"], "status": ["in_progress"]},
        )
        return [Task.get_task(task_id=str(task_id)) for task_id in ids]

    def _service_task(self) -> Any:
        from clearml import Task

        return Task.get_task(task_id=self.service_id)


def _control_planes(name: str, project: str) -> list[str]:
    """Ids of the control-plane tasks named exactly `name` in `project` (the name filter is a regex)."""
    from clearml_serving.serving.model_request_processor import ModelRequestProcessor

    found = ModelRequestProcessor.list_control_plane_tasks(name=f"^{re.escape(name)}$", project=project)
    return [str(task["id"]) for task in found if task["name"] == name]


def ensure_control_plane(
    name: str = "occuloop serving",
    project: str = "occuloop/serving",
    *,
    endpoint: str = "occupancy",
    engine_options: Mapping[str, float] | None = None,
) -> ServingPlane:
    """Find the control-plane task by name and project, or create it."""
    found = _control_planes(name, project)
    if found:
        service_id = found[0]
        if len(found) > 1:
            logger.warning(
                "event=control_plane_ambiguous name=%r using=%s also=%s", name, service_id, ",".join(found[1:])
            )
    else:
        from clearml_serving.serving.model_request_processor import ModelRequestProcessor

        processor = ModelRequestProcessor(force_create=True, name=name, project=project)
        processor.serialize()
        service_id = str(processor.get_id())
        logger.info("event=control_plane_created service_id=%s name=%r project=%s", service_id, name, project)
    return ServingPlane(service_id, endpoint, name, project, dict(engine_options or {}))


def find_control_plane(name: str, project: str, *, endpoint: str = "occupancy") -> ServingPlane | None:
    found = _control_planes(name, project)
    return ServingPlane(found[0], endpoint, name, project) if found else None


def newest_model(project: str, name: str) -> str | None:
    """The most recently created model called `name` in `project` (what `setup` serves when given no id)."""
    from clearml import Model

    models = Model.query_models(project_name=project, model_name=name, max_results=1)  # exact name, newest first
    return str(models[0].id) if models else None


def _check_model(model_id: str) -> None:
    from clearml import Model

    try:
        model = Model(model_id=model_id)
        url = model.url
    except ValueError as error:
        raise ServingError(f"model {model_id} not found: {error}") from error
    if not url:
        raise ServingError(f"model {model_id} has no uploaded package to serve")


def _normalized(weights: Mapping[int, float], versions: set[int]) -> dict[int, float]:
    unknown = sorted(set(weights) - versions)
    if unknown:
        raise ServingError(f"versions {unknown} are not registered (registered: {sorted(versions)})")
    for number, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise ServingError(f"weight of version {number} must be a finite number >= 0, got {weight!r}")
    total = sum(weights.values())
    if total <= 0:
        raise ServingError("at least one version needs a weight above 0")
    return {number: round(weight / total, 6) for number, weight in sorted(weights.items()) if weight > 0}


def _entry_point(endpoint: Any) -> int:
    """The engine entry point a version was stored with; 0 before entry points (the whole engine was stored)."""
    options = endpoint.auxiliary_cfg if isinstance(endpoint.auxiliary_cfg, dict) else {}
    return int(options.get("entry_point", 0))
