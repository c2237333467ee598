"""`tasks.*` — creating, reading, editing, cloning, moving, archiving and deleting tasks.

Status changes live in `task_status.py`; hyper-parameters, configuration, artifacts and model links in
`task_sections.py`.
"""

from __future__ import annotations

import copy
from typing import Any

from ..calls import Call, Handler, for_each, project_or_fail, task_or_fail
from ..documents import ARCHIVED_TAG, Doc, with_tag
from ..queries import CollectionSpec, compile_query
from ..store import Session
from ..wire import VALIDATION_ERROR, fail
from .listing import get_all_reply, in_projects, target_project
from .project_tree import ensure_project
from .task_access import guard_published, modify_task, touch
from .task_document import apply_fields, execution_value, model_item_list, new_task, writable_fields

TASK_SPEC = CollectionSpec(
    fields=frozenset(
        {
            "id",
            "name",
            "user",
            "company",
            "project",
            "parent",
            "status",
            "type",
            "tags",
            "system_tags",
            "comment",
            "created",
            "started",
            "completed",
            "published",
            "status_changed",
            "last_update",
            "last_change",
            "last_iteration",
            "last_metrics",
            "execution",
            "script",
            "hyperparams",
            "configuration",
            "runtime",
            "models",
            "container",
            "output",
            "status_reason",
            "status_message",
        }
    ),
    text_fields=frozenset({"name"}),
    datetime_fields=frozenset(
        {"created", "started", "completed", "published", "status_changed", "last_update", "last_change"}
    ),
    aliases={"task_types": "type"},
    search_text_fields=("id", "name", "comment"),
)


def get_all(call: Call) -> dict[str, Any]:
    return get_all_reply(call, call.store.read().tasks, compile_query(call.body.data, TASK_SPEC), "tasks")


def get_by_id(call: Call) -> dict[str, Any]:
    return {"task": task_or_fail(call.store.read(), call.body.required_string("task"))}


def _check_project(session: Session, fields: dict[str, Any]) -> None:
    if fields.get("project"):
        project_or_fail(session, fields["project"])


def create(call: Call) -> dict[str, Any]:
    body = call.body
    name = body.required_string("name")
    task_type = body.required_string("type")
    fields = writable_fields(body.data)
    with call.store.write() as tx:
        _check_project(tx, fields)
        doc = new_task(
            name=name,
            task_type=task_type,
            project=None,
            user=call.identity.user_id,
            company=call.identity.company_id,
            now=call.stamp(),
        )
        apply_fields(doc, fields)
        tx.tasks.put(doc)
    return {"id": doc["id"]}


def edit(call: Call) -> dict[str, Any]:
    fields = writable_fields(call.body.data)

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        _check_project(tx, fields)
        apply_fields(doc, fields)
        return {"updated": 1, "fields": fields}

    return modify_task(call, mutate)


def update(call: Call) -> dict[str, Any]:
    """The light-weight edit: name, comment, tags, project; allowed in any status."""
    allowed = {
        key: call.body.data[key] for key in ("name", "comment", "tags", "system_tags", "project") if key in call.body
    }
    fields = writable_fields(allowed)
    error = call.body.string("output__error")
    created = call.body.string("created")

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        _check_project(tx, fields)
        apply_fields(doc, fields)
        if error is not None:
            doc.setdefault("output", {})["error"] = error
        if created is not None:
            doc["created"] = created
        return {"updated": 1, "fields": fields}

    return modify_task(call, mutate, guard=False)


def clone(call: Call) -> dict[str, Any]:
    body = call.body
    source_id = body.required_string("task")
    overrides = writable_fields(
        {
            "name": body.data.get("new_task_name"),
            "comment": body.data.get("new_task_comment"),
            "tags": body.data.get("new_task_tags"),
            "system_tags": body.data.get("new_task_system_tags"),
            "hyperparams": body.data.get("new_task_hyperparams"),
            "configuration": body.data.get("new_task_configuration"),
            "container": body.data.get("new_task_container"),
            "parent": body.data.get("new_task_parent"),
            "project": body.data.get("new_task_project"),
        }
    )
    raw_overrides = body.mapping("execution_overrides")
    execution_overrides = execution_value("execution_overrides", raw_overrides) if raw_overrides else None
    input_models = body.array("new_task_input_models")
    new_project_name = body.string("new_project_name")
    new_project: dict[str, Any] | None = None
    with call.store.write() as tx:
        source = task_or_fail(tx, source_id)
        _check_project(tx, overrides)
        if "project" not in overrides and new_project_name:
            project_id, created = ensure_project(tx, new_project_name, call)
            overrides["project"] = project_id
            new_project = {"id": project_id, "name": new_project_name} if created else None
        doc = _cloned(source, call)
        if execution_overrides:
            doc["execution"].update(copy.deepcopy(execution_overrides))
        if input_models is not None:
            doc["models"]["input"] = model_item_list("new_task_input_models", input_models)
        apply_fields(doc, overrides)
        tx.tasks.put(doc)
    return {"id": doc["id"], "new_project": new_project}


