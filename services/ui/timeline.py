"""The timeline's rows and header, joined from the loop's records (`joins.py`): one row per labeling session, newest
first, and the champion and the canary in progress. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from .joins import (
    ENDINGS,
    GATE_DECISIONS,
    LATEST,
    Doc,
    Interval,
    Pointer,
    Receipt,
    Run,
    Step,
    Version,
    canary_steps,
    decisions_by_model,
    latest,
    metadata_value,
    parse_time,
)


@dataclass(frozen=True)
class SessionRow:
    session: str
    at: datetime | None
    validation: str  # accepted | quarantined
    reasons: tuple[str, ...] = ()
    quarantined_as: str | None = None
    superseded_by: Mapping[str, Any] | None = None  # the corrected file's version (quarantined rows)
    version: Version | None = None
    run: Run | None = None
    model_id: str | None = None
    accuracy: Interval | None = None  # holdout accuracy [95 % CI] of the run's model
    gate: Receipt | None = None
    steps: tuple[Step, ...] = ()
    ending: Receipt | None = None  # promoted | rolled_back
    progress: str | None = None  # the canary controller's progress with the model (ramping, ...)
    champion_after: str | None = None
    json_properties: ClassVar[tuple[str, ...]] = ("key", "stage")

    @property
    def key(self) -> str:
        """A stable id for the row (the session and what it became), for the page's anchors and live updates."""
        return f"{self.session}:{self.version.id if self.version else self.quarantined_as or ''}"

    @property
    def stage(self) -> str:
        """How far the session got, in words (status is never shown by colour alone)."""
        if self.validation == "quarantined":
            return "quarantined"
        if self.ending is not None:
            return "promoted" if self.ending.decision == "promoted" else "rolled back"
        if self.gate is not None:
            return "gate failed" if self.gate.decision == "gate_failed" else "canary"
        if self.run is not None:
            return {"completed": "gating", "failed": "training failed", "stopped": "training stopped"}.get(
                self.run.status, "training"
            )
        return "waiting for training"


@dataclass(frozen=True)
class Champion:
    model_id: str
    since: datetime | None
    decision_id: str | None
    dataset_id: str | None
    dataset_version: str | None
    accuracy: Interval | None
    history: tuple[str, ...]


@dataclass(frozen=True)
class Canary:
    model_id: str
    version: int | None
    weight: float | None
    step: str | None
    verdict: str | None
    rule: str | None
    reason: str | None
    steps: tuple[Step, ...]


def model_accuracy(model_id: str | None, models: Mapping[str, Doc], receipts: Sequence[Receipt]) -> Interval | None:
    """Holdout accuracy with its 95 % CI from the model's gate receipt; without a receipt, the model's metadata (no
    interval: low = high = value)."""
    gate = latest(receipts, GATE_DECISIONS)
    interval = gate.model_interval("challenger") if gate is not None else None
    if interval is not None:
        return interval
    value = metadata_value(models.get(model_id or ""), "holdout_accuracy")
    return Interval(float(value), float(value), float(value)) if value else None


def _session_rows(
    versions: Sequence[Version],
    runs: Sequence[Run],
    models: Mapping[str, Doc],
    by_model: Mapping[str, list[Receipt]],
) -> list[SessionRow]:
    run_of: dict[str, Run] = {}
    for item in sorted(runs, key=lambda run: run.started or LATEST):
        run_of.setdefault(item.dataset_id, item)  # the first run of a version (the trigger makes one)
    rows = []
    for version in versions:
        if version.squash_of:  # it adds no session (its content is its predecessor's, trained already): no row
            continue
        found = run_of.get(version.id)
        model_id = found.model_id if found else None
        receipts = by_model.get(model_id or "", [])
        model = models.get(model_id or "")
        for session in version.sessions or ("(no session named)",):
            rows.append(
                SessionRow(
                    session=session,
                    at=version.completed,
                    validation="accepted",
                    version=version,
                    run=found,
                    model_id=model_id,
                    accuracy=model_accuracy(model_id, models, receipts) if model_id else None,
                    gate=latest(receipts, GATE_DECISIONS),
                    steps=canary_steps(model),
                    ending=latest(receipts, ENDINGS),
                    progress=metadata_value(model, "canary_progress"),
                )
            )
    return rows


