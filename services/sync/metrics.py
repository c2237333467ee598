"""The sync service's Prometheus metrics (`GET /metrics` on its HTTP port; services/metrics.py says how).

occuloop_sync_files_accepted_total                 files that passed validation and were staged
occuloop_sync_rows_accepted_total                  their rows
occuloop_sync_files_quarantined_total{reason}      files quarantined, by their first validation reason
occuloop_sync_files_duplicate_total                files set aside: same content as one already taken
occuloop_sync_versions_finalized_total{reason}     dataset versions finalized and tagged (quiet_period,
                                                   batch_size, requested, shutdown, recovered)
occuloop_sync_backlog_files                        accepted files waiting for their version (staged)
occuloop_sync_last_finalize_timestamp_seconds      when the last version was finalized (Unix time; 0: none
                                                   by this process); its age is `time() - this`
occuloop_sync_server_call_duration_seconds{operation}   time spent waiting for the ClearML server, per call
occuloop_sync_step_failures_total                  failed loop steps (retried after a backoff)
occuloop_sync_squashes_total                       squashes (history policy) finalized and tagged, a new root or a
                                                   child of the root (services/dataset_history.py)
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ..metrics import LOOP_BUCKETS, new_registry
from .decisions import FINALIZE_REASONS


class SyncMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        r = self.registry
        self.files_accepted = Counter(
            "occuloop_sync_files_accepted", "Files that passed validation and were staged", registry=r
        )
        self.rows_accepted = Counter("occuloop_sync_rows_accepted", "Rows of the accepted files", registry=r)
        self.files_quarantined = Counter(
            "occuloop_sync_files_quarantined",
            "Files quarantined, by their first validation reason",
            ["reason"],
            registry=r,
        )
        self.files_duplicate = Counter(
            "occuloop_sync_files_duplicate", "Files set aside: same content as a file already taken", registry=r
        )
        self.versions_finalized = Counter(
            "occuloop_sync_versions_finalized",
            "Dataset versions finalized and tagged, by what finalized them",
            ["reason"],
            registry=r,
        )
        for reason in FINALIZE_REASONS:  # present from the start, so that increase() sees the first one
            self.versions_finalized.labels(reason=reason)
        self.backlog = Gauge("occuloop_sync_backlog_files", "Accepted files waiting for their version", registry=r)
        self.last_finalize = Gauge(
            "occuloop_sync_last_finalize_timestamp_seconds",
            "Unix time the last dataset version was finalized by this process (0: none yet)",
            registry=r,
        )
        self.server_calls = Histogram(
            "occuloop_sync_server_call_duration_seconds",
            "Time spent waiting for the ClearML server, per call",
            ["operation"],
            buckets=LOOP_BUCKETS,
            registry=r,
        )
        self.step_failures = Counter(
            "occuloop_sync_step_failures", "Failed loop steps (retried after a backoff)", registry=r
        )
        self.squashes = Counter(
            "occuloop_sync_squashes", "Squashes of the chain finalized and tagged (the history policy)", registry=r
        )
