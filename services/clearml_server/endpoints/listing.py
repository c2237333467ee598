"""Plumbing shared by the collections' list and move endpoints: narrow candidates in SQL, run queries, page
replies, resolve a target project."""

from __future__ import annotations

from typing import Any

from ..calls import Call, project_or_fail
from ..documents import Doc
from ..queries import Query
from ..store import DocumentTable, Session
from ..wire import VALIDATION_ERROR, fail
from .project_tree import ensure_project


def find(table: DocumentTable, query: Query, *, by_project: bool = True) -> list[Doc]:
    """The reply rows of `query`. Only the listed ids or projects are loaded when the query names them; when
    the filters and the order read only summarized fields, they run on the summaries (of the rows changed since
    the query's `last_update` bound, when it has one) and only the rows of the reply are decoded in full."""
    narrowed = by_project and query.projects is not None
    if query.ids is not None:
        return query.run(table.get_many(query.ids))
    if table.summary_fields and query.fields_used <= table.summary_fields:
        changed = table.summaries_changed_since(query.changed_since) if query.changed_since else None
        if changed is not None:  # "what changed since": an index range, usually a few rows
            summaries = changed
        else:
            summaries = table.summaries("project", query.projects or ()) if narrowed else table.summaries()
        chosen = [row["id"] for row in query.select(summaries)]
        return query.project(table.get_many(chosen))
    return query.run(table.where("project", query.projects or ()) if narrowed else table.all())


def get_all_reply(
    call: Call, table: DocumentTable, query: Query, key: str, *, by_project: bool = True
) -> dict[str, Any]:
    rows = find(table, query, by_project=by_project)
    reply: dict[str, Any] = {key: rows}
    if "size" in call.body:  # get_all_ex scrolling
        reply["scroll_id"] = str(query.offset + len(rows))
    return reply


def in_projects(table: DocumentTable, project_ids: list[str] | None) -> list[Doc]:
    """Every document of the table, or only those in the listed projects."""
    return table.where("project", project_ids) if project_ids else table.all()


def target_project(call: Call, tx: Session) -> str:
    """The project a `move` names by `project` (id) or `project_name` (created if missing)."""
    project_id = call.body.string("project")
    project_name = call.body.string("project_name")
    if project_id:
        return str(project_or_fail(tx, project_id)["id"])
    if project_name:
        return ensure_project(tx, project_name, call)[0]
    fail(VALIDATION_ERROR, "one of 'project' or 'project_name' is required")