def quarantine_rows(quarantine: Sequence[Doc], versions: Sequence[Version] = ()) -> list[SessionRow]:
    """The sync's rejected files as rows; the correction's dataset id is named by its version number when known."""
    numbers = {version.id: version.number for version in versions}
    rows = []
    for entry in quarantine:
        superseded = dict(entry.get("superseded_by") or {})
        if superseded.get("dataset_id") in numbers:
            superseded["version"] = numbers[superseded["dataset_id"]]
        rows.append(
            SessionRow(
                session=str(entry.get("file") or ""),
                at=parse_time(entry.get("quarantined_at")),
                validation="quarantined",
                reasons=tuple(str(item) for item in entry.get("reasons") or ()),
                quarantined_as=str(entry.get("quarantined_as") or entry.get("file") or ""),
                superseded_by=superseded or None,
            )
        )
    return rows


def timeline(
    versions: Sequence[Version],
    runs: Sequence[Run],
    models: Mapping[str, Doc],
    receipts: Sequence[Receipt],
    quarantine: Sequence[Doc],
) -> list[SessionRow]:
    """Every labeling session, newest first, with the champion after each (the last model promoted by then)."""
    by_model = decisions_by_model(receipts)
    rows = _session_rows(versions, runs, models, by_model) + quarantine_rows(quarantine, versions)
    # oldest first; at one instant, a quarantine before the version, and a version's sessions in their own order
    order = {id(row): index for index, row in enumerate(rows)}
    rows.sort(key=lambda row: (row.at or LATEST, row.validation == "accepted", -order[id(row)]))  # no time: in progress
    champion: str | None = None
    chained = []
    for row in rows:
        if row.ending is not None and row.ending.decision == "promoted":
            champion = row.model_id
        chained.append(_with_champion(row, champion))
    return list(reversed(chained))


def _with_champion(row: SessionRow, champion: str | None) -> SessionRow:
    return replace(row, champion_after=champion)


def champion(pointer: Pointer, models: Mapping[str, Doc], receipts: Sequence[Receipt]) -> Champion | None:
    if not pointer.model_id:
        return None
    model = models.get(pointer.model_id)
    own = [item for item in receipts if item.model_id == pointer.model_id]
    return Champion(
        model_id=pointer.model_id,
        since=pointer.updated,
        decision_id=pointer.decision_id,
        dataset_id=metadata_value(model, "dataset_id"),
        dataset_version=metadata_value(model, "dataset_version"),
        accuracy=model_accuracy(pointer.model_id, models, own),
        history=pointer.history,
    )


def canary(models: Mapping[str, Doc], rollout_status: Mapping[str, Any]) -> Canary | None:
    """The canary in progress: from the controller's `/status` when it ramps one, else a model tagged `canary`."""
    ramping = str(rollout_status.get("model_id") or "") if rollout_status.get("state") == "canary" else ""
    tagged = [item_id for item_id, item in models.items() if "canary" in (item.get("tags") or ())]
    model_id = ramping or (tagged[0] if tagged else "")
    if not model_id:
        return None
    window = rollout_status.get("window") or {} if ramping else {}
    weight = rollout_status.get("weight") if ramping else None
    return Canary(
        model_id=model_id,
        version=rollout_status.get("version") if ramping else None,
        weight=float(weight) if weight is not None else None,
        step=rollout_status.get("step") if ramping else None,
        verdict=window.get("verdict"),
        rule=window.get("rule"),
        reason=window.get("reason"),
        steps=canary_steps(models.get(model_id)),
    )
