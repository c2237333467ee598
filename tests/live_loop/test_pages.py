"""Every page of the UI in-process (Starlette's TestClient) against the demo's real server: content matches what
the server holds, every page is reachable as JSON, the UI never sends a write, the SDK's links land on the right
pages (also through the embedded server's redirect), and markup in names is shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from starlette.testclient import TestClient

from services.loop_state import Api, read, receipt
from services.settings import UiSettings
from services.ui.app import create_app
from services.ui.reads import READ_ENDPOINTS, Reader
from tests.support.demo_loop import DemoLoop

# the first test in a session waits for the whole demo to play (minutes on 2 busy cores)
pytestmark = pytest.mark.timeout(1800)

WEB_LINK = re.compile(r"ClearML (?:results|dataset) page: (http://127\.0\.0\.1:\d+/\S+)")


class Recorder:
    """Every request the UI's client sends, seen on its HTTP session."""

    def __init__(self, reader: Reader) -> None:
        self.sent: list[tuple[str, str]] = []
        reader._session.hooks["response"].append(self._seen)

    def _seen(self, response: requests.Response, *_: Any, **__: Any) -> None:
        self.sent.append((str(response.request.method), str(response.request.url)))


@pytest.fixture(scope="module")
def api(played: DemoLoop) -> Api:
    env = played.client_env()
    return Api(env["CLEARML_API_HOST"], env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])


@pytest.fixture(scope="module")
def ui(played: DemoLoop) -> Iterator[tuple[TestClient, Recorder]]:
    env = played.client_env()
    urls = {name: f"http://127.0.0.1:{played.ports[name]}" for name in ("sync", "trigger", "rollout")}
    reader = Reader(env["CLEARML_API_HOST"], env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"],
                    service_urls=urls)  # fmt: skip
    recorder = Recorder(reader)
    settings = UiSettings(api_host=env["CLEARML_API_HOST"], access_key="k", secret_key="s")
    with TestClient(create_app(settings, reader)) as client:
        yield client, recorder


def get(client: TestClient, path: str, status: int = 200) -> Any:
    answer = client.get(path)
    assert answer.status_code == status, f"{path}: {answer.status_code}\n{answer.text[:2000]}"
    return answer


def test_the_timeline_tells_each_session_from_its_file_to_the_champion(ui: Any, api: Api) -> None:
    client, _ = ui
    state = read(api)
    data = get(client, "/?format=json").json()
    assert data["champion"]["model_id"] == state.champion
    rows = data["rows"]
    versions = [v for v in state.versions if v.completed]
    assert sorted(row["version"]["number"] for row in rows if row["version"]) == sorted(v.version for v in versions)
    by_session = {(row["session"], row["validation"]): row for row in rows}
    flipped = by_session[("2015-02-05.csv", "quarantined")]
    assert flipped["reasons"] == ["label_disagreement"]
    assert flipped["superseded_by"]["version"] == "1.0.1"  # the corrected delivery of the same session
    newest = by_session[("2015-02-06.csv", "accepted")]
    assert newest["ending"]["decision"] == "promoted"
    assert [step["weight"] for step in newest["steps"]] == [0.1, 0.5, 1.0]  # the canary's ramp, with times
    assert newest["champion_after"] == state.champion and newest["gate"]["rule"] == "all_rules"
    first = by_session[("2015-02-04.csv", "accepted")]
    assert rows[-1] == first and first["gate"]["decision"] == "gate_failed"
    assert first["gate"]["document"]["rule"] == "training_data"
    html = get(client, "/").text
    assert state.champion[:8] in html and "label_disagreement" in html and 'aria-live="polite"' in html
    assert "plotly" not in html  # no chart on the timeline: no plotly either


def test_a_receipt_shows_its_deciding_rule_every_rule_and_its_verification(ui: Any, api: Api) -> None:
    client, _ = ui
    state = read(api)
    refused = next(d for d in state.decisions if d.decision == "gate_failed")
    data = get(client, f"/receipts/{refused.receipt_id}?format=json").json()
    assert data["document"]["rule"] == "training_data" == receipt(api, refused)["rule"]
    html = get(client, f"/receipts/{refused.receipt_id}").text
    assert '<dd id="deciding-rule"><strong>training_data</strong></dd>' in html and "baseline" in html
    assert "None held out: " in html  # one session: nothing to hold out of fitting
    # the third session's run held Feb 6 out of fitting: the forward rule and its evidence are on the page
    passed = [d for d in state.decisions if d.decision == "gate_passed"][-1]
    forward = get(client, f"/receipts/{passed.receipt_id}?format=json").json()["document"]["forward"]
    assert len(forward["sessions"]) == 1 and forward["sessions"][0].startswith("2015-02-06"), forward
    html = get(client, f"/receipts/{passed.receipt_id}").text
    assert '<th scope="row">forward</th>' in html and 'id="forward"' in html and forward["sha256"] in html
    assert "challenger vs baseline" in html.split('id="forward"')[1]
    promoted = [d for d in state.decisions if d.decision == "promoted"][-1]
    assert get(client, f"/receipts/{promoted.receipt_id}?format=json").json()["verification"]["state"] == "verified"


