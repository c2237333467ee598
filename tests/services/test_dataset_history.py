"""Tracing every file of a version to the version that added it, across squashed roots (services/dataset_history)."""

from __future__ import annotations

from services.dataset_history import lineage_of


def test_files_held_by_a_root_are_traced_through_its_lineage() -> None:
    owners = {"a.csv": "root", "b.csv": "root", "c.csv": "v5", "d.csv": "v6"}  # the SDK's record of who holds what
    versions = {"root": "1.0.4", "v5": "1.0.5", "v6": "1.0.6"}
    root_lineage = {
        "a.csv": {"dataset_id": "v1", "version": "1.0.0"},
        "b.csv": {"dataset_id": "v3", "version": "1.0.2"},
    }
    assert lineage_of(owners, versions, {"root": root_lineage}) == {
        "a.csv": {"dataset_id": "v1", "version": "1.0.0"},
        "b.csv": {"dataset_id": "v3", "version": "1.0.2"},
        "c.csv": {"dataset_id": "v5", "version": "1.0.5"},
        "d.csv": {"dataset_id": "v6", "version": "1.0.6"},
    }


def test_a_file_a_root_does_not_name_is_traced_to_the_root_itself() -> None:
    assert lineage_of({"x.csv": "root"}, {"root": "1.0.9"}, {"root": {}}) == {
        "x.csv": {"dataset_id": "root", "version": "1.0.9"}
    }
