"""The trigger service's loop (`services/polling.py`): set up (template, scheduler task), then one scheduler step
whenever the sync pushes a new version or the poll interval passes. Server errors are retried with backoff and
never lose a version: the ledger is on the server, so a retry or a restart simply looks again."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..logs import log_event
from ..polling import Loop, Status, Stop
from ..settings import TriggerSettings
from .decisions import Version
from .metrics import TriggerMetrics

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class TriggerService:
    def __init__(self, settings: TriggerSettings, *, clock: Any = time.monotonic) -> None:
        self.settings = settings
        self._scheduler: Any = None  # LedgeredTriggerScheduler, built once the server answers
        self.metrics = TriggerMetrics()
        self._status = Status(state="starting", fired=0, notified=0)
        self.loop = Loop(
            "trigger",
            self.step,
            interval=settings.poll_seconds,
            most_backoff=MAX_BACKOFF_SECONDS,
            status=self._status,
            log=logger,
            clock=clock,
            failures=self.metrics.step_failures,
        )

    def status(self) -> dict[str, Any]:
        return self._status.snapshot()

    def notify(self, dataset_id: str | None) -> None:
        """The sync finalized a version: look now instead of at the next poll."""
        self._status.count("notified")
        self.metrics.notifications.inc()
        logger.info("event=trigger_notified dataset_id=%s", dataset_id or "-")
        self.loop.wake()

    def _fired(self, version: Version, run_id: str) -> None:
        self._status.count("fired")
        self._status.update(last_fired={"dataset_id": version.dataset_id, "run_task_id": run_id})

    def _set_up(self) -> None:
        from .scheduler import LedgeredTriggerScheduler, ensure_template

        template_id = ensure_template(self.settings)
        self._scheduler = LedgeredTriggerScheduler(
            self.settings, template_id, on_fired=self._fired, metrics=self.metrics
        )
        log_event(
            logger,
            "trigger_ready",
            template_task_id=template_id,
            scheduler_task_id=self._scheduler.task_id,
            dataset_project=self.settings.dataset_project,
            tags=",".join(self.settings.tags),
            tag_match=self.settings.tag_match,
            queue=self.settings.queue,
            poll_seconds=self.settings.poll_seconds,
            coalesce_seconds=self.settings.coalesce_seconds,
        )
        self._status.update(template_task_id=template_id, scheduler_task_id=self._scheduler.task_id)

    def step(self) -> None:
        """Set up if needed, then one scheduler step (catches up on everything not yet done). Raises on failure:
        nothing is marked done before its run is enqueued, so the loop's retry loses nothing."""
        if self._scheduler is None:
            self._set_up()
        if self._scheduler._step():
            self._scheduler._update_execution_plots()  # the stock "executed triggers" table on the task
        self._status.update(state="watching", last_step=time.time())

    def run(self, stop: Stop | threading.Event) -> None:
        self.loop.run(stop)