def _cloned(source: Doc, call: Call) -> Doc:
    """A fresh `created` copy: inputs and definition kept, every output and status field reset."""
    stamp = call.stamp()
    doc = new_task(
        name=source.get("name") or "",
        task_type=source.get("type") or "training",
        project=source.get("project"),
        user=call.identity.user_id,
        company=call.identity.company_id,
        now=stamp,
    )
    for key in ("comment", "tags", "script", "hyperparams", "configuration", "container", "runtime", "input"):
        if source.get(key) is not None:
            doc[key] = copy.deepcopy(source[key])
    doc["parent"] = source.get("parent")
    execution = copy.deepcopy(source.get("execution") or {})
    execution.pop("queue", None)
    execution["artifacts"] = [item for item in execution.get("artifacts") or [] if item.get("mode") == "input"]
    doc["execution"] = execution
    doc["models"] = {"input": copy.deepcopy((source.get("models") or {}).get("input") or []), "output": []}
    doc["output"] = {key: value for key, value in (source.get("output") or {}).items() if key == "destination"}
    doc["system_tags"] = []  # "If not provided then empty"
    return doc


def ping(call: Call) -> dict[str, Any]:
    task_or_fail(call.store.read(), call.body.required_string("task"))
    return {}


def set_requirements(call: Call) -> dict[str, Any]:
    requirements = call.body.mapping("requirements", required=True)

    def mutate(doc: Doc, _: Session) -> dict[str, Any]:
        doc.setdefault("script", {})["requirements"] = requirements
        return {"updated": 1, "fields": {"script.requirements": requirements}}

    return modify_task(call, mutate)


def _set_archived(call: Call, ids: list[str], archived: bool) -> dict[str, Any]:
    def action(task_id: str) -> dict[str, Any]:
        with call.store.write() as tx:
            doc = task_or_fail(tx, task_id)
            doc["system_tags"] = with_tag(doc.get("system_tags") or [], ARCHIVED_TAG, archived)
            if archived and doc.get("status") == "queued":  # an archived task must not run
                tx.entries.remove(None, task_id)
                doc["status"] = "created"
                doc["status_changed"] = call.stamp()
            touch(doc, call.stamp())
            tx.tasks.put(doc)
        return {"archived" if archived else "unarchived": True}

    return for_each(ids, action)


def archive(call: Call) -> dict[str, Any]:
    result = _set_archived(call, call.body.strings("tasks", required=True) or [], True)
    return {"archived": len(result["succeeded"])}


def archive_many(call: Call) -> dict[str, Any]:
    return _set_archived(call, call.body.strings("ids", required=True) or [], True)


def unarchive_many(call: Call) -> dict[str, Any]:
    return _set_archived(call, call.body.strings("ids", required=True) or [], False)


def _delete_one(call: Call, tx: Session, task_id: str, *, force: bool, delete_models: bool) -> dict[str, Any]:
    doc = task_or_fail(tx, task_id)
    guard_published(doc, force)
    if doc.get("status") == "in_progress" and not force:
        fail(VALIDATION_ERROR, f"task {task_id} is in progress (send force=true to delete it)")
    tx.entries.remove(None, task_id)
    events = tx.events.delete_for_task(task_id)
    children = 0
    for child in tx.tasks.all():
        if child.get("parent") == task_id:
            child["parent"] = None
            tx.tasks.put(child)
            children += 1
    models_changed = 0
    for model in tx.models.where("task", [task_id]):
        if delete_models and not model.get("ready"):
            tx.models.delete(model["id"])
        else:
            model["task"] = None
            tx.models.put(model)
        models_changed += 1
    tx.tasks.delete(task_id)
    urls = [item["uri"] for item in (doc.get("execution") or {}).get("artifacts") or [] if item.get("uri")]
    return {
        "deleted": True,
        "updated_children": children,
        "updated_models": models_changed,
        "events": {"deleted": events},
        "urls": {"model_urls": [], "event_urls": [], "artifact_urls": urls},
    }


def delete(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        return _delete_one(
            call,
            tx,
            call.body.required_string("task"),
            force=call.body.boolean("force"),
            delete_models=call.body.boolean("delete_output_models", default=True),
        )


def delete_many(call: Call) -> dict[str, Any]:
    def action(task_id: str) -> dict[str, Any]:
        with call.store.write() as tx:
            return _delete_one(
                call,
                tx,
                task_id,
                force=call.body.boolean("force"),
                delete_models=call.body.boolean("delete_output_models", default=True),
            )

    return for_each(call.body.strings("ids", required=True) or [], action)


def move(call: Call) -> dict[str, Any]:
    ids = call.body.strings("ids", required=True) or []
    with call.store.write() as tx:
        project_id = target_project(call, tx)
        for task_id in ids:
            doc = task_or_fail(tx, task_id)
            doc["project"] = project_id
            touch(doc, call.stamp())
            tx.tasks.put(doc)
    return {"project_id": project_id}


def get_types(call: Call) -> dict[str, Any]:
    tasks = in_projects(call.store.read().tasks, call.body.strings("projects"))
    return {"types": sorted({doc["type"] for doc in tasks if doc.get("type")})}


def validate(call: Call) -> dict[str, Any]:
    writable_fields(call.body.data)
    return {}


def share(call: Call) -> dict[str, Any]:
    return {"changed": 0}  # one company: every task is already visible to every user


HANDLERS: dict[str, Handler] = {
    "get_all": get_all,
    "get_all_ex": get_all,
    "get_by_id": get_by_id,
    "create": create,
    "edit": edit,
    "update": update,
    "clone": clone,
    "ping": ping,
    "set_requirements": set_requirements,
    "archive": archive,
    "archive_many": archive_many,
    "unarchive_many": unarchive_many,
    "delete": delete,
    "delete_many": delete_many,
    "move": move,
    "get_types": get_types,
    "validate": validate,
    "share": share,
}
