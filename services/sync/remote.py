"""`occuloop sync` as a ClearML service task: `occuloop sync --remote QUEUE` registers it (its settings become the
task's `Sync` parameters), and clearml-agent in services mode runs `python -m services.sync.remote`. The inbox
lock and the journal live on the inbox volume, so the guarantees are those of the process: the agent's pod
mounts the inbox, and a task killed with the pod recovers from the journal when it runs again."""

from __future__ import annotations

import sys

from ..service_tasks.spec import ServiceTaskSpec
from ..settings import SyncSettings
from ..shutdown import exit_on_stop_signals

SPEC = ServiceTaskSpec("sync", "Sync", SyncSettings, "services.sync.remote", log_of=lambda settings: settings.log)


def main() -> int:
    exit_on_stop_signals()  # the imports below take seconds and hold nothing
    from ..service_tasks.runtime import run_service_task
    from .command import SHUTDOWN_BOUND_SECONDS, serve

    return run_service_task(SPEC, serve, bound_seconds=SHUTDOWN_BOUND_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
