"""The sync's quarantine listing (`GET /quarantine`): reason files joined with the journal's later acceptance of the
same file name (the correction)."""

from __future__ import annotations

import json
from pathlib import Path

from services.sync.journal import Journal
from services.sync.quarantine import entries


def test_a_rejected_file_is_superseded_by_the_next_accepted_file_of_its_name(tmp_path: Path) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    for name, stamp, reasons in (("a.csv", "20260101T100000Z", ["label_disagreement"]),
                                 ("b.csv", "20260101T110000Z", ["missing_columns"])):  # fmt: skip
        (quarantine / f"{name}.reason.json").write_text(json.dumps({"file": name, "quarantined_at": stamp,
                                                                    "reasons": reasons, "report": {}}))  # fmt: skip
    journal = Journal(tmp_path / "journal.sqlite3")
    journal.record("1" * 64, "a.csv", "rejected", "2026-01-01T10:00:00+00:00", reasons="label_disagreement")
    accepted = journal.record("2" * 64, "a.csv", "staged", "2026-01-01T10:05:00+00:00", rows=1440)
    journal.record("3" * 64, "b.csv", "rejected", "2026-01-01T11:00:00+00:00", reasons="missing_columns")
    journal.assign([accepted], "dataset-2")
    found = entries(quarantine, journal)
    journal.close()
    assert [item["file"] for item in found] == ["b.csv", "a.csv"]  # newest first
    assert found[0]["superseded_by"] is None and found[0]["reasons"] == ["missing_columns"]
    assert found[1]["superseded_by"] == {"dataset_id": "dataset-2", "rows": 1440, "state": "staged"}
    assert found[1]["quarantined_as"] == "a.csv"
