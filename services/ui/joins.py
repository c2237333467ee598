"""The loop's story from the server's records, as plain values: labeling session → validation → dataset version →
training run → gate receipt → canary steps → promoted or rolled back → champion. Pure (wire-shaped dicts in, frozen
dataclasses out), so every join is unit-tested without a server (`tests/services/test_ui_joins.py`).

How the records meet (the services' conventions, see README "Sync", "Trigger", "Gate and promotion"):
- a version's description names its labeling sessions (`labeling sessions: a.csv, b.csv`);
- a training run carries the tags `retrain` and `dataset:<version id>`, and its output model;
- a receipt task holds `Receipt/decision` and `Receipt/model_id`, and its JSON (rule, CIs, pointer move);
- the champion pointer task's section `Champion` holds `model_id`, `updated`, `decision_id`, `history`;
- the canary controller keeps `canary_progress` and `canary_steps` in the model's metadata;
- the sync's quarantine lists rejected files and the version of the file that superseded each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

Doc = Mapping[str, Any]
SESSIONS_PREFIX = "labeling sessions: "
GATE_DECISIONS = ("gate_passed", "gate_failed")
DECISIONS = ("gate_passed", "gate_failed", "promoted", "rolled_back")
ENDINGS = ("promoted", "rolled_back")
EARLIEST = datetime.min.replace(tzinfo=UTC)  # sort keys for records without a time (a draft has no `completed`)
LATEST = datetime.max.replace(tzinfo=UTC)


def parse_time(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        try:  # the sync's quarantine stamp: 20261204T174948Z
            return datetime.strptime(str(text), "%Y%m%dT%H%M%S%z")
        except ValueError:
            return None


def metadata_value(model: Doc | None, key: str) -> str | None:
    entry = ((model or {}).get("metadata") or {}).get(key) or {}
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return None if value in (None, "") else str(value)


def hyperparam(task: Doc | None, section: str, name: str) -> str | None:
    entry = (((task or {}).get("hyperparams") or {}).get(section) or {}).get(name) or {}
    value = entry.get("value") if isinstance(entry, Mapping) else None
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    @classmethod
    def of(cls, entry: Any) -> Interval | None:
        ci = (entry or {}).get("accuracy_ci95") if isinstance(entry, Mapping) else None
        if not ci:
            return None
        return cls(float(ci["accuracy"]), float(ci["low"]), float(ci["high"]))


@dataclass(frozen=True)
class Difference:
    delta: float
    low: float
    high: float

    @classmethod
    def of(cls, entry: Any) -> Difference | None:
        if not isinstance(entry, Mapping) or entry.get("delta") is None:
            return None
        return cls(float(entry["delta"]), float(entry["low"]), float(entry["high"]))


@dataclass(frozen=True)
class Version:
    id: str
    name: str
    number: str
    status: str
    project: str
    sessions: tuple[str, ...]
    added: int
    modified: int
    removed: int
    size_change: int
    files: int
    total_size: int
    completed: datetime | None
    tags: tuple[str, ...]

    @classmethod
    def of(cls, task: Doc) -> Version:
        runtime = task.get("runtime") or {}
        comment = str(task.get("comment") or "")
        sessions = comment.removeprefix(SESSIONS_PREFIX).split(", ") if comment.startswith(SESSIONS_PREFIX) else []
        return cls(
            id=str(task["id"]),
            name=str(task.get("name") or ""),
            number=str(runtime.get("version") or ""),
            status=str(task.get("status") or ""),
            project=str(task.get("project") or ""),
            sessions=tuple(item for item in sessions if item),
            added=int(runtime.get("ds_change_add") or 0),
            modified=int(runtime.get("ds_change_modify") or 0),
            removed=int(runtime.get("ds_change_remove") or 0),
            size_change=int(runtime.get("ds_change_size") or 0),
            files=int(runtime.get("ds_file_count") or 0),
            total_size=int(runtime.get("ds_total_size") or 0),
            completed=parse_time(task.get("completed")),
            tags=tuple(task.get("tags") or ()),
        )


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    status: str
    project: str
    dataset_id: str
    model_id: str | None
    started: datetime | None
    completed: datetime | None
    json_properties: ClassVar[tuple[str, ...]] = ("seconds",)

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.completed is None:
            return None
        return (self.completed - self.started).total_seconds()

    @classmethod
    def of(cls, task: Doc) -> Run:
        tags = task.get("tags") or []
        dataset = next((tag.split(":", 1)[1] for tag in tags if str(tag).startswith("dataset:")), "")
        outputs = ((task.get("models") or {}).get("output")) or []
        return cls(
            id=str(task["id"]),
            name=str(task.get("name") or ""),
            status=str(task.get("status") or ""),
            project=str(task.get("project") or ""),
            dataset_id=dataset,
            model_id=str(outputs[-1]["model"]) if outputs else None,
            started=parse_time(task.get("started")),
            completed=parse_time(task.get("completed")),
        )


@dataclass(frozen=True)
class Receipt:
    """A decision: its task, and (when downloaded) the receipt JSON."""

    id: str
    decision: str
    model_id: str
    created: datetime | None
    uri: str | None
    document: Mapping[str, Any] = field(default_factory=dict)
    json_properties: ClassVar[tuple[str, ...]] = ("rule", "reason")  # also in the page's JSON (rendering.plain)

    @property
    def rule(self) -> str:
        return str(self.document.get("rule") or "")

    @property
    def reason(self) -> str:
        return str(self.document.get("reason") or "")

    def model_interval(self, role: str) -> Interval | None:
        return Interval.of((self.document.get("models") or {}).get(role))

    @property
    def difference(self) -> Difference | None:
        return Difference.of((self.document.get("comparisons") or {}).get("challenger_vs_champion"))

    @classmethod
    def of(cls, task: Doc, document: Mapping[str, Any] | None = None) -> Receipt:
        artifacts = (task.get("execution") or {}).get("artifacts") or []
        return cls(
            id=str(task["id"]),
            decision=hyperparam(task, "Receipt", "decision") or "",
            model_id=hyperparam(task, "Receipt", "model_id") or "",
            created=parse_time(task.get("created")),
            uri=next(
                (str(item["uri"]) for item in artifacts if item.get("key") == "receipt" and item.get("uri")), None
            ),
            document=document or {},
        )


@dataclass(frozen=True)
class Pointer:
    task_id: str | None
    model_id: str | None
    updated: datetime | None
    decision_id: str | None
    receipt_sha256: str | None
    revision: int
    history: tuple[str, ...]

    @classmethod
    def of(cls, task: Doc | None) -> Pointer:
        history = json.loads(hyperparam(task, "Champion", "history") or "[]")
        return cls(
            task_id=str(task["id"]) if task else None,
            model_id=hyperparam(task, "Champion", "model_id"),
            updated=parse_time(hyperparam(task, "Champion", "updated")),
            decision_id=hyperparam(task, "Champion", "decision_id"),
            receipt_sha256=hyperparam(task, "Champion", "receipt_sha256"),
            revision=int(hyperparam(task, "Champion", "revision") or 0),
            history=tuple(str(item) for item in history),
        )


@dataclass(frozen=True)
class Step:
    weight: float
    at: datetime | None


def canary_steps(model: Doc | None) -> tuple[Step, ...]:
    """The steps the canary controller recorded on the model (metadata `canary_steps`)."""
    try:
        raw = json.loads(metadata_value(model, "canary_steps") or "[]")
    except ValueError:
        return ()
    return tuple(
        Step(float(item.get("weight", 0.0)), parse_time(item.get("at"))) for item in raw if isinstance(item, dict)
    )


def decisions_by_model(receipts: Sequence[Receipt]) -> dict[str, list[Receipt]]:
    """Receipts per model id, oldest first."""
    by_model: dict[str, list[Receipt]] = {}
    for receipt in sorted(receipts, key=lambda item: (item.created or EARLIEST, item.id)):
        by_model.setdefault(receipt.model_id, []).append(receipt)
    return by_model


def latest(receipts: Sequence[Receipt], kinds: tuple[str, ...]) -> Receipt | None:
    found = [item for item in receipts if item.decision in kinds]
    return found[-1] if found else None


@dataclass(frozen=True)
class Balance:
    """Rows and occupied rows of a data set version: every session file it holds (later versions of a file
    replace earlier ones), from each version's `sessions` artifact (written by the sync)."""

    files: int
    rows: int
    occupied: int
    json_properties: ClassVar[tuple[str, ...]] = ("occupied_rate",)

    @property
    def occupied_rate(self) -> float | None:
        return self.occupied / self.rows if self.rows else None


