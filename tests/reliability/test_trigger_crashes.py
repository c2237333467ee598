"""occuloop trigger under kill -9 and beside a second replica: exactly one training run per Production version,
each with the right dataset id, whatever moment the trigger died at."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.child_processes import inherited_environment, start_embedded_server, tail
from tests.support.clients import FLOWS, Clients, RawApi
from tests.support.service_process import free_port
from tests.support.trigger import TriggerProcess, runs


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    running = start_embedded_server(tmp_path_factory.mktemp("server"), env=inherited_environment(os.environ))
    clients = Clients(running, tmp_path_factory.mktemp("clients"))
    clients.api.ok("queues.create", {"name": "training"})
    yield clients
    assert running.child.stop() == 0, tail(running.child.log_path)


def start_publisher(clients: Clients, project: str, count: int, max_pause: float, seed: int) -> object:
    script = clients.workdir / "publish_versions.py"
    script.write_text((FLOWS / "publish_versions.py").read_text())
    return clients.spawn(
        f"publisher-{project}",
        [sys.executable, str(script), project, "one,two,three", str(count), str(max_pause), str(seed), "Production"],
    )


def published_ids(clients: Clients, project: str) -> set[str]:
    projects = clients.api.ok("projects.get_all", {"name": f"^{project}/\\.datasets/", "search_hidden": True})
    found = clients.api.ok(
        "tasks.get_all",
        {"project": [item["id"] for item in projects["projects"]], "status": ["completed"], "search_hidden": True},
    )
    return {task["id"] for task in found["tasks"]}


def assert_one_run_each(clients: Clients, project: str, expected: int) -> None:
    versions = published_ids(clients, project)
    assert len(versions) == expected
    mine = [run for run in runs(clients) if run["dataset"] in versions]
    assert sorted(run["dataset"] for run in mine) == sorted(versions), "a version has no run, or two"
    assert all(run["parameter"] == run["dataset"] for run in mine), "a run trains on the wrong version"
    assert all(run["status"] == "queued" for run in mine), [run["status"] for run in mine]


def test_thirty_versions_while_the_trigger_is_killed_and_restarted(clients: Clients) -> None:
    rng = random.Random(5)
    publisher = start_publisher(clients, "chaos", 30, 1.2, 7)
    trigger = TriggerProcess(clients, name="trigger-chaos", project="chaos")
    kills = 0
    while publisher.alive():  # type: ignore[attr-defined]
        trigger.start(wait=False)
        time.sleep(rng.uniform(0.3, 4.0))  # start-up, mid-step, between clone and enqueue, idle
        trigger.kill()
        kills += 1
        time.sleep(rng.uniform(0, 2.0))  # versions finalized while it is down
    assert publisher.process.wait() == 0, tail(publisher.log_path)  # type: ignore[attr-defined]
    trigger.start()  # catches up on everything finalized while it was down
    clients.api.wait_for(
        "a run for every version",
        lambda: sum(1 for run in runs(clients) if run["status"] == "queued") >= 30,
        timeout=120,
        interval=0.5,
    )
    time.sleep(3)  # a few more polls: nothing more may come
    assert trigger.stop() == 0
    assert kills >= 8
    assert_one_run_each(clients, "chaos", 30)
    assert "event=trigger_fired" in trigger.log()


def test_two_replicas_launch_one_run_per_version(clients: Clients) -> None:
    first = TriggerProcess(clients, name="replica-1", project="twins").start()
    second = TriggerProcess(clients, name="replica-2", project="twins").start()
    publisher = start_publisher(clients, "twins", 12, 0.5, 11)
    try:
        for _ in range(12):  # both hear of every version at the same moment, as two pods behind one Service
            time.sleep(0.4)
            first.notify("-")
            second.notify("-")
        assert publisher.process.wait(timeout=120) == 0  # type: ignore[attr-defined]
        clients.api.wait_for(
            "every version's run",
            lambda: (
                len(
                    {run["dataset"] for run in runs(clients) if run["status"] == "queued"}
                    & published_ids(clients, "twins")
                )
                == 12
            ),
            timeout=60,
            interval=0.5,
        )
        time.sleep(3)
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0)
    assert_one_run_each(clients, "twins", 12)
    fired = first.log().count("event=trigger_fired") + second.log().count("event=trigger_fired")
    assert fired == 12


def test_the_server_going_away_for_a_while_is_waited_out(tmp_path: Path) -> None:
    api_port, files_port = free_port(), free_port()
    env = inherited_environment(os.environ)
    server = start_embedded_server(tmp_path / "server", env=env, api_port=api_port, files_port=files_port)
    clients = Clients(server, tmp_path / "clients")
    clients.api.ok("queues.create", {"name": "training"})
    trigger = TriggerProcess(clients, name="trigger-outage", project="outage").start()
    try:
        [before] = [
            item["id"]
            for item in clients.flow("publish_versions", "outage", "one", "1", "0", "1", "Production")["versions"]
        ]
        clients.api.wait_for("the first run", lambda: before in {run["dataset"] for run in runs(clients)}, timeout=30)
        assert server.child.stop() == 0
        time.sleep(4)  # the trigger's polls fail meanwhile
        server = start_embedded_server(tmp_path / "server", env=env, api_port=api_port, files_port=files_port)
        clients.api = RawApi(server)
        [after] = [
            item["id"]
            for item in clients.flow("publish_versions", "outage", "one", "1", "0", "1", "Production")["versions"]
        ]
        clients.api.wait_for(
            "the run after the outage",
            lambda: after in {run["dataset"] for run in runs(clients) if run["status"] == "queued"},
            timeout=90,
        )
        launched = [run["dataset"] for run in runs(clients) if run["dataset"] in (before, after)]
        assert sorted(launched) == sorted([before, after])
        assert trigger.stop() == 0
    finally:
        if trigger.child and trigger.child.alive():
            trigger.kill()
        server.child.stop()
    # the SDK's own retries or the trigger's backoff bridged the outage; either way each version fired once
    assert trigger.log().count("event=trigger_fired") == 2
