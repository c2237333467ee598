"""The endpoint table: `"service.action"` → handler, assembled from one module per ClearML service."""

from __future__ import annotations

from ..calls import Handler
from . import auth, events, models, projects, queues, server, task_sections, task_status, tasks, workers

_BY_SERVICE: dict[str, list[dict[str, Handler]]] = {
    "tasks": [tasks.HANDLERS, task_status.HANDLERS, task_sections.HANDLERS],
    "projects": [projects.HANDLERS],
    "models": [models.HANDLERS],
    "queues": [queues.HANDLERS],
    "events": [events.HANDLERS],
    "workers": [workers.HANDLERS],
    "auth": [auth.HANDLERS],
    "server": [server.SERVER_HANDLERS],
    "users": [server.USERS_HANDLERS],
}

ENDPOINTS: dict[str, Handler] = {
    f"{service}.{action}": handler
    for service, tables in _BY_SERVICE.items()
    for table in tables
    for action, handler in table.items()
}
