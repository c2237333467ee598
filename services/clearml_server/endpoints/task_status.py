"""The task status machine: started, completed, failed, stopped, stop, close, publish, reset, enqueue, dequeue.

    created → queued → in_progress → completed | failed | stopped → published

Each transition lists the statuses it may start from; `force: true` (which the clients send liberally) skips the
check, except that nothing un-publishes a task. Leaving `queued` always removes the task's queue entries, so an
agent can never pull a task that is no longer waiting. Every transition stamps `status_changed`, `last_update`
and `last_change` and records `status_reason` / `status_message`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..calls import Call, Handler, for_each, queue_or_fail
from ..documents import Doc, get_path
from ..store import Session
from ..wire import INVALID_TASK_STATUS, VALIDATION_ERROR, Body, fail
from . import queues
from .task_access import modify_task
from .task_document import TASK_STATUSES


@dataclass(frozen=True)
class Transition:
    target: str
    allowed_from: frozenset[str]


TRANSITIONS: dict[str, Transition] = {
    "started": Transition("in_progress", frozenset({"created", "queued", "in_progress", "stopped"})),
    "completed": Transition("completed", frozenset({"in_progress", "stopped", "completed"})),
    "failed": Transition("failed", frozenset({"created", "queued", "in_progress", "stopped", "failed"})),
    "stopped": Transition("stopped", frozenset({"created", "queued", "in_progress", "stopped"})),
    "close": Transition("closed", frozenset({"in_progress", "stopped", "completed", "failed"})),
    "publish": Transition("published", frozenset({"completed", "stopped"})),
}
ENQUEUE_FROM = frozenset({"created", "stopped", "failed"})
STOPPING_MESSAGE = "stopping"  # agents and the SDK abort an in_progress task whose status_message says this


def set_status(doc: Doc, status: str, call: Call, tx: Session) -> None:
    if doc.get("status") == "queued" and status != "queued":
        tx.entries.remove(None, doc["id"])
    stamp = call.stamp()
    doc["status"] = status
    doc["status_changed"] = stamp
    doc["status_reason"] = call.body.string("status_reason", default="") or ""
    doc["status_message"] = call.body.string("status_message", default="") or ""
    if status == "in_progress" and not doc.get("started"):
        doc["started"] = stamp
    if status in ("completed", "failed", "stopped", "closed"):
        doc["completed"] = stamp
    if status == "published":
        doc["published"] = stamp


def check_transition(doc: Doc, name: str, force: bool) -> Transition:
    transition = TRANSITIONS[name]
    current = doc.get("status")
    if current == "published" and transition.target != "published":
        fail(INVALID_TASK_STATUS, f"task {doc['id']} is published; a published task cannot change status")
    if current not in transition.allowed_from and not force:
        fail(
            INVALID_TASK_STATUS,
            f"task {doc['id']} cannot go from '{current}' to '{transition.target}' (send force=true)",
        )
    return transition


def _publish_outputs(doc: Doc, tx: Session, stamp: str) -> None:
    for item in (doc.get("models") or {}).get("output") or []:
        model = tx.models.get(item.get("model", ""))
        if model is not None and not model.get("ready"):
            model["ready"] = True
            model["last_update"] = stamp
            tx.models.put(model)


def _status_handler(name: str) -> Handler:
    def handler(call: Call) -> dict[str, Any]:
        force = call.body.boolean("force")

        def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
            transition = check_transition(doc, name, force)
            set_status(doc, transition.target, call, tx)
            reply: dict[str, Any] = {"updated": 1, "fields": {"status": transition.target}}
            if name == "started":
                reply["started"] = 1
            if name == "publish" and call.body.boolean("publish_model", default=True):
                _publish_outputs(doc, tx, call.stamp())
            if name == "completed" and call.body.boolean("publish"):
                set_status(doc, "published", call, tx)
                _publish_outputs(doc, tx, call.stamp())
                reply["published"] = 1
            return reply

        return modify_task(call, mutate, guard=False)

    return handler


def stop(call: Call) -> dict[str, Any]:
    """A request to stop: a running task is asked to abort (its agent then reports `stopped`), others stop now."""
    force = call.body.boolean("force")

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        check_transition(doc, "stopped", force)
        if doc.get("status") == "in_progress" and not force:
            doc["status_message"] = STOPPING_MESSAGE
            doc["status_reason"] = call.body.string("status_reason", default="") or "stop requested"
            return {"updated": 1, "fields": {"status_message": STOPPING_MESSAGE}}
        set_status(doc, "stopped", call, tx)
        return {"updated": 1, "fields": {"status": "stopped"}}

    return modify_task(call, mutate, guard=False)


def reset(call: Call) -> dict[str, Any]:
    force = call.body.boolean("force")
    clear_all = call.body.boolean("clear_all")
    delete_models = call.body.boolean("delete_output_models", default=True)

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        if doc.get("status") == "published" and not force:
            fail(INVALID_TASK_STATUS, f"task {doc['id']} is published (send force=true to reset it)")
        dequeued = tx.entries.remove(None, doc["id"])
        deleted_models = _drop_output_models(doc, tx, delete_models)
        events = tx.events.delete_for_task(doc["id"])
        urls = [
            item["uri"]
            for item in get_path(doc, "execution.artifacts") or []
            if item.get("mode") != "input" and item.get("uri")
        ]
        execution = doc.get("execution") or {}
        execution.pop("queue", None)
        execution["artifacts"] = [item for item in execution.get("artifacts") or [] if item.get("mode") == "input"]
        doc["execution"] = {"artifacts": []} if clear_all else execution
        if clear_all:
            doc["script"] = {}
        doc["models"] = {"input": (doc.get("models") or {}).get("input") or [], "output": []}
        doc.update(last_metrics={}, last_iteration=0, started=None, completed=None, published=None, runtime={})
        doc["output"] = {key: value for key, value in (doc.get("output") or {}).items() if key == "destination"}
        set_status(doc, "created", call, tx)
        return {
            "updated": 1,
            "fields": {"status": "created"},
            "dequeued": {"removed": dequeued},
            "events": {"deleted": events},
            "deleted_models": deleted_models,
            "urls": {"model_urls": [], "event_urls": [], "artifact_urls": urls},
        }

    return modify_task(call, mutate, guard=False)


def _drop_output_models(doc: Doc, tx: Session, delete_models: bool) -> int:
    """Detach the task's output models; delete those that are unpublished, if asked."""
    deleted = 0
    for item in (doc.get("models") or {}).get("output") or []:
        model = tx.models.get(item.get("model", ""))
        if model is None:
            continue
        if delete_models and not model.get("ready"):
            tx.models.delete(model["id"])
            deleted += 1
    return deleted


