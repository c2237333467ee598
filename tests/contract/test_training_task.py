"""The training task under clearml-agent against occuloop server: a real Keras model, registered with lineage,
whose SavedModel reloads in a fresh process with the same predictions; a corrupted dataset is refused."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.support.clients import BIN, Clients
from training import sessions

TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "training" / "train.py"
AGENT_ENV = {
    "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
    "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
    "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
}


@pytest.fixture(scope="module")
def session_files(clients: Clients) -> dict[str, Path]:
    files, _ = sessions.write(clients.workdir / "uci")
    return {path.stem: path for path in files}


def test_agent_trains_and_registers_a_model_that_reloads_identically(
    clients: Clients, session_files: dict[str, Path]
) -> None:
    days = [str(session_files[day]) for day in ("2015-02-05", "2015-02-06", "2015-02-09")]
    dataset = clients.flow("register_sessions", "occuloop/labels", "labeled", *days)
    shutil.copy(TRAIN_SCRIPT, clients.workdir / "train.py")
    clients.api.ok("queues.create", {"name": "training"})
    task_id = clients.flow("enqueue_training", "train.py", "training", dataset["id"], "40")["id"]
    agent = clients.spawn(
        "training-agent",
        [str(BIN / "clearml-agent"), "daemon", "--queue", "training", "--foreground", "--cpu-only"],
        AGENT_ENV,
    )
    try:

        def finished() -> str | None:
            status = str(clients.api.task(task_id)["status"])
            return status if status in ("completed", "failed") else None

        status = clients.api.wait_for("the training run", finished, timeout=600, interval=2)
    finally:
        agent.stop()
    task = clients.api.task(task_id)
    assert status == "completed", "\n".join(clients.api.log_lines(task_id)[-40:])
    assert task["hyperparams"]["General"]["dataset_id"]["value"] == dataset["id"]
    outputs = task["models"]["output"]
    assert len(outputs) == 1
    model = clients.api.ok("models.get_by_id", {"model": outputs[0]["model"]})["model"]
    assert model["tags"] == ["candidate"] and model["framework"] == "TensorFlow"
    assert model["metadata"]["dataset_id"]["value"] == dataset["id"]
    assert float(model["metadata"]["holdout_accuracy"]["value"]) > 0.9
    artifacts = {item["key"] for item in task["execution"]["artifacts"]}
    assert {"validation", "evaluation", "holdout_predictions", "forward_predictions", "model_card"} <= artifacts
    scalars = clients.api.ok("events.scalar_metrics_iter_histogram", {"task": task_id})
    assert {"loss", "accuracy"} <= set(scalars) and len(scalars["loss"]["validation"]["x"]) >= 6  # one point per epoch
    plots = clients.api.ok("events.get_task_plots", {"task": task_id, "iters": 1})["plots"]
    assert {"holdout", "holdout ROC", "validation"} <= {plot["metric"] for plot in plots}

    reloaded = clients.flow("check_model", model["id"], task_id, timeout=300)
    assert reloaded["rows"] == 2665 and reloaded["max_abs_diff"] < 1e-5
    card = reloaded["card"]
    assert card["dataset_id"] == dataset["id"] and card["labeling_sessions"] == [
        "2015-02-05.csv",
        "2015-02-06.csv",
        "2015-02-09.csv",
    ]
    assert card["rows"] == 4320 and card["code_version"].startswith("occuloop")

    # the newest session (Feb 9) was held out of fitting: early stopping and the gate's forward evidence
    forward = card["forward"]
    assert forward["sessions"] == ["2015-02-09.csv"] and forward["rows"] == 1440
    assert 0.9 < forward["accuracy"] <= 1 and forward["light_rule_accuracy"] == pytest.approx(0.9951, abs=1e-4)
    stored = reloaded["forward"]
    assert stored["sessions"] == ["2015-02-09.csv"] and stored["rows"] == 1440 and stored["occupied"] == 534
    assert stored["sha256"] == forward["sha256"] and stored["champion"] is None  # no champion on this server
    assert stored["challenger_model"] == ("probe" if forward["refit"] else "registered")
    if not forward["refit"]:  # the registered SavedModel is the network that answered on the forward rows
        assert stored["max_abs_diff"] < 1e-5
    log = "\n".join(clients.api.log_lines(task_id))
    assert "event=forward_holdout sessions=2015-02-09.csv rows=1440" in log


def test_a_dataset_with_a_corrupted_session_is_refused_and_registers_nothing(
    clients: Clients, session_files: dict[str, Path]
) -> None:
    corrupted = clients.workdir / "corrupted" / "2015-02-12.csv"
    corrupted.parent.mkdir()
    lines = session_files["2015-02-12"].read_text().splitlines()
    flipped = [lines[0]] + [line[:-1] + ("0" if line.endswith("1") else "1") for line in lines[1:]]
    corrupted.write_text("\n".join(flipped) + "\n")
    dataset = clients.flow(
        "register_sessions", "occuloop/refused", "labeled", str(session_files["2015-02-05"]), str(corrupted)
    )
    with pytest.raises(AssertionError, match="exited 2"):
        clients.run(
            [
                sys.executable,
                "-m",
                "training.train",
                "--project",
                "occuloop/refused-training",
                "--dataset-id",
                dataset["id"],
            ],
            timeout=300,
        )
    tasks = clients.api.ok(
        "tasks.get_all",
        {"name": "^train occupancy model$", "status": ["failed"], "only_fields": ["id", "status_reason", "models"]},
    )["tasks"]
    refused = [task for task in tasks if "label_disagreement" in task["status_reason"]]
    assert len(refused) == 1 and "2015-02-12.csv" in refused[0]["status_reason"]
    assert refused[0]["models"]["output"] == []
