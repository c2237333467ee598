"""`/orchestration` (also `/workers-and-queues/...`): queues (depth, next task), workers (current task, last seen)
and each service's status: the page that answers "why is nothing happening?" (e.g. the trigger watching, the
queue empty, the agent idle, the sync waiting for the server)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ..reads import Reader, reader_of
from ..rendering import renderer_of

SERVICES = ("sync", "trigger", "rollout")


def orchestration_data(reader: Reader) -> dict[str, Any]:
    queues = reader.queues()
    workers = reader.workers()
    next_ids = [str((queue.get("entries") or [{}])[0].get("task")) for queue in queues if queue.get("entries")]
    running = [str((worker.get("task") or {}).get("id")) for worker in workers if (worker.get("task") or {}).get("id")]
    names = (
        {
            str(task["id"]): task
            for task in reader.tasks(ids=next_ids + running, fields=["id", "name", "project", "status"])
        }
        if next_ids + running
        else {}
    )
    statuses = {name: reader.service_status(name) for name in SERVICES}
    hints = []
    if not workers:
        hints.append("No worker (clearml-agent) is registered: queued tasks will wait.")
    for queue in queues:
        if queue.get("entries") and not any(
            queue.get("id") in [q.get("id") for q in w.get("queues") or []] for w in workers
        ):
            hints.append(f"Queue {queue.get('name')} has {len(queue['entries'])} task(s) and no worker listens to it.")
    for name, status in statuses.items():
        state = status.get("state")
        if state in ("not running", "backoff", "waiting_for_server"):
            hints.append(
                f"The {name} service is {state}" + (f": {status.get('error')}" if status.get("error") else ".")
            )
    if not hints:
        hints.append("Every service answers and no queue is waiting for a worker.")
    return {"queues": queues, "workers": workers, "tasks": names, "services": statuses, "hints": hints}


def page(request: Request) -> Response:
    data = orchestration_data(reader_of(request))
    renderer = renderer_of(request)
    if request.query_params.get("fragment") == "1":
        return renderer.html(request, "_orchestration_live.html", data)
    return renderer.page(request, "orchestration.html", data, title="Orchestration")
