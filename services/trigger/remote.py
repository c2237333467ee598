"""`occuloop trigger` as a ClearML service task: `occuloop trigger --remote QUEUE` registers it (its settings become
the task's `Trigger` parameters), and clearml-agent in services mode runs `python -m services.trigger.remote`. The
ledger lives on the server either way, so the guarantees are those of the process; under the agent the service
task is also the scheduler task (the trigger's configuration shows on it)."""

from __future__ import annotations

import sys

from ..service_tasks.spec import ServiceTaskSpec
from ..settings import TriggerSettings
from ..shutdown import exit_on_stop_signals

SPEC = ServiceTaskSpec(
    "trigger",
    "Trigger",
    TriggerSettings,
    "services.trigger.remote",
    log_of=lambda settings: settings.log,
    excluded=frozenset({"remote_queue"}),  # where to register the task is not the task's to carry
)


def main() -> int:
    exit_on_stop_signals()  # the imports below take seconds and hold nothing
    from ..service_tasks.runtime import run_service_task
    from .command import SHUTDOWN_BOUND_SECONDS, serve

    return run_service_task(SPEC, serve, bound_seconds=SHUTDOWN_BOUND_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
