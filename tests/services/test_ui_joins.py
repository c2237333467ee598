"""The UI's joins, on wire-shaped dicts as the ClearML API returns them: no server."""

from __future__ import annotations

import json
from datetime import datetime

from services.ui.joins import Pointer, Receipt, Run, Version, balances, state_track, verify
from services.ui.timeline import canary, champion, timeline


def version(dataset_id: str, number: str, sessions: str, completed: str, added: int = 1) -> Version:
    return Version.of({
        "id": dataset_id, "name": "labeled", "status": "completed", "project": "p", "completed": completed,
        "comment": f"labeling sessions: {sessions}", "tags": ["Production"],
        "runtime": {"version": number, "ds_change_add": added, "ds_change_size": 100, "ds_file_count": 2},
    })  # fmt: skip


def run(run_id: str, dataset_id: str, model_id: str, started: str) -> Run:
    return Run.of({"id": run_id, "status": "completed", "tags": ["retrain", f"dataset:{dataset_id}"],
                   "models": {"output": [{"model": model_id, "name": "occupancy"}]}, "started": started,
                   "completed": started.replace(":00+", ":30+"), "project": "t"})  # fmt: skip


def receipt(receipt_id: str, decision: str, model_id: str, created: str, document: dict | None = None) -> Receipt:
    task = {"id": receipt_id, "created": created,
            "hyperparams": {"Receipt": {"decision": {"value": decision}, "model_id": {"value": model_id}}},
            "execution": {"artifacts": [{"key": "receipt", "uri": f"http://files/{receipt_id}.json"}]}}  # fmt: skip
    return Receipt.of(task, document)


GATE = {"rule": "all_rules", "models": {"challenger": {"accuracy_ci95": {"accuracy": 0.98, "low": 0.96, "high": 0.99}}},
        "comparisons": {"challenger_vs_champion": {"delta": 0.01, "low": -0.001, "high": 0.02}}}  # fmt: skip


def test_each_session_is_joined_from_its_file_to_the_champion_newest_first() -> None:
    versions = [version("d1", "1.0.0", "a.csv", "2026-01-01T10:00:00+00:00"),
                version("d2", "1.0.1", "b.csv, c.csv", "2026-01-01T11:00:00+00:00")]  # fmt: skip
    runs = [run("r1", "d1", "m1", "2026-01-01T10:01:00+00:00"), run("r2", "d2", "m2", "2026-01-01T11:01:00+00:00")]
    receipts = [
        receipt("g1", "gate_failed", "m1", "2026-01-01T10:02:00+00:00", {"rule": "training_data"}),
        receipt("g2", "gate_passed", "m2", "2026-01-01T11:02:00+00:00", GATE),
        receipt("p2", "promoted", "m2", "2026-01-01T11:03:00+00:00", {"rule": "canary"}),
    ]
    models = {"m2": {"id": "m2", "metadata": {"canary_steps": {"value": json.dumps(
        [{"weight": 0.1, "at": "2026-01-01T11:02:10+00:00"}, {"weight": 1.0, "at": "2026-01-01T11:02:40+00:00"}])}}}}  # fmt: skip
    quarantine = [{"file": "b.csv", "quarantined_at": "20260101T105000Z", "reasons": ["label_disagreement"],
                   "quarantined_as": "b.csv", "superseded_by": {"version": "1.0.1", "dataset_id": "d2"}}]  # fmt: skip
    rows = timeline(versions, runs, models, receipts, quarantine)
    assert [(row.session, row.validation) for row in rows] == [
        ("b.csv", "accepted"), ("c.csv", "accepted"), ("b.csv", "quarantined"), ("a.csv", "accepted"),
    ]  # fmt: skip
    newest = rows[0]
    assert newest.version.number == "1.0.1" and newest.run.id == "r2" and newest.gate.rule == "all_rules"
    assert newest.accuracy.value == 0.98 and newest.gate.difference.delta == 0.01
    assert [step.weight for step in newest.steps] == [0.1, 1.0] and newest.stage == "promoted"
    assert newest.champion_after == "m2"
    assert rows[2].reasons == ("label_disagreement",) and rows[2].superseded_by["version"] == "1.0.1"
    assert rows[3].stage == "gate failed" and rows[3].champion_after is None


def test_a_version_without_a_run_waits_for_training() -> None:
    rows = timeline([version("d1", "1.0.0", "a.csv", "2026-01-01T10:00:00+00:00")], [], {}, [], [])
    assert rows[0].run is None and rows[0].stage == "waiting for training"


def pointer(model_id: str, decision: str, sha: str) -> Pointer:
    values = {"model_id": model_id, "updated": "2026-01-01T11:03:00+00:00", "decision_id": decision,
              "receipt_sha256": sha, "revision": "2", "history": json.dumps(["m1"])}  # fmt: skip
    return Pointer.of({"id": "ptr", "hyperparams": {"Champion": {k: {"value": v} for k, v in values.items()}}})


