"""`queues.*` — execution queues.

`get_next_task` is the agents' hot path and must be an atomic pop: it runs inside one write transaction, so two
agents polling the same queue can never receive the same task. Entries whose task is gone or no longer `queued`
(stopped, reset, deleted meanwhile) are dropped on the way instead of being handed out.
"""

from __future__ import annotations

from typing import Any

from ..calls import Call, Handler, queue_or_fail, task_or_fail
from ..documents import Doc, new_id
from ..queries import CollectionSpec, compile_query
from ..store import Session
from ..wire import (
    INVALID_QUEUE_ID,
    QUEUE_EXISTS,
    QUEUE_NOT_EMPTY,
    VALIDATION_ERROR,
    fail,
    metadata_items,
)
from . import metadata
from .listing import get_all_reply

DEFAULT_QUEUE_NAME = "default"
DEFAULT_QUEUE_TAG = "default"  # agents started without --queue look for the queue carrying this system tag

QUEUE_SPEC = CollectionSpec(
    fields=frozenset({"id", "name", "user", "company", "created", "last_update", "tags", "system_tags", "metadata"}),
    datetime_fields=frozenset({"created", "last_update"}),
)


def _new_queue(session: Session, name: str, call: Call | None, stamp: str, **fields: Any) -> Doc:
    if session.queues.where("name", [name]):
        fail(QUEUE_EXISTS, f"name={name}")
    doc: Doc = {
        "id": new_id(),
        "name": name,
        "user": call.identity.user_id if call else "occuloop-server",
        "company": call.identity.company_id if call else "occuloop",
        "created": stamp,
        "last_update": stamp,
        "tags": [],
        "system_tags": [],
        "metadata": {},
    }
    doc.update({key: value for key, value in fields.items() if value is not None})
    session.queues.put(doc)
    return doc


def ensure_default_queue(session: Session, stamp: str) -> Doc:
    """Run at server start: the default queue the agent and `tasks.enqueue` fall back to."""
    existing = session.queues.where("name", [DEFAULT_QUEUE_NAME])
    if existing:
        return existing[0]
    return _new_queue(session, DEFAULT_QUEUE_NAME, None, stamp, system_tags=[DEFAULT_QUEUE_TAG])


def ensure_queue(session: Session, name: str, call: Call) -> Doc:
    existing = session.queues.where("name", [name])
    return existing[0] if existing else _new_queue(session, name, call, call.stamp())


def default_queue(session: Session) -> Doc:
    tagged = [doc for doc in session.queues.all() if DEFAULT_QUEUE_TAG in (doc.get("system_tags") or [])]
    if tagged:
        return tagged[0]
    named = session.queues.where("name", [DEFAULT_QUEUE_NAME])
    if not named:
        fail(INVALID_QUEUE_ID, "no default queue exists")
    return named[0]


def _with_entries(session: Session, doc: Doc) -> Doc:
    doc["entries"] = [{"task": entry.task, "added": entry.added} for entry in session.entries.in_queue(doc["id"])]
    return doc


def create(call: Call) -> dict[str, Any]:
    name = call.body.required_string("name")
    with call.store.write() as tx:
        doc = _new_queue(
            tx,
            name,
            call,
            call.stamp(),
            tags=call.body.strings("tags"),
            system_tags=call.body.strings("system_tags"),
            metadata=metadata_items("metadata", call.body.data["metadata"]) if "metadata" in call.body else None,
        )
    return {"id": doc["id"]}


def get_all(call: Call) -> dict[str, Any]:
    session = call.store.read()
    reply = get_all_reply(call, session.queues, compile_query(call.body.data, QUEUE_SPEC), "queues", by_project=False)
    only_fields = call.body.strings("only_fields")
    if not only_fields or "entries" in only_fields:
        reply["queues"] = [_with_entries(session, doc) for doc in reply["queues"]]
    return reply


def get_by_id(call: Call) -> dict[str, Any]:
    session = call.store.read()
    return {"queue": _with_entries(session, queue_or_fail(session, call.body.required_string("queue")))}


def get_default(call: Call) -> dict[str, Any]:
    doc = default_queue(call.store.read())
    return {"id": doc["id"], "name": doc["name"]}


def update(call: Call) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    name = call.body.string("name")
    for key in ("tags", "system_tags"):
        value = call.body.strings(key)
        if value is not None:
            fields[key] = value
    with call.store.write() as tx:
        doc = queue_or_fail(tx, call.body.required_string("queue"))
        if name and name != doc["name"]:
            if tx.queues.where("name", [name]):
                fail(QUEUE_EXISTS, f"name={name}")
            fields["name"] = name
        doc.update(fields)
        doc["last_update"] = call.stamp()
        tx.queues.put(doc)
    return {"updated": 1, "fields": fields}