def test_a_runs_page_shows_its_scalars_and_plots(ui: Any, api: Api) -> None:
    client, _ = ui
    state = read(api)
    run = state.runs[0]
    task = api.call("tasks.get_all", {"id": [run.run_id], "only_fields": ["last_metrics", "project"]})["tasks"][0]
    last = {(v["metric"], v["variant"]): v["value"] for m in task["last_metrics"].values() for v in m.values()}
    scalars = get(client, f"/tasks/{run.run_id}/scalars.json").json()
    for metric in scalars["metrics"]:
        for item in metric["summary"]:
            assert item["last"] == pytest.approx(last[(metric["metric"], item["variant"])])
    assert {m["metric"] for m in scalars["metrics"]} >= {"accuracy", "loss"}
    plots = get(client, f"/tasks/{run.run_id}/plots.json").json()["plots"]
    assert plots and all(isinstance((p["figure"]["layout"] or {}).get("title", {}), dict) for p in plots)
    page = get(client, f"/projects/{task['project']}/tasks/{run.run_id}/scalars").text
    assert "plotly.min.js" in page and f"/tasks/{run.run_id}/scalars.json" in page


def crawl(client: TestClient, api: Api) -> list[str]:
    state = read(api)
    run = state.runs[-1]
    project = api.call("tasks.get_all", {"id": [run.run_id], "only_fields": ["project"]})["tasks"][0]["project"]
    pages = ["/", "/?page=0&fragment=1", "/datasets", "/runs", "/runs?scope=all&type=all", "/models", "/receipts",
             "/serving", "/serving?fragment=1", "/orchestration", "/quarantine", f"/datasets/{state.versions[-1].dataset_id}",
             "/models?page=0", f"/receipts/{state.decisions[-1].receipt_id}", f"/tasks/{run.run_id}/scalars.json",
             f"/tasks/{run.run_id}/plots.json", f"/projects/*/models/{state.champion}/lineage"]  # fmt: skip
    pages += [f"/projects/{project}/tasks/{run.run_id}/{tab}" for tab in
              ("info", "configuration", "artifacts", "console", "scalars", "plots", "debug")]  # fmt: skip
    pages += [f"/projects/*/models/{state.champion}/{tab}" for tab in ("general", "metadata")]
    for page in pages:
        get(client, page)
        separator = "&" if "?" in page else "?"
        if not page.endswith(".json") and "fragment" not in page:
            assert isinstance(get(client, f"{page}{separator}format=json").json(), dict), page
    return pages


def test_every_page_answers_and_the_ui_never_sends_a_write(ui: Any, api: Api) -> None:
    client, recorder = ui
    recorder.sent.clear()
    crawl(client, api)
    assert recorder.sent, "the crawl sent nothing: the recorder sees nothing"
    for method, url in recorder.sent:
        endpoint = url.rsplit("/", 1)[-1]
        assert method == "GET" or (method == "POST" and endpoint in READ_ENDPOINTS), (method, url)


def test_the_sdks_links_land_on_the_right_pages_also_through_the_servers_redirect(played: DemoLoop) -> None:
    printed = sorted(set(WEB_LINK.findall("\n".join(p.read_text(errors="replace")
                                                   for p in (played.data_dir / "logs").glob("*.log")))))  # fmt: skip
    assert any("/experiments/" in link for link in printed) and any("/datasets/simple/" in link for link in printed)
    for link in printed:
        assert link.startswith(played.ui + "/"), link  # CLEARML_WEB_HOST is the UI
        answer = requests.get(link, timeout=30)
        assert answer.status_code == 200, link
        assert re.search(r"/projects/[^/]+/tasks/[0-9a-f]{32}/console$|/datasets/[0-9a-f]{32}$", answer.url), answer.url
    path = printed[0].removeprefix(played.ui)
    env = played.client_env()
    redirected = requests.get(env["CLEARML_API_HOST"] + path, allow_redirects=False, timeout=10)
    assert redirected.status_code == 302 and redirected.headers["Location"] == played.ui + path
    assert env["CLEARML_WEB_HOST"] == played.ui  # clearml.env, as the embedded server wrote it


def test_names_with_markup_made_through_the_sdk_render_as_text(ui: Any, hostile: dict[str, str]) -> None:
    client, _ = ui
    pages = [f"/projects/{hostile['task_project']}/tasks/{hostile['task_id']}/{tab}" for tab in ("info", "console")]
    pages += [f"/datasets/{hostile['dataset_id']}", "/runs?scope=all&type=all", "/quarantine", "/", "/datasets"]
    for page in pages:
        html = get(client, page).text
        for raw in ("<script>alert", "<img src=x onerror"):
            assert raw not in html, f"{page} renders {raw!r} as markup"
    assert "&lt;script&gt;alert(" in get(client, pages[0]).text
    assert "&lt;img src=x onerror=" in get(client, "/quarantine").text
    plots = get(client, f"/tasks/{hostile['task_id']}/plots.json")
    assert plots.headers["content-type"].startswith("application/json")  # figures go to plotly as data, not HTML
