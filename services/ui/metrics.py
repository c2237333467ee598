"""The UI's Prometheus metrics, at `GET /metrics` on its port (services/metrics.py says how):

    occuloop_ui_request_duration_seconds    time to answer a request, by route template and HTTP status

Route templates (`/models/{model_id}`), never raw paths: the label set stays bounded however many ids exist.
"""

from __future__ import annotations

from prometheus_client import Histogram

from ..metrics import REQUEST_BUCKETS, new_registry


class UiMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        self.page_seconds = Histogram(
            "occuloop_ui_request_duration_seconds",
            "time to answer a UI request (pages, fragments, JSON, assets), by route template and status",
            ["route", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