def session_counts(task: Doc) -> dict[str, tuple[int, int]]:
    """file -> (rows, occupied) of the sessions a version added (its `sessions` artifact's preview)."""
    artifacts = (task.get("execution") or {}).get("artifacts") or []
    preview = next(
        (item.get("type_data", {}).get("preview") for item in artifacts if item.get("key") == "sessions"), None
    )
    try:
        files = (json.loads(preview or "{}") or {}).get("files") or {}
    except ValueError:
        return {}
    return {str(name): (int(v.get("rows") or 0), int(v.get("occupied") or 0)) for name, v in files.items()}


def balances(chain: Sequence[Doc]) -> dict[str, Balance]:
    """Version id -> its cumulative Balance, walking the chain oldest first."""
    ordered = sorted(chain, key=lambda task: (parse_time(task.get("completed")) or LATEST, str(task.get("id"))))
    held: dict[str, tuple[int, int]] = {}
    result = {}
    for task in ordered:
        held.update(session_counts(task))
        result[str(task["id"])] = Balance(len(held), sum(r for r, _ in held.values()), sum(o for _, o in held.values()))
    return result


@dataclass(frozen=True)
class TrackStep:
    """One step of a model's state track (candidate → gate → canary % → champion → retired or rejected)."""

    label: str
    at: datetime | None
    receipt_id: str | None = None


