"""When the sync finalizes, and who wins a fork: pure decisions."""

from __future__ import annotations

from services.sync.decisions import Batch, Version, finalize_reason, fork_verdict, orphan_verdict


def reason(
    pending: int = 1, last: float | None = 0.0, requested: bool = False, shutdown: bool = False, now: float = 5.0
) -> str | None:
    return finalize_reason(Batch(pending, last, requested, shutdown), now, quiet_seconds=10, batch_size=3)


def test_an_empty_batch_never_finalizes_whatever_happens() -> None:
    assert reason(pending=0, requested=True, shutdown=True, now=1000) is None


def test_reasons_in_priority_order() -> None:
    assert reason(shutdown=True, requested=True) == "shutdown"
    assert reason(requested=True) == "requested"
    assert reason(pending=3) == "batch_size"
    assert reason(now=10.0) == "quiet_period"
    assert reason(now=9.9) is None


def test_the_first_finalization_wins_a_fork() -> None:
    ours = Version("b", "2026-11-24T08:00:00.000002+00:00")
    earlier = Version("a", "2026-11-24T08:00:00.000001+00:00")
    later = Version("c", "2026-11-24T08:00:00.000003+00:00")
    assert fork_verdict(ours, [ours, later]) == "won"
    assert fork_verdict(ours, [earlier, ours]) == "lost"
    assert fork_verdict(ours, []) == "won"


OWNER = "sync-draft:aaa"
NOW = "2026-11-24T12:00:00+00:00"


def verdict(tags: tuple[str, ...], created: str | None, intent: str | None = None) -> str | None:
    return orphan_verdict(
        tags, created, owner_tag=OWNER, owner_prefix="sync-draft:", intent=intent, now=NOW, stale_seconds=3600
    )


def test_our_tagged_draft_is_an_orphan_whatever_its_age() -> None:
    assert verdict((OWNER,), "2026-11-24T11:59:59+00:00") == "orphan_of_this_instance"


def test_another_instances_draft_is_never_touched() -> None:
    assert verdict(("sync-draft:bbb",), "2020-01-01T00:00:00+00:00", intent=NOW) is None


def test_untagged_draft_created_after_our_unresolved_intent_is_ours() -> None:
    assert verdict((), "2026-11-24T11:58:00+00:00", intent="2026-11-24T11:57:59+00:00") == (
        "orphan_created_before_crash"
    )
    # the server clock may lag ours by a little
    assert verdict((), "2026-11-24T11:57:00", intent="2026-11-24T11:58:00+00:00") == "orphan_created_before_crash"


def test_untagged_recent_draft_without_intent_is_left_alone_until_stale() -> None:
    assert verdict((), "2026-11-24T11:30:00+00:00") is None
    assert verdict((), "2026-11-24T10:59:00+00:00") == "stale_untagged_draft"
    assert verdict((), "2026-11-24T11:30:00+00:00", intent="2026-11-24T11:50:00+00:00") is None
