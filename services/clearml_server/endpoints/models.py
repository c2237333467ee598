"""`models.*` — the model registry.

A model starts with the placeholder uri `file:///uploading_file` and `ready: false`; `OutputModel.update_weights`
sets the real uri and `publish()` calls `set_ready`. clearml-serving's auto-update queries models ordered by
`-created`, which is why `created` never changes after creation.
"""

from __future__ import annotations

import copy
from typing import Any

from ..calls import Call, Handler, for_each, model_or_fail, project_or_fail, task_or_fail
from ..documents import ARCHIVED_TAG, Doc, new_id, with_tag
from ..queries import CollectionSpec, compile_query
from ..store import Session
from ..wire import VALIDATION_ERROR, Body, fail, metadata_items, require_shape
from . import metadata
from .listing import get_all_reply, in_projects, target_project
from .task_status import check_transition, set_status

MODEL_SPEC = CollectionSpec(
    fields=frozenset(
        {
            "id",
            "name",
            "uri",
            "framework",
            "ready",
            "project",
            "task",
            "parent",
            "comment",
            "tags",
            "system_tags",
            "user",
            "company",
            "created",
            "last_update",
            "metadata",
            "labels",
            "design",
        }
    ),
    text_fields=frozenset({"name", "comment", "uri"}),
    datetime_fields=frozenset({"created", "last_update"}),
    search_text_fields=("id", "name", "comment"),
)

# request field -> expected JSON type, for the fields create/edit/update may set
_FIELD_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "a string"),
    "uri": (str, "a string"),
    "comment": (str, "a string"),
    "framework": (str, "a string"),
    "project": (str, "a string"),
    "parent": (str, "a string"),
    "task": (str, "a string"),
    "design": (dict, "an object"),
    "labels": (dict, "an object"),
    "ready": (bool, "a boolean"),
    "tags": (list, "an array of strings"),
    "system_tags": (list, "an array of strings"),
}


