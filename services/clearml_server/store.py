"""SQLite persistence for the embedded server: with migrations.py (the schema, applied from here at start-up), the
only module of the server that runs SQL.

One database file in WAL mode. Reads use one connection per thread and never block writers. Writes go through
`Store.write()`, which holds a process-wide lock and a `BEGIN IMMEDIATE` transaction for the whole
read-modify-write of a handler, so every write is atomic and serialized (an atomic queue pop needs nothing more).
A write is acknowledged only after COMMIT, and a committed WAL transaction survives `kill -9` of the process;
`durable=True` (synchronous=FULL) also makes it survive a power cut, at the price of an fsync per commit.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .documents import Doc
from .migrations import MODEL_SUMMARY_FIELDS, TASK_SUMMARY_FIELDS, apply_migrations

DATABASE_FILE = "occuloop-server.sqlite3"


def _dumps(doc: Doc) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class DocumentTable:
    """A table of JSON documents keyed by `id`, with a few columns mirrored from the document for SQL lookups
    and, for the big collections, a compact summary of the fields queries filter on."""

    def __init__(
        self, connection: sqlite3.Connection, table: str, columns: tuple[str, ...], summary_fields: tuple[str, ...] = ()
    ) -> None:
        self._db = connection
        self._table = table
        self._columns = columns  # document fields mirrored into same-named columns
        self.summary_fields = frozenset(summary_fields)
        self._summary_order = summary_fields

    def get(self, object_id: str) -> Doc | None:
        row = self._db.execute(f"SELECT doc FROM {self._table} WHERE id = ?", (object_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _texts_where_in(self, what: str, column: str, values: Iterable[Any]) -> Iterator[str]:
        """The `what` column (doc or summary) of rows whose `column` is in `values`, in insertion order per chunk."""
        if column != "id" and column not in self._columns:
            raise ValueError(f"{self._table}.{column} is not an indexed column")
        wanted = list(dict.fromkeys(values))
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start : start + 500]
            sql = f"SELECT {what} FROM {self._table} WHERE {column} IN ({','.join('?' * len(chunk))}) ORDER BY rowid"
            for (text,) in self._db.execute(sql, chunk):
                yield text

    def get_many(self, ids: Iterable[str]) -> list[Doc]:
        """The documents with these ids, in the order asked (missing ids are skipped)."""
        wanted = list(ids)
        found = {doc["id"]: doc for doc in map(json.loads, self._texts_where_in("doc", "id", wanted))}
        return [found[object_id] for object_id in dict.fromkeys(wanted) if object_id in found]

    def where(self, column: str, values: Iterable[Any]) -> list[Doc]:
        return [json.loads(text) for text in self._texts_where_in("doc", column, values)]

    def all(self) -> list[Doc]:
        return [json.loads(text) for (text,) in self._db.execute(f"SELECT doc FROM {self._table} ORDER BY rowid")]

    def summaries(self, column: str | None = None, values: Iterable[Any] = ()) -> list[Doc]:
        """The summaries of every row (or of rows whose indexed `column` is in `values`), in insertion order."""
        if not self._summary_order:
            raise ValueError(f"{self._table} keeps no summaries")
        if column is None:
            return [
                json.loads(text) for (text,) in self._db.execute(f"SELECT summary FROM {self._table} ORDER BY rowid")
            ]
        return [json.loads(text) for text in self._texts_where_in("summary", column, values)]

    def summaries_changed_since(self, stamp: str) -> list[Doc] | None:
        """The summaries of rows whose `last_update` is at or after `stamp` (a stored-format stamp), in insertion
        order; None when this table does not index `last_update`."""
        if "last_update" not in self._columns or not self._summary_order:
            return None
        rows = self._db.execute(f"SELECT summary FROM {self._table} WHERE last_update >= ? ORDER BY rowid", (stamp,))
        return [json.loads(text) for (text,) in rows]

    def put(self, doc: Doc) -> None:
        """Insert or replace the whole document."""
        names = ("id", *self._columns, "doc")
        values: tuple[Any, ...] = (doc["id"], *(doc.get(column) for column in self._columns), _dumps(doc))
        if self._summary_order:
            names = (*names, "summary")
            values = (*values, _dumps({field: doc.get(field) for field in self._summary_order}))
        marks = ",".join("?" * len(names))
        self._db.execute(f"INSERT OR REPLACE INTO {self._table} ({','.join(names)}) VALUES ({marks})", values)

    def delete(self, object_id: str) -> bool:
        return self._db.execute(f"DELETE FROM {self._table} WHERE id = ?", (object_id,)).rowcount > 0


@dataclass(frozen=True)
class QueueEntry:
    queue: str
    task: str
    added: str
    position: float


class QueueEntries:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def in_queue(self, queue: str) -> list[QueueEntry]:
        rows = self._db.execute(
            "SELECT queue, task, added, position FROM queue_entries WHERE queue = ? ORDER BY position, seq", (queue,)
        )
        return [QueueEntry(*row) for row in rows]

    def count(self, queue: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM queue_entries WHERE queue = ?", (queue,)).fetchone()[0])

    def depths(self) -> dict[str, int]:
        """Entries per queue, by queue name (every queue, empty ones included)."""
        sql = "SELECT q.name, COUNT(e.task) FROM queues q LEFT JOIN queue_entries e ON e.queue = q.id GROUP BY q.id"
        return {str(name): int(count) for name, count in self._db.execute(sql)}

    def queues_of(self, task: str) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT queue FROM queue_entries WHERE task = ?", (task,))]

    def append(self, queue: str, task: str, added: str) -> None:
        self.add_at(queue, task, added, self._edge(queue, last=True) + 1.0)

    def add_at(self, queue: str, task: str, added: str, position: float) -> None:
        self._db.execute(
            "INSERT INTO queue_entries (queue, task, added, position) VALUES (?, ?, ?, ?)",
            (queue, task, added, position),
        )

    def _edge(self, queue: str, last: bool) -> float:
        function = "MAX" if last else "MIN"
        row = self._db.execute(f"SELECT {function}(position) FROM queue_entries WHERE queue = ?", (queue,)).fetchone()
        return float(row[0]) if row[0] is not None else 0.0

    def set_position(self, queue: str, task: str, position: float) -> None:
        self._db.execute("UPDATE queue_entries SET position = ? WHERE queue = ? AND task = ?", (position, queue, task))

    def pop_first(self, queue: str) -> QueueEntry | None:
        row = self._db.execute(
            "SELECT seq, queue, task, added, position FROM queue_entries WHERE queue = ? ORDER BY position, seq LIMIT 1",
            (queue,),
        ).fetchone()
        if row is None:
            return None
        self._db.execute("DELETE FROM queue_entries WHERE seq = ?", (row[0],))
        return QueueEntry(*row[1:])

    def remove(self, queue: str | None, task: str) -> int:
        if queue is None:
            return self._db.execute("DELETE FROM queue_entries WHERE task = ?", (task,)).rowcount
        return self._db.execute("DELETE FROM queue_entries WHERE queue = ? AND task = ?", (queue, task)).rowcount

    def clear(self, queue: str) -> list[str]:
        tasks = [entry.task for entry in self.in_queue(queue)]
        self._db.execute("DELETE FROM queue_entries WHERE queue = ?", (queue,))
        return tasks


@dataclass(frozen=True)
class EventRow:
    seq: int
    doc: Doc


class Events:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def add(self, event: Doc) -> None:
        self._db.execute(
            "INSERT INTO events (task, type, iter, metric, variant, timestamp, doc) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event["task"],
                event["type"],
                event.get("iter"),
                event.get("metric"),
                event.get("variant"),
                int(event["timestamp"]),
                _dumps(event),
            ),
        )

    def of_task(
        self,
        task: str,
        types: Iterable[str] | None = None,
        *,
        descending: bool = False,
        after: tuple[int, int] | None = None,
        before: tuple[int, int] | None = None,
        limit: int | None = None,
    ) -> list[EventRow]:
        """Events of one task ordered by (timestamp, seq); `after`/`before` are exclusive (timestamp, seq) cursors."""
        sql = ["SELECT seq, doc FROM events WHERE task = ?"]
        params: list[Any] = [task]
        type_list = list(types) if types is not None else None
        if type_list is not None:
            sql.append(f"AND type IN ({','.join('?' * len(type_list))})")
            params.extend(type_list)
        if after is not None:
            sql.append("AND (timestamp > ? OR (timestamp = ? AND seq > ?))")
            params.extend([after[0], after[0], after[1]])
        if before is not None:
            sql.append("AND (timestamp < ? OR (timestamp = ? AND seq < ?))")
            params.extend([before[0], before[0], before[1]])
        order = "DESC" if descending else "ASC"
        sql.append(f"ORDER BY timestamp {order}, seq {order}")
        if limit is not None:
            sql.append("LIMIT ?")
            params.append(limit)
        return [EventRow(seq, json.loads(text)) for seq, text in self._db.execute(" ".join(sql), params)]

    def count(self, task: str, types: Iterable[str]) -> int:
        type_list = list(types)
        marks = ",".join("?" * len(type_list))
        row = self._db.execute(f"SELECT COUNT(*) FROM events WHERE task = ? AND type IN ({marks})", [task, *type_list])
        return int(row.fetchone()[0])

    def delete_for_task(self, task: str) -> int:
        return self._db.execute("DELETE FROM events WHERE task = ?", (task,)).rowcount


@dataclass(frozen=True)
class Credential:
    access_key: str
    secret_sha256: str
    user_id: str
    label: str | None
    created: str
    last_used: str | None


class Credentials:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def get(self, access_key: str) -> Credential | None:
        row = self._db.execute("SELECT * FROM credentials WHERE access_key = ?", (access_key,)).fetchone()
        return Credential(*row) if row else None

    def all(self) -> list[Credential]:
        return [Credential(*row) for row in self._db.execute("SELECT * FROM credentials ORDER BY created")]

    def put(self, credential: Credential) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?, ?)",
            (
                credential.access_key,
                credential.secret_sha256,
                credential.user_id,
                credential.label,
                credential.created,
                credential.last_used,
            ),
        )

    def delete(self, access_key: str) -> bool:
        return self._db.execute("DELETE FROM credentials WHERE access_key = ?", (access_key,)).rowcount > 0


class Meta:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def put(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


class Session:
    """Every table, seen through one connection (a reader's or the writer's)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.tasks = DocumentTable(connection, "tasks", ("project", "last_update"), TASK_SUMMARY_FIELDS)
        self.models = DocumentTable(connection, "models", ("project", "task"), MODEL_SUMMARY_FIELDS)
        self.projects = DocumentTable(connection, "projects", ("name",))
        self.queues = DocumentTable(connection, "queues", ("name",))
        self.entries = QueueEntries(connection)
        self.events = Events(connection)
        self.credentials = Credentials(connection)
        self.meta = Meta(connection)


