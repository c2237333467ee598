"""`*.get_all` plumbing shared by every collection: narrow the candidates in SQL, run the query, page the reply."""

from __future__ import annotations

from typing import Any

from ..calls import Call
from ..documents import Doc
from ..queries import Query
from ..store import DocumentTable


def find(table: DocumentTable, query: Query, *, by_project: bool = True) -> list[Doc]:
    """The reply rows of `query`: only the listed ids or projects are loaded when the query names them."""
    if query.ids is not None:
        candidates = table.get_many(query.ids)
    elif by_project and query.projects is not None:
        candidates = table.where("project", query.projects)
    else:
        candidates = table.all()
    return query.run(candidates)


def get_all_reply(
    call: Call, table: DocumentTable, query: Query, key: str, *, by_project: bool = True
) -> dict[str, Any]:
    rows = find(table, query, by_project=by_project)
    reply: dict[str, Any] = {key: rows}
    if "size" in call.body:  # get_all_ex scrolling
        reply["scroll_id"] = str(query.offset + len(rows))
    return reply
