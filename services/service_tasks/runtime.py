"""A service as the ClearML service task clearml-agent runs (`python -m services.<name>.remote`): the same work as
the process, configured from the task's parameters, under the same shutdown contract (services/shutdown.py).

- The settings: the environment's (the agent pod's configuration) overridden by the task's parameters, which is
  where the UI edits them. A value that does not fit fails the task at start, naming the parameter.
- `Task.init` runs on the worker thread of `run_until_signalled`, so the SDK cannot hook SIGTERM (the hook would
  run the task's shutdown inside the signal handler: see services/shutdown.py).
- An abort from ClearML (the UI's Abort, `tasks.stop`, a replacing registration) reaches the task's abort
  callback (the SDK polls for it every 15 s); the callback sends this process SIGTERM, so an abort is a SIGTERM
  like any other, and it returns once the service's work has returned. clearml-agent waits for the callback
  before it ends the process (it would otherwise kill it at once).
- The console: clearml-agent copies the process's output into the task's console, so it shows the same
  `event=...` lines the process writes to `kubectl logs` as a Deployment.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..logs import configure_logging, log_event
from ..settings import process_environment
from ..shutdown import defer_stop_signals, run_until_signalled
from .parameters import from_parameters
from .spec import ServiceTaskSpec

logger = logging.getLogger(__name__)

CALLBACK_MARGIN_SECONDS = 10.0  # the abort callback's timeout: the service's bound plus this
# How a clean stop after an Abort ends, so that clearml-agent marks the task `stopped` whoever noticed the abort
# first. The agent maps a process's exit status to the task's: 0 is `completed` ("worker execution done") unless its
# own poll saw the abort before the process exited, and this service, told by the SDK's faster poll, is often gone
# within half a second (under a busy core the task ended `completed`). 254 (256 + the agent's
# `ExitStatus.interrupted`) is its "user abort": `stopped`. A SIGTERM from anywhere else still exits 0.
ABORTED_EXIT_CODE = 254


def run_service_task(
    spec: ServiceTaskSpec, serve: Callable[[Any, threading.Event], None], *, bound_seconds: float
) -> int:
    """Run `serve(settings, stop)` as the task clearml-agent started this process for; returns the exit code."""
    from clearml import Task
    from clearml.config import running_remotely

    base = spec.settings_type.from_env(process_environment())
    configure_logging(spec.log_of(base))
    if not running_remotely():
        print(
            f"python -m {spec.module} is what clearml-agent runs; use `occuloop {spec.name} --remote QUEUE`",
            file=sys.stderr,
        )
        return 2
    defer_stop_signals()
    finished, aborted = threading.Event(), threading.Event()
    started: list[Any] = []  # the task, once Task.init returned

    def on_abort() -> None:
        aborted.set()
        log_event(logger, "service_task_aborted", service=spec.name, action="sigterm")
        os.kill(os.getpid(), signal.SIGTERM)  # the one stop path, with its bound and its log lines
        finished.wait(bound_seconds)

    def work(stop: threading.Event) -> None:
        try:
            task: Any = Task.init(
                auto_connect_arg_parser=False, auto_connect_frameworks=False, auto_resource_monitoring=False
            )
            settings = from_parameters(spec.section, task.get_parameters(), base, excluded=spec.excluded)
            configure_logging(spec.log_of(settings))
            started.append(task)
            task.register_abort_callback(on_abort, callback_execution_timeout=bound_seconds + CALLBACK_MARGIN_SECONDS)
            log_event(logger, "service_task_running", service=spec.name, task_id=str(task.id))
            serve(settings, stop)
        finally:
            finished.set()

    code = run_until_signalled(spec.name, work, bound_seconds=bound_seconds)
    if aborted.is_set() and started:
        _report_abort_done(started[0])
        if code == 0:
            code = ABORTED_EXIT_CODE
    logger.info("event=%s_stopped exit_code=%d aborted=%s", spec.name, code, aborted.is_set())
    return code


def _report_abort_done(task: Any) -> None:
    """Tell clearml-agent the abort callback is done, from the main thread, before the process exits. The SDK does
    it on its callback thread only after `on_abort` returns; the agent reads it when the process ended killed (-9,
    as the SDK's own abort path ends it): a task whose callback completed is then `stopped`. The exit status
    (`ABORTED_EXIT_CODE`) covers a clean exit. Setting it twice is harmless."""
    from clearml.backend_interface.task.development.worker import DevWorker

    task._set_runtime_properties({DevWorker.property_abort_callback_completed: 1})
