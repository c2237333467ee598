"""The trigger as a ClearML service task: `occuloop trigger --remote QUEUE` creates a task that clearml-agent runs
with `python -m services.trigger.remote` from the installed package (no checkout), its settings carried as the
task's `Trigger` parameters so they are visible and editable in the UI. The ledger lives on the server either way,
so the guarantees are those of the plain process.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from typing import Any

from ..logs import configure_logging
from ..setting import Declared, declared
from ..settings import TriggerSettings

logger = logging.getLogger(__name__)

SECTION = "Trigger"
MODULE = "services.trigger.remote"


def _carried() -> list[Declared]:
    """Every trigger setting but the queue the task itself runs on, written as the environment would hold it."""
    return [item for item in declared(TriggerSettings, nested_groups=False) if item.name != "remote_queue"]


def to_parameters(settings: TriggerSettings) -> dict[str, str]:
    return {f"{SECTION}/{item.name}": item.setting.kind.text(getattr(settings, item.name)) for item in _carried()}


def from_parameters(parameters: dict[str, Any], base: TriggerSettings) -> TriggerSettings:
    """The settings the task's parameters say (checked like the environment's), the others from `base`."""
    changes: dict[str, Any] = {}
    for item in _carried():
        key = f"{SECTION}/{item.name}"
        raw = parameters.get(key)
        if raw is not None and str(raw) != "":
            changes[item.name] = item.setting.parse(key, str(raw))
    return dataclasses.replace(base, **changes)


def enqueue(settings: TriggerSettings) -> str:
    """Create the service task and put it on the services queue; returns its id."""
    from clearml import Task

    task: Any = Task.create(
        project_name=settings.services_project,
        task_name="occuloop trigger",
        task_type="service",
        module=MODULE,
        detect_repository=False,  # the agent runs the installed package by module name
        packages=[],
        add_task_init_call=False,
    )
    task.set_parameters(to_parameters(settings))
    Task.enqueue(task, queue_name=settings.remote_queue)
    logger.info("event=trigger_enqueued_as_service task_id=%s queue=%s", task.id, settings.remote_queue)
    return str(task.id)


def main() -> int:
    """What clearml-agent runs: the same service, configured from the task's parameters."""
    from clearml import Task

    from ..http_base import Server
    from ..settings import process_environment
    from .http import TriggerHandler
    from .service import TriggerService

    task: Any = Task.init(auto_connect_arg_parser=False, auto_resource_monitoring=False)
    settings = from_parameters(task.get_parameters(), TriggerSettings.from_env(process_environment()))
    settings = dataclasses.replace(settings, remote_queue=None)
    configure_logging(settings.log)
    service = TriggerService(settings)
    http = Server((settings.http_host, settings.http_port), TriggerHandler, service)
    threading.Thread(target=http.serve_forever, name="trigger-http", daemon=True).start()
    logger.info("event=trigger_started mode=service_task task_id=%s http_port=%d", task.id, http.port)
    service.run(threading.Event())  # until the agent aborts the task
    return 0


if __name__ == "__main__":
    sys.exit(main())
