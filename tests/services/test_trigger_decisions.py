"""The trigger's decisions: which versions need a run, which clone to enqueue, tag filters. Pure logic."""

from __future__ import annotations

from datetime import UTC, datetime

from services.trigger.decisions import Run, Version, dataset_of, next_action, run_tag, tag_filter, tags_match, to_train

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


def version(dataset_id: str, minute: int) -> Version:
    return Version(dataset_id, "labeled", f"2026-11-24T11:{minute:02d}:00+00:00")


def run(task_id: str, status: str = "created", second: int = 0) -> Run:
    return Run(task_id, "v1", status, f"2026-11-24T11:59:{second:02d}+00:00")


def test_tag_filters_say_any_or_all_explicitly() -> None:
    assert tag_filter(("Production",), "all") == ["Production"]
    assert tag_filter(("Production", "approved"), "any") == ["Production", "approved"]
    assert tag_filter(("Production", "approved"), "all") == ["__$all", "Production", "approved"]
    assert tags_match(["Production", "x"], ("Production", "approved"), "any")
    assert not tags_match(["Production", "x"], ("Production", "approved"), "all")


def test_the_run_tag_names_its_dataset() -> None:
    assert dataset_of(["retrain", run_tag("abc")]) == "abc" and dataset_of(["retrain"]) is None


def test_a_version_without_runs_is_cloned_and_an_enqueued_one_is_done() -> None:
    assert next_action([], set(), NOW, 60).kind == "clone"
    assert next_action([run("a", "queued"), run("b")], set(), NOW, 60).kind == "done"
    assert next_action([run("a", "failed")], set(), NOW, 60).kind == "done"  # enqueued once: not retrained


def test_a_clone_that_lost_to_an_already_enqueued_run_is_removed_by_its_maker() -> None:
    action = next_action([run("winner", "queued", second=1), run("mine", second=2)], {"mine"}, NOW, 60)
    assert (action.kind, action.run_id, action.discard) == ("done", "winner", ("mine",))


def test_the_earliest_clone_is_enqueued_by_anyone_and_surplus_clones_go() -> None:
    action = next_action([run("late", second=30), run("early", second=10)], {"late"}, NOW, 60)
    assert (action.kind, action.run_id, action.discard) == ("enqueue", "early", ("late",))
    # another replica's surplus clone is left to it while fresh, deleted by anyone once stale
    assert next_action([run("early", second=10), run("theirs", second=50)], set(), NOW, 60).discard == ()
    assert next_action([run("early", second=10), run("theirs", second=50)], set(), NOW, 5).discard == ("theirs",)


def test_without_coalescing_every_untrained_version_is_due_oldest_first() -> None:
    versions = [version("v3", 3), version("v1", 1), version("v2", 2)]
    assert [item.dataset_id for item in to_train(versions, {"v2"}, NOW, 0)] == ["v1", "v3"]


def test_coalescing_trains_only_the_newest_once_the_burst_is_quiet() -> None:
    burst = [version("v1", 1), version("v2", 2), version("v3", 59)]
    assert to_train(burst, set(), NOW, coalesce_seconds=120) == []  # v3 is 60 s old: still in the burst
    assert [item.dataset_id for item in to_train(burst, set(), NOW, coalesce_seconds=30)] == ["v3"]
    # once v3 is trained, the older untrained versions are covered by it: nothing more
    assert to_train(burst, {"v3"}, NOW, coalesce_seconds=30) == []
    # a version newer than the last trained one is never dropped
    later = [*burst, version("v4", 30)]
    assert [item.dataset_id for item in to_train(later, {"v2"}, NOW, coalesce_seconds=30)] == ["v3"]
