"""The trigger's copy of the ledger between steps (services/trigger/mirror.py): whole reads, reads of changes,
where the next read of changes starts. Pure logic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.trigger.decisions import Run, Version, parse_stamp
from services.trigger.mirror import OVERLAP, LedgerMirror

T0 = datetime(2026, 12, 5, 4, 0, 0, tzinfo=UTC)


def version(dataset_id: str) -> Version:
    return Version(dataset_id, "labeled", T0.isoformat())


def run(task_id: str, dataset_id: str, status: str = "queued") -> Run:
    return Run(task_id, dataset_id, status, T0.isoformat())


def test_a_whole_read_is_first_and_comes_back_every_period() -> None:
    mirror = LedgerMirror(full_read_seconds=300)
    assert mirror.needs_full_read(now=0.0) and mirror.changes_since() is None
    mirror.replace([version("v1")], [run("r1", "v1")], [T0, T0 + timedelta(seconds=5), None], now=100.0)
    assert not mirror.needs_full_read(now=399.0)
    assert mirror.needs_full_read(now=400.0)
    assert mirror.changes_since() == T0 + timedelta(seconds=5) - OVERLAP  # from the newest change seen


def test_changes_add_replace_and_remove_versions_and_runs() -> None:
    mirror = LedgerMirror(full_read_seconds=300)
    mirror.replace([version("v1"), version("v2")], [run("r1", "v1", "created")], [T0], now=0.0)
    mirror.update(
        [("v2", None), ("v3", version("v3"))],  # v2 untagged or archived; v3 new
        [("r1", run("r1", "v1", "queued")), ("r2", run("r2", "v3")), ("r0", None)],  # r0: never seen, archived
        [T0 + timedelta(seconds=9), T0 + timedelta(seconds=2)],
    )
    assert sorted(mirror.versions) == ["v1", "v3"]
    assert {task_id: item.status for task_id, item in mirror.runs.items()} == {"r1": "queued", "r2": "queued"}
    assert mirror.changes_since() == T0 + timedelta(seconds=9) - OVERLAP


def test_a_read_without_changes_keeps_where_it_starts() -> None:
    mirror = LedgerMirror(full_read_seconds=300)
    mirror.replace([], [], [T0], now=0.0)
    mirror.update([], [], [])
    mirror.update([], [], [T0 - timedelta(seconds=20)])  # an older stamp read again in the overlap
    assert mirror.changes_since() == T0 - OVERLAP


def test_a_whole_read_forgets_what_it_no_longer_finds() -> None:
    mirror = LedgerMirror(full_read_seconds=300)
    mirror.replace([version("v1")], [run("r1", "v1"), run("surplus", "v1", "created")], [T0], now=0.0)
    mirror.replace([version("v1")], [run("r1", "v1")], [T0], now=300.0)  # the surplus clone was deleted
    assert list(mirror.runs) == ["r1"]


def test_server_stamps_parse_with_or_without_a_zone() -> None:
    assert parse_stamp("2026-12-05T04:00:00+00:00") == T0
    assert parse_stamp("2026-12-05T04:00:00") == T0
    assert parse_stamp("2026-12-05T04:00:00.000Z") == T0
    assert parse_stamp(None) is None and parse_stamp("soon") is None
