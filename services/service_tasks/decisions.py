"""What to do with a service's ClearML tasks, decided on plain values (registry.py reads and acts on the server).

- `plan_registration`: `occuloop <service> --remote QUEUE` and the services agent's start. A service has one task,
  the newest one carrying its tag. Registered again with the same settings and queue, it is left alone while it
  is queued or running and enqueued again otherwise; registered with other settings, it is replaced: stopped,
  archived, and a new task with the new settings takes its place. "The same" compares against what was
  registered last (stored on the task), not against the task's current parameters: a value someone changed in
  the UI survives every re-registration until the deployment itself changes.
- `orphans`: when the services agent starts, a service task of its queue still marked running was left behind by
  its previous run (kill -9, a crashed pod): nobody runs it any more, unless a live worker of another agent says
  it does.
- `retired`: service tasks on the agent's queue for services it no longer runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .parameters import differing

RUNNING = frozenset({"queued", "in_progress"})
SERVICE_WORKER_MARK = ":service:"  # clearml-agent in services mode runs each task as worker `<agent>:service:<task>`


@dataclass(frozen=True)
class Registration:
    """What a deployment asked for: the task's parameters (`{"Section/name": text}`) and its queue."""

    parameters: Mapping[str, str]
    queue: str

    def changes_from(self, earlier: Registration | None) -> tuple[str, ...]:
        if earlier is None:
            return ("(not registered by occuloop)",)
        changed = differing(earlier.parameters, self.parameters)
        return (*changed, *(["queue"] if earlier.queue != self.queue else []))


@dataclass(frozen=True)
class TaskRecord:
    task_id: str
    service: str  # from the task's tag
    status: str
    created: str  # ISO stamp: the newest task of a service is the one
    queue_id: str | None  # the queue it was last enqueued on
    registered: Registration | None


@dataclass(frozen=True)
class Plan:
    action: str  # create | unchanged | requeue | replace
    task_id: str | None  # the existing task it acts on (none for create)
    status: str | None  # that task's status
    stop: tuple[str, ...]  # older tasks of the same service still queued or running: one service, one task
    changed: tuple[str, ...]  # for replace: the parameter keys (and "queue") the new registration changes


def newest_first(records: Iterable[TaskRecord]) -> list[TaskRecord]:
    return sorted(records, key=lambda record: (record.created, record.task_id), reverse=True)


def plan_registration(records: Iterable[TaskRecord], wanted: Registration) -> Plan:
    """`records`: the service's unarchived tasks."""
    ordered = newest_first(records)
    if not ordered:
        return Plan("create", None, None, (), ())
    newest, older = ordered[0], ordered[1:]
    stop = tuple(record.task_id for record in older if record.status in RUNNING)
    changed = wanted.changes_from(newest.registered)
    if changed:
        return Plan("replace", newest.task_id, newest.status, stop, changed)
    action = "unchanged" if newest.status in RUNNING else "requeue"
    return Plan(action, newest.task_id, newest.status, stop, ())


def base_worker(worker_id: str) -> str:
    """The agent behind a worker id: `svc:service:<task>` -> `svc`."""
    return worker_id.split(SERVICE_WORKER_MARK, 1)[0]


def orphans(
    records: Iterable[TaskRecord], live_workers: Mapping[str, str | None], worker_id: str, queue_id: str
) -> list[str]:
    """Tasks of `queue_id` marked in progress that no other agent's live worker runs; `live_workers` maps worker
    id -> the task it reports (a worker of this agent's earlier run may linger on the server: it does not count)."""
    running_elsewhere = {
        task for worker, task in live_workers.items() if task and base_worker(worker) != base_worker(worker_id)
    }
    return [
        record.task_id
        for record in records
        if record.status == "in_progress" and record.queue_id == queue_id and record.task_id not in running_elsewhere
    ]


def retired(records: Iterable[TaskRecord], services: Iterable[str], queue_id: str) -> list[str]:
    """Tasks on `queue_id` of services the agent no longer runs."""
    kept = set(services)
    return [record.task_id for record in records if record.queue_id == queue_id and record.service not in kept]