def test_the_champion_header_takes_its_interval_from_its_gate_receipt() -> None:
    found = champion(pointer("m2", "p2", "abc"), {"m2": {"id": "m2", "metadata": {"dataset_version": {"value": "1.0.1"}}}},
                     [receipt("g2", "gate_passed", "m2", "2026-01-01T11:02:00+00:00", GATE)])  # fmt: skip
    assert found is not None and found.model_id == "m2" and found.dataset_version == "1.0.1"
    assert found.accuracy.low == 0.96 and found.history == ("m1",)
    assert found.since == datetime.fromisoformat("2026-01-01T11:03:00+00:00")
    assert champion(Pointer.of(None), {}, []) is None


def test_the_canary_comes_from_the_controllers_status_while_it_ramps() -> None:
    status = {"state": "canary", "model_id": "m3", "version": 3, "weight": 0.5, "step": "2/3",
              "window": {"verdict": "wait", "rule": "min_requests", "reason": "12 < 50 requests"}}  # fmt: skip
    found = canary({}, status)
    assert found is not None and (found.weight, found.step, found.verdict) == (0.5, "2/3", "wait")
    assert canary({}, {"state": "following_champion"}) is None
    assert canary({"m4": {"id": "m4", "tags": ["canary"]}}, {"state": "following_champion"}).model_id == "m4"


def test_the_state_track_links_each_step_to_its_receipt() -> None:
    model = {"id": "m2", "created": "2026-01-01T11:01:30+00:00", "metadata": {
        "canary_steps": {"value": json.dumps([{"weight": 0.1, "at": "2026-01-01T11:02:10+00:00"}])},
        "state": {"value": "retired"}, "state_decision_id": {"value": "p3"}}}  # fmt: skip
    receipts = [receipt("g2", "gate_passed", "m2", "2026-01-01T11:02:00+00:00"),
                receipt("p2", "promoted", "m2", "2026-01-01T11:03:00+00:00")]  # fmt: skip
    track = state_track(model, receipts)
    assert [(step.label, step.receipt_id) for step in track] == [
        ("candidate", None), ("gate passed", "g2"), ("canary 10 %", None), ("champion", "p2"), ("retired", "p3"),
    ]  # fmt: skip


def test_a_receipt_is_verified_only_when_an_outside_record_has_its_digest() -> None:
    model = {"metadata": {"last_receipt": {"value": "p2"}, "last_receipt_sha256": {"value": "abc"}}}
    assert verify("p2", "abc", pointer("m2", "p2", "abc"), model).state == "verified"
    assert verify("p2", "abd", pointer("m2", "p2", "abc"), model).state == "mismatch"
    assert verify("g1", "abc", pointer("m2", "p2", "abc"), model).state == "unrecorded"


def test_label_balance_accumulates_the_sessions_of_a_chain_a_corrected_file_replacing_its_first_version() -> None:
    def task(dataset_id: str, completed: str, files: dict) -> dict:
        preview = json.dumps({"files": files})
        return {"id": dataset_id, "completed": completed,
                "execution": {"artifacts": [{"key": "sessions", "type_data": {"preview": preview}}]}}  # fmt: skip

    chain = [task("d2", "2026-01-02T00:00:00+00:00", {"a.csv": {"rows": 100, "occupied": 50}}),
             task("d1", "2026-01-01T00:00:00+00:00", {"a.csv": {"rows": 100, "occupied": 10},
                                                      "b.csv": {"rows": 60, "occupied": 30}})]  # fmt: skip
    found = balances(chain)
    assert (found["d1"].rows, found["d1"].occupied) == (160, 40)
    assert (found["d2"].files, found["d2"].rows, found["d2"].occupied) == (2, 160, 80)
    assert found["d2"].occupied_rate == 0.5


def test_a_version_still_being_made_has_no_time_and_is_the_newest_row() -> None:
    draft = Version.of({"id": "d9", "name": "labeled", "status": "in_progress", "comment": "labeling sessions: z.csv"})
    rows = timeline([version("d1", "1.0.0", "a.csv", "2026-01-01T10:00:00+00:00"), draft],
                    [run("r9", "d9", "m9", "2026-01-01T12:00:00+00:00")], {}, [], [])  # fmt: skip
    assert [row.session for row in rows] == ["z.csv", "a.csv"] and rows[0].at is None


def test_a_squash_of_the_chain_adds_no_row_and_names_the_version_it_replaced() -> None:
    squash = Version.of({"id": "s1", "name": "labeled", "status": "completed", "tags": ["squashed"],
                         "completed": "2026-01-01T10:05:00+00:00", "comment": "squash of labeled 1.0.0 (d1): ...",
                         "runtime": {"version": "1.0.1", "squash_of": "d1", "ds_change_add": 1}})  # fmt: skip
    rows = timeline([version("d1", "1.0.0", "a.csv", "2026-01-01T10:00:00+00:00"), squash], [], {}, [], [])
    assert [row.session for row in rows] == ["a.csv"] and squash.squash_of == "d1"