def _requeue_as_created(tx: Session, task_ids: list[str], call: Call) -> None:
    for task_id in task_ids:
        task = tx.tasks.get(task_id)
        if task is not None and task.get("status") == "queued":
            task["status"] = "created"
            task["status_changed"] = task["last_update"] = task["last_change"] = call.stamp()
            task["status_reason"] = "removed from its queue"
            tx.tasks.put(task)


def delete(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        doc = queue_or_fail(tx, call.body.required_string("queue"))
        if tx.entries.count(doc["id"]) and not call.body.boolean("force"):
            fail(QUEUE_NOT_EMPTY, f"queue {doc['name']} has tasks (send force=true)")
        _requeue_as_created(tx, tx.entries.clear(doc["id"]), call)
        tx.queues.delete(doc["id"])
    return {"deleted": 1}


def get_next_task(call: Call) -> dict[str, Any]:
    """The atomic pop. `{}` when the queue is empty."""
    queue_id = call.body.required_string("queue")
    with call.store.write() as tx:
        queue_or_fail(tx, queue_id)
        while True:
            entry = tx.entries.pop_first(queue_id)
            if entry is None:
                return {}
            task = tx.tasks.get(entry.task)
            if task is not None and task.get("status") == "queued":
                break
    reply: dict[str, Any] = {"entry": {"task": entry.task, "added": entry.added}}
    if call.body.boolean("get_task_info"):
        reply["task_info"] = {"company": task.get("company"), "user": task.get("user")}
    return reply


def add_task(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        queue = queue_or_fail(tx, call.body.required_string("queue"))
        task = task_or_fail(tx, call.body.required_string("task"))
        if queue["id"] in tx.entries.queues_of(task["id"]):
            return {"added": 0}
        tx.entries.append(queue["id"], task["id"], call.stamp())
    return {"added": 1}


def remove_task(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        queue = queue_or_fail(tx, call.body.required_string("queue"))
        task_id = call.body.required_string("task")
        removed = tx.entries.remove(queue["id"], task_id)
        if removed and call.body.boolean("update_task_status"):
            _requeue_as_created(tx, [task_id], call)
    return {"removed": removed}


def _move(call: Call, where: str) -> dict[str, Any]:
    count = call.body.integer("count", default=1, minimum=1) or 1
    with call.store.write() as tx:
        queue = queue_or_fail(tx, call.body.required_string("queue"))
        task_id = call.body.required_string("task")
        entries = tx.entries.in_queue(queue["id"])
        tasks = [entry.task for entry in entries]
        if task_id not in tasks:
            fail(VALIDATION_ERROR, f"task {task_id} is not in queue {queue['name']}")
        index = tasks.index(task_id)
        if where == "front":
            target = 0
        elif where == "back":
            target = len(tasks) - 1
        else:
            target = max(0, min(len(tasks) - 1, index - count if where == "forward" else index + count))
        tasks.insert(target, tasks.pop(index))
        for position, moved in enumerate(tasks):
            tx.entries.set_position(queue["id"], moved, float(position))
    return {"position": target}


def get_num_entries(call: Call) -> dict[str, Any]:
    session = call.store.read()
    queue = queue_or_fail(session, call.body.required_string("queue"))
    return {"num": session.entries.count(queue["id"])}


def peek_task(call: Call) -> dict[str, Any]:
    session = call.store.read()
    entries = session.entries.in_queue(queue_or_fail(session, call.body.required_string("queue"))["id"])
    return {"task": entries[0].task if entries else None}


def clear_queue(call: Call) -> dict[str, Any]:
    with call.store.write() as tx:
        queue = queue_or_fail(tx, call.body.required_string("queue"))
        removed = tx.entries.clear(queue["id"])
        _requeue_as_created(tx, removed, call)
    return {"removed_tasks": removed}


def get_queue_metrics(call: Call) -> dict[str, Any]:
    return {"queues": []}  # no history is kept; current depth is in get_num_entries


HANDLERS: dict[str, Handler] = {
    "create": create,
    "get_all": get_all,
    "get_all_ex": get_all,
    "get_by_id": get_by_id,
    "get_default": get_default,
    "update": update,
    "delete": delete,
    "get_next_task": get_next_task,
    "add_task": add_task,
    "remove_task": remove_task,
    "move_task_forward": lambda call: _move(call, "forward"),
    "move_task_backward": lambda call: _move(call, "backward"),
    "move_task_to_front": lambda call: _move(call, "front"),
    "move_task_to_back": lambda call: _move(call, "back"),
    "get_num_entries": get_num_entries,
    "peek_task": peek_task,
    "clear_queue": clear_queue,
    "get_queue_metrics": get_queue_metrics,
    **metadata.handlers(lambda session: session.queues, "queue", queue_or_fail),
}
