"""occuloop trigger against occuloop server with the real SDK: the push path, tag rules, dataset names created
after start, a missing queue, the template created on first start."""

from __future__ import annotations

import time

from services.trigger.scheduler import PROCESS_TAG
from tests.support.clients import Clients
from tests.support.trigger import TriggerProcess, runs, runs_per_dataset


def publish(clients: Clients, project: str, names: str, count: int = 1, tags: str = "Production") -> list[str]:
    result = clients.flow("publish_versions", project, names, str(count), "0", "1", tags)
    return [item["id"] for item in result["versions"]]


def run_for(clients: Clients, dataset_id: str) -> dict[str, object] | None:
    matching = [run for run in runs(clients) if run["dataset"] == dataset_id and run["status"] == "queued"]
    return matching[0] if matching else None


def ensure_queue(clients: Clients, name: str) -> None:
    if not clients.api.ok("queues.get_all", {"name": f"^{name}$"})["queues"]:
        clients.api.ok("queues.create", {"name": name})


def test_push_tags_and_names_created_after_start(clients: Clients) -> None:
    ensure_queue(clients, "training")
    trigger = TriggerProcess(clients, project="push").start()  # nothing under the project yet (ClearML C6)
    try:
        template_id = trigger.status()["template_task_id"]
        template = clients.api.task(template_id)
        assert template["tags"] == ["template"] and template["type"] == "training"
        assert template["hyperparams"]["General"]["dataset_id"]["value"] == ""

        [first] = publish(clients, "push", "alpha")
        assert trigger.notify(first) == 202
        run = clients.api.wait_for("the first run", lambda: run_for(clients, first), timeout=30, interval=0.2)
        assert run["parameter"] == first
        cloned = clients.api.task(str(run["id"]))
        assert cloned["parent"] == template_id and "template" not in cloned["tags"]

        [untagged] = publish(clients, "push", "alpha", tags="")
        # a squashed root (services/dataset_history.py): its predecessor's content, never trained again
        [squashed] = publish(clients, "push", "alpha", tags="squashed")
        [other_name] = publish(clients, "push", "beta")  # a dataset name that did not exist at start
        clients.api.wait_for("the new name's run", lambda: run_for(clients, other_name), timeout=30, interval=0.2)
        time.sleep(2.5)  # two more polls
        assert runs_per_dataset(clients)[untagged] == 0 and runs_per_dataset(clients)[squashed] == 0

        clients.api.ok("tasks.edit", {"task": untagged, "tags": ["Production"], "force": True})  # approved later
        clients.api.wait_for("the run of the late tag", lambda: run_for(clients, untagged), timeout=30, interval=0.2)
        time.sleep(2.5)
        counts = runs_per_dataset(clients)
        assert [counts[first], counts[untagged], counts[other_name]] == [1, 1, 1]
        fired = {str(item["id"]) for item in runs(clients) if item["dataset"] in (first, untagged, other_name)}
        scheduler_task = str(trigger.status()["scheduler_task_id"])

        def executed_table() -> str:  # the stock "Triggers Executed" table, every run in it (reported async)
            plots = clients.api.ok("events.get_task_plots", {"task": scheduler_task, "iters": 1})["plots"]
            text = "".join(str(plot["plot_str"]) for plot in plots if plot["metric"] == "Triggers Executed")
            return text if all(run_id in text for run_id in fired) else ""

        assert clients.api.wait_for("the executed-triggers table", executed_table, timeout=30)
        assert trigger.stop() == 0
    finally:
        if trigger.child and trigger.child.alive():
            trigger.kill()
    log = trigger.log()
    assert f"event=trigger_fired dataset_id={first} dataset=alpha version=1.0.0" in log
    assert "event=trigger_notified" in log and "Traceback" not in log


