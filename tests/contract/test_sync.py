"""occuloop sync against occuloop server with the real SDK: versions, tags, previews, quarantine, duplicates,
deltas, the upload button, and an unreachable server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from starlette.testclient import TestClient

from services.child_processes import inherited_environment, start_embedded_server
from services.settings import UiSettings
from services.sync.client import finish_session, request_sync
from services.sync.replay import deliver
from services.ui.app import create_app
from services.ui.reads import Reader
from tests.support.clients import Clients
from tests.support.sync import SyncProcess, assert_one_clean_chain, versions
from training.sessions import training_sessions


def test_once_makes_one_validated_version_and_quarantines_the_bad_session(clients: Clients, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    deliver(inbox, count=3, corrupt={"2015-02-05": "flipped"})
    output = clients.run(
        [sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--once", "--dataset-name", "once"]
    )
    outcome = json.loads(next(line for line in reversed(output.splitlines()) if line.startswith('{"dataset_id"')))
    assert outcome["files"] == ["2015-02-04.csv", "2015-02-06.csv"] and outcome["rows"] == 369 + 1440
    assert sorted(path.name for path in (inbox / "quarantine").iterdir()) == [
        "2015-02-05.csv",
        "2015-02-05.csv.reason.json",
    ]
    reason = json.loads((inbox / "quarantine" / "2015-02-05.csv.reason.json").read_text())
    assert reason["reasons"] == ["label_disagreement"] and "Light rule" in reason["report"]["findings"][0]["message"]
    assert "event=file_quarantined file=2015-02-05.csv reason=label_disagreement" in output
    assert "event=dataset_version_finalized" in output
    [version] = versions(clients, "once")
    assert (
        version["id"] == outcome["dataset_id"]
        and version["tags"] == ["Production"]
        and version["status"] == "completed"
    )
    assert version["files"] == ["2015-02-04.csv", "2015-02-06.csv"]
    task = clients.api.task(version["id"])
    assert task["comment"] == "labeling sessions: 2015-02-04.csv, 2015-02-06.csv"
    plots = {
        (plot["metric"], plot["variant"])
        for plot in clients.api.ok("events.get_task_plots", {"task": version["id"], "iters": 1})["plots"]
    }
    assert {("new sessions", "Light"), ("label balance", "new sessions"), ("validation", "new sessions")} <= plots


def test_versions_chain_deltas_duplicates_and_corrections(clients: Clients, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    sync = SyncProcess(clients, inbox, quiet=0.5, dataset="chain").start()
    try:
        deliver(inbox, days=["2015-02-05", "2015-02-06"])
        sync.wait_until_idle()
        deliver(inbox, days=["2015-02-09"])
        sync.wait_until_idle()
        first, second = sorted(versions(clients, "chain"), key=lambda item: item["completed"])
        assert second["parent"] == first["id"] and second["added"] == ["2015-02-09.csv"]
        assert second["files"] == ["2015-02-05.csv", "2015-02-06.csv", "2015-02-09.csv"]
        assert first["tags"] == second["tags"] == ["Production"]

        deliver(inbox, days=["2015-02-09"])  # the same content again: no new version
        sync.wait_until_idle()
        assert len(versions(clients, "chain")) == 2
        assert "event=file_duplicate file=2015-02-09.csv" in sync.log()

        corrected = (inbox / ".occuloop-sync" / "archive").glob("*/2015-02-06.csv")
        text = next(iter(corrected)).read_text().splitlines()
        text[100] = text[100][:-1] + ("0" if text[100].endswith("1") else "1")  # one label fixed by the labeler
        (tmp_path / "2015-02-06.csv").write_text("\n".join(text) + "\n")
        finish_session(tmp_path / "2015-02-06.csv", inbox)
        sync.wait_until_idle()
        third = max(versions(clients, "chain"), key=lambda item: item["completed"])
        assert third["parent"] == second["id"] and third["modified"] == ["2015-02-06.csv"] and third["added"] == []
        assert sync.stop() == 0
    finally:
        if sync.child and sync.child.alive():
            sync.kill()


def test_the_upload_button_and_finalize_on_shutdown(clients: Clients, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    sync = SyncProcess(clients, inbox, quiet=3600, dataset="button").start()  # only the button or SIGTERM finalize
    deliver(inbox, days=["2015-02-05"])
    answer = request_sync(sync.url)
    assert answer["status"] == "synced" and answer["files"] == ["2015-02-05.csv"]
    assert request_sync(sync.url)["status"] == "nothing to sync"
    deliver(inbox, days=["2015-02-06"])
    sync.clients.api.wait_for("the file to be staged", lambda: sync.status()["staged_files"] == 1, timeout=30)
    assert sync.stop() == 0  # SIGTERM finalizes what is pending
    assert "event=sync_stopping signal=SIGTERM" in sync.log()
    assert [len(item["files"]) for item in sorted(versions(clients, "button"), key=lambda item: item["completed"])] == [
        1,
        2,
    ]


def test_an_unreachable_server_is_waited_for_and_nothing_is_lost(tmp_path: Path) -> None:
    env = inherited_environment(os.environ)
    server = start_embedded_server(tmp_path / "server", env=env)
    api_port, files_port = int(server.api_url.rsplit(":", 1)[1]), int(server.files_url.rsplit(":", 1)[1])
    clients = Clients(server, tmp_path / "clients")
    inbox = tmp_path / "inbox"
    sync = SyncProcess(clients, inbox, quiet=0.5, dataset="outage").start()
    try:
        deliver(inbox, days=["2015-02-05"])
        sync.wait_until_idle()
        assert server.child.stop() == 0  # the server goes away
        deliver(inbox, days=["2015-02-06", "2015-02-09"])
        waiting = sync.clients.api.wait_for(
            "the sync to report it is waiting",
            lambda: (lambda status: status if status["state"] in ("waiting_for_server", "backoff") else None)(
                sync.status()
            ),
            timeout=90,
            interval=0.5,
        )
        # each file is either validated and kept locally or still in the inbox (how many the sync took in before
        # its first failed call depends on when it looked: the two files do not arrive in one instant)
        in_inbox = [path for path in inbox.iterdir() if path.is_file() and path.suffix == ".csv"]
        assert waiting["staged_files"] + len(in_inbox) == 2, (waiting, in_inbox)
        server = start_embedded_server(tmp_path / "server", env=env, api_port=api_port, files_port=files_port)
        sync.wait_until_idle(timeout=240)
        assert "event=waiting_for_server" in sync.log() or "event=sync_step_failed" in sync.log()
        final = max(versions(Clients(server, tmp_path / "after"), "outage"), key=lambda item: item["completed"])
        assert final["files"] == ["2015-02-05.csv", "2015-02-06.csv", "2015-02-09.csv"]
    finally:
        sync.kill()
        server.child.stop()


def test_a_second_sync_on_the_same_inbox_refuses_to_start(clients: Clients, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    first = SyncProcess(clients, inbox, dataset="lock").start()
    try:
        argv = [sys.executable, "-m", "services.cli", "sync", "--inbox", str(inbox), "--port", "0"]
        second = subprocess.run(argv, env=clients.env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "another occuloop sync is already running" in second.stderr
    finally:
        first.stop()


def test_a_deep_chain_is_squashed_with_the_same_sessions_and_their_lineage(clients: Clients, tmp_path: Path) -> None:
    """Squash depth 3. Version 1 holds nine sessions, 2 and 3 one each: 3 is squashed on top of version 1 (two
    files uploaded again: a segment squash); version 4 on it reaches depth 3 again, and three files since the root
    are too many (3 x 4 >= 9): a new root with everything. Each squash holds its predecessor's files byte for byte
    and names the version that added each; a version on a squash uploads only its own session; no squash is tagged
    Production (so none is trained)."""
    inbox = tmp_path / "inbox"
    days = [session.name for session in training_sessions()][:13]
    deliveries = [days[:9], [days[9]], [days[10]], [days[11]], [days[12]]]
    sync = SyncProcess(clients, inbox, quiet=0.3, dataset="squashed", squash_depth=3).start()
    try:
        for delivered, squashes in zip(deliveries, [0, 0, 1, 2, 2], strict=True):
            deliver(inbox, days=delivered)
            sync.wait_until_idle()
            clients.api.wait_for("the squash", lambda: sync.log().count("event=dataset_squashed") == squashes)  # noqa: B023
            sync.wait_until_idle()
        assert sync.stop() == 0
    finally:
        if sync.child and sync.child.alive():
            sync.kill()
    all_versions = versions(clients, "squashed")
    assert_one_clean_chain(all_versions, {f"{day}.csv" for day in days})
    live = sorted(all_versions, key=lambda item: item["completed"])
    first, _, third, segment, fourth, root, fifth = live
    assert [bool(item["squash_of"]) for item in live] == [False, False, False, True, False, True, False]
    assert [item["depth"] for item in live] == [1, 2, 3, 2, 3, 1, 2]
    assert segment["parent"] == first["id"] and root["parent"] is None  # a segment squash, then a new root
    assert "2 of them uploaded again on top of the root" in segment["comment"]
    assert fourth["parent"] == segment["id"] and fourth["added"] == [f"{days[11]}.csv"]
    assert fifth["parent"] == root["id"] and fifth["added"] == [f"{days[12]}.csv"]
    adders = [first] * 9 + [live[1], third, fourth]
    lineage = root["metadata"]["lineage"]
    assert {name: origin["version"] for name, origin in lineage.items()} == {
        f"{day}.csv": item["version"] for day, item in zip(days[:12], adders, strict=True)
    }
    assert root["comment"].startswith(f"squash of squashed {fourth['version']} ({fourth['id']})")
    # `occuloop lineage`: a version built on a root traces the root's sessions through the root's lineage
    output = clients.cli("occuloop", "lineage", "--dataset-name", "squashed", "--dataset-id", fifth["id"], "--json")
    traced = json.loads(next(line for line in output.splitlines() if line.startswith('{"dataset_id"')))["sessions"]
    assert {name: origin["dataset_id"] for name, origin in traced.items()} == {
        f"{day}.csv": item["id"] for day, item in zip(days, [*adders, fifth], strict=True)
    }
    assert "event=trigger" not in sync.log() and "Traceback" not in sync.log()
    # the UI (in-process, over this server): a squash's page names the version it replaced; the timeline has a row per
    # session, none for a squash (it adds no session and is never trained)
    env = clients.server.client_env
    settings = UiSettings(
        api_host=env["CLEARML_API_HOST"],
        access_key=env["CLEARML_API_ACCESS_KEY"],
        secret_key=env["CLEARML_API_SECRET_KEY"],
    )
    reader = Reader(settings.api_host, settings.access_key, settings.secret_key, service_urls={})
    with TestClient(create_app(settings, reader)) as ui:
        page = ui.get(f"/datasets/{root['id']}")
        assert page.status_code == 200 and "squash of" in page.text and fourth["id"] in page.text
        timeline = ui.get("/")
        assert timeline.status_code == 200 and "(no session named)" not in timeline.text
        assert all(f"{day}.csv" in timeline.text for day in days[9:])
