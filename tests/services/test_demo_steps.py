"""The demo's bookkeeping of a session: what counts as its outcome, and which recorded steps are really done."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.demo import DeliveryLost, Intake, Step, intake_of, observed, plan, step_key
from services.loop_state import DatasetVersionState, LoopState, RunState

SYNC_LOG = Path("/data/logs/sync.log")


def test_a_synced_answer_is_a_version() -> None:
    answer = {"status": "synced", "dataset_id": "d1", "version": "1.0.0", "rows": 1440}
    assert intake_of(answer, None, day="2015-02-04", sync_log=SYNC_LOG) == Intake("d1", "1.0.0", "1440")


def test_a_new_quarantine_entry_is_the_outcome_with_its_reasons() -> None:
    intake = intake_of({"status": "nothing to sync"}, ["label_disagreement"], day="2015-02-05", sync_log=SYNC_LOG)
    assert intake == Intake(reasons=("label_disagreement",))


def test_nothing_to_sync_without_a_quarantine_entry_is_a_lost_delivery_naming_the_sync_log() -> None:
    with pytest.raises(DeliveryLost, match=r"2015-02-04 was delivered.*nothing to sync.*/data/logs/sync.log"):
        intake_of({"status": "nothing to sync"}, None, day="2015-02-04", sync_log=SYNC_LOG)


def test_an_error_answer_is_a_lost_delivery_too() -> None:
    with pytest.raises(DeliveryLost):
        intake_of({"status": "backoff", "dataset_id": None}, None, day="2015-02-04", sync_log=SYNC_LOG)


def test_a_version_still_finalizing_is_neither_accepted_nor_quarantined_yet() -> None:
    intake = intake_of({"status": "finalizing"}, None, day="2015-02-04", sync_log=SYNC_LOG)
    assert intake.dataset_id is None and not intake.reasons


def _version(dataset_id: str, day: str) -> DatasetVersionState:
    return DatasetVersionState(dataset_id, "labeled", "1.0.0", "completed", ("Production",), "2015", f"{day}.csv")


def test_only_recorded_steps_that_left_a_trace_count_as_done(tmp_path: Path) -> None:
    steps = plan(3)  # 02-04, 02-05 flipped, 02-05, 02-06
    assert steps[1] == Step("2015-02-05", corrupt="flipped")
    done = [step_key(index, step) for index, step in enumerate(steps)]
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    (quarantine / "2015-02-05.csv.reason.json").write_text('{"reasons": ["label_disagreement"]}')
    state = LoopState(
        versions=[_version("d1", "2015-02-04"), _version("d2", "2015-02-05")],
        runs=[RunState("r1", "d1", "completed", "m1"), RunState("r2", "d2", "completed", "m2")],
    )
    # 02-06 was recorded but the server has no version of it (e.g. its server directory was deleted): play it again
    assert observed(steps, done, state, quarantine) == done[:3]
    # a server with nothing on it: nothing recorded counts (the progress file of issue 14 said "all done")
    assert observed(steps, done, LoopState(), tmp_path / "missing") == []