def test_a_missing_queue_is_retried_and_nothing_is_marked_done_early(clients: Clients) -> None:
    trigger = TriggerProcess(clients, name="trigger-q", project="queueless", queue="later").start()
    try:
        [version] = publish(clients, "queueless", "gamma")
        trigger.notify(version)
        clients.api.wait_for(
            "the enqueue failure", lambda: "queue 'later' does not exist" in trigger.log(), timeout=30, interval=0.2
        )
        assert [run["status"] for run in runs(clients) if run["dataset"] == version] == ["created"]
        clients.api.ok("queues.create", {"name": "later"})
        clients.api.wait_for("the retried enqueue", lambda: run_for(clients, version), timeout=60, interval=0.2)
        assert runs_per_dataset(clients)[version] == 1  # the clone of the failed attempt was enqueued, not a second
        assert trigger.stop() == 0
    finally:
        if trigger.child and trigger.child.alive():
            trigger.kill()


def test_a_draft_carrying_the_tag_never_triggers(clients: Clients) -> None:
    """The inherited-tag case: a writable copy of a Production version is tagged Production before it is final."""
    created = clients.api.ok(
        "tasks.create",
        {"name": "delta", "type": "data_processing", "project": _project(clients, "drafts/.datasets/delta")},
    )
    clients.api.ok("tasks.edit", {"task": created["id"], "tags": ["Production"], "system_tags": ["dataset"]})
    trigger = TriggerProcess(clients, name="trigger-d", project="drafts").start()
    try:
        time.sleep(3)
        assert runs_per_dataset(clients)[created["id"]] == 0
        assert trigger.stop() == 0
    finally:
        if trigger.child and trigger.child.alive():
            trigger.kill()


def _project(clients: Clients, name: str) -> str:
    return str(clients.api.ok("projects.create", {"name": name, "system_tags": ["hidden"]})["id"])


def test_coalescing_trains_the_newest_version_of_a_burst_once(clients: Clients) -> None:
    ensure_queue(clients, "training")
    # The window is the quiet time after the newest version, so it must outlast the gap between two versions of the
    # burst: each takes ~1 s to publish on an idle machine, and up to ~5 s was seen at a load average of 12.
    trigger = TriggerProcess(clients, name="trigger-c", project="burst", extra=["--coalesce-seconds", "12"]).start()
    try:
        burst = publish(clients, "burst", "delta", count=4)
        clients.api.wait_for("the burst's run", lambda: run_for(clients, burst[-1]), timeout=90, interval=0.2)
        [late] = publish(clients, "burst", "delta")
        clients.api.wait_for("the next run", lambda: run_for(clients, late), timeout=90, interval=0.2)
        time.sleep(2)
        counts = runs_per_dataset(clients)
        assert [counts[item] for item in [*burst, late]] == [0, 0, 0, 1, 1]
        assert trigger.stop() == 0
    finally:
        if trigger.child and trigger.child.alive():
            trigger.kill()
    assert trigger.log().count("event=trigger_skipped reason=coalesced") == 3


def test_restarts_continue_one_scheduler_task(clients: Clients) -> None:
    """Pod restarts must not litter the services project: every start continues the scheduler task."""
    ensure_queue(clients, "training")
    # A services project of its own: the session's other triggers keep their scheduler task in the default one,
    # and a restart rightly continues whichever of those is oldest there.
    services_project = "occuloop/services-restarts"
    env = {"OCCULOOP_SERVICES_PROJECT": services_project}
    seen = []
    for _ in range(3):
        trigger = TriggerProcess(clients, name="trigger-restarts", project="restarts", env=env).start()
        seen.append(trigger.status()["scheduler_task_id"])
        assert trigger.stop() == 0
    assert len(set(seen)) == 1, seen
    [project] = clients.api.ok("projects.get_all", {"name": f"^{services_project}$"})["projects"]
    query = {"project": [project["id"]], "tags": [PROCESS_TAG], "system_tags": ["-archived"], "only_fields": ["id"]}
    [task] = clients.api.ok("tasks.get_all", query)["tasks"]
    assert task["id"] == seen[0]
    assert clients.api.task(seen[0])["type"] == "service"
