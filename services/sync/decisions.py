"""When to finalize a version, and who wins when two instances finalize siblings: pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    """What is waiting to become the next version."""

    pending_files: int
    last_accepted_at: float | None  # monotonic seconds
    sync_requested: bool  # the labeler pressed the upload button (POST /sync, --once)
    shutting_down: bool  # SIGTERM / SIGINT: finalize what is pending within the grace period


def finalize_reason(batch: Batch, now: float, *, quiet_seconds: float, batch_size: int) -> str | None:
    """Why the pending files should be finalized now, or None to keep waiting. Empty batches never finalize."""
    if batch.pending_files == 0:
        return None
    if batch.shutting_down:
        return "shutdown"
    if batch.sync_requested:
        return "requested"
    if batch.pending_files >= batch_size:
        return "batch_size"
    if batch.last_accepted_at is not None and now - batch.last_accepted_at >= quiet_seconds:
        return "quiet_period"
    return None


@dataclass(frozen=True)
class Version:
    dataset_id: str
    completed: str  # the server's completion stamp: strictly increasing, so it orders finalizations


def fork_verdict(ours: Version, siblings: list[Version]) -> str:
    """Two writers that started from the same parent both finalize a child: the first to finalize keeps it
    ("won"), the other ("lost") must not publish its version and rebases its files on top of the winner."""
    earlier = [
        sibling for sibling in siblings if sibling.dataset_id != ours.dataset_id and sibling.completed < ours.completed
    ]
    return "lost" if earlier else "won"
