"""What the trigger does about each dataset version: pure decisions over what the server says, no I/O.

The ledger is the server's own record: every run the trigger clones carries the tag `dataset:<id>` from the
moment it exists (clone and tag are one request). A version is done once one of its runs left the `created`
state (it was enqueued); before that, the earliest clone is the one to enqueue. Two trigger replicas therefore
agree without talking to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

RUN_TAG_PREFIX = "dataset:"


@dataclass(frozen=True)
class Version:
    """A finalized dataset version that carries the trigger tags."""

    dataset_id: str
    name: str  # the dataset's name
    completed: str  # ISO stamp of finalization (server time)
    version: str = ""  # the dataset's version string, e.g. 1.0.3


@dataclass(frozen=True)
class Run:
    """A training run cloned for a dataset version."""

    task_id: str
    dataset_id: str
    status: str
    created: str  # ISO stamp (server time)
    started: str = ""  # ISO stamps (server time) of its start and end, once it has them
    ended: str = ""


@dataclass(frozen=True)
class Action:
    kind: str  # done | clone | enqueue
    run_id: str | None = None
    discard: tuple[str, ...] = ()  # surplus clones (a lost race) to delete


def run_tag(dataset_id: str) -> str:
    return f"{RUN_TAG_PREFIX}{dataset_id}"


def dataset_of(tags: list[str] | tuple[str, ...]) -> str | None:
    return next((tag[len(RUN_TAG_PREFIX) :] for tag in tags if tag.startswith(RUN_TAG_PREFIX)), None)


def tag_filter(tags: tuple[str, ...], match: str) -> list[str]:
    """The server-side `tags` filter: a plain list means ANY of them; ALL needs the leading `__$all` operator
    (the stock TriggerScheduler sends a plain list while its docs say all: ClearML behaviour C7)."""
    return ["__$all", *tags] if match == "all" and len(tags) > 1 else list(tags)


def tags_match(tags: list[str] | tuple[str, ...], wanted: tuple[str, ...], match: str) -> bool:
    have = set(tags)
    return all(tag in have for tag in wanted) if match == "all" else any(tag in have for tag in wanted)


def aware(moment: datetime) -> datetime:
    """A server time without a zone is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_stamp(value: object) -> datetime | None:
    """A server stamp (ISO 8601) as an aware datetime, or None when there is none or it does not parse."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def seconds_since(stamp: str, now: datetime) -> float:
    return (now - aware(datetime.fromisoformat(stamp))).total_seconds()


def next_action(runs: list[Run], mine: set[str], now: datetime, stale_seconds: float) -> Action:
    """What to do for one version, given every run cloned for it (by anyone) and the clones this process made.

    The earliest clone is the run, whoever made it: a clone is complete the moment it exists (one request), and
    enqueueing is atomic on the server, so two replicas enqueueing it at once yield one queued run. Surplus clones
    (a lost race) are deleted by their maker, or by anyone once they are stale (their maker went away)."""

    def removable(candidates: list[Run]) -> tuple[str, ...]:
        return tuple(
            run.task_id
            for run in candidates
            if run.status == "created" and (run.task_id in mine or seconds_since(run.created, now) >= stale_seconds)
        )

    launched = [run for run in runs if run.status != "created"]
    if launched:  # clones that lost the race to this one are surplus, whoever made them
        run = min(launched, key=lambda run: (run.created, run.task_id))
        return Action("done", run.task_id, removable([other for other in runs if other.task_id != run.task_id]))
    if not runs:
        return Action("clone")
    first, *surplus = sorted(runs, key=lambda run: (run.created, run.task_id))
    return Action("enqueue", first.task_id, removable(surplus))


def to_train(versions: list[Version], done: set[str], now: datetime, coalesce_seconds: float) -> list[Version]:
    """The versions that need a run now, oldest first. With coalescing, only the newest version newer than every
    trained one, once no newer version has arrived for `coalesce_seconds`; the older ones are covered by it (its
    data includes theirs), and the newest is never dropped."""
    ordered = sorted(versions, key=lambda version: (version.completed, version.dataset_id))
    pending = [version for version in ordered if version.dataset_id not in done]
    if coalesce_seconds <= 0 or not pending:
        return pending
    trained = [version.completed for version in ordered if version.dataset_id in done]
    newer = [version for version in pending if not trained or version.completed > max(trained)]
    if not newer or seconds_since(newer[-1].completed, now) < coalesce_seconds:
        return []
    return [newer[-1]]


def coalesced(versions: list[Version], done: set[str], chosen: Version) -> list[Version]:
    """Pending versions that `chosen` covers (older and untrained): logged as skipped, never trained."""
    return [version for version in versions if version.dataset_id not in done and version.completed < chosen.completed]
