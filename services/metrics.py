"""Prometheus metrics plumbing shared by every occuloop process: a registry per process, `/metrics` for the
`http.server` handlers and for ASGI apps, and a request-latency middleware for ASGI apps (the UI's pages).

Each process keeps its own metrics in its own registry (`new_registry()`), built by its metric-definition module
(`services/<service>/metrics.py`, `serving/metrics.py`, `services/clearml_server/metrics.py`): the `occuloop`
command imports every service's code, so the process-wide default registry would show the trigger's metrics on
the sync's `/metrics`. Counters are per process and never shared between processes: several replicas (serving)
add up in PromQL (`sum by (version) (rate(...))`), which is the Prometheus way. A process that forked workers
would need prometheus_client's multiprocess mode; none does (the inference app is one uvicorn process per pod,
scaled by replicas).

Naming follows Prometheus' conventions: `occuloop_<process>_<what>_<unit>`, base units (seconds, ratios),
`_total` on counters, labels only from bounded sets (reasons, rules, endpoints, the served version number; never a
task, model or dataset id). "Time since X" is exported as the timestamp of X (`..._timestamp_seconds`);
`time() - x` in PromQL gives the age.

Standard library and prometheus_client only: the inference app imports it too (the import contract's bottom layer).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    make_asgi_app,
)
from prometheus_client.exposition import choose_encoder

# no `_created` series beside every counter and histogram: they would double the output
disable_created_metrics()  # type: ignore[no-untyped-call]

PATH = "/metrics"
# request latencies, in seconds: 1 ms .. 10 s
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# the loop's own durations (a server call, a lag, a training run), in seconds: 10 ms .. 2 h
LOOP_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_registry() -> CollectorRegistry:
    """A process's registry, with the standard process metrics (CPU, memory, open files, start time, GC)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The body and Content-Type of a `/metrics` answer (text format, or OpenMetrics when the scraper asks)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class MetricsApp:
    """`/metrics` of `registry` as an ASGI app. An object, not a function, so that Starlette and FastAPI take it for
    an ASGI app: `app.add_route("/metrics", MetricsApp(registry))`, or `Route("/metrics", MetricsApp(registry))`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._app: AsgiApp = make_asgi_app(registry)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def route_template(scope: Scope) -> str:
    """A bounded label for a request: the path template of the route that answered (Starlette and FastAPI put
    the route in the scope), never the raw path, which would carry ids."""
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return str(path) if path else "unmatched"


def instrument(app: AsgiApp, histogram: Histogram, label_of: Callable[[Scope], str] = route_template) -> AsgiApp:
    """An ASGI middleware that observes each HTTP request's duration in `histogram`, labeled by `label_of(scope)`
    and the status code (`histogram` declares the labels `route` and `status`). For the UI's page latency:

        PAGE_SECONDS = Histogram("occuloop_ui_request_duration_seconds", "...", ["route", "status"],
                                 buckets=REQUEST_BUCKETS, registry=REGISTRY)
        app = instrument(starlette_app, PAGE_SECONDS)
    """

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before the response started is a 500 to the client

        async def send_seen(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message.get("type") == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await app(scope, receive, send_seen)
        finally:
            histogram.labels(route=label_of(scope), status=str(status)).observe(time.perf_counter() - started)

    return timed
