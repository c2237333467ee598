"""The labels of served minutes, from the labeled dataset the sync writes: the newest finalized version tagged
`Production`, read as minute -> label (training.schema.minute_key), for live_accuracy.

Read only when asked (the controller asks while a canary ramps), at most every `refresh_seconds`, and a version
already read is not read again: the SDK caches its files, so a new version costs the download of its delta.
A version holds its ancestors' files, so the newest one has every label there is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from training.readings import read_readings
from training.schema import LABEL, TIMESTAMP, minute_key

from ..logs import log_event, quoted

logger = logging.getLogger(__name__)

PRODUCTION_TAG = "Production"


class DatasetLabels:
    def __init__(
        self, project: str, name: str, refresh_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.project, self.name, self.refresh_seconds = project, name, refresh_seconds
        self.clock = clock
        self.version_id: str | None = None
        self._labels: dict[str, int] = {}
        self._next_look = 0.0

    def current(self) -> Mapping[str, int]:
        """minute -> label of the newest labeled version (refreshed when due; the last known on any error)."""
        if self.clock() < self._next_look:
            return self._labels
        self._next_look = self.clock() + self.refresh_seconds
        try:
            self._refresh()
        except Exception as error:  # labels are extra evidence: without them the other rules still judge
            logger.warning("event=live_labels_unavailable dataset=%s detail=%s", self.name, quoted(str(error)))
        return self._labels

    def _refresh(self) -> None:
        from clearml import Dataset

        from ..clearml_gateway import DatasetGateway  # the SDK, imported only once labels are asked for

        newest = DatasetGateway(self.project, self.name).newest(tags=(PRODUCTION_TAG,))
        if newest is None or newest == self.version_id:  # no such version (yet), or read already
            return
        dataset = Dataset.get(dataset_id=newest)
        folder = Path(dataset.get_local_copy())
        labels: dict[str, int] = {}
        unreadable = 0
        for path in sorted(folder.rglob("*.csv")):
            try:
                readings = read_readings(path)
            except ValueError:  # the sync validated it; a file that does not read now is skipped, not fatal
                unreadable += 1
                continue
            for stamp, label in zip(readings[TIMESTAMP].dt.to_pydatetime(), readings[LABEL].tolist(), strict=True):
                labels[minute_key(stamp)] = int(label)
        self._labels, self.version_id = labels, str(dataset.id)
        log_event(
            logger,
            "live_labels_loaded",
            dataset_id=str(dataset.id),
            dataset_version=str(dataset.version),
            minutes=len(labels),
            unreadable_files=unreadable,
        )
