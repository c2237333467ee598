"""Decision receipts: one immutable JSON document per gate pass, gate failure, promotion and rollback.

A receipt says what was decided, by whom or what, by which rule, on which evidence: both models' metrics with
95 % intervals, their paired difference, the Light rule, the pinned holdout version, the same on the forward rows
(the newest session(s) the challenger's training run held out of fitting), the dataset versions the models were
trained on, the thresholds in force and how the champion pointer moved. Built here as plain data
(pure, unit-tested); registry.py stores it write-once on the ClearML server and renders `table()` in the UI.

Roles: `challenger` is the model the decision is about (the gated or promoted model, or the rollback target);
`champion` is the champion when the decision was taken.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from ..settings import GateSettings
from .assessment import BASELINE, CHALLENGER, CHAMPION, Assessment
from .gate_rules import Verdict
from .states import ModelRecord

SCHEMA = "occuloop.receipt/1"
DECISIONS = ("gate_passed", "gate_failed", "promoted", "rolled_back")


@dataclass(frozen=True)
class DecidedBy:
    kind: str  # "gate" (unattended) or "operator"
    who: str  # the gate task id, or user@host of the operator
    command: str  # what was run


@dataclass(frozen=True)
class HoldoutInfo:
    dataset_id: str
    sha256: str
    rows: int


@dataclass(frozen=True)
class PointerMove:
    before: str | None
    after: str | None
    revision: int | None  # the pointer's revision after the move (None: the pointer did not move)


def _model_entry(
    record: ModelRecord | None, role: str, assessment: Assessment | None, scored_from: str
) -> dict[str, Any] | None:
    if record is None:
        return None
    entry: dict[str, Any] = {**record.lineage(), "scored_from": scored_from}
    if assessment is not None:
        entry.update(_scores(assessment, role))
    return entry


def _scores(assessment: Assessment, role: str) -> dict[str, Any]:
    score = assessment.report.score_of(role)
    return {
        "metrics": asdict(score.overall),
        "accuracy_ci95": asdict(assessment.intervals[role]),
        "slices": {name: asdict(metrics) for name, metrics in score.by_slice.items()},
    }


def _forward(assessment: Assessment | None) -> dict[str, Any] | None:
    """The forward rows' evidence: which sessions, how scored, every role's metrics and the paired differences."""
    if assessment is None:
        return None
    ahead, rows = assessment.forward, assessment.forward_rows
    if ahead is None or rows is None:
        return {"sessions": [], "skipped": assessment.evidence.no_forward}
    return {
        "sessions": list(rows.sessions),
        "rows": len(rows.readings),
        "sha256": rows.sha256,
        "challenger_model": rows.challenger_model,
        "scored_from": dict(rows.sources),
        "notes": list(rows.notes),
        "models": {
            CHALLENGER: _scores(ahead, CHALLENGER),
            CHAMPION: _scores(ahead, CHAMPION) if rows.champion is not None else None,
            BASELINE: _scores(ahead, BASELINE),
        },
        "comparisons": ahead.comparisons(),
    }


def build(
    *,
    decision: str,
    decided_by: DecidedBy,
    rule: str,
    reason: str,
    challenger: ModelRecord,
    champion: ModelRecord | None,
    assessment: Assessment | None,
    verdict: Verdict | None,
    holdout: HoldoutInfo | None,
    thresholds: GateSettings,
    pointer: PointerMove,
    scored_from: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}")
    sources = scored_from or {}
    return {
        "schema": SCHEMA,
        "decision": decision,
        "decided_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "decided_by": asdict(decided_by),
        "rule": rule,
        "reason": reason,
        "holdout": asdict(holdout) if holdout is not None else None,
        "models": {
            CHALLENGER: _model_entry(challenger, CHALLENGER, assessment, sources.get(CHALLENGER, "")),
            CHAMPION: _model_entry(champion, CHAMPION, assessment, sources.get(CHAMPION, "")),
            BASELINE: (
                {"rule": "Light > 364.5 lux", **_scores(assessment, BASELINE)} if assessment is not None else None
            ),
        },
        "comparisons": assessment.comparisons() if assessment is not None else None,
        "forward": _forward(assessment),
        "verdict": verdict.to_dict() if verdict is not None else None,
        "thresholds": asdict(thresholds),
        "pointer": asdict(pointer),
    }


def canonical(receipt: dict[str, Any]) -> bytes:
    """The bytes that are stored and hashed: sorted keys, so the same receipt always has the same digest."""
    return json.dumps(receipt, sort_keys=True, indent=1, default=str).encode("utf-8")


def digest(receipt: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(receipt)).hexdigest()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def _ci(entry: dict[str, Any] | None) -> str:
    if not entry or "accuracy_ci95" not in entry:
        return "-"
    interval = entry["accuracy_ci95"]
    return f"{_pct(interval['accuracy'])} [{_pct(interval['low'])}, {_pct(interval['high'])}]"


def _differences(comparisons: dict[str, Any] | None, prefix: str) -> list[list[str]]:
    return [
        [
            prefix + key.replace("_", " "),
            f"{difference['delta'] * 100:+.2f} pt [{difference['low'] * 100:+.2f}, {difference['high'] * 100:+.2f}]",
        ]
        for key, difference in (comparisons or {}).items()
        if difference is not None
    ]


def table(receipt: dict[str, Any]) -> list[list[str]]:
    """The receipt as a two-column table for the ClearML UI (report_table)."""
    models = receipt["models"]
    rows = [["field", "value"]]
    rows.append(["decision", receipt["decision"]])
    rows.append(["rule", receipt["rule"]])
    rows.append(["reason", receipt["reason"]])
    by = receipt["decided_by"]
    rows.append(["decided by", f"{by['kind']} {by['who']} ({by['command']})"])
    rows.append(["decided at", receipt["decided_at"]])
    holdout = receipt["holdout"]
    if holdout:
        rows.append(["holdout", f"{holdout['dataset_id']} ({holdout['rows']} rows, sha256 {holdout['sha256'][:12]})"])
    for role in (CHALLENGER, CHAMPION):
        entry = models.get(role)
        if entry is None:
            rows.append([role, "none"])
            continue
        rows.append([role, f"{entry['model_id']} ({entry.get('state')})"])
        rows.append([f"{role} dataset", f"{entry.get('dataset_id')} v{entry.get('dataset_version')}"])
        rows.append([f"{role} accuracy (95 % CI)", _ci(entry)])
        for name, metrics in sorted(entry.get("slices", {}).items()):
            rows.append([f"{role} accuracy {name}", _pct(metrics["accuracy"])])
    rows.append(["Light rule accuracy (95 % CI)", _ci(models.get(BASELINE))])
    rows += _differences(receipt["comparisons"], "")
    forward = receipt.get("forward") or {}
    if forward.get("skipped"):
        rows.append(["forward", f"none held out: {forward['skipped']}"])
    elif forward:
        rows.append(
            ["forward sessions", f"{', '.join(forward['sessions'])} ({forward['rows']} rows, held out of fitting)"]
        )
        for role in (CHALLENGER, CHAMPION, BASELINE):
            if forward["models"].get(role) is not None:
                rows.append([f"forward {role} accuracy (95 % CI)", _ci(forward["models"][role])])
        rows += _differences(forward["comparisons"], "forward ")
        rows += [["forward note", note] for note in forward.get("notes", ())]
    for result in (receipt["verdict"] or {}).get("results", []):
        outcome = "skipped" if result["skipped"] else ("pass" if result["passed"] else "FAIL")
        rows.append([f"rule {result['rule']}", f"{outcome}: {result['detail']}"])
    pointer = receipt["pointer"]
    rows.append(["champion pointer", f"{pointer['before']} -> {pointer['after']} (revision {pointer['revision']})"])
    return rows