def enqueue(call: Call) -> dict[str, Any]:
    queue_id = call.body.string("queue")
    queue_name = call.body.string("queue_name")
    if queue_id and queue_name:
        fail(VALIDATION_ERROR, "send either 'queue' or 'queue_name', not both")

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        if queue_id:
            queue = queue_or_fail(tx, queue_id)
        elif queue_name:
            queue = queues.ensure_queue(tx, queue_name, call)
        else:
            queue = queues.default_queue(tx)
        if doc.get("status") not in ENQUEUE_FROM:
            fail(
                INVALID_TASK_STATUS,
                f"task {doc['id']} is '{doc.get('status')}'; only {sorted(ENQUEUE_FROM)} tasks can be enqueued",
            )
        set_status(doc, "queued", call, tx)
        doc.setdefault("execution", {})["queue"] = queue["id"]
        tx.entries.append(queue["id"], doc["id"], call.stamp())
        return {
            "updated": 1,
            "queued": 1,
            "fields": {"status": "queued", "execution.queue": queue["id"]},
            "queue_watched": bool(call.server.workers.watching(queue["id"], call.now)),
        }

    return modify_task(call, mutate)


def dequeue(call: Call) -> dict[str, Any]:
    """Take a task off its queue. Agents call this on a task they already marked `in_progress`, with `new_status`."""
    new_status = call.body.enum("new_status", TASK_STATUSES)

    def mutate(doc: Doc, tx: Session) -> dict[str, Any]:
        removed = tx.entries.remove(None, doc["id"])
        target = new_status or ("created" if doc.get("status") == "queued" else None)
        if target:
            set_status(doc, target, call, tx)
        return {"updated": 1, "dequeued": removed, "fields": {"status": doc["status"]}}

    return modify_task(call, mutate)


def _many(single: Handler) -> Handler:
    """`tasks.X_many{ids: [...]}` as a loop over `tasks.X{task: id}` with the same options."""

    def handler(call: Call) -> dict[str, Any]:
        ids = call.body.strings("ids", required=True) or []

        def action(task_id: str) -> dict[str, Any]:
            return single(dataclasses.replace(call, body=Body({**call.body.data, "task": task_id})))

        return for_each(ids, action)

    return handler


HANDLERS: dict[str, Handler] = {name: _status_handler(name) for name in TRANSITIONS}
HANDLERS.update(
    {
        "stop": stop,
        "reset": reset,
        "enqueue": enqueue,
        "dequeue": dequeue,
        "stop_many": _many(stop),
        "reset_many": _many(reset),
        "enqueue_many": _many(enqueue),
        "dequeue_many": _many(dequeue),
        "publish_many": _many(HANDLERS["publish"]),
    }
)
