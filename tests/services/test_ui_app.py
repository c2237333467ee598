"""The UI app in-process (Starlette's TestClient) where no ClearML server is needed: static assets, the read-only
client's allowlist, bad query parameters, an unreachable API, basic auth. Pages over a real loop are in
tests/contract/test_ui_pages.py and tests/contract/test_ui_browser.py."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import re
import socket
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from services.settings import UiSettings
from services.ui import assets
from services.ui.app import create_app, instrumented
from services.ui.reads import READ_ENDPOINTS, Reader, ReadRefused

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # static/README.md


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the socket is closed


def client(**settings: object) -> TestClient:
    url = f"http://127.0.0.1:{closed_port()}"
    reader = Reader(url, "key", "secret", service_urls={"sync": url})
    return TestClient(create_app(UiSettings(api_host=url, access_key="k", secret_key="s", **settings), reader))


@pytest.fixture
def ui() -> Iterator[TestClient]:
    with client() as test_client:
        yield test_client


def test_the_vendored_htmx_is_the_npm_release_its_readme_names() -> None:
    raw = (assets.STATIC / "htmx.min.js").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == HTMX_SHA256
    assert (
        f"sha256 {HTMX_SHA256}" in (assets.STATIC / "README.md").read_text().replace("  ", " ")
        or HTMX_SHA256 in (assets.STATIC / "README.md").read_text()
    )
    assert "Zero-Clause BSD" in (assets.STATIC / "htmx.LICENSE").read_text()


def test_assets_are_served_gzipped_at_versioned_immutable_urls(ui: TestClient) -> None:
    url = assets.url("plotly.min.js")
    answer = ui.get(url, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["content-encoding"] == "gzip"
    wheel = (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    assert answer.content == wheel or gzip.decompress(answer.content) == wheel  # httpx may have decoded it
    assert ui.get(url.replace(assets.asset("plotly.min.js").digest, "0" * 16)).status_code == 404
    assert ui.get("/static/x/../../settings.py").status_code == 404


def test_the_client_refuses_every_endpoint_that_is_not_a_read() -> None:
    reads = {
        name
        for name in READ_ENDPOINTS
        if re.fullmatch(r"\w+\.(get_\w+|scalar_metrics_iter_histogram|debug_images)", name)
    }
    assert READ_ENDPOINTS - reads == {"auth.login"}  # a token, nothing else is created
    reader = Reader("http://127.0.0.1:1", "k", "s")
    for write in ("tasks.edit", "tasks.create", "models.update", "queues.add_task", "tasks.delete", "events.add"):
        with pytest.raises(ReadRefused):
            reader.call(write, {})


def test_a_malformed_query_parameter_gets_a_400_page_naming_it(ui: TestClient) -> None:
    answer = ui.get("/runs?page=three")
    assert answer.status_code == 400 and "page" in answer.text and "three" in answer.text
    assert "an integer from 0 to" in answer.text
    assert ui.get("/runs?status=sleeping&format=json").json() == {
        "error": "bad_parameter", "parameter": "status", "value": "sleeping",
        "expected": "one of all, created, queued, in_progress, completed, failed, stopped, published",
    }  # fmt: skip
    assert ui.get("/?format=xml").status_code == 400


def test_an_unreachable_api_shows_a_banner_that_retries(ui: TestClient) -> None:
    answer = ui.get("/")
    assert answer.status_code == 503
    assert 'role="alert"' in answer.text and "does not answer" in answer.text and 'hx-trigger="every 5s"' in answer.text
    assert ui.get("/models?format=json").json()["error"] == "api_unreachable"
    assert ui.get("/healthz").json() == {"status": "ok"}


def test_unknown_paths_get_the_404_page_with_a_go_to_id_box(ui: TestClient) -> None:
    for path in ("/nothing/here", "/reports", "/settings/profile", "/login"):
        answer = ui.get(path)
        assert answer.status_code == 404 and 'action="/go"' in answer.text and "Traceback" not in answer.text, path


def test_basic_auth_guards_every_page_but_the_health_check() -> None:
    with client(auth_user="ops", auth_password="s3cret") as ui:
        assert ui.get("/").status_code == 401 and ui.get("/").headers["www-authenticate"].startswith("Basic")
        assert ui.get("/models", auth=("ops", "wrong")).status_code == 401
        assert ui.get("/models", auth=("ops", "s3cret")).status_code == 503  # through the gate: the API is down
        assert ui.get("/healthz").status_code == 200


def test_metrics_time_each_request_by_route_template_and_are_open_beside_basic_auth() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{closed_port()}"
    app = create_app(UiSettings(api_host=url, access_key="k", secret_key="s", auth_user="ops", auth_password="pw"),
                     Reader(url, "key", "secret", service_urls={"sync": url}))  # fmt: skip
    with TestClient(instrumented(app)) as ui:
        assert ui.get("/datasets/abc123", auth=("ops", "pw")).status_code == 503  # the API is down
        scrape = ui.get("/metrics")  # no credentials: Prometheus scrapes it, the NetworkPolicy says who may
    assert scrape.status_code == 200
    [family] = [
        f for f in text_string_to_metric_families(scrape.text) if f.name == "occuloop_ui_request_duration_seconds"
    ]
    counts = {(s.labels["route"], s.labels["status"]): s.value for s in family.samples if s.name.endswith("_count")}
    assert counts == {("/datasets/{dataset_id}", "503"): 1.0}  # the template, never the id


def test_pages_forbid_inline_script() -> None:
    with client() as ui:
        policy = ui.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_a_pages_json_carries_the_derived_values_too() -> None:
    from services.ui.joins import Receipt
    from services.ui.rendering import plain

    receipt = Receipt("r", "gate_failed", "m", None, None, {"rule": "training_data", "reason": "1 session"})
    assert plain(receipt)["rule"] == "training_data" and plain(receipt)["reason"] == "1 session"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/projects/p1/experiments/t1/output/log", "/projects/p1/tasks/t1/console"),
        ("/projects/*/experiments/t1/output/log", "/projects/*/tasks/t1/console"),
        ("/projects/p1/tasks/t1/hyper-params/hyper-param/General", "/projects/p1/tasks/t1/configuration"),
        ("/projects/p1/tasks/t1/output/execution", "/projects/p1/tasks/t1/info"),
        ("/projects/p1/tasks/t1/artifacts/output/model", "/projects/p1/tasks/t1/artifacts"),
        ("/projects/p1/tasks/t1/debugImages", "/projects/p1/tasks/t1/debug"),
        ("/projects/p1/tasks/t1?x=1", "/projects/p1/tasks/t1/info?x=1"),
        ("/projects/*/models/m1/", "/projects/*/models/m1/general"),
        ("/projects/p1/models/m1/output/tasks", "/projects/p1/models/m1/lineage"),
        ("/datasets/simple/p1/experiments/d1", "/datasets/d1"),
        ("/datasets/simple/p1/tasks/d1/info", "/datasets/d1"),
        ("/datasets/simple/p1/datasets", "/datasets"),
        ("/pipelines/p1/experiments/c1", "/projects/p1/tasks/c1/info"),
        ("/workers-and-queues/queues", "/orchestration#queues"),
        ("/endpoints/active/e1/monitor", "/serving"),
        ("/dashboard", "/"),
    ],
)
def test_the_clearml_web_apps_link_shapes_lead_to_the_uis_pages(ui: TestClient, path: str, target: str) -> None:
    answer = ui.get(path, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == target
