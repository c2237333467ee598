"""tasks.*: documents, server-maintained fields, the status machine, clone, sections, queues."""

from __future__ import annotations

import pytest

from tests.clearml_server.conftest import InProcessApi


def test_create_fills_server_maintained_fields(api: InProcessApi) -> None:
    project = api.project("demo")
    task = api.get_task(api.task("train", project, system_tags=["development"], comment="c"))
    assert task["status"] == "created" and task["project"] == project
    assert task["created"] == task["last_update"] == task["status_changed"]
    assert task["system_tags"] == ["development"] and task["comment"] == "c"
    assert task["runtime"] == {} and task["last_metrics"] == {} and task["models"] == {"input": [], "output": []}


def test_create_requires_name_and_type_and_an_existing_project(api: InProcessApi) -> None:
    api.fails("tasks.create", {"type": "training"}, match="'name'")
    api.fails("tasks.create", {"name": "x"}, match="'type'")
    api.fails("tasks.create", {"name": "x", "type": "nonsense"}, match="'type'")
    api.fails("tasks.create", {"name": "x", "type": "training", "project": "missing"}, match="invalid project id")


def test_every_edit_bumps_last_update_strictly(api: InProcessApi) -> None:
    task_id = api.task()
    stamps = [api.get_task(task_id)["last_update"]]
    for n in range(5):
        api.ok("tasks.edit", {"task": task_id, "force": True, "comment": str(n)})
        stamps.append(api.get_task(task_id)["last_update"])
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


