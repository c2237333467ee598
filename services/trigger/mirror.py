"""The trigger's copy of the ledger between steps: every tagged, finalized version and every run it launched, kept
current from the rows the server changed since the newest change already seen (`last_update`), so that a step
reads what changed instead of the whole history (issue 22: a year of versions made every step read a year).

Pure: the ledger (ledger.py) does the reads and hands the rows here. What a read of changes cannot see, a
run deleted outright (a surplus clone), is corrected by a whole read every `full_read_seconds`; a whole read is
also the first one. Decisions that launch a run never rely on this copy alone: they read that version's runs
afresh (`ServerLedger.runs`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .decisions import Run, Version

# Changes are read from this long before the newest change seen: writes whose stamps land out of order (several
# API servers, a clock step, a write committed late) are read twice, never missed.
OVERLAP = timedelta(seconds=30)


@dataclass
class LedgerMirror:
    full_read_seconds: float
    versions: dict[str, Version] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    newest_change: datetime | None = None
    last_full_read: float | None = None  # monotonic seconds

    def needs_full_read(self, now: float) -> bool:
        return self.last_full_read is None or now - self.last_full_read >= self.full_read_seconds

    def changes_since(self) -> datetime | None:
        """Where the next read of changes starts (None: never read; read everything)."""
        return self.newest_change - OVERLAP if self.newest_change is not None else None

    def replace(
        self, versions: Iterable[Version], runs: Iterable[Run], stamps: Iterable[datetime | None], now: float
    ) -> None:
        """A whole read: what the server holds now."""
        self.versions = {version.dataset_id: version for version in versions}
        self.runs = {run.task_id: run for run in runs}
        self.newest_change = None
        self._advance(stamps)
        self.last_full_read = now

    def update(
        self,
        versions: Iterable[tuple[str, Version | None]],
        runs: Iterable[tuple[str, Run | None]],
        stamps: Iterable[datetime | None],
    ) -> None:
        """Rows changed since `changes_since()`: (id, its current value), or (id, None) when it left the ledger
        (a version untagged or archived, a run archived)."""
        for dataset_id, version in versions:
            if version is None:
                self.versions.pop(dataset_id, None)
            else:
                self.versions[dataset_id] = version
        for task_id, run in runs:
            if run is None:
                self.runs.pop(task_id, None)
            else:
                self.runs[task_id] = run
        self._advance(stamps)

    def _advance(self, stamps: Iterable[datetime | None]) -> None:
        for stamp in stamps:
            if stamp is not None and (self.newest_change is None or stamp > self.newest_change):
                self.newest_change = stamp
