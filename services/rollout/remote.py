"""`occuloop rollout`, the canary controller, as a ClearML service task: `occuloop rollout --remote QUEUE`
registers it (its settings become the task's `Rollout` parameters), and clearml-agent in services mode runs
`python -m services.rollout.remote`. The controller keeps nothing of its own (the step is the canary's weight in
the control plane, the subject its tag), so a task that runs again resumes where the weights and tags say."""

from __future__ import annotations

import sys

from ..service_tasks.spec import ServiceTaskSpec
from ..settings import CanarySettings
from ..shutdown import exit_on_stop_signals

SPEC = ServiceTaskSpec(
    "rollout", "Rollout", CanarySettings, "services.rollout.remote", log_of=lambda settings: settings.rollout.log
)


def main() -> int:
    exit_on_stop_signals()  # the imports below take seconds and hold nothing
    from ..service_tasks.runtime import run_service_task
    from .controller import SHUTDOWN_BOUND_SECONDS, serve

    return run_service_task(SPEC, serve, bound_seconds=SHUTDOWN_BOUND_SECONDS)


if __name__ == "__main__":
    sys.exit(main())
