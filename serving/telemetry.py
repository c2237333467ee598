"""Per-version request metrics and the sampled prediction log, kept by the engine inside the inference app.

clearml-serving's own statistics path needs Kafka and Prometheus; occuloop runs without them. Instead, every
`interval` seconds a background thread reports, per endpoint version, scalars on the app's ClearML task (the
"<service> - serve instance" inference task):

    title  "endpoint occupancy/2"
    series requests, readings, rejected, failed, occupied   counters since the app started
           latency_p50_ms, latency_p99_ms, latency_max_ms    over the last interval (engine time, no HTTP)

`serving.endpoints.ServingPlane.read_metrics()` sums them over the running instances. Sampled predictions go to the
same task's console log as one line `event=prediction {json}` (inputs, output, model and dataset identity).

The same counts go to Prometheus (serving/metrics.py, `GET /metrics` on the app).

Readings that carry a `timestamp` are also counted per minute they describe, and each report writes one console
line per version, `event=served_minutes {"endpoint": "occupancy/2", "instance": ..., "report": n, "minutes":
{"2015-02-05T10:01": [readings, predicted occupied], ...}}`: every served minute, not a sample, so that the canary
controller can score each version's live accuracy when a later labeling session brings those minutes' labels.

State lives at module level on purpose: clearml-serving rebuilds the engine objects after every configuration
change, and the counters must survive that. Without a ClearML task (unit tests) the sinks are Python logging.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from serving.metrics import ServingMetrics

logger = logging.getLogger(__name__)

Scalars = dict[str, dict[str, float]]  # title -> series -> value
ScalarSink = Callable[[Scalars, int], None]
TextSink = Callable[[str], None]
PREDICTION_EVENT = "event=prediction "
SERVED_MINUTES_EVENT = "event=served_minutes "
METRICS_TITLE = "endpoint "  # + the version's URL ("occupancy/2"): the title of its scalars
MAX_MINUTES_PER_REPORT = 50_000  # a bound on one line; minutes beyond it in one interval are counted as dropped


@dataclass
class EndpointStats:
    requests: int = 0
    readings: int = 0
    rejected: int = 0  # 422: a bad request, answered without the model
    failed: int = 0  # the engine raised (the app answers 5xx)
    occupied: int = 0  # readings predicted occupied
    window: list[float] = field(default_factory=list)  # latencies (s) since the last report
    minutes: dict[str, list[int]] = field(default_factory=dict)  # minute -> [readings, occupied] since the last report
    minutes_dropped: int = 0

    def scalars(self) -> dict[str, float]:
        values = {
            "requests": float(self.requests),
            "readings": float(self.readings),
            "rejected": float(self.rejected),
            "failed": float(self.failed),
            "occupied": float(self.occupied),
        }
        if self.window:
            latencies = np.asarray(self.window) * 1000.0
            values["latency_p50_ms"] = round(float(np.percentile(latencies, 50)), 3)
            values["latency_p99_ms"] = round(float(np.percentile(latencies, 99)), 3)
            values["latency_max_ms"] = round(float(latencies.max()), 3)
        return values


class Telemetry:
    """Counters per endpoint URL ("occupancy/2") and the prediction log sampler; thread-safe."""

    def __init__(self, scalar_sink: ScalarSink, text_sink: TextSink) -> None:
        self._scalar_sink = scalar_sink
        self._text_sink = text_sink
        self._stats: dict[str, EndpointStats] = {}
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._reports = 0
        self._reporter: threading.Thread | None = None
        self.interval = 5.0
        self.sample_rate = 0.01
        self.instance = uuid.uuid4().hex[:12]  # report numbers restart with the process; this tells runs apart
        self.metrics = ServingMetrics()  # the same counts for Prometheus, at the app's GET /metrics

    def record(
        self,
        url: str,
        *,
        seconds: float,
        readings: int = 0,
        occupied: int = 0,
        outcome: str = "ok",
        minutes: Iterable[tuple[str, bool]] = (),
    ) -> None:
        """One request. `minutes`: (minute_key, predicted occupied) of each reading that carried a timestamp."""
        with self._lock:
            stats = self._stats.setdefault(url, EndpointStats())
            stats.requests += 1
            stats.readings += readings
            stats.occupied += occupied
            if outcome == "rejected":
                stats.rejected += 1
            elif outcome == "failed":
                stats.failed += 1
            stats.window.append(seconds)
            for minute, predicted in minutes:
                counts = stats.minutes.get(minute)
                if counts is None:
                    if len(stats.minutes) >= MAX_MINUTES_PER_REPORT:
                        stats.minutes_dropped += 1
                        continue
                    counts = stats.minutes[minute] = [0, 0]
                counts[0] += 1
                counts[1] += int(predicted)
            self._dirty.add(url)
        self.metrics.record(url, seconds=seconds, readings=readings, occupied=occupied, outcome=outcome)

    def sampled(self) -> bool:
        return self.sample_rate > 0 and random.random() < self.sample_rate

    def log_prediction(self, record: dict[str, Any]) -> None:
        self._text_sink(PREDICTION_EVENT + json.dumps(record, separators=(",", ":"), default=str))

    def report(self) -> Scalars:
        """Hand the changed endpoints' scalars to the sink and their served minutes to the log (called by the
        reporter thread)."""
        served: list[dict[str, Any]] = []
        with self._lock:
            scalars = {f"{METRICS_TITLE}{url}": self._stats[url].scalars() for url in sorted(self._dirty)}
            self._reports += 1
            iteration = self._reports
            for url in sorted(self._dirty):
                stats = self._stats[url]
                if stats.minutes:
                    served.append(
                        {
                            "endpoint": url,
                            "instance": self.instance,
                            "report": iteration,
                            "minutes": stats.minutes,
                            "dropped": stats.minutes_dropped,
                        }
                    )
                stats.window.clear()
                stats.minutes, stats.minutes_dropped = {}, 0
            self._dirty.clear()
        if scalars:
            self._scalar_sink(scalars, iteration)
        for record in served:
            self._text_sink(SERVED_MINUTES_EVENT + json.dumps(record, separators=(",", ":")))
        return scalars

    def start(self) -> None:
        with self._lock:
            if self._reporter is not None:
                return
            self._reporter = threading.Thread(target=self._run, name="occuloop-telemetry", daemon=True)
            self._reporter.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.report()
            except Exception:  # the top of the loop: metrics must never take the app down
                logger.exception("event=metrics_report_failed")


def _clearml_logger() -> Any:
    from clearml import Task

    task: Any = Task.current_task()
    return task.get_logger() if task is not None else None


def _report_scalars(scalars: Scalars, iteration: int) -> None:
    target = _clearml_logger()
    for title, series in scalars.items():
        for name, value in series.items():
            if target is not None:
                target.report_scalar(title, name, value, iteration)
    if target is None:
        logger.info("event=endpoint_metrics %s", json.dumps(scalars, sort_keys=True))


def _report_text(line: str) -> None:
    target = _clearml_logger()
    if target is not None:
        target.report_text(line, print_console=False)
    else:
        logger.info("%s", line)


_process_telemetry: Telemetry | None = None
_process_lock = threading.Lock()


def process_telemetry() -> Telemetry:
    """The one Telemetry of this process, reporting to its ClearML task."""
    global _process_telemetry
    with _process_lock:
        if _process_telemetry is None:
            _process_telemetry = Telemetry(_report_scalars, _report_text)
        return _process_telemetry
