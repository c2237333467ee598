"""The training task: what clearml-agent runs for every new Production dataset version (also `occuloop train`).

It reads top to bottom as the run does:
 1. connect the parameters (the trigger overrides `General/dataset_id`);
 2. fetch the labeled dataset version and validate every labeling session in it — refuse to train otherwise;
 3. hold out the newest session(s), fit the features on the older rows, train the network with early stopping on
    the held-out rows, report every epoch (training/fitting.py); score it, the Light rule and the champion (found
    by its tag) on the held-out rows for the gate; refit on every session if `refit` says so;
 4. score the model on the pinned holdout next to the Light rule and logistic regression;
 5. register a candidate model: SavedModel + feature spec + model card, with lineage in its metadata.
A refusal ends the task `failed` with the reason; nothing is registered.

Imports are absolute so that the agent can run this file as a standalone script (its code is stored in the task).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from clearml import Dataset, OutputModel, Task

from training import features as feature_code
from training.baselines import LogisticRegression, light_rule
from training.evaluate import EvaluationReport, evaluate, roc_curve
from training.fitting import fit_model
from training.forward_evidence import report_forward
from training.holdout import Holdout, ensure_holdout, load_holdout
from training.model import SAVED_MODEL_DIR, EpochCallback, predict_with, write_package
from training.onnx_export import ONNX_FILE, PACKAGE_FILES
from training.params import PARAMETER_SECTION, TrainingParams
from training.readings import read_table, to_readings
from training.schema import LABEL, TIMESTAMP
from training.sessions import Session
from training.validation import ValidationContext, ValidationReport, validate_batch
from training.window import select_sessions, session_start

logger = logging.getLogger(__name__)

TASK_NAME = "train occupancy model"
MODEL_TAG = "candidate"


class TrainingRefused(Exception):
    """The run must not produce a model; the message says why (it becomes the task's status reason)."""


@dataclass(frozen=True)
class TrainingData:
    dataset_id: str
    dataset_version: str
    sessions: tuple[Session, ...]  # one per labeling-session file, named by its path in the dataset
    reports: tuple[ValidationReport, ...]

    @property
    def readings(self) -> pd.DataFrame:
        rows = pd.concat([session.readings for session in self.sessions], ignore_index=True)
        return rows.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def code_version() -> str:
    try:
        package = metadata.version("occuloop")
    except metadata.PackageNotFoundError:
        package = "unknown"
    return f"occuloop {package}, features v{feature_code.FEATURES_VERSION}"


# -- 2. data ---------------------------------------------------------------------------------------------------


def resolve_dataset(params: TrainingParams) -> Any:
    if params.dataset_id:
        return Dataset.get(dataset_id=params.dataset_id, alias="training_data")
    return Dataset.get(
        dataset_project=params.dataset_project,
        dataset_name=params.dataset_name,
        only_completed=True,
        alias="training_data",
    )


def load_training_data(
    dataset: Any, holdout: Holdout, params: TrainingParams, folder: Path | None = None
) -> TrainingData:
    """The labeling sessions of the version inside the training window (training/window.py), read and validated;
    `folder` is the version's local copy (downloaded when not given)."""
    folder = folder or Path(dataset.get_local_copy())
    files = {str(path.relative_to(folder)): path for path in folder.rglob("*.csv") if path.is_file()}
    if not files:
        raise TrainingRefused(f"dataset {dataset.id} holds no labeling-session CSV files")
    starts = {name: session_start(path) for name, path in files.items()}
    chosen = select_sessions(starts, params.window_days, params.sample_every_days)
    logger.info(
        "event=training_window sessions=%d of=%d window_days=%d sample_every_days=%d",
        len(chosen),
        len(files),
        params.window_days,
        params.sample_every_days,
    )
    tables = [(name, read_table(files[name])) for name in chosen]
    context = ValidationContext(holdout_timestamps=frozenset(holdout.readings[TIMESTAMP]))
    reports = tuple(validate_batch(tables, context))
    rejected = [report for report in reports if not report.passed]
    if rejected:
        detail = "; ".join(f"{report.source}: {', '.join(report.reasons)}" for report in rejected)
        raise TrainingRefused(f"{len(rejected)} of {len(reports)} labeling sessions failed validation ({detail})")
    sessions = tuple(Session(name, to_readings(table)) for name, table in tables)
    return TrainingData(dataset.id, str(dataset.version), sessions, reports)


# -- 4. evaluation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutResult:
    report: EvaluationReport
    predictions: dict[str, npt.NDArray[np.float64]]


def evaluate_on_holdout(
    model: Any, spec: feature_code.FeatureSpec, training: pd.DataFrame, holdout: Holdout
) -> HoldoutResult:
    rows = holdout.readings
    predictions = {
        "candidate": predict_with(model, spec.transform(rows)),
        "light_rule": light_rule(rows),
        "logistic_regression": LogisticRegression.fit(training).predict_proba(rows),
    }
    pairs = (("candidate", "light_rule"), ("candidate", "logistic_regression"))
    return HoldoutResult(evaluate(holdout.dataset_id, rows, dict(predictions), compare=pairs), predictions)


def report_evaluation(log: Any, result: HoldoutResult, holdout: Holdout) -> None:
    for item in result.report.scores:
        for metric in ("accuracy", "f1", "auc"):
            value = getattr(item.overall, metric)
            if value is not None:
                log.report_single_value(f"holdout {metric} {item.name}", value)
    log.report_table("holdout", "models", iteration=0, table_plot=result.report.table())
    confusion = result.report.score_of("candidate").overall.confusion
    log.report_confusion_matrix(
        "holdout",
        "confusion matrix (candidate)",
        matrix=[[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]],
        iteration=0,
        xlabels=["predicted unoccupied", "predicted occupied"],
        ylabels=["unoccupied", "occupied"],
    )
    labels = holdout.readings[LABEL].to_numpy()
    for name in ("candidate", "logistic_regression"):
        fpr, tpr = roc_curve(labels, result.predictions[name])
        points = list(zip(fpr, tpr, strict=True))
        log.report_scatter2d(
            "holdout ROC",
            name,
            scatter=points,
            iteration=0,
            xaxis="false positive rate",
            yaxis="true positive rate",
            mode="lines",
        )


# -- the run ---------------------------------------------------------------------------------------------------


def train(task: Any, params: TrainingParams) -> dict[str, Any]:
    log = task.get_logger()
    history = feature_code.unservable(feature_code.FEATURE_SETS.get(params.feature_set, ()))
    if history:
        raise TrainingRefused(
            f"feature set {params.feature_set!r} needs the minutes before each reading ({', '.join(history)}); "
            "the endpoint answers one reading at a time, so such a model could not be served"
        )
    holdout = load_holdout(params.holdout_dataset_id or ensure_holdout(params.holdout_project))
    dataset = resolve_dataset(params)
    data = load_training_data(dataset, holdout, params)
    log.report_table("validation", "labeling sessions", iteration=0, table_plot=_validation_table(data.reports))
    task.upload_artifact("validation", {report.source: report.to_dict() for report in data.reports})
    occupied = int(data.readings[LABEL].sum())
    if occupied == 0 or occupied == len(data.readings):
        raise TrainingRefused(
            f"dataset {data.dataset_id} has a single class ({occupied} of {len(data.readings)} rows occupied)"
        )
    logger.info(
        "event=training_data dataset_id=%s version=%s sessions=%d rows=%d occupied=%d",
        data.dataset_id,
        data.dataset_version,
        len(data.sessions),
        len(data.readings),
        occupied,
    )

    def reporter(series: str) -> EpochCallback:
        def on_epoch(epoch: int, values: dict[str, float]) -> None:
            for key, value in values.items():
                name = "validation" if key.startswith("val_") else series
                log.report_scalar(key.removeprefix("val_"), name, value=float(value), iteration=epoch + 1)

        return on_epoch

    fitted = fit_model(data.sessions, params, reporter("training"), reporter("refit"))
    network, spec = fitted.network, fitted.spec
    logger.info(
        "event=training_done epochs=%d best_epoch=%d refit=%s seconds=%.1f",
        fitted.probe.network.epochs if fitted.probe else network.epochs,
        fitted.probe.network.best_epoch if fitted.probe else network.best_epoch,
        fitted.refit,
        fitted.seconds,
    )
    forward = report_forward(task, params, fitted)

    result = evaluate_on_holdout(network.model, spec, data.readings, holdout)
    evaluation = result.report
    report_evaluation(log, result, holdout)
    task.upload_artifact("evaluation", evaluation.to_dict())
    # the candidate's P(occupied) per holdout row: anyone can check that the registered SavedModel reproduces it
    task.upload_artifact(
        "holdout_predictions", {"probabilities": [round(float(p), 7) for p in result.predictions["candidate"]]}
    )

    card = {
        "task_id": task.id,
        "dataset_id": data.dataset_id,
        "dataset_version": data.dataset_version,
        "labeling_sessions": [session.name for session in data.sessions],
        "rows": len(data.readings),
        "occupied": occupied,
        "class_balance": round(occupied / len(data.readings), 4),
        "holdout": {"dataset_id": holdout.dataset_id, "sha256": holdout.sha256, "rows": len(holdout.readings)},
        "metrics": asdict(evaluation.score_of("candidate").overall),
        "training": {"epochs": network.epochs, "best_epoch": network.best_epoch, "seconds": round(fitted.seconds, 2)},
        "forward": forward,
        "params": params.as_connected(),
        "features": json.loads(spec.to_json()),
        "code_version": code_version(),
    }
    model_id = register_model(task, params, network.model, spec, card)
    logger.info(
        "event=model_registered model_id=%s dataset_id=%s holdout_accuracy=%.4f",
        model_id,
        data.dataset_id,
        card["metrics"]["accuracy"],
    )
    if params.gate_queue:  # the gate is its own task (services/rollout), run by clearml-agent after this one
        from training.gate_step import enqueue_gate

        card["gate_task_id"] = enqueue_gate(params.gate_queue, model_id, params.gate_project, task)
    return {**card, "model_id": model_id}


def _validation_table(reports: tuple[ValidationReport, ...]) -> list[list[str]]:
    rows = [["session", "rows", "occupied", "result", "warnings"]]
    for report in reports:
        warnings = ", ".join(finding.reason for finding in report.findings if finding.severity == "warning")
        rows.append(
            [
                report.source,
                str(report.rows),
                str(report.label_balance.get("occupied", "")),
                "passed" if report.passed else ", ".join(report.reasons),
                warnings,
            ]
        )
    return rows


def register_model(
    task: Any, params: TrainingParams, network: Any, spec: feature_code.FeatureSpec, card: dict[str, Any]
) -> str:
    with tempfile.TemporaryDirectory(prefix="occuloop-model-") as folder:
        package = write_package(Path(folder) / "package", network, spec, card)
        model = OutputModel(
            task=task,
            name=params.model_name,
            framework="TensorFlow",
            tags=[MODEL_TAG],
            comment=f"trained on dataset {card['dataset_id']} ({card['dataset_version']})",
        )
        model.update_weights_package(weights_path=str(package), auto_delete_file=False)
        model.wait_for_uploads()
        for key in ("dataset_id", "dataset_version", "rows", "occupied", "class_balance", "code_version"):
            model.set_metadata(key, str(card[key]), "str")
        for metric in ("accuracy", "f1", "auc"):
            if card["metrics"][metric] is not None:
                model.set_metadata(f"holdout_{metric}", f"{card['metrics'][metric]:.6f}", "float")
        model.set_metadata("features_version", str(spec.version), "int")
        files = json.loads((package / PACKAGE_FILES).read_text())
        for key, name in (("saved_model_sha256", SAVED_MODEL_DIR), ("onnx_sha256", ONNX_FILE)):
            model.set_metadata(key, files[name]["sha256"], "str")
        task.upload_artifact("model_card", card)
        return str(model.id)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--project", default="occuloop/training", help="ClearML project of the training task")
    parser.add_argument("--dataset-id", default="", help="train on this dataset version (default: the latest)")
    parser.add_argument("--seed", type=int, help="override the seed")


def run_command(args: argparse.Namespace) -> int:
    """`occuloop train` and `python train.py`: one training run, locally or under clearml-agent."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    task: Task = Task.init(
        project_name=args.project,
        task_name=TASK_NAME,
        task_type=Task.TaskTypes.training,
        output_uri=True,
        auto_connect_frameworks=False,
        auto_resource_monitoring=False,
        reuse_last_task_id=False,
    )
    defaults = TrainingParams(dataset_id=args.dataset_id, **({"seed": args.seed} if args.seed is not None else {}))
    params = TrainingParams.from_connected(task.connect(defaults.as_connected(), name=PARAMETER_SECTION))
    try:
        result = train(task, params)
    except TrainingRefused as refusal:
        logger.error("event=training_refused reason=%s", refusal)
        task.mark_failed(status_reason=str(refusal)[:1000], force=True)
        return 2
    summary = {
        "model_id": result["model_id"],
        "holdout_accuracy": result["metrics"]["accuracy"],
        "epochs": result["training"]["epochs"],
    }
    print("RESULT " + json.dumps(summary), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="train.py")
    add_arguments(parser)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
