"""Metadata of models and queues: stored as `{key: {key, type, value}}`, sent as a list of items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..calls import Call, Handler
from ..documents import Doc
from ..store import DocumentTable, Session
from ..wire import metadata_items

Lookup = Callable[[Session, str], Doc]


def handlers(table: Callable[[Session], DocumentTable], id_field: str, lookup: Lookup) -> dict[str, Handler]:
    """`add_or_update_metadata` and `delete_metadata` for one collection (`id_field` names the object)."""

    def change(call: Call, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        with call.store.write() as tx:
            doc = lookup(tx, call.body.required_string(id_field))
            doc["metadata"] = edit(dict(doc.get("metadata") or {}))
            doc["last_update"] = call.stamp()
            table(tx).put(doc)
        return {"updated": 1}

    def add_or_update(call: Call) -> dict[str, Any]:
        items = metadata_items("metadata", call.body.array("metadata", required=True))
        replace = call.body.boolean("replace_metadata")
        return change(call, lambda current: items if replace else {**current, **items})

    def delete(call: Call) -> dict[str, Any]:
        keys = set(call.body.strings("keys", required=True) or [])
        return change(call, lambda current: {key: value for key, value in current.items() if key not in keys})

    return {"add_or_update_metadata": add_or_update, "delete_metadata": delete}
