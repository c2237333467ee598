"""`workers.*` — agents register, report every ~30 s and unregister; nothing here is persisted.

`workers.get_runtime_properties` is deliberately not implemented: the agent falls back on the 400 "endpoint is
not supported" (a 200 without data makes it fail on every poll, wire protocol doc §3).
"""

from __future__ import annotations

from typing import Any

from ..calls import Call, Handler
from ..workers import describe


def _common(call: Call) -> dict[str, Any]:
    return {"user_id": call.identity.user_id, "company_id": call.identity.company_id, "ip": None}


def register(call: Call) -> dict[str, Any]:
    call.server.workers.register(
        call.body.required_string("worker"),
        now=call.now,
        queues=call.body.strings("queues"),
        tags=call.body.strings("tags"),
        system_tags=call.body.strings("system_tags"),
        timeout_seconds=call.body.integer("timeout", minimum=0),
        **_common(call),
    )
    return {}


def unregister(call: Call) -> dict[str, Any]:
    call.server.workers.unregister(call.body.required_string("worker"))
    return {}


def status_report(call: Call) -> dict[str, Any]:
    queues = call.body.strings("queues")
    call.server.workers.report(
        call.body.required_string("worker"),
        task=call.body.string("task"),
        queue=call.body.string("queue"),
        now=call.now,
        queues=queues,
        tags=call.body.strings("tags"),
        **_common(call),
    )
    return {}


def get_all(call: Call) -> dict[str, Any]:
    states = call.server.workers.active(call.now, call.body.integer("last_seen", minimum=0))
    session = call.store.read()
    queue_ids = {queue for state in states for queue in [*state.queues, state.queue] if queue}
    task_ids = {state.task for state in states if state.task}
    queue_names = {doc["id"]: doc["name"] for doc in session.queues.get_many(queue_ids)}
    task_names = {doc["id"]: doc.get("name", "") for doc in session.tasks.get_many(task_ids)}
    return {"workers": [describe(state, queue_names, task_names, call.now) for state in states]}


HANDLERS: dict[str, Handler] = {
    "register": register,
    "unregister": unregister,
    "status_report": status_report,
    "get_all": get_all,
}