class StoreError(Exception):
    pass


class _ReadLease:
    """A thread's hold on a read connection; when the thread ends, its thread-local goes and so does this."""

    def __init__(self, session: Session) -> None:
        self.session = session


class Store:
    def __init__(self, data_dir: Path, *, durable: bool = False) -> None:
        self.path = data_dir / DATABASE_FILE
        self._durable = durable
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._idle: list[sqlite3.Connection] = []  # read connections of threads that ended, for the next ones
        self._connections_lock = threading.Lock()
        try:
            self._writer = self._connect()
            self.migrations_applied = apply_migrations(self._writer)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the database {self.path}: {error}") from error
        self._writer_session = Session(self._writer)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
        connection.execute("PRAGMA busy_timeout=30000")
        with self._connections_lock:
            self._all_connections.append(connection)
        return connection

    def read(self) -> Session:
        """A session on this thread's own read connection (sees every committed write).

        Request threads come and go (one per client connection), so a connection is lent to a thread and goes back
        to the idle pool when the thread ends; without that, every client connection ever made would keep a
        database connection (and its three file descriptors) open until the server stops."""
        holder: _ReadLease | None = getattr(self._local, "lease", None)
        if holder is None:
            with self._connections_lock:
                connection = self._idle.pop() if self._idle else None
            holder = _ReadLease(Session(connection or self._connect()))
            weakref.finalize(holder, self._give_back, holder.session.connection)
            self._local.lease = holder
        return holder.session

    def _give_back(self, connection: sqlite3.Connection) -> None:
        with self._connections_lock:
            if connection in self._all_connections:  # not closed by close() meanwhile
                self._idle.append(connection)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One serialized transaction: everything inside commits together or not at all."""
        with self._write_lock:
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer_session
            except BaseException:
                self._writer.execute("ROLLBACK")
                raise
            self._writer.execute("COMMIT")

    def close(self) -> None:
        with self._write_lock, self._connections_lock:
            for connection in self._all_connections:
                connection.close()
            self._all_connections.clear()
            self._idle.clear()
