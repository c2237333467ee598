"""The inference app's Prometheus metrics, at `GET /metrics` on its port (serving/app.py; services/metrics.py says how).

Per endpoint version (`endpoint="occupancy", version="2"`: the served version number is the one id-like label
allowed, since versions are few and each is one model):

    occuloop_serving_requests_total                  requests the engine answered or refused
    occuloop_serving_rejected_total                  of those, 422s (a bad request, answered without the model)
    occuloop_serving_failed_total                    of those, engine failures (the app answers 5xx)
    occuloop_serving_readings_total                  readings predicted
    occuloop_serving_occupied_readings_total         of those, predicted occupied: the occupied rate is
                                                     rate(occupied_readings) / rate(readings)
    occuloop_serving_request_duration_seconds        engine time per request (preprocess to postprocess)
    occuloop_serving_canary_weight_ratio             the version's share of the public endpoint, as this app routes

Each app counts its own requests (one uvicorn process per pod, no workers): several replicas add up in PromQL,
`sum by (version) (rate(occuloop_serving_requests_total[5m]))`; the weight is the same on every replica
(`max by (version)`). The counters live beside serving/telemetry.py's, which report the same numbers to the app's
ClearML task for the canary controller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.metrics import REQUEST_BUCKETS, new_registry

LABELS = ("endpoint", "version")
Weights = Mapping[str, Mapping[str, float]]  # endpoint -> version -> weight


def endpoint_labels(url: str) -> tuple[str, str]:
    """("occupancy", "2") for the version URL "occupancy/2"; ("occupancy", "") for an unversioned endpoint."""
    base, _, version = url.rpartition("/")
    return (base, version) if base and version.isdigit() else (url, "")


class CanaryWeights(Collector):
    """`occuloop_serving_canary_weight_ratio`, read from the app's routing when scraped."""

    NAME = "occuloop_serving_canary_weight_ratio"
    HELP = "The version's share of the public endpoint's traffic"

    def __init__(self, weights: Callable[[], Weights]) -> None:
        self._weights = weights

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=LABELS)
        for endpoint, versions in sorted(self._weights().items()):
            for version, weight in sorted(versions.items()):
                family.add_metric([endpoint, version], weight)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=LABELS)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        r = self.registry
        self.requests = Counter("occuloop_serving_requests", "Requests answered or refused", LABELS, registry=r)
        self.rejected = Counter("occuloop_serving_rejected", "Requests refused with a 422", LABELS, registry=r)
        self.failed = Counter("occuloop_serving_failed", "Requests the engine failed (5xx)", LABELS, registry=r)
        self.readings = Counter("occuloop_serving_readings", "Readings predicted", LABELS, registry=r)
        self.occupied = Counter("occuloop_serving_occupied_readings", "Readings predicted occupied", LABELS, registry=r)
        self.duration = Histogram(
            "occuloop_serving_request_duration_seconds",
            "Engine time per request, preprocess to postprocess",
            LABELS,
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self._canary: CanaryWeights | None = None

    def record(self, url: str, *, seconds: float, readings: int, occupied: int, outcome: str) -> None:
        labels = endpoint_labels(url)
        self.requests.labels(*labels).inc()
        if outcome == "rejected":
            self.rejected.labels(*labels).inc()
        elif outcome == "failed":
            self.failed.labels(*labels).inc()
        self.readings.labels(*labels).inc(readings)
        self.occupied.labels(*labels).inc(occupied)
        self.duration.labels(*labels).observe(seconds)

    def watch_canary(self, weights: Callable[[], Weights]) -> None:
        """Export the routing's weights (once per process: the app's module sets it up at import)."""
        if self._canary is None:
            self._canary = CanaryWeights(weights)
            self.registry.register(self._canary)
