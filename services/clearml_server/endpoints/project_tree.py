"""The project tree: names are full paths (`labels/.datasets/labeled`); a project's parents always exist."""

from __future__ import annotations

from typing import Any

from ..calls import Call
from ..documents import Doc, new_id
from ..store import Session
from ..wire import VALIDATION_ERROR, fail


def normalize_name(name: str) -> str:
    parts = name.strip().strip("/").split("/")
    if not name.strip() or any(not part.strip() for part in parts):
        fail(VALIDATION_ERROR, f"invalid project name '{name}' (empty path segment)")
    return "/".join(part.strip() for part in parts)


def parent_name(name: str) -> str | None:
    return name.rsplit("/", 1)[0] if "/" in name else None


def by_name(session: Session, name: str) -> Doc | None:
    found = session.projects.where("name", [name])
    return found[0] if found else None


def new_project(session: Session, name: str, call: Call, **fields: Any) -> Doc:
    parent = parent_name(name)
    parent_id = ensure_project(session, parent, call)[0] if parent else None
    stamp = call.stamp()
    doc: Doc = {
        "id": new_id(),
        "name": name,
        "basename": name.rsplit("/", 1)[-1],
        "parent": parent_id,
        "description": "",
        "user": call.identity.user_id,
        "company": call.identity.company_id,
        "created": stamp,
        "last_update": stamp,
        "tags": [],
        "system_tags": [],
        "default_output_destination": None,
    }
    doc.update({key: value for key, value in fields.items() if value is not None})
    session.projects.put(doc)
    return doc


def ensure_project(session: Session, name: str, call: Call) -> tuple[str, bool]:
    """The id of the project with this name, creating it (and its parents) if missing; and whether it was created."""
    name = normalize_name(name)
    existing = by_name(session, name)
    if existing is not None:
        return existing["id"], False
    return new_project(session, name, call)["id"], True
