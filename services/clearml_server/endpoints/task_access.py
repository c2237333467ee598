"""Read-modify-write of one task inside the write transaction, with the rules every task write shares.

- `last_update` and `last_change` are bumped on every write (the TriggerScheduler's watermark depends on it);
- a published task is read-only unless the call says `force: true`, as on the real server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..calls import Call, task_or_fail
from ..documents import Doc
from ..store import Session
from ..wire import INVALID_TASK_STATUS, fail


def touch(doc: Doc, stamp: str) -> None:
    doc["last_update"] = stamp
    doc["last_change"] = stamp


def guard_published(doc: Doc, force: bool) -> None:
    if doc.get("status") == "published" and not force:
        fail(INVALID_TASK_STATUS, f"task {doc['id']} is published and read-only (send force=true to change it)")


Mutation = Callable[[Doc, Session], dict[str, Any]]


def modify_task(call: Call, mutate: Mutation, *, task_id: str | None = None, guard: bool = True) -> dict[str, Any]:
    """Apply `mutate` to the task named by the body's `task` field and store it; returns what `mutate` returns."""
    task_id = task_id or call.body.required_string("task")
    force = call.body.boolean("force")
    with call.store.write() as tx:
        doc = task_or_fail(tx, task_id)
        if guard:
            guard_published(doc, force)
        result = mutate(doc, tx)
        touch(doc, call.stamp())
        tx.tasks.put(doc)
    return result
