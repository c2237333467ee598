"""When to finalize a version, and who wins when two instances finalize siblings: pure decisions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Batch:
    """What is waiting to become the next version."""

    pending_files: int
    last_accepted_at: float | None  # monotonic seconds
    sync_requested: bool  # the labeler pressed the upload button (POST /sync, --once)
    shutting_down: bool  # SIGTERM / SIGINT: finalize what is pending within the grace period


FINALIZE_REASONS = ("shutdown", "requested", "batch_size", "quiet_period", "recovered")  # "recovered": after a restart


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


def orphan_verdict(
    tags: tuple[str, ...],
    created: str | None,
    *,
    owner_tag: str,
    owner_prefix: str,
    intent: str | None,
    now: str,
    stale_seconds: float,
    clock_skew_seconds: float = 300.0,
) -> str | None:
    """Why an unfinished version on the server should be deleted at start-up, or None to leave it.

    - tagged with our owner tag: a draft of ours that no journal entry will finish;
    - untagged and created around a draft intent we never resolved: ours, crashed before it could be tagged
      (server and local clocks may differ, hence the skew window);
    - untagged and older than `stale_seconds`: abandoned by someone, it only confuses "latest version" lookups.
    Drafts tagged by another sync instance belong to it, alive or not, and are its business."""
    if owner_tag in tags:
        return "orphan_of_this_instance"
    if any(tag.startswith(owner_prefix) for tag in tags):
        return None
    if created is None:
        return None
    age = _seconds_between(created, now)
    if intent is not None and _seconds_between(intent, created) >= -clock_skew_seconds:
        return "orphan_created_before_crash"
    if age >= stale_seconds:
        return "stale_untagged_draft"
    return None


def _seconds_between(earlier: str, later: str) -> float:
    def parse(stamp: str) -> datetime:
        parsed = datetime.fromisoformat(stamp)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    return (parse(later) - parse(earlier)).total_seconds()
