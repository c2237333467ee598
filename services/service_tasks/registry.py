"""The service tasks on the ClearML server: find them, register one (create, leave, requeue or replace: the plan
comes from decisions.py), stop one cleanly, and, when the services agent starts, take back what its previous run
left in progress.

Stopping is the ClearML abort: `tasks.stop` asks the running task to stop; the task's abort callback
(runtime.py) delivers SIGTERM to the service, which stops within its bound (services/shutdown.py); clearml-agent
waits for the callback before it ends the process. A task nobody runs any more (its agent was killed) never
answers, so after `wait_seconds` it is marked stopped without it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Any

from ..clearml_api import ServerError, call, project_id, queue_id
from ..logs import log_event
from .decisions import RUNNING, Plan, Registration, TaskRecord, orphans, plan_registration, retired
from .spec import TAG_PREFIX, ServiceTaskSpec

logger = logging.getLogger(__name__)

REGISTRATION = "occuloop registration"  # configuration item on each task: what the deployment registered
POLL_SECONDS = 1.0


class ServiceTaskError(RuntimeError):
    pass


def _registration(task: dict[str, Any]) -> Registration | None:
    item = (task.get("configuration") or {}).get(REGISTRATION) or {}
    try:
        stored = json.loads(item.get("value") or "")
        return Registration(dict(stored["parameters"]), str(stored["queue"]))
    except (ValueError, KeyError, TypeError):
        return None


def records(project: str) -> list[TaskRecord]:
    """Every unarchived occuloop service task in the project."""
    found = call(
        "tasks.get_all",
        {
            "project": [project],
            "type": ["service"],
            "system_tags": ["-archived"],
            "only_fields": ["id", "tags", "status", "created", "execution.queue", "configuration"],
        },
    )
    result = []
    for task in found.get("tasks") or []:
        service = next((tag[len(TAG_PREFIX) :] for tag in task.get("tags") or [] if tag.startswith(TAG_PREFIX)), None)
        if service is None:
            continue
        result.append(
            TaskRecord(
                task_id=str(task["id"]),
                service=service,
                status=str(task.get("status")),
                created=str(task.get("created") or ""),
                queue_id=(task.get("execution") or {}).get("queue"),
                registered=_registration(task),
            )
        )
    return result


def status_of(task_id: str) -> str:
    found = call("tasks.get_all", {"id": [task_id], "only_fields": ["status"]}).get("tasks") or []
    return str(found[0]["status"]) if found else "deleted"


def stop(task_id: str, reason: str, wait_seconds: float) -> str:
    """Stop a queued or running task; returns its status afterwards. A running one is asked to abort and given
    `wait_seconds` to do so cleanly before it is marked stopped without it."""
    status = status_of(task_id)
    if status == "queued":
        call("tasks.stop", {"task": task_id, "force": True, "status_reason": reason})
    if status != "in_progress":
        return status_of(task_id)
    call("tasks.stop", {"task": task_id, "status_reason": reason})
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        status = status_of(task_id)
        if status != "in_progress":
            return status
        time.sleep(POLL_SECONDS)
    call("tasks.stop", {"task": task_id, "force": True, "status_reason": f"{reason} (did not stop in time)"})
    log_event(logger, "service_task_stop_forced", level=logging.WARNING, task_id=task_id, waited_seconds=wait_seconds)
    return status_of(task_id)


def _enqueue(task_id: str, queue: str) -> None:
    call("tasks.enqueue", {"task": task_id, "queue": queue, "status_reason": "registered by occuloop"})


def _create(spec: ServiceTaskSpec, settings: Any, wanted: Registration, project_name: str) -> str:
    from clearml import Task

    task: Any = Task.create(
        project_name=project_name,
        task_name=spec.task_name,
        task_type="service",
        module=spec.module,
        detect_repository=False,  # clearml-agent runs the installed package by module name: no checkout
        packages=[],  # ... and no pip: the image's interpreter (services_agent.py sets the agent up so)
        add_task_init_call=False,
    )
    task_id = str(task.id)
    hyperparams = [dataclasses.asdict(item) for item in spec.parameters(settings)]
    call("tasks.edit_hyper_params", {"task": task_id, "hyperparams": hyperparams, "replace_hyperparams": "all"})
    record = {
        "name": REGISTRATION,
        "type": "json",
        "value": json.dumps({"parameters": dict(wanted.parameters), "queue": wanted.queue}, indent=1, sort_keys=True),
        "description": "the settings the deployment registered (occuloop compares the next registration with "
        "these; edit the parameters, not this)",
    }
    call("tasks.edit_configuration", {"task": task_id, "configuration": [record]})
    call("tasks.edit", {"task": task_id, "tags": [spec.tag], "force": True})
    return task_id


def register(spec: ServiceTaskSpec, settings: Any, queue: str, project: str, *, stop_seconds: float) -> Plan:
    """Make `settings` the service's task on `queue` in `project`; idempotent (see decisions.plan_registration).
    Returns the plan it carried out, with the task id that runs the service now."""
    queue_found = queue_id(queue)
    if queue_found is None:
        raise ServiceTaskError(f"queue '{queue}' does not exist: start the services agent (it creates it) first")
    project_found = project_id(project, create=True)
    assert project_found is not None
    wanted = spec.registration(settings, queue)
    plan = plan_registration([r for r in records(project_found) if r.service == spec.name], wanted)
    for duplicate in plan.stop:
        final = stop(duplicate, "another task runs this service", stop_seconds)
        log_event(logger, "service_task_duplicate_stopped", service=spec.name, task_id=duplicate, status=final)
    task_id = plan.task_id
    if plan.action == "unchanged":
        log_event(logger, "service_task_unchanged", service=spec.name, task_id=task_id, status=plan.status, queue=queue)
    elif plan.action == "requeue":
        assert task_id is not None
        call("tasks.reset", {"task": task_id, "force": True})
        _enqueue(task_id, queue_found)
        log_event(
            logger,
            "service_task_requeued",
            service=spec.name,
            task_id=task_id,
            previous_status=plan.status,
            queue=queue,
        )
    else:
        old = task_id
        if old is not None:  # replace: stop, then start
            final = stop(old, "replaced: its settings changed", stop_seconds)
            call("tasks.archive", {"tasks": [old]})
            log_event(logger, "service_task_stopped", service=spec.name, task_id=old, status=final, archived=True)
        task_id = _create(spec, settings, wanted, project)
        _enqueue(task_id, queue_found)
        if old is None:
            log_event(logger, "service_task_created", service=spec.name, task_id=task_id, queue=queue)
        else:
            log_event(
                logger,
                "service_task_replaced",
                service=spec.name,
                old_task_id=old,
                task_id=task_id,
                queue=queue,
                changed=",".join(plan.changed),
            )
    return Plan(plan.action, task_id, plan.status, plan.stop, plan.changed)


def ensure_queue(name: str) -> str:
    """The services queue, created if missing (by its agent, which is the one place that knows it serves it)."""
    found = queue_id(name)
    if found is not None:
        return found
    try:
        return str(call("queues.create", {"name": name})["id"])
    except ServerError:  # created meanwhile by someone else
        again = queue_id(name)
        if again is None:
            raise
        return again


def take_back(project: str, queue: str, worker_id: str, services: tuple[str, ...]) -> None:
    """At the services agent's start, before it pulls anything: the tasks its previous run left in progress are
    marked stopped (registration then enqueues them again), and the tasks of services it no longer runs are
    stopped and archived."""
    project_found = project_id(project)
    queue_found = queue_id(queue)
    if project_found is None or queue_found is None:
        return
    found = records(project_found)
    workers = call("workers.get_all", {}).get("workers") or []
    live = {str(worker["id"]): (worker.get("task") or {}).get("id") for worker in workers}
    for task_id in orphans(found, live, worker_id, queue_found):
        call("tasks.stop", {"task": task_id, "force": True, "status_reason": f"orphaned: agent {worker_id} restarted"})
        log_event(logger, "service_task_orphaned", task_id=task_id, worker=worker_id, action="marked_stopped")
    unwanted = set(retired(found, services, queue_found))
    for record in found:
        if record.task_id in unwanted:
            if record.status in RUNNING:
                call("tasks.stop", {"task": record.task_id, "force": True, "status_reason": "service not run"})
            call("tasks.archive", {"tasks": [record.task_id]})
            log_event(logger, "service_task_retired", service=record.service, task_id=record.task_id)
