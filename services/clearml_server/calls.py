"""What an endpoint handler receives: the call (body, identity, clock) and the server's shared parts.

Handlers are plain functions `(Call) -> dict` grouped per ClearML service in `endpoints/`; they never see HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .auth import Authenticator, Identity
from .documents import Doc, MonotonicClock, iso
from .files import FileStore
from .store import DocumentTable, Session, Store
from .wire import (
    INVALID_MODEL_ID,
    INVALID_PROJECT_ID,
    INVALID_QUEUE_ID,
    INVALID_TASK_ID,
    ApiError,
    Body,
    ErrorCode,
    fail,
)
from .workers import WorkerRegistry

if TYPE_CHECKING:
    from .metrics import ServerMetrics


@dataclass
class Server:
    """The long-lived parts every handler may use."""

    store: Store
    auth: Authenticator
    workers: WorkerRegistry
    files: FileStore
    clock: MonotonicClock
    metrics: ServerMetrics
    web_host: str | None = None  # the UI: a GET of a web path (an SDK "results page" link) is redirected there


@dataclass
class Call:
    endpoint: str
    body: Body
    identity: Identity
    server: Server
    now: datetime  # one timestamp per call, from the monotonic clock

    @property
    def store(self) -> Store:
        return self.server.store

    def stamp(self) -> str:
        return iso(self.now)


Handler = Callable[[Call], dict[str, Any]]


def _existing(table: DocumentTable, object_id: str, code: ErrorCode) -> Doc:
    doc = table.get(object_id)
    if doc is None:
        fail(code, f"id={object_id}")
    return doc


def task_or_fail(session: Session, task_id: str) -> Doc:
    return _existing(session.tasks, task_id, INVALID_TASK_ID)


def model_or_fail(session: Session, model_id: str) -> Doc:
    return _existing(session.models, model_id, INVALID_MODEL_ID)


def project_or_fail(session: Session, project_id: str) -> Doc:
    return _existing(session.projects, project_id, INVALID_PROJECT_ID)


def queue_or_fail(session: Session, queue_id: str) -> Doc:
    return _existing(session.queues, queue_id, INVALID_QUEUE_ID)


def for_each(ids: list[str], action: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """Run a `*_many` endpoint's action per id: one bad id is reported in `failed` and does not stop the batch."""
    succeeded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for object_id in ids:
        try:
            succeeded.append({"id": object_id, **action(object_id)})
        except ApiError as error:
            failed.append(
                {"id": object_id, "error": {"codes": [error.code.http, error.code.subcode], "msg": error.message}}
            )
    return {"succeeded": succeeded, "failed": failed}
