"""Live workers (clearml-agent daemons and their task processes), kept in memory only.

Workers are ephemeral by nature: an agent registers when it starts, reports every ~30 s and unregisters when it
stops; one that stops reporting for longer than its timeout is forgotten. Nothing here needs to survive a
restart, so the registry is a dict behind a lock, not a table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .documents import iso

DEFAULT_TIMEOUT_SECONDS = 600


@dataclass
class WorkerState:
    worker_id: str
    user_id: str
    company_id: str
    ip: str | None
    register_time: datetime
    last_activity_time: datetime
    last_report_time: datetime | None = None
    queues: list[str] = field(default_factory=list)
    task: str | None = None
    queue: str | None = None
    tags: list[str] = field(default_factory=list)
    system_tags: list[str] = field(default_factory=list)
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS

    def expired(self, now: datetime) -> bool:
        return now - self.last_activity_time > timedelta(seconds=self.timeout_seconds)


class WorkerRegistry:
    def __init__(self) -> None:
        self._workers: dict[str, WorkerState] = {}
        self._lock = threading.Lock()

    def register(
        self,
        worker_id: str,
        *,
        user_id: str,
        company_id: str,
        ip: str | None,
        now: datetime,
        queues: list[str] | None = None,
        tags: list[str] | None = None,
        system_tags: list[str] | None = None,
        timeout_seconds: int | None = None,
    ) -> WorkerState:
        with self._lock:
            state = self._workers.get(worker_id)
            if state is None:
                state = WorkerState(worker_id, user_id, company_id, ip, register_time=now, last_activity_time=now)
                self._workers[worker_id] = state
            state.last_activity_time = now
            if queues is not None:
                state.queues = list(queues)
            if tags is not None:
                state.tags = list(tags)
            if system_tags is not None:
                state.system_tags = list(system_tags)
            if timeout_seconds:
                state.timeout_seconds = timeout_seconds
            return state

    def report(
        self,
        worker_id: str,
        *,
        task: str | None,
        queue: str | None,
        user_id: str,
        company_id: str,
        ip: str | None,
        now: datetime,
        queues: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        state = self.register(
            worker_id, user_id=user_id, company_id=company_id, ip=ip, now=now, queues=queues, tags=tags
        )
        with self._lock:
            state.last_report_time = now
            state.task = task
            state.queue = queue

    def unregister(self, worker_id: str) -> bool:
        with self._lock:
            return self._workers.pop(worker_id, None) is not None

    def active(self, now: datetime, last_seen_seconds: int | None = None) -> list[WorkerState]:
        with self._lock:
            for worker_id in [key for key, state in self._workers.items() if state.expired(now)]:
                del self._workers[worker_id]
            states = list(self._workers.values())
        if last_seen_seconds:
            horizon = now - timedelta(seconds=last_seen_seconds)
            states = [state for state in states if state.last_activity_time >= horizon]
        return states

    def watching(self, queue_id: str, now: datetime) -> list[WorkerState]:
        return [state for state in self.active(now) if queue_id in state.queues]


def describe(
    state: WorkerState, queue_names: dict[str, str], task_names: dict[str, str], now: datetime
) -> dict[str, object]:
    """A worker as `workers.get_all` returns it."""
    return {
        "id": state.worker_id,
        "key": state.worker_id,
        "user": {"id": state.user_id, "name": state.user_id},
        "company": {"id": state.company_id, "name": state.company_id},
        "ip": state.ip,
        "register_time": iso(state.register_time),
        "last_activity_time": iso(state.last_activity_time),
        "last_report_time": iso(state.last_report_time) if state.last_report_time else None,
        "queues": [{"id": queue, "name": queue_names.get(queue, queue)} for queue in state.queues],
        "queue": {"id": state.queue, "name": queue_names.get(state.queue, state.queue)} if state.queue else None,
        "task": {"id": state.task, "name": task_names.get(state.task, "")} if state.task else None,
        "tags": state.tags,
        "system_tags": state.system_tags,
    }
