"""The embedded server's `GET /metrics` (services/clearml_server/metrics.py), over real sockets: requests by
endpoint and status on both ports, unknown endpoint names folded into one label, queue depths read when scraped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from services.clearml_server.app import RunningServer, start
from services.settings import ServerSettings
from tests.support.metrics import scrape


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    server = start(ServerSettings(data_dir=tmp_path / "server", api_port=0, files_port=0))
    try:
        yield server
    finally:
        server.shutdown()


def test_requests_are_counted_by_endpoint_and_status_and_queues_by_depth(running: RunningServer) -> None:
    api, keys = running.api_url, running.credentials
    assert keys is not None
    token = requests.post(f"{api}/auth.login", auth=(keys.access_key, keys.secret_key), timeout=10).json()["data"]
    bearer = {"Authorization": f"Bearer {token['token']}"}

    def call(endpoint: str, body: dict[str, object]) -> dict[str, object]:
        answer = requests.post(f"{api}/v2.23/{endpoint}", json=body, headers=bearer, timeout=10)
        return dict(answer.json())

    queue = call("queues.create", {"name": "training"})["data"]["id"]  # type: ignore[index]
    for name in ("a", "b"):
        task = call("tasks.create", {"name": name, "type": "training"})["data"]["id"]  # type: ignore[index]
        call("tasks.enqueue", {"task": task, "queue": queue})
    call("tasks.get_all", {})
    assert requests.post(f"{api}/v2.23/tasks.get_all", json={}, timeout=10).status_code == 401  # no token
    for name in ("no.such_call", "x.y", "x1.y2"):  # a fuzzer must not create one series per name it makes up
        requests.post(f"{api}/v2.23/{name}", json={}, headers=bearer, timeout=10)
    assert requests.get(f"{running.files_url}/", timeout=10).status_code == 200

    found = scrape(api)
    assert found.value("occuloop_server_requests_total", port="api", endpoint="tasks.create", status="200") == 2
    assert found.value("occuloop_server_requests_total", endpoint="tasks.get_all", status="200") == 1
    assert found.value("occuloop_server_requests_total", endpoint="tasks.get_all", status="401") == 1
    assert found.value("occuloop_server_requests_total", endpoint="unknown", status="400") == 3
    assert found.value("occuloop_server_requests_total", port="files", endpoint="files.get") == 1
    assert found.value("occuloop_server_request_duration_seconds_count", endpoint="tasks.enqueue") == 2
    assert found.value("occuloop_server_queue_entries", queue="training") == 2
    assert found.value("occuloop_server_queue_entries", queue="default") == 0
    endpoints = found.labels("occuloop_server_requests_total", "endpoint")
    assert not any(name.startswith(("no.", "x.")) for name in endpoints), endpoints

    after = scrape(api)  # the scrape before is a request of its own
    assert after.value("occuloop_server_requests_total", endpoint="metrics", status="200") == 1
