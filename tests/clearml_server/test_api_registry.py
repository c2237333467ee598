"""projects.*, models.*, queues.*, workers.*."""

from __future__ import annotations

from tests.clearml_server.conftest import InProcessApi


def names(rows: list[dict[str, object]]) -> list[object]:
    return [row["name"] for row in rows]


def test_creating_a_nested_project_creates_its_parents(api: InProcessApi) -> None:
    api.ok("projects.create", {"name": "labels/.datasets/labeled", "system_tags": ["hidden", "dataset"]})
    assert names(api.ok("projects.get_all", {"name": "^labels"})["projects"]) == ["labels", "labels/.datasets"]
    everything = api.ok("projects.get_all", {"name": "^labels/\\.datasets/.*", "search_hidden": True})["projects"]
    assert names(everything) == ["labels/.datasets/labeled"]
    assert everything[0]["basename"] == "labeled"


def test_duplicate_and_malformed_project_names_are_rejected(api: InProcessApi) -> None:
    api.project("p")
    api.fails("projects.create", {"name": "p"}, match="already exists")
    api.fails("projects.create", {"name": "a//b"}, match="empty path segment")


def test_shallow_search_lists_top_level_projects(api: InProcessApi) -> None:
    api.project("a/b/c")
    assert names(api.ok("projects.get_all", {"shallow_search": True})["projects"]) == ["a"]


def test_rename_moves_sub_projects(api: InProcessApi) -> None:
    root = api.project("old")
    api.project("old/child")
    api.ok("projects.update", {"project": root, "name": "new"})
    assert names(api.ok("projects.get_all", {"order_by": ["name"]})["projects"]) == ["new", "new/child"]


def test_deleting_a_project_with_tasks_needs_force_or_delete_contents(api: InProcessApi) -> None:
    project = api.project("p")
    task_id = api.task(project=project)
    api.fails("projects.delete", {"project": project}, match="associated tasks")
    assert api.ok("projects.delete", {"project": project, "delete_contents": True})["deleted_tasks"] == 1
    api.fails("tasks.get_by_id", {"task": task_id})


def test_model_lifecycle_and_query_as_serving_auto_update_sends_it(api: InProcessApi) -> None:
    project = api.project("serving-demo")
    ids = []
    for n in range(3):
        model_id = api.ok(
            "models.create",
            {"name": "keras-clf", "uri": "file:///uploading_file", "project": project, "ready": False, "labels": {}},
        )["id"]
        api.ok(
            "models.edit",
            {"model": model_id, "uri": f"http://files/m{n}.keras", "tags": ["production"], "framework": "Keras"},
        )
        ids.append(model_id)
    api.ok("models.set_ready", {"model": ids[0], "publish_task": False})
    api.ok("models.set_ready", {"model": ids[2], "publish_task": False})
    rows = api.ok(
        "models.get_all",
        {
            "name": "^keras\\-clf$",
            "project": [project],
            "ready": True,
            "tags": ["production"],
            "system_tags": ["-archived"],
            "order_by": ["-created"],
            "page": 0,
            "page_size": 2,
            "only_fields": ["id", "created", "system_tags"],
        },
    )["models"]
    assert [row["id"] for row in rows] == [ids[2], ids[0]]
    api.ok("models.archive_many", {"ids": [ids[2]]})
    rows = api.ok("models.get_all", {"ready": True, "system_tags": ["-archived"]})["models"]
    assert [row["id"] for row in rows] == [ids[0]]


