"""`/`: the loop timeline. Header: the champion, the canary in progress, the services' health. Then one row per
labeling session, newest first, from its file to the champion. `?fragment=1` is the live part the page re-polls."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..joins import Pointer, Receipt, Run, Version, parse_time
from ..reads import Reader, reader_of
from ..rendering import int_param, renderer_of
from ..timeline import SessionRow, canary, champion, timeline

PAGE_SIZE = 50
SERVICES = ("sync", "trigger", "rollout")


def _with_documents(reader: Reader, receipts: Sequence[Receipt], wanted: set[str]) -> list[Receipt]:
    """The receipts, with the JSON of those in `wanted` downloaded (cached: receipts never change)."""
    return [
        dataclasses.replace(item, document=reader.receipt(item.id, item.uri))
        if item.id in wanted and item.uri
        else item
        for item in receipts
    ]


def _needed(rows: Sequence[SessionRow], champion_id: str | None, receipts: Sequence[Receipt]) -> set[str]:
    wanted = {item.id for row in rows for item in (row.gate, row.ending) if item is not None}
    return wanted | {item.id for item in receipts if item.model_id == champion_id}


def loop_data(reader: Reader, *, page: int = 0, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """What the timeline shows, read in proportion to the page, not to the loop's history: the newest versions up
    to this page, their runs, those runs' models and receipts, the pointer, the canary, the quarantine."""
    projects = list(reader.dataset_projects())
    wanted = (page + 1) * page_size
    version_tasks = reader.dataset_versions(projects=projects, page_size=wanted) if projects else []
    versions = [Version.of(task) for task in version_tasks]
    more = len(version_tasks) == wanted  # older versions exist beyond what was read
    runs = [Run.of(task) for task in reader.runs(dataset_ids=[version.id for version in versions])]
    pointer = Pointer.of(reader.pointer())
    canaries = reader.models(tags=["canary"], page_size=20)
    wanted_models = {run.model_id for run in runs if run.model_id} | {pointer.model_id or ""}
    wanted_models |= {str(item["id"]) for item in canaries}
    models = {
        str(item["id"]): item for item in reader.models(ids=sorted(m for m in wanted_models if m), page_size=1000)
    }
    receipts = [Receipt.of(task) for task in reader.receipt_tasks(model_ids=sorted(models))]
    found = reader.quarantine()
    quarantine = (found or {}).get("quarantine") if found is not None else None
    statuses = {name: reader.service_status(name) for name in SERVICES}
    rejected = list(quarantine or [])
    oldest = min((v.completed for v in versions if v.completed), default=None)
    if more and oldest is not None:  # rejections older than the oldest version read belong to later pages
        rejected = [entry for entry in rejected if (parse_time(entry.get("quarantined_at")) or oldest) >= oldest]
    rows = timeline(versions, runs, models, receipts, rejected)
    shown = rows[page * page_size : (page + 1) * page_size]
    receipts = _with_documents(reader, receipts, _needed(shown, pointer.model_id, receipts))
    rows = timeline(versions, runs, models, receipts, rejected)
    return {
        "champion": champion(pointer, models, receipts),
        "pointer": pointer,
        "canary": canary(models, statuses["rollout"]),
        "services": statuses,
        "quarantine_available": quarantine is not None,
        "rows": rows[page * page_size : (page + 1) * page_size],
        "total_rows": len(rows),
        "more": more or len(rows) > (page + 1) * page_size,
        "page": page,
        "page_size": page_size,
    }


def timeline_view(request: Request) -> Response:
    page = int_param(request, "page", 0, high=100_000)
    data = loop_data(reader_of(request), page=page)
    renderer = renderer_of(request)
    if request.query_params.get("fragment") == "1":
        return renderer.html(request, "_timeline_live.html", data)
    return renderer.page(request, "timeline.html", data, title="Loop timeline")
