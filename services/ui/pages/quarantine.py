"""`/quarantine`: every rejected labeling-session file with its reasons, the validation report's findings, when
it was quarantined, and the corrected file's version that superseded it. Read from the sync's `GET /quarantine`
(the inbox volume is the sync's alone in a cluster)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..joins import Version
from ..reads import VERSION_FIELDS, reader_of
from ..rendering import renderer_of
from ..timeline import quarantine_rows


def page(request: Request) -> Response:
    reader = reader_of(request)
    found = reader.quarantine()
    entries = (found or {}).get("quarantine") or []
    corrections = sorted(
        {str((e.get("superseded_by") or {}).get("dataset_id")) for e in entries if e.get("superseded_by")}
    )
    versions = (
        [Version.of(task) for task in reader.tasks(ids=corrections, fields=VERSION_FIELDS)] if corrections else []
    )
    data = {
        "available": found is not None,
        "entries": entries,
        "rows": quarantine_rows(entries, versions),
        "sync_url": reader.service_urls.get("sync"),
    }
    return renderer_of(request).page(request, "quarantine.html", data, title="Quarantine")