def test_edit_replaces_top_level_fields_and_validates_them(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.edit", {"task": task_id, "force": True, "runtime": {"a": 1}, "output_dest": "http://files"})
    api.ok("tasks.edit", {"task": task_id, "force": True, "runtime": {"b": 2}})
    task = api.get_task(task_id)
    assert task["runtime"] == {"b": 2} and task["output"]["destination"] == "http://files"
    api.fails("tasks.edit", {"task": task_id, "script": "not an object"}, match="'script'")
    api.fails("tasks.edit", {"task": task_id, "hyperparams": {"General": {"lr": 0.1}}}, match="hyperparams.General.lr")
    api.fails("tasks.edit", {"task": task_id, "tags": ["ok", 3]}, match="'tags'")
    api.fails("tasks.edit", {"task": "missing", "comment": "x"}, match="invalid task id")


def test_status_machine_happy_path_stamps_times(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.started", {"task": task_id})
    started = api.get_task(task_id)
    assert started["status"] == "in_progress" and started["started"]
    api.ok("tasks.completed", {"task": task_id, "status_reason": "done"})
    completed = api.get_task(task_id)
    assert completed["status"] == "completed" and completed["completed"] and completed["status_reason"] == "done"
    api.ok("tasks.publish", {"task": task_id})
    assert api.get_task(task_id)["status"] == "published"


@pytest.mark.parametrize(
    ("setup", "endpoint"),
    [
        ([], "tasks.completed"),
        ([], "tasks.publish"),
        (["tasks.started", "tasks.completed"], "tasks.started"),
        (["tasks.started", "tasks.failed"], "tasks.completed"),
    ],
)
def test_invalid_transitions_need_force(api: InProcessApi, setup: list[str], endpoint: str) -> None:
    task_id = api.task()
    for step in setup:
        api.ok(step, {"task": task_id})
    api.fails(endpoint, {"task": task_id}, match="invalid task status")
    api.ok(endpoint, {"task": task_id, "force": True})


def test_published_tasks_are_read_only_and_never_unpublished(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.completed", {"task": task_id, "force": True, "publish": True})
    assert api.get_task(task_id)["status"] == "published"
    api.fails("tasks.edit", {"task": task_id, "comment": "x"}, match="published")
    api.fails("tasks.started", {"task": task_id, "force": True}, match="published")
    api.fails("tasks.reset", {"task": task_id}, match="published")


def test_reset_clears_outputs_but_keeps_inputs(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.started", {"task": task_id})
    api.ok(
        "tasks.add_or_update_artifacts",
        {"task": task_id, "artifacts": [{"key": "in", "type": "str", "mode": "input"}, {"key": "out", "type": "str"}]},
    )
    api.ok(
        "events.add_batch",
        [{"type": "training_stats_scalar", "task": task_id, "metric": "m", "variant": "v", "value": 1.0, "iter": 3}],
    )
    api.ok("tasks.completed", {"task": task_id})
    result = api.ok("tasks.reset", {"task": task_id})
    task = api.get_task(task_id)
    assert task["status"] == "created" and result["events"]["deleted"] == 1
    assert [item["key"] for item in task["execution"]["artifacts"]] == ["in"]
    assert task["last_metrics"] == {} and task["last_iteration"] == 0 and task["started"] is None


def test_clone_deep_copies_definition_and_resets_outputs(api: InProcessApi) -> None:
    project = api.project()
    template = api.task("template", project, tags=["template"])
    api.ok(
        "tasks.edit",
        {
            "task": template,
            "hyperparams": {"General": {"dataset_id": {"section": "General", "name": "dataset_id", "value": "x"}}},
            "configuration": {"cfg": {"name": "cfg", "value": "{}", "type": "json"}},
            "script": {"entry_point": "train.py", "diff": "print(1)"},
        },
    )
    api.ok("tasks.add_or_update_artifacts", {"task": template, "artifacts": [{"key": "out", "type": "str"}]})
    api.ok("tasks.started", {"task": template})
    api.ok("tasks.completed", {"task": template})
    clone_id = api.ok("tasks.clone", {"task": template, "new_task_parent": template})["id"]
    clone = api.get_task(clone_id)
    assert clone["status"] == "created" and clone["parent"] == template and clone["project"] == project
    assert clone["hyperparams"]["General"]["dataset_id"]["value"] == "x"
    assert clone["script"]["entry_point"] == "train.py" and clone["tags"] == ["template"]
    assert clone["execution"]["artifacts"] == [] and clone["started"] is None
    api.ok(
        "tasks.edit_hyper_params",
        {"task": clone_id, "hyperparams": [{"section": "General", "name": "dataset_id", "value": "y"}]},
    )
    assert api.get_task(template)["hyperparams"]["General"]["dataset_id"]["value"] == "x"


def test_clone_overrides(api: InProcessApi) -> None:
    template = api.task("template")
    clone_id = api.ok(
        "tasks.clone",
        {"task": template, "new_task_name": "run", "new_task_tags": ["retrain"], "new_project_name": "elsewhere/sub"},
    )
    clone = api.get_task(clone_id["id"])
    projects = api.ok("projects.get_all", {"name": "^elsewhere/sub$"})["projects"]
    assert clone["name"] == "run" and clone["tags"] == ["retrain"] and clone["project"] == projects[0]["id"]


def test_hyper_params_merge_section_replace_and_delete(api: InProcessApi) -> None:
    task_id = api.task()

    def params() -> dict[str, dict[str, str]]:
        items = api.ok("tasks.get_hyper_params", {"tasks": [task_id]})["params"][0]["hyperparams"]
        result: dict[str, dict[str, str]] = {}
        for item in items:
            result.setdefault(item["section"], {})[item["name"]] = item["value"]
        return result

    api.ok(
        "tasks.edit_hyper_params",
        {
            "task": task_id,
            "hyperparams": [{"section": "A", "name": "x", "value": "1"}, {"section": "A", "name": "y", "value": "2"}],
        },
    )
    api.ok(
        "tasks.edit_hyper_params",
        {
            "task": task_id,
            "hyperparams": [{"section": "A", "name": "x", "value": "3"}, {"section": "B", "name": "z", "value": "4"}],
        },
    )
    assert params() == {"A": {"x": "3", "y": "2"}, "B": {"z": "4"}}
    api.ok(
        "tasks.edit_hyper_params",
        {
            "task": task_id,
            "replace_hyperparams": "section",
            "hyperparams": [{"section": "A", "name": "w", "value": "5"}],
        },
    )
    assert params() == {"A": {"w": "5"}, "B": {"z": "4"}}
    api.ok("tasks.delete_hyper_params", {"task": task_id, "hyperparams": [{"section": "B"}]})
    assert params() == {"A": {"w": "5"}}
    api.ok(
        "tasks.edit_hyper_params",
        {"task": task_id, "replace_hyperparams": "all", "hyperparams": [{"section": "C", "name": "c", "value": "6"}]},
    )
    assert params() == {"C": {"c": "6"}}
    api.fails(
        "tasks.edit_hyper_params",
        {"task": task_id, "replace_hyperparams": "some", "hyperparams": []},
        match="replace_hyperparams",
    )


def test_configuration_edit_get_names_delete(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok(
        "tasks.edit_configuration",
        {"task": task_id, "configuration": [{"name": "a", "value": "1"}, {"name": "empty", "value": ""}]},
    )
    assert api.ok("tasks.get_configuration_names", {"tasks": [task_id]})["configurations"] == {task_id: ["a"]}
    items = api.ok("tasks.get_configurations", {"tasks": [task_id], "names": ["a"]})["configurations"][0][
        "configuration"
    ]
    assert items == [{"name": "a", "value": "1"}]
    assert api.ok("tasks.delete_configuration", {"task": task_id, "configuration": ["a", "nope"]})["deleted"] == 1


def test_artifacts_upsert_by_key_and_mode_and_round_trip_hash(api: InProcessApi) -> None:
    task_id = api.task()
    first = {"key": "py_code_x", "type": "custom", "uri": "http://f/a.py", "hash": "h1", "type_data": {"preview": "p"}}
    api.ok("tasks.add_or_update_artifacts", {"task": task_id, "artifacts": [first, {**first, "mode": "input"}]})
    api.ok("tasks.add_or_update_artifacts", {"task": task_id, "artifacts": [{**first, "hash": "h2"}]})
    artifacts = api.get_task(task_id)["execution"]["artifacts"]
    assert [(item["mode"], item["hash"]) for item in artifacts] == [("output", "h2"), ("input", "h1")]
    api.ok("tasks.delete_artifacts", {"task": task_id, "artifacts": [{"key": "py_code_x", "mode": "input"}]})
    assert len(api.get_task(task_id)["execution"]["artifacts"]) == 1
    api.fails(
        "tasks.add_or_update_artifacts", {"task": task_id, "artifacts": [{"type": "x"}]}, match="artifacts\\[0\\].key"
    )


def test_model_links_are_upserted_by_name(api: InProcessApi) -> None:
    task_id = api.task()
    model_id = api.ok("models.create", {"name": "m", "uri": "file:///uploading_file"})["id"]
    for _ in range(2):
        api.ok("tasks.add_or_update_model", {"task": task_id, "name": "m", "model": model_id, "type": "output"})
    assert api.get_task(task_id)["models"]["output"] == [{"name": "m", "model": model_id}]
    api.ok("tasks.delete_models", {"task": task_id, "models": [{"name": "m", "type": "output"}]})
    assert api.get_task(task_id)["models"]["output"] == []


def test_enqueue_pop_is_fifo_and_pops_each_task_once(api: InProcessApi) -> None:
    queue = api.ok("queues.create", {"name": "training"})["id"]
    tasks = [api.task(f"t{n}") for n in range(3)]
    for task_id in tasks:
        result = api.ok("tasks.enqueue", {"task": task_id, "queue": queue})
        assert result["queued"] == 1
    assert api.get_task(tasks[0])["status"] == "queued" and api.get_task(tasks[0])["execution"]["queue"] == queue
    popped = [api.ok("queues.get_next_task", {"queue": queue})["entry"]["task"] for _ in range(3)]
    assert popped == tasks
    assert api.ok("queues.get_next_task", {"queue": queue}) == {}


def test_enqueue_by_name_creates_the_queue_and_default_queue_exists(api: InProcessApi) -> None:
    api.ok("tasks.enqueue", {"task": api.task(), "queue_name": "auto-made"})
    assert api.ok("queues.get_all", {"name": "^auto-made$"})["queues"][0]["entries"]
    default_task = api.task()
    api.ok("tasks.enqueue", {"task": default_task})
    default_id = api.ok("queues.get_default", {})["id"]
    assert api.get_task(default_task)["execution"]["queue"] == default_id


def test_tasks_that_left_the_queue_are_never_handed_out(api: InProcessApi) -> None:
    queue = api.ok("queues.get_default", {})["id"]
    stopped, deleted, live = api.task("stopped"), api.task("deleted"), api.task("live")
    for task_id in (stopped, deleted, live):
        api.ok("tasks.enqueue", {"task": task_id})
    api.ok("tasks.stop", {"task": stopped})
    api.ok("tasks.delete", {"task": deleted})
    assert api.ok("queues.get_next_task", {"queue": queue})["entry"]["task"] == live
    assert api.get_task(stopped)["status"] == "stopped"


def test_enqueue_only_from_created_stopped_failed(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.enqueue", {"task": task_id})
    api.fails("tasks.enqueue", {"task": task_id}, match="invalid task status")


def test_agent_style_dequeue_on_a_running_task(api: InProcessApi) -> None:
    task_id = api.task()
    queue = api.ok("queues.get_default", {})["id"]
    api.ok("tasks.enqueue", {"task": task_id})
    api.ok("queues.get_next_task", {"queue": queue})
    api.ok("tasks.started", {"task": task_id, "force": True, "status_message": "pulled by agent"})
    api.ok("tasks.dequeue", {"task": task_id, "new_status": "in_progress"})
    assert api.get_task(task_id)["status"] == "in_progress"


def test_stop_asks_a_running_task_to_abort(api: InProcessApi) -> None:
    task_id = api.task()
    api.ok("tasks.started", {"task": task_id})
    api.ok("tasks.stop", {"task": task_id})
    task = api.get_task(task_id)
    assert task["status"] == "in_progress" and task["status_message"] == "stopping"
    api.ok("tasks.stopped", {"task": task_id})
    assert api.get_task(task_id)["status"] == "stopped"


def test_many_endpoints_report_each_id(api: InProcessApi) -> None:
    good = api.task()
    result = api.ok("tasks.archive_many", {"ids": [good, "missing"]})
    assert [item["id"] for item in result["succeeded"]] == [good]
    assert result["failed"][0]["id"] == "missing"
    assert "archived" in api.get_task(good)["system_tags"]
    assert api.ok("tasks.get_all", {"system_tags": ["-archived"], "id": [good]})["tasks"] == []


def test_delete_requires_force_for_running_tasks_and_detaches_children(api: InProcessApi) -> None:
    parent = api.task("parent")
    child = api.ok("tasks.clone", {"task": parent, "new_task_parent": parent})["id"]
    api.ok("tasks.started", {"task": parent})
    api.fails("tasks.delete", {"task": parent}, match="in progress")
    assert api.ok("tasks.delete", {"task": parent, "force": True})["updated_children"] == 1
    assert api.get_task(child)["parent"] is None
    api.fails("tasks.get_by_id", {"task": parent}, match="invalid task id")


def test_get_all_dataset_version_lookup_as_the_sdk_sends_it(api: InProcessApi) -> None:
    parent = api.project("labels")
    hidden = api.ok("projects.create", {"name": "labels/.datasets/labeled", "system_tags": ["hidden", "dataset"]})["id"]
    version = api.task("labeled", hidden, type="data_processing", system_tags=["dataset"])
    api.ok("tasks.edit", {"task": version, "runtime": {}})
    assert parent
    rows = api.ok(
        "tasks.get_all",
        {
            "name": "^labeled$",
            "project": [hidden],
            "type": ["data_processing"],
            "system_tags": ["__$all", "dataset", "__$not", "archived"],
            "order_by": ["-last_update"],
            "page": 0,
            "page_size": 500,
            "only_fields": ["id", "name", "last_update", "system_tags", "runtime.version"],
            "search_hidden": True,
            "method": "get",
        },
    )["tasks"]
    assert [row["id"] for row in rows] == [version] and rows[0]["runtime"] == {}


def test_changed_since_reads_the_index_and_answers_as_a_full_scan_would(api: InProcessApi) -> None:
    """`last_update: ">=…"` narrows on the tasks' last_update index (the trigger reads only what changed); the
    filter itself still decides each row, so the answer is the same, bounds and other filters included."""
    project = api.project("changes")
    ids = [api.task(f"t{n}", project, tags=["retrain"]) for n in range(6)]
    stamps = [api.get_task(task_id)["last_update"] for task_id in ids]
    api.ok("tasks.edit", {"task": ids[1], "force": True, "comment": "touched"})  # an old task changed again

    def changed(*conditions: str, **more: object) -> list[str]:
        body = {"last_update": list(conditions), "only_fields": ["id"], "order_by": ["id"], **more}
        return [task["id"] for task in api.ok("tasks.get_all", body)["tasks"]]

    assert changed(f">={stamps[4]}") == sorted([ids[1], ids[4], ids[5]])
    assert changed(f">{stamps[4]}") == sorted([ids[1], ids[5]])
    assert changed(f">={stamps[2]}", f"<{stamps[5]}") == sorted([ids[2], ids[3], ids[4]])
    assert changed(f">={stamps[4]}", tags=["-retrain"]) == []
    assert changed(f">={stamps[0][:19]}+00:00") == sorted(ids)  # a bound in another ISO form
    assert changed(">=2999-01-01T00:00:00+00:00") == []
