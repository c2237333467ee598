"""When the sync finalizes, and who wins a fork: pure decisions."""

from __future__ import annotations

from services.sync.decisions import Batch, Version, finalize_reason, fork_verdict


def reason(pending: int = 1, last: float | None = 0.0, requested: bool = False, shutdown: bool = False, now: float = 5.0) -> str | None:
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
