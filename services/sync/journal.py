"""The sync service's local journal: every file it took from the inbox and where that file is now.

A SQLite database under `<inbox>/.occuloop-sync/`, next to the staged copies, so it lives on the same volume as
the labels it describes. A file is identified by the SHA-256 of its content. States:
- `staged`: validated and accepted, kept under `staged/`, waiting for (or added to) the open draft version;
- `committed`: in a finalized, tagged version (`version`);
- `superseded`: committed, then replaced in a later version by a corrected file of the same name;
- `rejected`: failed validation, moved to `quarantine/`;
- `duplicate`: identical content was already staged or committed.
Drafts: `open` (files being added), `abandoned` (deleted or lost a fork race), `committed`.
`meta` holds this journal's instance id (which tags its drafts on the server) and the intent to open a draft,
written before the server creates it, so a crash between the two leaves a trace that recovery can clean up.
Every change is one transaction; committed transactions survive `kill -9`.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    rows INTEGER NOT NULL DEFAULT 0,
    occupied INTEGER NOT NULL DEFAULT 0,
    first TEXT,
    last TEXT,
    received TEXT NOT NULL,
    draft TEXT,
    version TEXT,
    reasons TEXT
);
CREATE INDEX IF NOT EXISTS files_by_sha ON files (sha256, state);
CREATE INDEX IF NOT EXISTS files_by_state ON files (state);
CREATE TABLE IF NOT EXISTS drafts (
    id TEXT PRIMARY KEY,
    parent TEXT,
    state TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class FileRecord:
    id: int
    sha256: str
    name: str
    state: str
    rows: int
    occupied: int
    first: str | None
    last: str | None
    draft: str | None
    version: str | None


@dataclass(frozen=True)
class DraftRecord:
    id: str
    parent: str | None
    state: str


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _files(self, where: str, params: tuple[object, ...] = ()) -> list[FileRecord]:
        sql = f"SELECT id, sha256, name, state, rows, occupied, first, last, draft, version FROM files WHERE {where} ORDER BY id"
        with self._lock:
            return [FileRecord(*row) for row in self._db.execute(sql, params)]

    def _write(self, sql: str, params: tuple[object, ...] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, params).rowcount

    # -- files -------------------------------------------------------------------------------------------------

    def held(self, sha256: str) -> FileRecord | None:
        """A staged or committed file with this exact content (an identical re-submission is a duplicate)."""
        found = self._files("sha256 = ? AND state IN ('staged', 'committed')", (sha256,))
        return found[0] if found else None

    def record(
        self,
        sha256: str,
        name: str,
        state: str,
        received: str,
        *,
        rows: int = 0,
        occupied: int = 0,
        first: str | None = None,
        last: str | None = None,
        reasons: str | None = None,
    ) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO files (sha256, name, state, rows, occupied, first, last, received, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sha256, name, state, rows, occupied, first, last, received, reasons),
            )
            return int(cursor.lastrowid or 0)

    def staged(self) -> list[FileRecord]:
        return self._files("state = 'staged'")

    def committed(self) -> list[FileRecord]:
        return self._files("state = 'committed'")

    def by_state(self, state: str) -> list[FileRecord]:
        return self._files("state = ?", (state,))

    def named(self, name: str) -> list[FileRecord]:
        """Every record of files called `name`, in the order they arrived (the quarantine's corrections)."""
        return self._files("name = ?", (name,))

    def spans_by_name(self) -> dict[str, list[tuple[str, str]]]:
        """(first, last) minutes of every staged or committed file, by name: a new file is checked against every
        name but its own (a file of the same name replaces it)."""
        spans: dict[str, list[tuple[str, str]]] = {}
        for row in self._files("state IN ('staged', 'committed') AND first IS NOT NULL", ()):
            if row.first and row.last:
                spans.setdefault(row.name, []).append((row.first, row.last))
        return spans

    def assign(self, file_ids: list[int], draft: str) -> None:
        with self._lock:
            self._db.executemany("UPDATE files SET draft = ? WHERE id = ?", [(draft, file_id) for file_id in file_ids])

    # -- identity and intent ----------------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def instance_id(self) -> str:
        """A stable id for this inbox's sync instance, created on first use."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('instance', ?)", (uuid.uuid4().hex[:12],))
        return self._meta("instance") or ""

    def intend_draft(self, at: str) -> None:
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES ('draft_intent', ?)", (at,))

    def draft_intent(self) -> str | None:
        """When a draft creation started that was never journaled as opened (a crash in between), else None."""
        return self._meta("draft_intent")

    def clear_draft_intent(self) -> None:
        self._write("DELETE FROM meta WHERE key = 'draft_intent'")

    # -- drafts ------------------------------------------------------------------------------------------------

    def open_draft(self, draft_id: str, parent: str | None, created: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO drafts (id, parent, state, created) VALUES (?, ?, 'open', ?)", (draft_id, parent, created)
            )
            self._db.execute("DELETE FROM meta WHERE key = 'draft_intent'")
            self._db.execute("COMMIT")

    def current_draft(self) -> DraftRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, parent, state FROM drafts WHERE state = 'open' ORDER BY created DESC LIMIT 1"
            ).fetchone()
        return DraftRecord(*row) if row else None

    def abandon(self, draft_id: str) -> None:
        """The draft is gone (deleted, or it lost a fork race): its files wait for the next draft."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE files SET draft = NULL WHERE draft = ? AND state = 'staged'", (draft_id,))
            self._db.execute("UPDATE drafts SET state = 'abandoned' WHERE id = ?", (draft_id,))
            self._db.execute("COMMIT")

    def commit(self, draft_id: str, names: list[str]) -> None:
        """The draft is a finalized, published version: its files are committed; older files of the same names
        are superseded."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            marks = ",".join("?" * len(names))
            if names:
                self._db.execute(
                    f"UPDATE files SET state = 'superseded' WHERE state = 'committed' AND name IN ({marks})",
                    tuple(names),
                )
            self._db.execute(
                "UPDATE files SET state = 'committed', version = ? WHERE draft = ? AND state = 'staged'",
                (draft_id, draft_id),
            )
            self._db.execute("UPDATE drafts SET state = 'committed' WHERE id = ?", (draft_id,))
            self._db.execute("COMMIT")
