"""Live accuracy: how often each served version was right about the minutes whose labels arrived later.

The inference app reports, per version, every minute it answered for and how many of those readings it predicted
occupied (serving/telemetry.py, `served_minutes`). A later labeling session brings the true label of those
minutes. Joining the two by minute (training.schema.minute_key) gives each version a tally: labeled readings and
how many it got right. The canary controller compares the canary's tally with the champion's (canary_rules.judge).

The join is by minute alone: the data contract has no room column, so a deployment with several rooms per
dataset would need one before minutes could be told apart. Pure: no ClearML, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Tally:
    labeled: int = 0  # served readings whose minute has a label
    correct: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labeled if self.labeled else None


class ServedMinutes:
    """What each version answered, per minute, gathered from the app's reports (each counted once)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int, int]] = set()  # (instance, version, report): read many times, counted once
        self._by_version: dict[int, dict[str, list[int]]] = {}  # version -> minute -> [readings, occupied]

    def add(self, version: int, reports: Iterable[Mapping[str, Any]]) -> int:
        """Count the reports not seen before; returns how many were new."""
        new = 0
        minutes = self._by_version.setdefault(version, {})
        for report in reports:
            key = (str(report.get("instance", "")), version, int(report.get("report", 0)))
            if key in self._seen:
                continue
            self._seen.add(key)
            new += 1
            for minute, (readings, occupied) in dict(report.get("minutes") or {}).items():
                counts = minutes.setdefault(str(minute), [0, 0])
                counts[0] += int(readings)
                counts[1] += int(occupied)
        return new

    def tally(self, version: int | None, labels: Mapping[str, int]) -> Tally:
        """The version's labeled readings and right answers. A minute predicted occupied for `occupied` of its
        `readings` readings is right `occupied` times when the room was occupied, else `readings - occupied`."""
        if version is None or not labels:
            return Tally()
        labeled = correct = 0
        for minute, (readings, occupied) in self._by_version.get(version, {}).items():
            label = labels.get(minute)
            if label is None:
                continue
            labeled += readings
            correct += occupied if label else readings - occupied
        return Tally(labeled, correct)
