"""The quarantine as the sync's HTTP API publishes it (`GET /quarantine`): every rejected file with its reasons and
validation report, and the corrected file that superseded it, if one came.

Why an HTTP read and not the inbox volume: in a cluster only the sync's pod mounts the inbox, and the UI runs
elsewhere; the sync already has a port. The `<name>.reason.json` files stay the record (a person reads them on the
volume); this module only lists them, joined with the journal, where a later accepted file of the same name is the
correction (the labeling tool's convention: the same session, delivered again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .journal import FileRecord, Journal

ACCEPTED_STATES = ("staged", "committed")
MAX_ENTRIES = 1000  # newest first; an inbox with more rejected files is read on its volume


def _reason_files(quarantine_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in quarantine_dir.glob("*.reason.json"):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written (it is written before the file is moved beside it) or not ours
        if isinstance(document, dict):
            document["quarantined_as"] = path.name.removesuffix(".reason.json")
            found.append(document)
    return sorted(found, key=lambda item: (str(item.get("quarantined_at", "")), str(item.get("file", ""))))


def superseded_by(records: list[FileRecord]) -> list[dict[str, Any] | None]:
    """For each rejected record among `records` (one file name, in arrival order), the first file of that name
    accepted after it: {"dataset_id" (its version, once staged into one), "rows", "state"}, or None when none came
    yet."""
    result: list[dict[str, Any] | None] = []
    for index, record in enumerate(records):
        if record.state != "rejected":
            continue
        later = next((item for item in records[index + 1 :] if item.state in ACCEPTED_STATES), None)
        result.append(None if later is None else {"dataset_id": later.draft, "rows": later.rows, "state": later.state})
    return result


def entries(quarantine_dir: Path, journal: Journal) -> list[dict[str, Any]]:
    """The rejected files, newest first, each with `superseded_by` (see above)."""
    documents = _reason_files(quarantine_dir)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_name.setdefault(str(document.get("file", "")), []).append(document)
    for name, listed in by_name.items():
        corrections = superseded_by(journal.named(name))
        # the nth reason file of a name is the nth rejection of it (both in arrival order)
        for document, correction in zip(listed, corrections + [None] * len(listed), strict=False):
            document["superseded_by"] = correction
    return list(reversed(documents))[:MAX_ENTRIES]
