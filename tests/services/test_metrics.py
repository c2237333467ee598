"""The Prometheus plumbing (services/metrics.py) and each service's metrics: `GET /metrics` on the services' HTTP
API, one registry per process, the ASGI pieces the UI will use, and the trigger's ledger-derived numbers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from prometheus_client import Histogram

from services.http_base import Server, ServiceHandler
from services.metrics import REQUEST_BUCKETS, MetricsApp, instrument, new_registry
from services.rollout.metrics import RolloutMetrics
from services.sync.metrics import SyncMetrics
from services.trigger.decisions import Run, Version
from services.trigger.metrics import TriggerMetrics
from tests.support.metrics import parse, scrape

OWN = {"sync": SyncMetrics, "trigger": TriggerMetrics, "rollout": RolloutMetrics}


class Service:
    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics

    def status(self) -> dict[str, str]:
        return {"state": "idle"}


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[Server] = []

    def start(service: Any) -> str:
        http = Server(("127.0.0.1", 0), ServiceHandler, service)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        servers.append(http)
        return f"http://127.0.0.1:{http.port}"

    yield start
    for http in servers:
        http.shutdown()
        http.server_close()


@pytest.mark.parametrize("name", sorted(OWN))
def test_each_service_serves_only_its_own_metrics_and_the_process_ones(serve: Any, name: str) -> None:
    for other in OWN.values():
        other()  # every service's metrics exist in this process, as they do in any `occuloop` process
    url = serve(Service(OWN[name]()))
    found = scrape(url)
    assert "process_resident_memory_bytes" in found.names and "python_gc_objects_collected" in found.names
    occuloop = {n for n in found.families if n.startswith("occuloop_")}
    assert occuloop and all(n.startswith(f"occuloop_{name}_") or n.startswith(PREFIX[name]) for n in occuloop), occuloop
    assert not any(n.endswith("_created") for n in found.names)  # no `_created` series (services/metrics.py)
    answer = requests.get(f"{url}/metrics", headers={"Accept": "application/openmetrics-text"}, timeout=10)
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text") and answer.text.endswith("# EOF\n")


PREFIX = {"sync": "occuloop_sync_", "trigger": "occuloop_training_", "rollout": "occuloop_gate_"}


def test_counters_move_and_parse(serve: Any) -> None:
    metrics = SyncMetrics()
    url = serve(Service(metrics))
    before = scrape(url)
    metrics.files_accepted.inc()
    metrics.files_quarantined.labels(reason="label_disagreement").inc()
    metrics.versions_finalized.labels(reason="requested").inc()
    metrics.server_calls.labels(operation="finalize").observe(0.3)
    after = scrape(url)
    assert before.value("occuloop_sync_files_accepted_total") == 0
    assert after.value("occuloop_sync_files_accepted_total") == 1
    assert after.value("occuloop_sync_files_quarantined_total", reason="label_disagreement") == 1
    assert after.value("occuloop_sync_versions_finalized_total") == 1
    assert after.value("occuloop_sync_server_call_duration_seconds_count", operation="finalize") == 1
    assert after.value("occuloop_sync_server_call_duration_seconds_bucket", operation="finalize", le="0.5") == 1
    # finalize reasons exist from the start: increase() over a series that appears at 1 would miss the first one
    assert before.labels("occuloop_sync_versions_finalized_total", "reason") >= {"requested", "quiet_period"}


def _stamp(seconds_ago: float, now: datetime) -> str:
    return (now - timedelta(seconds=seconds_ago)).isoformat()


def test_trigger_numbers_come_from_the_ledger_and_ended_runs_are_timed_once() -> None:
    metrics = TriggerMetrics()
    now = datetime.now(UTC)
    old = Run("r0", "d0", "completed", _stamp(900, now), _stamp(800, now), _stamp(700, now))
    versions = [Version("d0", "labeled", _stamp(950, now)), Version("d1", "labeled", _stamp(30, now))]
    metrics.step(versions, [old])  # the first step: r0 ended before the trigger watched; not a duration
    running = Run("r1", "d1", "in_progress", _stamp(20, now), _stamp(10, now))
    metrics.step(versions, [old, running])
    ended = Run("r1", "d1", "failed", running.created, running.started, now.isoformat())
    metrics.step(versions, [old, ended])
    metrics.step(versions, [old, ended])  # seen again: not timed again
    metrics.fired(versions[1], now)
    found = parse(_text(metrics))
    assert found.value("occuloop_trigger_versions") == 2 and found.value("occuloop_trigger_versions_pending") == 0
    assert found.value("occuloop_training_runs", status="completed") == 1
    assert found.value("occuloop_training_runs", status="failed") == 1
    assert found.value("occuloop_training_runs", status="queued") == 0
    assert found.value("occuloop_training_run_duration_seconds_count") == 1
    assert found.value("occuloop_training_run_duration_seconds_count", status="failed") == 1
    assert 9 <= found.value("occuloop_training_run_duration_seconds_sum") <= 11
    assert found.value("occuloop_trigger_runs_fired_total") == 1
    assert 29 <= found.value("occuloop_trigger_lag_seconds_sum") <= 31


def _text(metrics: Any) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_the_asgi_pieces_time_requests_by_route_template_and_serve_the_registry() -> None:
    """What the UI will do: its Starlette app wrapped in `instrument`, `MetricsApp` on /metrics."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    registry = new_registry()
    pages = Histogram("occuloop_ui_request_duration_seconds", "UI pages", ["route", "status"],
                      buckets=REQUEST_BUCKETS, registry=registry)  # fmt: skip

    async def task_page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"task {request.path_params['task_id']}")

    ui = Starlette(routes=[Route("/tasks/{task_id}", task_page), Route("/metrics", MetricsApp(registry))])
    app = instrument(ui, pages)
    assert _get(app, "/tasks/0123abcd")[0] == 200
    assert _get(app, "/tasks/89ef")[0] == 200
    assert _get(app, "/nowhere")[0] == 404
    status, body = _get(app, "/metrics")
    assert status == 200
    found = parse(body)
    assert found.value("occuloop_ui_request_duration_seconds_count", route="/tasks/{task_id}", status="200") == 2
    assert found.value("occuloop_ui_request_duration_seconds_count", route="unmatched", status="404") == 1
    assert found.labels("occuloop_ui_request_duration_seconds_count", "route") <= {"/tasks/{task_id}", "unmatched"}


def _get(app: Any, path: str) -> tuple[int, str]:
    """One GET through an ASGI app, as a server would drive it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(start["status"]), body.decode()
