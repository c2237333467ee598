"""Tracing every file of a version to the version that added it, across squashed roots (services/dataset_history)."""

from __future__ import annotations

from services.dataset_history import lineage_of, plan_squash


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


def chain(base_files: int, later: int) -> tuple[dict[str, str], dict[str, str], dict[str, list[str]]]:
    """A root holding `base_files` sessions, then `later` versions of one session each."""
    content = {f"{day:03d}.csv": f"sha-{day}" for day in range(base_files + later)}
    owners = {name: "root" if day < base_files else f"v{day}" for day, name in enumerate(sorted(content))}
    versions = ["root", *(f"v{day}" for day in range(base_files, base_files + later))]
    graph = {version: ([versions[index - 1]] if index else []) for index, version in enumerate(versions)}
    return content, owners, graph


def test_a_segment_under_a_quarter_of_the_root_is_squashed_on_top_of_it() -> None:
    content, owners, graph = chain(13, 3)  # 3 * 4 < 13
    plan = plan_squash("v15", content, owners, graph, base_files=13)
    assert plan.base_id == "root" and plan.content == content
    assert plan.upload == {"013.csv": "sha-13", "014.csv": "sha-14", "015.csv": "sha-15"}  # the root's 13 stay put


def test_otherwise_the_squash_is_a_new_root_with_every_file() -> None:
    content, owners, graph = chain(12, 3)  # 3 * 4 >= 12
    assert plan_squash("v14", content, owners, graph, base_files=12).base_id is None
    content, owners, graph = chain(13, 3)
    corrected = {**owners, "005.csv": "v15"}  # a root session corrected later: the root no longer holds it
    plan = plan_squash("v15", content, corrected, graph, base_files=13)
    assert plan.base_id is None and plan.upload == content
