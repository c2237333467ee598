"""The inbox's notion of a finished file, its moves, and the journal's bookkeeping."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from services.sync.inbox import Inbox, sha256_of
from services.sync.journal import Journal


def write(path: Path, text: str = "date,x\n", age: float = 0.0) -> Path:
    path.write_text(text)
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


def test_finished_files_settled_marked_or_all_on_request(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox", settle_seconds=2.0)
    old = write(inbox.root / "a.csv", age=10)
    fresh = write(inbox.root / "b.csv")
    marked = write(inbox.root / "c.csv")
    (inbox.root / "c.csv.done").touch()
    write(inbox.root / ".d.csv", age=10)  # temporary names are never read
    write(inbox.root / "e.csv.part", age=10)
    write(inbox.root / "notes.txt", age=10)
    assert {path.name for path in inbox.finished(time.time())} == {old.name, marked.name}
    assert {path.name for path in inbox.finished(time.time(), settle_seconds=0)} == {old.name, fresh.name, marked.name}


def test_marker_mode_waits_for_markers_only(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox", completion="marker")
    write(inbox.root / "a.csv", age=100)
    assert inbox.finished(time.time()) == []
    (inbox.root / "a.done").touch()
    assert [path.name for path in inbox.finished(time.time())] == ["a.csv"]


def test_a_file_still_growing_is_not_finished(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox", settle_seconds=0.5)
    growing = write(inbox.root / "a.csv", "x\n", age=5)
    inbox.finished(time.time())
    growing.write_text("x\ny\n")  # changed since the last scan
    stamp = time.time() - 5
    os.utime(growing, (stamp, stamp))
    assert inbox.finished(time.time()) == []
    assert [path.name for path in inbox.finished(time.time())] == ["a.csv"]


def test_quarantine_stage_archive_and_markers_are_cleaned(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    bad = write(inbox.root / "bad.csv")
    (inbox.root / "bad.csv.done").touch()
    moved = inbox.quarantine(bad, {"reasons": ["label_disagreement"]})
    assert moved.parent == inbox.quarantine_dir and not (inbox.root / "bad.csv.done").exists()
    reason = json.loads(moved.with_name("bad.csv.reason.json").read_text())
    assert reason["reasons"] == ["label_disagreement"] and reason["file"] == "bad.csv"
    again = write(inbox.root / "bad.csv")
    assert inbox.quarantine(again, {"reasons": ["x"]}).name != "bad.csv"  # the first one is kept
    good = write(inbox.root / "good.csv", "content")
    digest = sha256_of(good)
    staged = inbox.stage(good, digest)
    assert staged == inbox.staged_path(digest, "good.csv") and staged.read_text() == "content"
    inbox.archive(digest, "good.csv")
    assert (inbox.archive_dir / digest / "good.csv").exists() and not staged.exists()
    assert inbox.orphans(set()) == []


def test_journal_commit_supersedes_and_abandon_releases(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    first = journal.record(
        "h1", "day.csv", "staged", "t", rows=10, first="2015-02-05 00:00:00", last="2015-02-05 23:59:00"
    )
    journal.open_draft("d1", None, "t")
    journal.assign([first], "d1")
    journal.commit("d1", ["day.csv"])
    assert journal.held("h1").state == "committed" and journal.current_draft() is None
    fixed = journal.record("h2", "day.csv", "staged", "t", first="2015-02-05 00:00:00", last="2015-02-05 23:59:00")
    # both spans are the name's, so the corrected file is not checked against its original (no self-overlap), while
    # a file of any other name is checked against both
    assert journal.spans_by_name() == {"day.csv": [("2015-02-05 00:00:00", "2015-02-05 23:59:00")] * 2}
    journal.open_draft("d2", "d1", "t")
    journal.assign([fixed], "d2")
    journal.abandon("d2")
    assert journal.staged()[0].draft is None and journal.current_draft() is None
    journal.open_draft("d3", "d1", "t")
    journal.assign([fixed], "d3")
    journal.commit("d3", ["day.csv"])
    assert [record.sha256 for record in journal.committed()] == ["h2"]
    assert [record.sha256 for record in journal.by_state("superseded")] == ["h1"]
    journal.close()


def test_a_journal_written_before_squashes_opens_with_every_draft_a_version(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE drafts (id TEXT PRIMARY KEY, parent TEXT, state TEXT NOT NULL, created TEXT NOT NULL)")
    old.execute("INSERT INTO drafts VALUES ('d1', 'p0', 'open', '2026-01-01T00:00:00+00:00')")
    old.commit()
    old.close()
    journal = Journal(path)
    draft = journal.current_draft()
    assert draft is not None and (draft.id, draft.kind) == ("d1", "version")
    journal.abandon("d1")
    journal.open_draft("r1", "p9", "2026-01-02T00:00:00+00:00", kind="squash")
    squash = journal.current_draft()
    assert squash is not None and (squash.id, squash.parent, squash.kind) == ("r1", "p9", "squash")
    journal.commit("r1", [])  # a squash commits no file
    assert journal.current_draft() is None
