"""The gate, receipts, model states and the champion pointer against `occuloop server`, with a real clearml-agent.

One loop per module, models trained once (3 epochs: with the default inputs that already ties the Light rule):
 - 14 sessions, trained under the agent with the gate step on: the gate task (also under the agent) passes it
   with no champion yet, and it is promoted;
 - one session (Feb 4: 369 rows, 16 occupied), same path: refused by the training-data rule;
 - 14 sessions with five weekdays' labels flipped, trained with the label-sanity check switched off (bad labels
   that slipped past validation), gated by `occuloop gate --enqueue`: refused by the Light-rule baseline (one
   flipped day no longer harms the default network, which answers with the Light rule's verdict: a majority of
   the lit minutes must be mislabeled before it learns anything wrong);
then `occuloop promote` forces the refused one-day model in and `occuloop rollback` restores the champion.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from services.child_processes import Child
from tests.support.clients import BIN, Clients
from training import sessions

pytestmark = pytest.mark.contract

TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "training" / "train.py"
AGENT_ENV = {
    "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
    "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
    "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
}
QUEUE = "training"
EPOCHS = "3"
FLIPPED_DAYS = ("2015-02-05", "2015-02-06", "2015-02-09", "2015-02-12", "2015-02-13")


def _finished(clients: Clients, task_id: str, what: str, timeout: float = 300) -> dict[str, Any]:
    def done() -> str | None:
        status = str(clients.api.task(task_id)["status"])
        return status if status in ("completed", "failed", "stopped", "published") else None

    status = clients.api.wait_for(what, done, timeout=timeout, interval=1)
    assert status == "completed", "\n".join(clients.api.log_lines(task_id)[-60:])
    return clients.api.task(task_id)


def _gate_task(clients: Clients, model_id: str) -> dict[str, Any]:
    def created() -> str | None:
        tasks = clients.api.ok("tasks.get_all", {"name": f"^gate {model_id}$", "only_fields": ["id"]})["tasks"]
        return str(tasks[0]["id"]) if tasks else None

    gate_id = clients.api.wait_for(f"the gate task of {model_id}", created, timeout=60)
    return _finished(clients, gate_id, f"the gate of {model_id}")


def _train_and_gate(clients: Clients, dataset_id: str) -> tuple[str, dict[str, Any]]:
    """A training run under the agent whose last step enqueues the gate; returns the model id and the gate task."""
    task_id = clients.flow("enqueue_gated_training", "train.py", QUEUE, dataset_id, EPOCHS, QUEUE)["id"]
    task = _finished(clients, task_id, "the training run")
    model_id = str(task["models"]["output"][0]["model"])
    return model_id, _gate_task(clients, model_id)


def _register(clients: Clients, name: str, *files: Path) -> str:
    return str(clients.flow("register_sessions", "occuloop/labels", name, *map(str, files))["id"])


def _results(output: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("RESULT ") :]) for line in output.splitlines() if line.startswith("RESULT ")]


@pytest.fixture(scope="module")
def agent(clients: Clients) -> Any:
    clients.api.ok("queues.create", {"name": QUEUE})
    shutil.copy(TRAIN_SCRIPT, clients.workdir / "train.py")
    child: Child = clients.spawn(
        "agent", [str(BIN / "clearml-agent"), "daemon", "--queue", QUEUE, "--foreground", "--cpu-only"], AGENT_ENV
    )
    yield child
    child.stop()


@pytest.fixture(scope="module")
def loop(clients: Clients, agent: Child) -> dict[str, Any]:
    files, _ = sessions.write(clients.workdir / "uci")
    by_day = {path.stem: path for path in files}
    flipped: dict[str, Path] = {}
    for day in FLIPPED_DAYS:
        flipped[day] = clients.workdir / "flipped" / f"{day}.csv"
        flipped[day].parent.mkdir(exist_ok=True)
        lines = by_day[day].read_text().splitlines()
        flipped[day].write_text(
            "\n".join([lines[0], *(line[:-1] + str(1 - int(line[-1])) for line in lines[1:])]) + "\n"
        )

    many = _register(clients, "labeled", *files)
    good_model, good_gate = _train_and_gate(clients, many)
    one_day = _register(clients, "labeled-one-day", by_day["2015-02-04"])
    day_model, day_gate = _train_and_gate(clients, one_day)

    bad = _register(clients, "labeled-flipped", *(flipped.get(path.stem, path) for path in files))
    flipped_model = clients.flow("train_unvalidated", bad, EPOCHS, timeout=300)["model_id"]
    enqueued = _results(clients.cli("occuloop", "gate", "--enqueue", QUEUE, "--model-id", flipped_model))[0]
    flipped_gate = _finished(clients, enqueued["gate_task_id"], "the gate of the flipped-label model")
    return {
        "datasets": {"many": many, "one_day": one_day, "flipped": bad},
        "models": {"many": good_model, "one_day": day_model, "flipped": flipped_model},
        "gates": {"many": good_gate, "one_day": day_gate, "flipped": flipped_gate},
    }


def _state(clients: Clients, loop: dict[str, Any]) -> dict[str, Any]:
    state = clients.flow("rollout_state", *loop["models"].values())
    state["by_model"] = {}
    for item in state["receipts"]:
        receipt = item["receipt"]
        state["by_model"].setdefault(receipt["models"]["challenger"]["model_id"], []).append(receipt)
    return state


def test_a_model_trained_on_many_sessions_passes_the_gate_and_becomes_champion(
    clients: Clients, loop: dict[str, Any]
) -> None:
    model_id = loop["models"]["many"]
    state = _state(clients, loop)
    gate_passed, promoted = state["by_model"][model_id][:2]
    assert gate_passed["decision"] == "gate_passed" and gate_passed["rule"] == "no_champion_baseline_rules"
    assert (
        gate_passed["decided_by"]["kind"] == "gate" and loop["gates"]["many"]["id"] in gate_passed["decided_by"]["who"]
    )
    assert promoted["decision"] == "promoted" and promoted["pointer"] == {
        "before": None,
        "after": model_id,
        "revision": 1,
    }
    challenger = gate_passed["models"]["challenger"]
    assert challenger["dataset_id"] == loop["datasets"]["many"] and len(challenger["labeling_sessions"]) == 14
    assert challenger["scored_from"] == "holdout_predictions artifact"
    interval = challenger["accuracy_ci95"]
    assert interval["low"] <= challenger["metrics"]["accuracy"] <= interval["high"]
    assert challenger["metrics"]["accuracy"] >= 0.96 and set(challenger["slices"]) == {"day", "night", "weekday"}
    assert gate_passed["holdout"]["rows"] == 2665 and len(gate_passed["holdout"]["sha256"]) == 64
    assert gate_passed["models"]["light_rule"]["metrics"]["accuracy"] == pytest.approx(0.9786, abs=1e-4)
    assert all(item["status"] == "published" for item in state["receipts"])  # read-only once written
    # forward: the newest session (Feb 18) was held out of fitting and scored against the Light rule
    forward = gate_passed["forward"]
    assert forward["sessions"] == ["2015-02-18.csv"] and forward["rows"] == 560 and len(forward["sha256"]) == 64
    assert forward["models"]["champion"] is None and forward["scored_from"]["challenger"].startswith(
        "forward_predictions"
    )
    assert forward["models"]["light_rule"]["metrics"]["accuracy"] == pytest.approx(0.9982, abs=1e-4)
    (forward_rule,) = [result for result in gate_passed["verdict"]["results"] if result["rule"] == "forward"]
    assert forward_rule["passed"] and "2015-02-18.csv (560 rows held out of fitting)" in forward_rule["detail"]
    assert gate_passed["thresholds"]["forward_margin"] == 0.002

    pointer = state["pointer"]
    assert pointer["model_id"] == model_id and pointer["revision"] >= 1
    assert state["tags"][model_id][-1] in ("champion", "retired", "rejected")  # later tests move it
    gate_log = "\n".join(clients.api.log_lines(loop["gates"]["many"]["id"]))
    assert f"event=gate_passed model_id={model_id} dataset_id={loop['datasets']['many']}" in gate_log
    assert f"event=promoted model_id={model_id}" in gate_log
    assert {"receipt"} <= {plot["metric"] for plot in _plots(clients, loop["gates"]["many"]["id"])}


def _plots(clients: Clients, task_id: str) -> list[dict[str, Any]]:
    return list(clients.api.ok("events.get_task_plots", {"task": task_id, "iters": 1})["plots"])


def test_a_model_trained_on_one_day_is_refused_with_a_receipt_saying_why(
    clients: Clients, loop: dict[str, Any]
) -> None:
    model_id = loop["models"]["one_day"]
    state = _state(clients, loop)
    (receipt,) = [item for item in state["by_model"][model_id] if item["decision"].startswith("gate")]
    assert receipt["decision"] == "gate_failed" and receipt["rule"] == "training_data"
    assert "1 labeling session(s) < 2" in receipt["reason"] and "16 occupied rows < 200" in receipt["reason"]
    assert receipt["models"]["champion"]["model_id"] == loop["models"]["many"]
    assert receipt["comparisons"]["challenger_vs_champion"]["low"] <= 0.0
    assert receipt["pointer"]["before"] == receipt["pointer"]["after"] == loop["models"]["many"]
    assert "rejected" in state["tags"][model_id] and "candidate" not in state["tags"][model_id]
    assert "fewer than 2 to fit on" in receipt["forward"]["skipped"]  # one session: nothing to hold out
    assert "forward" not in {result["rule"] for result in receipt["verdict"]["results"]}
    gate_log = "\n".join(clients.api.log_lines(loop["gates"]["one_day"]["id"]))
    assert f"event=gate_failed model_id={model_id} dataset_id={loop['datasets']['one_day']}" in gate_log


def test_a_model_trained_on_flipped_labels_is_refused_at_the_gate(clients: Clients, loop: dict[str, Any]) -> None:
    model_id = loop["models"]["flipped"]
    state = _state(clients, loop)
    (receipt,) = [item for item in state["by_model"][model_id] if item["decision"].startswith("gate")]
    assert receipt["decision"] == "gate_failed" and receipt["rule"] == "baseline", receipt["reason"]
    failed = {result["rule"] for result in receipt["verdict"]["results"] if not result["passed"]}
    assert {"baseline", "champion"} <= failed
    assert receipt["models"]["challenger"]["dataset_id"] == loop["datasets"]["flipped"]
    # its training run found the champion by its tag and scored it on the held-out Feb 18: the gate reused that
    forward = receipt["forward"]
    assert forward["sessions"] == ["2015-02-18.csv"]
    assert forward["models"]["champion"]["metrics"]["rows"] == 560
    assert forward["scored_from"]["champion"] == "forward_predictions artifact"
    assert "rejected" in state["tags"][model_id]
    assert state["pointer"]["model_id"] == loop["models"]["many"]


def test_promote_forces_a_model_in_and_rollback_restores_the_champion(clients: Clients, loop: dict[str, Any]) -> None:
    good, day = loop["models"]["many"], loop["models"]["one_day"]
    # --rescore: both SavedModels are downloaded and run instead of reusing the stored holdout predictions
    promoted = _results(clients.cli("occuloop", "promote", day, "--reason", "contract test", "--rescore"))[0]
    assert promoted["decision"] == "promoted" and promoted["rule"] == "forced" and promoted["champion"] == day
    assert "the gate would have refused it" in promoted["reason"]

    output = clients.cli("occuloop", "rollback", "--reason", "bad canary")
    rolled = _results(output)[0]
    assert rolled["decision"] == "rolled_back" and rolled["champion"] == good
    assert f"event=rolled_back model_id={good}" in output and 'reason="bad canary"' in output
    assert f"previous_model_id={day}" in output

    state = _state(clients, loop)
    assert state["pointer"]["model_id"] == good and state["pointer"]["history"][-2:] == [good, day]
    assert state["pointer"]["decision_id"] == rolled["receipt_id"]
    assert state["tags"][good][-1] == "champion" and state["tags"][day][-1] == "rejected"
    gated, forced = (
        next(r for r in state["by_model"][day] if r["decision"] == kind) for kind in ("gate_failed", "promoted")
    )
    assert (
        forced["models"]["challenger"]["scored_from"]
        == forced["models"]["champion"]["scored_from"]
        == "SavedModel package"
    )
    for role in ("challenger", "champion"):  # the stored predictions are the SavedModel's
        assert forced["models"][role]["metrics"] == gated["models"][role]["metrics"]
    receipt = state["by_model"][good][-1]
    assert receipt["decision"] == "rolled_back" and receipt["decided_by"]["kind"] == "operator"
    assert receipt["pointer"]["before"] == day and receipt["pointer"]["after"] == good
    assert receipt["models"]["champion"]["model_id"] == day and "accuracy_ci95" in receipt["models"]["champion"]

    # nothing earlier is left that was not rolled back from: refused, pointer unchanged
    with pytest.raises(AssertionError, match="exited 2"):
        clients.cli("occuloop", "rollback")
    # ... but any earlier model can be named explicitly
    again = _results(clients.cli("occuloop", "rollback", day, "--reason", "explicit"))[0]
    assert again["champion"] == day
    assert _state(clients, loop)["pointer"]["model_id"] == day
