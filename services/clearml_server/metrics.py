"""The embedded server's Prometheus metrics, served at `GET /metrics` on the API port (services/metrics.py says how).

    occuloop_server_requests_total{port, endpoint, status}   requests answered, by API endpoint (tasks.get_all, ...,
                                                             `unknown` for anything else, so the label set stays
                                                             bounded; `web` for results-page links) or file-server method
                                                             (files.get, files.post, files.delete), and HTTP status
    occuloop_server_request_duration_seconds{port, endpoint} from the parsed request line to the last byte written
    occuloop_server_queue_entries{queue}                     tasks waiting in each queue (read at scrape time)

Every request is measured where the HTTP layer sees it (`Measured`), so a 4xx envelope, a 401 and a 413 count
like a 200; keep-alive idle time between requests is not a request's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..http_base import Handler
from ..metrics import PATH, REQUEST_BUCKETS, new_registry
from .endpoints import ENDPOINTS
from .wire import parse_call_path

OWN_ENDPOINTS = frozenset({"debug.ping", "auth.login"})  # answered before the endpoint table


class QueueDepths(Collector):
    """`occuloop_server_queue_entries{queue}`, read from the store when scraped."""

    def __init__(self, depths: Callable[[], dict[str, int]]) -> None:
        self._depths = depths

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("occuloop_server_queue_entries", "Tasks waiting in each queue", labels=["queue"])
        for queue, depth in sorted(self._depths().items()):
            family.add_metric([queue], depth)
        yield family

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("occuloop_server_queue_entries", "Tasks waiting in each queue", labels=["queue"])


class ServerMetrics:
    def __init__(self, queue_depths: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = new_registry()
        self.requests = Counter(
            "occuloop_server_requests",
            "Requests answered, by port, endpoint and HTTP status",
            ["port", "endpoint", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "occuloop_server_request_duration_seconds",
            "Request handling time, by port and endpoint",
            ["port", "endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        if queue_depths is not None:
            self.registry.register(QueueDepths(queue_depths))

    def observe(self, port: str, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(port=port, endpoint=endpoint, status=str(status)).inc()
        self.duration.labels(port=port, endpoint=endpoint).observe(seconds)


def api_endpoint(method: str, path: str) -> str:
    """The bounded label of an API request: the endpoint name when the server implements it, else `unknown`;
    `web` for the GET of a results-page link the SDK printed."""
    call_path = parse_call_path(path)
    if call_path is not None:
        endpoint = call_path.endpoint
        return endpoint if endpoint in ENDPOINTS or endpoint in OWN_ENDPOINTS else "unknown"
    bare = path.split("?", 1)[0]
    named = {"/": "healthz", "/healthz": "healthz", PATH: "metrics"}.get(bare)
    return named or ("web" if method == "GET" else "unknown")


class Measured(Handler):
    """A handler whose every request is timed and counted in `server.context.metrics` (ServerMetrics), labeled by
    `port_name` and `endpoint()`."""

    port_name = ""

    def endpoint(self) -> str:
        raise NotImplementedError

    def parse_request(self) -> bool:
        self._started = time.perf_counter()  # the request line is in: what follows is this request's time
        self._status = 0
        return super().parse_request()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def handle_one_request(self) -> None:
        self._status = 0
        super().handle_one_request()
        if self._status:
            seconds = time.perf_counter() - self._started
            self.server.context.metrics.observe(self.port_name, self.endpoint(), self._status, seconds)
