"""Decision order on an in-memory registry: what the contract tests cannot provoke on demand — a pointer that moves
between reading and writing — and which earlier champion a bare rollback picks."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from services.rollout.assessment import ForwardRows
from services.rollout.decisions import Rollout
from services.rollout.receipts import DecidedBy
from services.rollout.registry import PointerConflict, PointerState, RolloutError
from services.rollout.states import ModelRecord, with_state
from services.settings import GateSettings, RolloutSettings
from training.holdout import Holdout

STAMPS = pd.date_range("2015-02-02 06:00", periods=240, freq="min")
LIGHT = np.where(STAMPS.hour == 8, 500.0, 0.0)
READINGS = pd.DataFrame({"date": STAMPS, "Light": LIGHT, "Occupancy": (LIGHT > 0).astype(np.int64)})
TRUTH = READINGS["Occupancy"].to_numpy(dtype=np.float64)
CARD = {"labeling_sessions": ["a", "b", "c"], "rows": 4000, "occupied": 900, "dataset_id": "d", "dataset_version": "1"}


class MemoryPointer:
    def __init__(self, registry: MemoryRegistry) -> None:
        self.state = PointerState(None, 0, None, None, None, ())
        self.registry = registry
        self.interfere: str | None = None  # another decision moves the pointer to this model just before ours

    def read(self) -> PointerState:
        return self.state

    def move(self, expected_revision: int, model_id: str, decision_id: str, receipt_sha256: str) -> PointerState:
        if self.interfere:
            self.registry.tags[self.interfere] = with_state(self.registry.tags[self.interfere], "champion")
            self._set(self.interfere, "someone-else")
            self.interfere = None
        if self.state.revision != expected_revision:
            raise PointerConflict("moved")
        return self._set(model_id, decision_id)

    def _set(self, model_id: str, decision_id: str) -> PointerState:
        history = self.state.history + ((self.state.model_id,) if self.state.model_id else ())
        self.state = PointerState(model_id, self.state.revision + 1, decision_id, None, None, history)
        return self.state


class MemoryRegistry:
    def __init__(
        self, predictions: dict[str, npt.NDArray[np.float64]], forward: dict[str, npt.NDArray[np.float64]] | None = None
    ) -> None:
        self.predictions_of = predictions
        self.forward_of = forward or {}  # P(occupied) on the forward rows (READINGS again), by model id
        self.forward_calls: list[tuple[str, str | None]] = []
        self.tags = {model_id: ["candidate"] for model_id in predictions}
        self.pointer = MemoryPointer(self)
        self.receipts: dict[str, dict[str, Any]] = {}
        self.discarded: list[str] = []

    def model(self, model_id: str) -> ModelRecord:
        if model_id not in self.tags:
            raise RolloutError(f"no model {model_id}")
        return ModelRecord(model_id, "occupancy", tuple(self.tags[model_id]), f"t-{model_id}", None, {}, CARD)

    def latest_candidate(self) -> ModelRecord | None:
        return next((self.model(m) for m in reversed(self.tags) if self.tags[m][-1] == "candidate"), None)

    def holdout(self) -> Holdout:
        return Holdout("holdout", "0" * 64, READINGS)

    def predictions(self, record: ModelRecord, *, rescore: bool = False) -> tuple[npt.NDArray[np.float64], str]:
        return self.predictions_of[record.model_id], "memory"

    def forward_rows(self, challenger: ModelRecord, champion: ModelRecord | None) -> ForwardRows | str:
        self.forward_calls.append((challenger.model_id, champion.model_id if champion else None))
        if challenger.model_id not in self.forward_of:
            return "the training run held no session out"
        theirs = self.forward_of.get(champion.model_id) if champion else None
        return ForwardRows(
            ("c",),
            "f" * 64,
            READINGS,
            self.forward_of[challenger.model_id],
            "registered",
            theirs,
            {"challenger": "memory"},
        )

    def set_state(self, record: ModelRecord, state: str, decision_id: str) -> None:
        self.tags[record.model_id] = with_state(self.tags[record.model_id], state)

    def open_receipt(self, decision: str, model_id: str) -> Any:
        return type("Draft", (), {"id": f"r{len(self.receipts) + len(self.discarded)}"})()

    def seal_receipt(self, task: Any, receipt: dict[str, Any], model_id: str) -> str:
        assert task.id not in self.receipts
        self.receipts[task.id] = receipt
        return "sha"

    def discard_receipt(self, task: Any) -> None:
        self.discarded.append(task.id)

    def gate_receipts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for receipt in self.receipts.values():
            if receipt["decision"] in ("gate_passed", "gate_failed"):
                key = (receipt["decision"], receipt["rule"])
                counts[key] = counts.get(key, 0) + 1
        return counts


def _rollout(registry: MemoryRegistry, **settings: Any) -> Rollout:
    configured = dataclasses.replace(RolloutSettings(gate=GateSettings(bootstrap_samples=200)), **settings)
    return Rollout(registry, configured, DecidedBy("gate", "test", "pytest"))  # type: ignore[arg-type]


def test_a_pass_promotes_and_retires_the_old_champion() -> None:
    registry = MemoryRegistry({"m1": TRUTH, "m2": TRUTH})
    assert [o.decision for o in _rollout(registry).gate("m1")] == ["gate_passed", "promoted"]
    outcomes = _rollout(registry).gate("m2")
    assert [o.decision for o in outcomes] == ["gate_passed", "promoted"] and outcomes[-1].champion == "m2"
    assert registry.tags == {"m1": ["retired"], "m2": ["champion"]}
    promoted = registry.receipts[outcomes[-1].receipt_id]
    assert (
        promoted["pointer"] == {"before": "m1", "after": "m2", "revision": 2} and promoted["rule"] == "gate:all_rules"
    )


def test_hold_leaves_a_passed_model_a_candidate() -> None:
    registry = MemoryRegistry({"m1": TRUTH})
    outcomes = _rollout(registry, on_pass="hold").gate()
    assert [o.decision for o in outcomes] == ["gate_passed"] and registry.tags["m1"] == ["candidate"]
    assert registry.pointer.state.model_id is None


def test_a_pointer_that_moves_mid_decision_voids_it_and_the_gate_is_retaken() -> None:
    worse = np.where(np.arange(240) % 5 == 0, 1 - TRUTH, TRUTH)
    registry = MemoryRegistry({"m1": TRUTH, "m2": TRUTH, "m3": TRUTH})
    _rollout(registry).gate("m1")
    registry.pointer.interfere = "m3"  # m3 becomes champion while m2's promotion is being written
    outcomes = _rollout(registry).gate("m2")
    assert [o.decision for o in outcomes] == ["gate_passed", "gate_passed", "promoted"]
    assert len(registry.discarded) == 1 and registry.discarded[0] not in registry.receipts
    second_gate = registry.receipts[outcomes[1].receipt_id]
    assert second_gate["models"]["champion"]["model_id"] == "m3"  # re-taken against the new champion
    assert registry.pointer.state.model_id == "m2" and registry.pointer.state.revision == 3
    registry.predictions_of["m4"] = worse
    registry.tags["m4"] = ["candidate"]
    refused = _rollout(registry).gate("m4")
    assert [o.decision for o in refused] == ["gate_failed"] and registry.tags["m4"] == ["rejected"]


def test_bare_rollback_skips_models_that_were_rolled_back_from() -> None:
    registry = MemoryRegistry({"a": TRUTH, "b": TRUTH, "c": TRUTH})
    for model in ("a", "b", "c"):
        _rollout(registry).gate(model)
    assert registry.pointer.state.history == ("a", "b")
    rollout = _rollout(registry)
    assert rollout.rollback(reason="bad").champion == "b" and registry.tags["c"] == ["rejected"]
    assert rollout.rollback().champion == "a" and registry.tags["b"] == ["rejected"]
    with pytest.raises(RolloutError, match="no earlier champion"):
        rollout.rollback()
    assert rollout.rollback("c").champion == "c"  # any earlier model, named explicitly
    with pytest.raises(RolloutError, match="already the champion"):
        rollout.promote("c")
    with pytest.raises(RolloutError, match="not a 'candidate'"):
        rollout.gate("a")


def test_a_model_worse_than_the_light_rule_on_the_newest_session_is_refused_by_the_forward_rule() -> None:
    worse = np.where(np.arange(240) % 20 == 0, 1 - TRUTH, TRUTH)  # 5 % wrong on the forward rows only
    registry = MemoryRegistry({"m1": TRUTH, "m2": TRUTH}, forward={"m1": TRUTH, "m2": worse})
    assert [o.decision for o in _rollout(registry).gate("m1")] == ["gate_passed", "promoted"]
    outcomes = _rollout(registry).gate("m2")
    assert [o.decision for o in outcomes] == ["gate_failed"] and outcomes[0].rule == "forward"
    receipt = registry.receipts[outcomes[0].receipt_id]
    forward = receipt["forward"]
    assert forward["sessions"] == ["c"] and forward["models"]["champion"]["metrics"]["accuracy"] == 1.0
    assert forward["comparisons"]["challenger_vs_baseline"]["delta"] == pytest.approx(-0.05)
    assert registry.tags["m2"] == ["rejected"] and registry.pointer.state.model_id == "m1"
    # a rollback is not judged on the forward rows
    registry.tags["m3"] = ["candidate"]
    registry.predictions_of["m3"] = TRUTH
    _rollout(registry).gate("m3")
    calls = len(registry.forward_calls)
    _rollout(registry).rollback()
    assert len(registry.forward_calls) == calls
