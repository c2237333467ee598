"""The trigger service's loop: set up (template, scheduler task), then one scheduler step whenever the sync
pushes a new version or the poll interval passes; server errors are retried with backoff, never lose a version
(the ledger is on the server, so a retry or a restart simply looks again)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ..logs import log_event
from ..settings import TriggerSettings
from .decisions import Version

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class TriggerService:
    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self._scheduler: Any = None  # LedgeredTriggerScheduler, built once the server answers
        self._wake = threading.Event()
        self._backoff = 0.0
        self._status: dict[str, Any] = {"state": "starting", "fired": 0, "notified": 0}
        self._lock = threading.Lock()

    def status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._status)

    def _set_status(self, **values: Any) -> None:
        with self._lock:
            self._status.update(values)

    def notify(self, dataset_id: str | None) -> None:
        """The sync finalized a version: look now instead of at the next poll."""
        with self._lock:
            self._status["notified"] = int(self._status["notified"]) + 1
        logger.info("event=trigger_notified dataset_id=%s", dataset_id or "-")
        self._wake.set()

    def _fired(self, version: Version, run_id: str) -> None:
        with self._lock:
            self._status["fired"] = int(self._status["fired"]) + 1
            self._status["last_fired"] = {"dataset_id": version.dataset_id, "run_task_id": run_id}

    def _set_up(self) -> None:
        from .scheduler import LedgeredTriggerScheduler, ensure_template

        template_id = ensure_template(self.settings)
        self._scheduler = LedgeredTriggerScheduler(self.settings, template_id, on_fired=self._fired)
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
        self._set_status(template_task_id=template_id, scheduler_task_id=self._scheduler.task_id)

    def step(self) -> bool:
        """Set up if needed, then one scheduler step (catches up on everything not yet done). False on failure."""
        try:
            if self._scheduler is None:
                self._set_up()
            fired = self._scheduler._step()
            if fired:
                self._scheduler._update_execution_plots()  # the stock "executed triggers" table on the task
        except Exception as error:  # any server or SDK failure: look again after a backoff, nothing is marked done
            self._backoff = min(MAX_BACKOFF_SECONDS, max(1.0, self._backoff * 2))
            self._set_status(state="backoff", error=str(error)[:300], retry_in_seconds=self._backoff)
            logger.warning("event=trigger_step_failed retry_in_seconds=%.0f error=%s", self._backoff, error)
            return False
        self._backoff = 0.0
        self._set_status(state="watching", last_step=time.time(), error=None)
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            ok = self.step()
            wait = self._backoff if not ok else self.settings.poll_seconds
            deadline = time.monotonic() + wait
            while not stop.is_set() and time.monotonic() < deadline:
                if self._wake.wait(min(0.5, max(0.0, deadline - time.monotonic()))) and ok:
                    break
