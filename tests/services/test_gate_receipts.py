"""Receipts (content, canonical bytes, digest, UI table) and model state tags, without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from services.rollout import receipts
from services.rollout.assessment import ForwardRows, assess
from services.rollout.gate_rules import TrainingFacts, decide
from services.rollout.receipts import DecidedBy, HoldoutInfo, PointerMove
from services.rollout.states import CANDIDATE, CHAMPION, REJECTED, ModelRecord, state_of, with_state
from services.settings import GateSettings

SETTINGS = GateSettings(bootstrap_samples=200)


def _record(model_id: str, tags: tuple[str, ...], dataset: str) -> ModelRecord:
    card = {"dataset_id": dataset, "dataset_version": "1.0.3", "labeling_sessions": ["a.csv", "b.csv"], "rows": 2880}
    return ModelRecord(
        model_id, "occupancy", tags, f"task-{model_id}", "2015-02-20T10:00:00", {}, {**card, "occupied": 900}
    )


def _receipt() -> dict[str, object]:
    stamps = pd.date_range("2015-02-02 06:00", periods=240, freq="min")
    light = np.where(stamps.hour == 8, 500.0, 0.0)
    readings = pd.DataFrame({"date": stamps, "Light": light, "Occupancy": (light > 0).astype(np.int64)})
    truth = readings["Occupancy"].to_numpy(dtype=np.float64)
    forward = ForwardRows(
        ("b.csv",), "c" * 64, readings, truth, "probe", truth, {"challenger": "forward_predictions artifact (probe)"}
    )
    assessment = assess("holdout-1", readings, truth, truth, TrainingFacts(2, 2880, 900), SETTINGS, forward)
    verdict = decide(assessment.evidence, SETTINGS)
    return receipts.build(
        decision="gate_passed",
        decided_by=DecidedBy("gate", "task g1", "python -m services.rollout.gate_task"),
        rule=verdict.deciding_rule,
        reason=verdict.reason,
        challenger=_record("m2", ("candidate",), "d2"),
        champion=_record("m1", ("champion",), "d1"),
        assessment=assessment,
        verdict=verdict,
        holdout=HoldoutInfo("holdout-1", "ab" * 32, len(readings)),
        thresholds=SETTINGS,
        pointer=PointerMove("m1", "m1", None),
        scored_from={"challenger": "holdout_predictions artifact", "champion": "SavedModel package"},
        now=datetime(2015, 2, 20, 12, 0, tzinfo=UTC),
    )


def test_a_receipt_holds_both_models_with_intervals_lineage_rule_and_who_decided() -> None:
    receipt = _receipt()
    models = receipt["models"]
    assert isinstance(models, dict)
    challenger, champion = models["challenger"], models["champion"]
    assert challenger["dataset_id"] == "d2" and champion["dataset_id"] == "d1"
    assert challenger["state"] == "candidate" and champion["scored_from"] == "SavedModel package"
    assert challenger["accuracy_ci95"] == {"accuracy": 1.0, "low": 1.0, "high": 1.0}
    assert set(challenger["slices"]) == {"day", "night", "weekday"}
    assert models["light_rule"]["metrics"]["accuracy"] == 1.0
    assert receipt["comparisons"]["challenger_vs_champion"]["delta"] == 0.0  # type: ignore[index]
    assert receipt["rule"] == "all_rules" and receipt["decided_by"]["kind"] == "gate"  # type: ignore[index]
    assert receipt["thresholds"]["champion_margin"] == 0.005  # type: ignore[index]
    assert receipt["decided_at"] == "2015-02-20T12:00:00+00:00" and receipt["schema"] == receipts.SCHEMA
    forward = receipt["forward"]
    assert isinstance(forward, dict) and forward["sessions"] == ["b.csv"] and forward["sha256"] == "c" * 64
    assert forward["challenger_model"] == "probe" and forward["rows"] == 240
    assert forward["models"]["light_rule"]["accuracy_ci95"]["accuracy"] == 1.0
    assert forward["comparisons"]["challenger_vs_champion"]["delta"] == 0.0
    assert receipt["thresholds"]["forward_margin"] == 0.002  # type: ignore[index]


def test_canonical_bytes_and_digest_are_stable() -> None:
    first, second = _receipt(), _receipt()
    assert receipts.canonical(first) == receipts.canonical(second)
    assert receipts.digest(first) == receipts.digest(second) and len(receipts.digest(first)) == 64
    assert json.loads(receipts.canonical(first)) == json.loads(json.dumps(first, default=str))
    changed = {**first, "reason": "edited"}
    assert receipts.digest(changed) != receipts.digest(first)


def test_the_ui_table_names_the_rule_models_intervals_and_pointer() -> None:
    rows = receipts.table(_receipt())
    assert rows[0] == ["field", "value"] and all(len(row) == 2 for row in rows)
    fields = dict((row[0], row[1]) for row in rows[1:])
    assert fields["decision"] == "gate_passed" and fields["rule"] == "all_rules"
    assert fields["challenger"] == "m2 (candidate)" and fields["champion dataset"] == "d1 v1.0.3"
    assert fields["challenger accuracy (95 % CI)"] == "100.00 % [100.00 %, 100.00 %]"
    assert fields["challenger vs champion"] == "+0.00 pt [+0.00, +0.00]"
    assert fields["rule champion"].startswith("pass") and fields["champion pointer"] == "m1 -> m1 (revision None)"
    assert fields["forward sessions"] == "b.csv (240 rows, held out of fitting)"
    assert fields["forward challenger accuracy (95 % CI)"] == "100.00 % [100.00 %, 100.00 %]"
    assert fields["forward challenger vs baseline"] == "+0.00 pt [+0.00, +0.00]"
    assert fields["rule forward"].startswith("pass: on b.csv")


def test_unknown_decisions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown decision"):
        receipts.build(
            decision="approved",
            decided_by=DecidedBy("operator", "me@host", "occuloop promote m"),
            rule="forced",
            reason="",
            challenger=_record("m", (), "d"),
            champion=None,
            assessment=None,
            verdict=None,
            holdout=None,
            thresholds=SETTINGS,
            pointer=PointerMove(None, "m", 1),
        )


def test_a_model_has_one_state_tag_and_keeps_its_other_tags() -> None:
    tags = ["trigger-42", CANDIDATE]
    assert state_of(tags) == CANDIDATE
    assert with_state(tags, CHAMPION) == ["trigger-42", CHAMPION]
    assert with_state(["x", CHAMPION, REJECTED], REJECTED) == ["x", REJECTED]
    assert state_of(["x"]) is None
    with pytest.raises(ValueError):
        with_state(tags, "production")
    record = _record("m", ("a", "retired"), "d")
    assert record.state == "retired" and record.lineage()["dataset_version"] == "1.0.3"