def test_model_metadata_and_set_ready_publishes_its_task(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.started", {"task": task_id})
    api.ok("tasks.completed", {"task": task_id})
    model_id = api.ok("models.create", {"name": "m", "uri": "http://f/m", "task": task_id})["id"]
    api.ok(
        "models.add_or_update_metadata",
        {"model": model_id, "metadata": [{"key": "dataset_id", "type": "str", "value": "d1"}]},
    )
    result = api.ok("models.set_ready", {"model": model_id})
    model = api.ok("models.get_by_id", {"model": model_id})["model"]
    assert model["ready"] is True and model["metadata"]["dataset_id"]["value"] == "d1"
    assert result["published_task"]["id"] == task_id and api.get_task(task_id)["status"] == "published"
    api.fails("models.create", {"name": "m"}, match="'uri'")
    api.fails("models.get_by_id", {"model": "missing"}, match="invalid model id")


def test_update_for_task_creates_and_links_an_output_model(api: InProcessApi) -> None:
    task_id = api.task("trainer")
    created = api.ok("models.update_for_task", {"task": task_id, "uri": "http://f/model.bin"})
    assert created["created"] is True
    assert api.get_task(task_id)["models"]["output"] == [{"name": "trainer", "model": created["id"]}]
    assert api.ok("models.get_by_task_id", {"task": task_id})["model"]["id"] == created["id"]


def test_queue_names_are_unique_and_lookups_by_name_fail_as_ids(api: InProcessApi) -> None:
    api.ok("queues.create", {"name": "training"})
    api.fails("queues.create", {"name": "training"}, match="already exists")
    api.fails("queues.get_by_id", {"queue": "default"}, match="invalid queue id")
    rows = api.ok("queues.get_all", {"name": "^default$", "only_fields": ["id"], "search_hidden": False})["queues"]
    assert len(rows) == 1 and set(rows[0]) == {"id"}


def test_queue_reordering_and_clear(api: InProcessApi) -> None:
    queue = api.ok("queues.create", {"name": "q"})["id"]
    tasks = [api.task(f"t{n}") for n in range(4)]
    for task_id in tasks:
        api.ok("tasks.enqueue", {"task": task_id, "queue": queue})
    api.ok("queues.move_task_to_front", {"queue": queue, "task": tasks[3]})
    api.ok("queues.move_task_backward", {"queue": queue, "task": tasks[3], "count": 1})
    entries = api.ok("queues.get_by_id", {"queue": queue})["queue"]["entries"]
    assert [entry["task"] for entry in entries] == [tasks[0], tasks[3], tasks[1], tasks[2]]
    assert api.ok("queues.get_num_entries", {"queue": queue})["num"] == 4
    assert api.ok("queues.peek_task", {"queue": queue})["task"] == tasks[0]
    api.fails("queues.delete", {"queue": queue}, match="has tasks")
    assert len(api.ok("queues.clear_queue", {"queue": queue})["removed_tasks"]) == 4
    assert api.get_task(tasks[0])["status"] == "created"


def test_workers_register_report_list_unregister(api: InProcessApi) -> None:
    queue = api.ok("queues.get_default", {})["id"]
    api.ok("workers.register", {"worker": "vm:cpu:0", "queues": [queue]})
    task_id = api.task("running")
    api.ok(
        "workers.status_report",
        {"worker": "vm:cpu:0", "task": task_id, "queues": [queue], "timestamp": 1, "machine_stats": None},
    )
    workers = api.ok("workers.get_all", {})["workers"]
    assert workers[0]["id"] == "vm:cpu:0" and workers[0]["task"]["name"] == "running"
    assert workers[0]["queues"][0]["name"] == "default"
    assert (
        api.ok("tasks.enqueue", {"task": api.task(), "queue": queue, "verify_watched_queue": True})["queue_watched"]
        is True
    )
    api.ok("workers.unregister", {"worker": "vm:cpu:0"})
    assert api.ok("workers.get_all", {})["workers"] == []


def test_queue_metadata_add_replace_delete(api: InProcessApi) -> None:
    queue = api.ok("queues.create", {"name": "meta", "metadata": [{"key": "gpu", "type": "str", "value": "none"}]})[
        "id"
    ]
    api.ok(
        "queues.add_or_update_metadata", {"queue": queue, "metadata": [{"key": "owner", "type": "str", "value": "ops"}]}
    )
    assert set(api.ok("queues.get_by_id", {"queue": queue})["queue"]["metadata"]) == {"gpu", "owner"}
    api.ok("queues.delete_metadata", {"queue": queue, "keys": ["gpu"]})
    assert set(api.ok("queues.get_by_id", {"queue": queue})["queue"]["metadata"]) == {"owner"}
    api.ok(
        "queues.add_or_update_metadata",
        {"queue": queue, "replace_metadata": True, "metadata": [{"key": "x", "value": 1}]},
    )
    assert api.ok("queues.get_by_id", {"queue": queue})["queue"]["metadata"] == {
        "x": {"key": "x", "type": None, "value": 1}
    }
    api.fails(
        "queues.add_or_update_metadata", {"queue": queue, "metadata": [{"value": 1}]}, match="metadata\\[0\\].key"
    )