def state_track(model: Doc, receipts: Sequence[Receipt]) -> list[TrackStep]:
    """The model's track from its own receipts (oldest first), its canary steps, and its current state tag (the
    decision that set it is metadata `state_decision_id`, e.g. a successor's promotion for `retired`)."""
    model_id = str(model.get("id"))
    own = [item for item in receipts if item.model_id == model_id]
    own.sort(key=lambda item: item.created or EARLIEST)
    track = [TrackStep("candidate", parse_time(model.get("created")))]
    labels = {
        "gate_passed": "gate passed",
        "gate_failed": "gate refused",
        "promoted": "champion",
        "rolled_back": "rolled back",
    }
    steps = list(canary_steps(model))
    for receipt in own:
        if receipt.decision in ENDINGS and steps:
            track += [TrackStep(f"canary {step.weight * 100:g} %", step.at) for step in steps]
            steps = []
        track.append(TrackStep(labels.get(receipt.decision, receipt.decision), receipt.created, receipt.id))
    track += [TrackStep(f"canary {step.weight * 100:g} %", step.at) for step in steps]
    state = metadata_value(model, "state")
    decided = metadata_value(model, "state_decision_id")
    if state in ("retired", "rejected") and not any(step.receipt_id == decided for step in track):
        track.append(TrackStep(state, None, decided))
    return track


@dataclass(frozen=True)
class Verification:
    """Whether a stored receipt is the one its decision recorded: the SHA-256 of the artifact's bytes against the
    digest the pointer (for its latest move) or the model's metadata (`last_receipt_sha256`) recorded."""

    state: str  # verified | mismatch | unrecorded
    computed: str
    recorded: str | None
    recorded_by: str | None  # "champion pointer" | "model metadata" | None

    @property
    def verified(self) -> bool:
        return self.state == "verified"


def verify(receipt_id: str, computed: str, pointer: Pointer, model: Doc | None) -> Verification:
    candidates = []
    if pointer.decision_id == receipt_id and pointer.receipt_sha256:
        candidates.append(("champion pointer", pointer.receipt_sha256))
    if metadata_value(model, "last_receipt") == receipt_id and metadata_value(model, "last_receipt_sha256"):
        candidates.append(("model metadata", str(metadata_value(model, "last_receipt_sha256"))))
    if not candidates:
        return Verification("unrecorded", computed, None, None)
    for who, digest in candidates:
        if digest != computed:
            return Verification("mismatch", computed, digest, who)
    return Verification("verified", computed, candidates[0][1], " and ".join(who for who, _ in candidates))
