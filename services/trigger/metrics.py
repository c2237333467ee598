"""The trigger service's Prometheus metrics (`GET /metrics` on its HTTP port; services/metrics.py says how).

    occuloop_trigger_versions                       tagged, finalized dataset versions on the server (last step)
    occuloop_trigger_versions_pending               of those, versions without an enqueued run (last step)
    occuloop_trigger_runs_fired_total               training runs enqueued by this process
    occuloop_trigger_skipped_total{reason}          versions not fired: already_done, coalesced
    occuloop_trigger_lag_seconds                    a version's finalization (server clock) to its run's enqueue
    occuloop_trigger_notifications_total            POST /notify pushes received
    occuloop_trigger_step_failures_total            failed steps (retried after a backoff)
    occuloop_training_runs{status}                  the ledger's training runs by ClearML status (last step)
    occuloop_training_run_duration_seconds{status}  start to end of each run that ended while this process watched

The training runs are tasks under clearml-agent (short-lived pods or processes, nothing to scrape), so their
numbers come from the ledger the trigger reads on every step anyway: the runs it launched, with their status and
start and end times. Runs that had ended before the process started are counted in `occuloop_training_runs`, not
observed again as durations (a restart would count them twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from ..metrics import LOOP_BUCKETS, new_registry
from .decisions import Run, Version, aware, seconds_since

TASK_STATUSES = ("created", "queued", "in_progress", "stopped", "completed", "failed", "published", "closed")
ENDED = frozenset({"stopped", "completed", "failed", "published", "closed"})


class TriggerMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        r = self.registry
        self.versions = Gauge(
            "occuloop_trigger_versions", "Tagged, finalized dataset versions the last step saw", registry=r
        )
        self.versions_pending = Gauge(
            "occuloop_trigger_versions_pending", "Tagged versions without an enqueued run", registry=r
        )
        self.runs_fired = Counter("occuloop_trigger_runs_fired", "Training runs enqueued", registry=r)
        self.skipped = Counter(
            "occuloop_trigger_skipped",
            "Versions not fired, by reason (already_done, coalesced)",
            ["reason"],
            registry=r,
        )
        for reason in ("already_done", "coalesced"):  # present from the start, so that increase() sees the first
            self.skipped.labels(reason=reason)
        self.lag = Histogram(
            "occuloop_trigger_lag_seconds",
            "From a version's finalization (server clock) to its training run's enqueue",
            buckets=LOOP_BUCKETS,
            registry=r,
        )
        self.notifications = Counter("occuloop_trigger_notifications", "POST /notify pushes received", registry=r)
        self.step_failures = Counter(
            "occuloop_trigger_step_failures", "Failed steps (retried after a backoff)", registry=r
        )
        self.training_runs = Gauge(
            "occuloop_training_runs", "Training runs in the trigger's ledger, by ClearML status", ["status"], registry=r
        )
        self.training_duration = Histogram(
            "occuloop_training_run_duration_seconds",
            "Start to end of each training run that ended while the trigger watched, by final status",
            ["status"],
            buckets=LOOP_BUCKETS,
            registry=r,
        )
        self._ended: set[str] | None = None  # None until the first step: runs that ended before are not observed

    def fired(self, version: Version, now: datetime | None = None) -> None:
        self.runs_fired.inc()
        if version.completed:
            self.lag.observe(max(0.0, seconds_since(version.completed, now or datetime.now(UTC))))

    def step(self, versions: Iterable[Version], runs: list[Run]) -> None:
        """What one scheduler step read: every tagged version and every run of the ledger."""
        done = {run.dataset_id for run in runs if run.status != "created"}
        ids = {version.dataset_id for version in versions}
        self.versions.set(len(ids))
        self.versions_pending.set(len(ids - done))
        for status in TASK_STATUSES:
            self.training_runs.labels(status=status).set(sum(1 for run in runs if run.status == status))
        ended = {run.task_id: run for run in runs if run.status in ENDED}
        if self._ended is not None:
            for run in ended.values():
                if run.task_id not in self._ended and run.started and run.ended:
                    seconds = seconds_since(run.started, aware(datetime.fromisoformat(run.ended)))
                    self.training_duration.labels(status=run.status).observe(max(0.0, seconds))
        self._ended = set(ended)
