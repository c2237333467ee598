"""The SQLite schema of the embedded server, as an ordered list of named migrations.

Applied migrations are recorded in `_migrations`, so a data dir written by an older occuloop is upgraded in place
at start-up and a migration never runs twice. Append new migrations; never edit an applied one.

Objects are stored as JSON documents (the API's own shapes) next to the few columns that queries select on.
"""

from __future__ import annotations

import sqlite3

TASK_SUMMARY_FIELDS = (
    "id",
    "name",
    "user",
    "company",
    "project",
    "parent",
    "status",
    "type",
    "tags",
    "system_tags",
    "comment",
    "created",
    "started",
    "completed",
    "published",
    "status_changed",
    "last_update",
    "last_change",
    "last_iteration",
    "status_reason",
    "status_message",
)
MODEL_SUMMARY_FIELDS = (
    "id",
    "name",
    "user",
    "company",
    "project",
    "task",
    "parent",
    "ready",
    "framework",
    "uri",
    "tags",
    "system_tags",
    "comment",
    "created",
    "last_update",
)


def _summary_sql(fields: tuple[str, ...]) -> str:
    """SQL that builds a summary from a stored document (JSON1), for rows written before summaries existed."""
    pairs = ", ".join(f"'{name}', json_extract(doc, '$.{name}')" for name in fields)
    return f"json_object({pairs})"


MIGRATIONS: list[tuple[str, str]] = [
    (
        "m001_initial",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE credentials (
            access_key TEXT PRIMARY KEY,
            secret_sha256 TEXT NOT NULL,
            user_id TEXT NOT NULL,
            label TEXT,
            created TEXT NOT NULL,
            last_used TEXT
        );

        CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);

        CREATE TABLE tasks (id TEXT PRIMARY KEY, project TEXT, doc TEXT NOT NULL);
        CREATE INDEX tasks_by_project ON tasks (project);

        CREATE TABLE models (id TEXT PRIMARY KEY, project TEXT, task TEXT, doc TEXT NOT NULL);
        CREATE INDEX models_by_project ON models (project);
        CREATE INDEX models_by_task ON models (task);

        CREATE TABLE queues (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);

        -- One row per queued task, position orders the queue (lowest pops first).
        CREATE TABLE queue_entries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            queue TEXT NOT NULL,
            task TEXT NOT NULL,
            added TEXT NOT NULL,
            position REAL NOT NULL
        );
        CREATE INDEX queue_entries_by_queue ON queue_entries (queue, position);
        CREATE INDEX queue_entries_by_task ON queue_entries (task);

        -- Append-only task events: logs, scalars, plots, debug images.
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            task TEXT NOT NULL,
            type TEXT NOT NULL,
            iter INTEGER,
            metric TEXT,
            variant TEXT,
            timestamp INTEGER NOT NULL,
            doc TEXT NOT NULL
        );
        CREATE INDEX events_by_task ON events (task, type, timestamp, seq);
        """,
    ),
    (
        # A compact copy of the fields `get_all` filters and sorts on: a query that touches only these decodes the
        # small summaries instead of every full document (10,000 tasks: ~500 ms -> tens of ms).
        "m002_summaries",
        f"""
        ALTER TABLE tasks ADD COLUMN summary TEXT;
        ALTER TABLE models ADD COLUMN summary TEXT;
        UPDATE tasks SET summary = {_summary_sql(TASK_SUMMARY_FIELDS)};
        UPDATE models SET summary = {_summary_sql(MODEL_SUMMARY_FIELDS)};
        """,
    ),
    (
        # Tasks by their last change: "what changed since" (the trigger's step reads only that) is an index range,
        # not a scan of every summary. Stamps are fixed-width UTC ISO strings, so string order is time order.
        "m003_tasks_by_last_update",
        """
        ALTER TABLE tasks ADD COLUMN last_update TEXT;
        UPDATE tasks SET last_update = json_extract(doc, '$.last_update');
        CREATE INDEX tasks_by_last_update ON tasks (last_update);
        """,
    ),
]


def apply_migrations(connection: sqlite3.Connection) -> list[str]:
    """Apply what is missing, each migration in its own transaction; returns the names applied now."""
    connection.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    done = {row[0] for row in connection.execute("SELECT name FROM _migrations")}
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        try:
            connection.executescript(
                f"BEGIN IMMEDIATE; {sql}; INSERT INTO _migrations VALUES ('{name}', datetime('now')); COMMIT;"
            )
        except sqlite3.Error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