def _model_fields(body: Body, allowed: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in allowed:
        value = body.data.get(key)
        if value is None:
            continue
        expected, what = _FIELD_TYPES[key]
        require_shape(key, value, expected, what)
        if key in ("tags", "system_tags"):
            for item in value:
                require_shape(key, item, str, what)
        fields[key] = copy.deepcopy(value)
    return fields


def _check_references(session: Session, fields: dict[str, Any]) -> None:
    if fields.get("project"):
        project_or_fail(session, fields["project"])
    if fields.get("task"):
        task_or_fail(session, fields["task"])


EDITABLE = (
    "name",
    "uri",
    "comment",
    "framework",
    "project",
    "parent",
    "task",
    "design",
    "labels",
    "tags",
    "system_tags",
)


def create(call: Call) -> dict[str, Any]:
    fields = _model_fields(call.body, (*EDITABLE, "ready"))
    for required in ("name", "uri"):
        if not fields.get(required):
            fail(VALIDATION_ERROR, f"missing required field '{required}'")
    metadata = metadata_items("metadata", call.body.data["metadata"]) if "metadata" in call.body else {}
    stamp = call.stamp()
    doc: Doc = {
        "id": new_id(),
        "user": call.identity.user_id,
        "company": call.identity.company_id,
        "created": stamp,
        "last_update": stamp,
        "ready": False,
        "tags": [],
        "system_tags": [],
        "comment": "",
        "framework": None,
        "design": {},
        "labels": {},
        "project": None,
        "task": None,
        "parent": None,
        "metadata": metadata,
        **fields,
    }
    with call.store.write() as tx:
        _check_references(tx, fields)
        tx.models.put(doc)
    return {"id": doc["id"], "created": True}


def _modify(call: Call, fields: dict[str, Any], *, model_id: str | None = None) -> dict[str, Any]:
    model_id = model_id or call.body.required_string("model")
    with call.store.write() as tx:
        doc = model_or_fail(tx, model_id)
        _check_references(tx, fields)
        doc.update(fields)
        doc["last_update"] = call.stamp()
        tx.models.put(doc)
    return {"updated": 1, "fields": fields}


def edit(call: Call) -> dict[str, Any]:
    return _modify(call, _model_fields(call.body, EDITABLE))


def update(call: Call) -> dict[str, Any]:
    fields = _model_fields(call.body, ("name", "comment", "project", "tags", "system_tags", "ready"))
    if call.body.string("created"):
        fields["created"] = call.body.string("created")
    return _modify(call, fields)


def get_by_id(call: Call) -> dict[str, Any]:
    return {"model": model_or_fail(call.store.read(), call.body.required_string("model"))}


def get_all(call: Call) -> dict[str, Any]:
    return get_all_reply(call, call.store.read().models, compile_query(call.body.data, MODEL_SPEC), "models")


def get_by_task_id(call: Call) -> dict[str, Any]:
    session = call.store.read()
    task = task_or_fail(session, call.body.required_string("task"))
    outputs = (task.get("models") or {}).get("output") or []
    candidates = session.models.get_many([item["model"] for item in outputs if item.get("model")])
    if not candidates:
        candidates = session.models.where("task", [task["id"]])
    if not candidates:
        fail(VALIDATION_ERROR, f"task {task['id']} has no output model")
    return {"model": candidates[-1]}


def _publish(call: Call, tx: Session, model_id: str, publish_task: bool, force_task: bool) -> dict[str, Any]:
    doc = model_or_fail(tx, model_id)
    doc["ready"] = True
    doc["last_update"] = call.stamp()
    tx.models.put(doc)
    reply: dict[str, Any] = {"updated": 1}
    task = tx.tasks.get(doc.get("task") or "") if publish_task else None
    if task is not None and task.get("status") != "published":
        check_transition(task, "publish", force_task)
        set_status(task, "published", call, tx)
        task["last_update"] = task["last_change"] = call.stamp()
        tx.tasks.put(task)
        reply["published_task"] = {"id": task["id"], "data": {"updated": 1, "fields": {"status": "published"}}}
    return reply


def set_ready(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        return _publish(
            call,
            tx,
            call.body.required_string("model"),
            call.body.boolean("publish_task", default=True),
            call.body.boolean("force_publish_task"),
        )


def publish_many(call: Call) -> dict[str, Any]:
    def action(model_id: str) -> dict[str, Any]:
        with call.store.write() as tx:
            return _publish(
                call,
                tx,
                model_id,
                call.body.boolean("publish_task", default=True),
                call.body.boolean("force_publish_task"),
            )

    return for_each(call.body.strings("ids", required=True) or [], action)


def _set_archived(call: Call, archived: bool) -> dict[str, Any]:
    def action(model_id: str) -> dict[str, Any]:
        with call.store.write() as tx:
            doc = model_or_fail(tx, model_id)
            doc["system_tags"] = with_tag(doc.get("system_tags") or [], ARCHIVED_TAG, archived)
            doc["last_update"] = call.stamp()
            tx.models.put(doc)
        return {"archived" if archived else "unarchived": True}

    return for_each(call.body.strings("ids", required=True) or [], action)


def archive_many(call: Call) -> dict[str, Any]:
    return _set_archived(call, True)


def unarchive_many(call: Call) -> dict[str, Any]:
    return _set_archived(call, False)


def _delete_one(tx: Session, model_id: str, force: bool) -> dict[str, Any]:
    doc = model_or_fail(tx, model_id)
    users = [
        task["id"]
        for task in tx.tasks.all()
        if any(item.get("model") == model_id for item in (task.get("models") or {}).get("input") or [])
    ]
    if users and not force:
        fail(VALIDATION_ERROR, f"model {model_id} is an input of tasks {users} (send force=true to delete it)")
    tx.models.delete(model_id)
    return {"deleted": True, "url": doc.get("uri")}


def delete(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        return _delete_one(tx, call.body.required_string("model"), call.body.boolean("force"))


def delete_many(call: Call) -> dict[str, Any]:
    def action(model_id: str) -> dict[str, Any]:
        with call.store.write() as tx:
            return _delete_one(tx, model_id, call.body.boolean("force"))

    return for_each(call.body.strings("ids", required=True) or [], action)


def update_for_task(call: Call) -> dict[str, Any]:
    """Create or update the output model of a task (the legacy one-call path of older SDKs)."""
    task_id = call.body.required_string("task")
    uri = call.body.string("uri")
    override = call.body.string("override_model_id")
    if bool(uri) == bool(override):
        fail(VALIDATION_ERROR, "exactly one of 'uri' or 'override_model_id' is required")
    fields = _model_fields(call.body, ("name", "comment", "tags", "system_tags"))
    stamp = call.stamp()
    with call.store.write() as tx:
        task = task_or_fail(tx, task_id)
        created = False
        if override:
            doc = model_or_fail(tx, override)
        else:
            created = True
            doc = {
                "id": new_id(),
                "name": task.get("name"),
                "uri": uri,
                "task": task_id,
                "project": task.get("project"),
                "ready": False,
                "user": call.identity.user_id,
                "company": call.identity.company_id,
                "created": stamp,
                "tags": [],
                "system_tags": [],
                "metadata": {},
            }
        doc.update(fields)
        doc["last_update"] = stamp
        tx.models.put(doc)
        models = task.setdefault("models", {"input": [], "output": []})
        name = doc.get("name") or "output"
        models["output"] = [item for item in models.get("output") or [] if item.get("name") != name]
        models["output"].append({"name": name, "model": doc["id"]})
        task["last_update"] = task["last_change"] = stamp
        tx.tasks.put(task)
    return {"id": doc["id"], "created": created, "updated": 0 if created else 1, "fields": fields}


def move(call: Call) -> dict[str, Any]:
    ids = call.body.strings("ids", required=True) or []
    with call.store.write() as tx:
        project_id = target_project(call, tx)
        for model_id in ids:
            doc = model_or_fail(tx, model_id)
            doc["project"] = project_id
            doc["last_update"] = call.stamp()
            tx.models.put(doc)
    return {"project_id": project_id}


def get_frameworks(call: Call) -> dict[str, Any]:
    docs = in_projects(call.store.read().models, call.body.strings("projects"))
    return {"frameworks": sorted({doc["framework"] for doc in docs if doc.get("framework")})}


def make_public(call: Call) -> dict[str, Any]:
    return {"updated": 0}  # one company: nothing is private


HANDLERS: dict[str, Handler] = {
    "create": create,
    "edit": edit,
    "update": update,
    "get_by_id": get_by_id,
    "get_all": get_all,
    "get_all_ex": get_all,
    "get_by_task_id": get_by_task_id,
    "set_ready": set_ready,
    "publish_many": publish_many,
    "archive_many": archive_many,
    "unarchive_many": unarchive_many,
    "delete": delete,
    "delete_many": delete_many,
    **metadata.handlers(lambda session: session.models, "model", model_or_fail),
    "update_for_task": update_for_task,
    "move": move,
    "get_frameworks": get_frameworks,
    "make_public": make_public,
    "make_private": make_public,
}
