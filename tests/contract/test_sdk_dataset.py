"""clearml Dataset versioning against occuloop server."""

from __future__ import annotations

from tests.support.clients import Clients


def test_two_versions_lineage_tags_and_merged_copy(clients: Clients) -> None:
    result = clients.flow("dataset_flow", "labels", "labeled")
    assert result["second_parents"] == [result["first"]]
    assert result["inherited_tags"] == ["Production"]  # Dataset.get(writable_copy=True) copies the parent's tags
    assert result["merged_files"] == ["day1.csv", "day2.csv"]
    assert result["latest"] == result["second"] and result["latest_version"] == "1.0.1"
    assert result["listed"] == sorted([[result["first"], "1.0.0"], [result["second"], "1.0.1"]])
    version = clients.api.task(result["second"])
    assert version["status"] == "completed" and "dataset" in version["system_tags"]
    projects = clients.api.ok("projects.get_all", {"name": "^labels/\\.datasets/labeled$", "search_hidden": True})[
        "projects"
    ]
    assert "hidden" in projects[0]["system_tags"]
    assert clients.api.ok("projects.get_all", {"name": "^labels/\\.datasets"})["projects"] == []


def test_the_gateway_picks_the_parent_and_the_number_the_sdk_would(clients: Clients) -> None:
    """The sync reads only the newest versions where the SDK reads them all (services/clearml_gateway.py,
    RECENT_VERSIONS); through drafts, an archived version and a new root, its choices stay the SDK's."""
    result = clients.flow("gateway_versions", "labels", "numbered")
    assert result["seen"] == {"empty_latest": None, "empty_next": None}
    for step in result["steps"]:
        assert step["gateway_latest"] == step["draft_parent"] == step["latest"], step
        assert step["draft_version"] == step["highest"] and step["draft_tags"] == ["sync-test"], step
    assert [step["latest"] for step in result["steps"][:3]] == [result["second"]] * 3
    assert result["steps"][3]["latest"] not in (result["first"], result["second"])
    assert len(result["numbers"]) == len(set(result["numbers"])) == 9, result["numbers"]
    assert result["tagged"] == [[result["first"]] * 2, [result["steps"][3]["latest"]] * 2]


def test_the_sync_uploads_without_the_sdks_double_close_of_a_zip_file(clients: Clients) -> None:
    """The control (four workers, the SDK's way) shows the pinned SDK closing a merged zip's descriptor twice; the
    sync's upload (one zipper) closes none twice. When a new SDK pin fixes it, the control fails: then the one-zipper
    workaround in `Draft.add_and_upload` can go."""
    control = clients.flow("zipper_closes", "labels", "zips-control", "workers")
    assert control["closed_twice"] >= 1, control
    ours = clients.flow("zipper_closes", "labels", "zips-sync", "sync")
    assert ours["zippers"] >= 1 and ours["closed_twice"] == 0, ours
