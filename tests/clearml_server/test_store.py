"""The SQLite store: migrations apply once and upgrade old data dirs; a failed write leaves nothing behind."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from services.clearml_server.migrations import MIGRATIONS, apply_migrations
from services.clearml_server.store import DATABASE_FILE, Store


def test_migrations_apply_once(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.migrations_applied == [name for name, _ in MIGRATIONS]
    store.close()
    again = Store(tmp_path)
    assert again.migrations_applied == []
    again.close()


def test_an_old_data_dir_is_upgraded_and_its_rows_get_summaries(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
    first_name, first_sql = MIGRATIONS[0]
    connection.executescript(f"BEGIN; {first_sql}; COMMIT;")
    connection.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    connection.execute("INSERT INTO _migrations VALUES (?, 'then')", (first_name,))
    old = {
        "id": "t1",
        "name": "old task",
        "status": "completed",
        "tags": ["x"],
        "project": "p",
        "script": {"diff": "..."},
    }
    connection.execute("INSERT INTO tasks (id, project, doc) VALUES ('t1', 'p', ?)", (json.dumps(old),))
    connection.close()
    store = Store(tmp_path)
    assert store.migrations_applied == [name for name, _ in MIGRATIONS[1:]]
    summary = store.read().tasks.summaries()[0]
    assert summary["name"] == "old task" and summary["tags"] == ["x"] and "script" not in summary
    store.close()


def test_a_failed_write_rolls_back_everything(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(RuntimeError), store.write() as tx:
        tx.tasks.put({"id": "a", "name": "a"})
        tx.entries.append("q", "a", "now")
        raise RuntimeError("handler failed half-way")
    session = store.read()
    assert session.tasks.get("a") is None and session.entries.count("q") == 0
    store.close()


def test_apply_migrations_is_idempotent_on_one_connection(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    assert apply_migrations(connection) and apply_migrations(connection) == []
    connection.close()


def test_an_upgraded_data_dir_indexes_its_tasks_by_last_update(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / DATABASE_FILE, isolation_level=None)
    apply_migrations_until = [name for name, _ in MIGRATIONS].index("m003_tasks_by_last_update")
    connection.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    for name, sql in MIGRATIONS[:apply_migrations_until]:
        connection.executescript(f"BEGIN; {sql}; COMMIT;")
        connection.execute("INSERT INTO _migrations VALUES (?, 'then')", (name,))
    old = {"id": "t1", "name": "old", "project": "p", "last_update": "2026-01-02T03:04:05.000000+00:00"}
    connection.execute("INSERT INTO tasks (id, project, doc, summary) VALUES ('t1', 'p', ?, ?)", (json.dumps(old),) * 2)
    connection.close()
    store = Store(tmp_path)
    assert store.migrations_applied == ["m003_tasks_by_last_update"]
    tasks = store.read().tasks
    assert [row["id"] for row in tasks.summaries_changed_since("2026-01-02T00:00:00.000000+00:00") or []] == ["t1"]
    assert tasks.summaries_changed_since("2026-01-03T00:00:00.000000+00:00") == []
    store.close()
