"""clearml's TriggerScheduler against occuloop server: one clone per new Production version."""

from __future__ import annotations

import shutil

from tests.support.clients import FLOWS, Clients


def test_dataset_trigger_enqueues_a_clone_with_the_dataset_id(clients: Clients) -> None:
    shutil.copy(FLOWS / "trainee.py", clients.workdir / "trainee.py")  # Task.create stores the script's code
    clients.api.ok("queues.create", {"name": "trigger-queue"})
    result = clients.flow("trigger_flow", "trig", "trigger-queue")
    assert result["fired_before"] is False and result["fired"] is True
    assert len(result["clones"]) == 1
    clone = result["clones"][0]
    assert clone["dataset_id"] == result["version"] and "retrain" in clone["tags"]
    queue = clients.api.ok("queues.get_all", {"name": "^trigger-queue$"})["queues"][0]
    assert [entry["task"] for entry in queue["entries"]] == [clone["id"]]
    assert clients.api.task(clone["id"])["parent"] == result["template"]
