"""The UI in Chromium over the demo's loop: the timeline updates live while the loop plays (a new version and the
canary's ramp appear without a reload), every page loads without console errors and without serious or critical axe
violations (each is screenshotted), the timeline works with the keyboard alone, the links the SDK printed open the
right pages, and markup in names never runs."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.loop_state import Api, read
from tests.live_loop.browser import Watched, chromium, require_chromium
from tests.support.demo_loop import DemoLoop

# the first test in a session waits for the whole demo to play (minutes on 2 busy cores)
pytestmark = pytest.mark.timeout(1800)

WEB_LINK = re.compile(r"ClearML (?:results|dataset) page: (http://127\.0\.0\.1:\d+/\S+)")
SEEN = """() => {
  window.__seen = []; window.__opened = true;
  const note = () => { const w = document.querySelector('#canary-weight');
    if (w) { window.__seen.push(w.textContent.trim()); } };
  new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("OCCULOOP_UI_SCREENSHOTS") or tmp_path_factory.mktemp("ui-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def rows(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("table.timeline tbody tr[data-key]", "rows => rows.map(r => r.dataset.key)"))


def test_the_open_timeline_shows_new_versions_and_the_canary_ramp_without_a_reload(
    demo_loop: DemoLoop, browser: Any
) -> None:
    """Runs first (before anything waits for the loop to finish): the page opens before the sessions arrive."""
    require_chromium()
    watched = Watched(browser)
    page = watched.page
    page.goto(demo_loop.ui + "/")
    page.evaluate(SEEN)
    at_open = rows(page)
    deadline = time.monotonic() + 1500
    while not any(key.startswith("2015-02-06.csv") for key in rows(page)) or "promoted" not in (
        page.text_content("table.timeline tbody tr:first-child") or ""
    ):
        assert time.monotonic() < deadline, f"the timeline never showed 2015-02-06 promoted:\n{demo_loop.output}"
        assert demo_loop.process.poll() is None, demo_loop.output
        time.sleep(1)
    assert page.evaluate("window.__opened") is True  # the same document: no reload, no navigation
    assert len(rows(page)) > len(at_open)  # versions arrived while it was open
    seen = " ".join(page.evaluate("window.__seen"))
    assert re.search(r"\b(10|50) % \(step [12]/3\)", seen), f"the canary's ramp was never shown: {seen[-2000:]}"
    assert not watched.errors, watched.errors
    watched.close()


def pages_of(played: DemoLoop) -> dict[str, str]:
    env = played.client_env()
    api = Api(env["CLEARML_API_HOST"], env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])
    state = read(api)
    run = next(r for r in reversed(state.runs) if r.model_id != state.champion)  # its charts overlay the champion's
    project = api.call("tasks.get_all", {"id": [run.run_id], "only_fields": ["project"]})["tasks"][0]["project"]
    refused = next(d for d in state.decisions if d.decision == "gate_failed")
    passed = [d for d in state.decisions if d.decision == "gate_passed"][-1]  # with its forward section's tables
    task = f"/projects/{project}/tasks/{run.run_id}"
    return {
        "timeline": "/", "datasets": "/datasets", "dataset": f"/datasets/{state.versions[-1].dataset_id}",
        "runs": "/runs", "task-info": f"{task}/info", "task-configuration": f"{task}/configuration",
        "task-artifacts": f"{task}/artifacts", "task-console": f"{task}/console", "task-scalars": f"{task}/scalars",
        "task-plots": f"{task}/plots", "models": "/models", "model": f"/projects/*/models/{state.champion}/general",
        "receipts": "/receipts", "receipt": f"/receipts/{refused.receipt_id}",
        "receipt-forward": f"/receipts/{passed.receipt_id}", "serving": "/serving",
        "orchestration": "/orchestration", "quarantine": "/quarantine", "not-found": "/go/no-such-id",
        "bad-parameter": "/runs?page=three",
    }  # fmt: skip


def test_every_page_loads_cleanly_passes_axe_and_is_screenshotted(
    played: DemoLoop, browser: Any, screenshots: Path
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems = []
    for name, path in pages_of(played).items():
        watched = Watched(browser)
        page = watched.page
        expected = 404 if name == "not-found" else 400 if name == "bad-parameter" else 200
        response = page.goto(played.ui + path)
        assert response is not None and response.status == expected, (name, response and response.status)
        if name in ("task-scalars", "task-plots", "dataset"):
            page.wait_for_selector(".plot .main-svg", timeout=30_000)  # plotly drew
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        results = axe.run(page)
        serious = [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]
                   if v["impact"] in ("serious", "critical")]  # fmt: skip
        errors = [text for text in watched.errors if not (expected != 200 and "status of 4" in text)]
        if serious or errors:
            problems.append((name, serious, errors))
        watched.close()
    assert not problems, problems


def test_the_timeline_works_with_the_keyboard_alone(played: DemoLoop, browser: Any) -> None:
    watched = Watched(browser)
    page = watched.page
    page.goto(played.ui + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for _ in range(40):  # to the pause control: operable with Space, its state announced by aria-pressed
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "live-toggle":
            break
    page.keyboard.press("Space")
    assert page.get_attribute("#live-toggle", "aria-pressed") == "true"
    page.keyboard.press("Space")
    for _ in range(80):  # on to the first training run in the table, then open it
        page.keyboard.press("Tab")
        href = page.evaluate(
            "document.activeElement.closest('table.timeline') ? document.activeElement.getAttribute('href') : null"
        )
        if href and "/tasks/" in href:
            break
    else:
        raise AssertionError("no training run link in the timeline is reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/projects/[^/]+/tasks/[0-9a-f]{32}/info$"))
    assert page.is_visible("nav[aria-label='Task tabs']")
    outline = page.evaluate("""() => { const a = document.querySelector("nav[aria-label='Task tabs'] a"); a.focus();
        return getComputedStyle(a).outlineStyle; }""")
    assert outline != "none"  # focus is visible
    assert not watched.errors, watched.errors
    watched.close()


def test_each_link_the_sdk_printed_opens_its_page(played: DemoLoop, browser: Any) -> None:
    logs = "\n".join(path.read_text(errors="replace") for path in (played.data_dir / "logs").glob("*.log"))
    links = sorted(set(WEB_LINK.findall(logs)))
    assert links
    watched = Watched(browser)
    for link in links:
        response = watched.page.goto(link)
        assert response is not None and response.status == 200, link
        heading = watched.page.text_content("h1") or ""
        assert heading and heading != "Not found", (link, heading)
        task_id = re.search(r"/([0-9a-f]{32})(?:/|$)", link).group(1)  # type: ignore[union-attr]
        assert task_id in watched.page.url or task_id[:8] in (watched.page.text_content("main") or ""), link
    assert not watched.errors, watched.errors
    watched.close()


def test_markup_in_names_never_runs(played: DemoLoop, browser: Any, hostile: dict[str, str]) -> None:
    watched = Watched(browser)
    task = f"/projects/{hostile['task_project']}/tasks/{hostile['task_id']}"
    for path in (f"{task}/info", f"{task}/console", f"{task}/scalars", f"{task}/plots",
                 f"/datasets/{hostile['dataset_id']}", "/quarantine", "/", "/runs?scope=all&type=all"):  # fmt: skip
        watched.page.goto(played.ui + path)
        if path.endswith(("scalars", "plots")):
            watched.page.wait_for_selector(".plot .main-svg", timeout=30_000)
        watched.page.wait_for_timeout(300)
        assert "<script>alert('xss')</script>" in (watched.page.text_content("main") or "") or path in (
            "/quarantine",
            f"/datasets/{hostile['dataset_id']}",
            "/",
        ), path  # shown as text
    assert not watched.dialogs, watched.dialogs  # no alert() ever ran
    watched.close()
