"""What a training run leaves for the gate about its forward rows (the newest session(s), held out of fitting):
the rows, the probe's and the champion's answers there (artifact `forward_predictions`), the probe's and the Light
rule's accuracy in the model card, a log line and two scalars.

The champion's answers are computed here, by the run that already has TensorFlow loaded. The gate compares the challenger with the champion on the newest session(s), which the champion — trained before
they were labeled — has not seen either. Running the champion's SavedModel costs a TensorFlow import (3-4 s,
~600 MB) that the gate otherwise never pays, so the training run does it and stores the result with the model id.
It finds the champion by the model's `champion` tag, which mirrors the champion pointer; the gate checks the id
against the pointer and runs the package itself when they differ. Anything going wrong here only means the gate
will do the work: it never fails the training run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from clearml import InputModel, Model

from .baselines import light_rule
from .evaluate import metrics
from .fitting import FittedModel
from .forward import FORWARD_ARTIFACT, artifact, rows_sha256
from .model import load_package
from .params import TrainingParams
from .schema import LABEL, TIMESTAMP

logger = logging.getLogger(__name__)

CHAMPION_TAG = "champion"  # services/rollout/states.py CHAMPION: the one state tag the pointer's model carries


def champion_predictions(
    model_name: str, readings: pd.DataFrame, rows: npt.NDArray[np.bool_]
) -> tuple[str, npt.NDArray[np.float64]] | None:
    """(model id, P(occupied) on `readings[rows]`) of the model tagged champion, or None. `readings` holds the
    minutes before the rows too, for inputs that look back."""
    try:
        found = Model.query_models(model_name=model_name, tags=[CHAMPION_TAG], max_results=1)
        if not found:
            return None
        model_id = str(found[0].id)
        package = load_package(Path(InputModel(model_id=model_id).get_local_copy(extract_archive=True)))
        predictions = package.predict(package.spec.transform(readings))[rows]
    except Exception as error:
        logger.warning("event=champion_not_scored model_name=%s error=%r", model_name, error)
        return None
    logger.info("event=champion_scored model_id=%s rows=%d", model_id, int(rows.sum()))
    return model_id, predictions


def report_forward(task: Any, params: TrainingParams, fitted: FittedModel) -> dict[str, Any]:
    """The forward evidence: the probe's and the Light rule's accuracy on the held-out session(s), the champion's
    predictions there (found by its tag), all stored for the gate (artifact `forward_predictions`)."""
    split, probe = fitted.split, fitted.probe
    if probe is None:
        logger.info("event=forward_holdout sessions=0 reason=%s", json.dumps(split.reason))
        return {"sessions": [], "reason": split.reason, "refit": False}
    every_row = split.all_rows()
    rows = every_row[TIMESTAMP].isin(probe.held_out[TIMESTAMP]).to_numpy()
    champion = champion_predictions(params.model_name, every_row, rows)
    challenger_model = "probe" if fitted.refit else "registered"
    task.upload_artifact(FORWARD_ARTIFACT, artifact(split, probe.predictions, challenger_model, champion))
    labels = probe.held_out[LABEL].to_numpy()
    accuracy = metrics(labels, probe.predictions).accuracy
    rule = metrics(labels, light_rule(probe.held_out)).accuracy
    log = task.get_logger()
    log.report_single_value("forward accuracy candidate", accuracy)
    log.report_single_value("forward accuracy light_rule", rule)
    logger.info(
        "event=forward_holdout sessions=%s rows=%d accuracy=%.4f light_rule=%.4f champion=%s refit=%s",
        ",".join(split.names),
        len(labels),
        accuracy,
        rule,
        champion[0] if champion else None,
        fitted.refit,
    )
    return {
        "sessions": split.names,
        "rows": len(labels),
        "sha256": rows_sha256(probe.held_out),
        "accuracy": accuracy,
        "light_rule_accuracy": rule,
        "refit": fitted.refit,
        "probe": {"epochs": probe.network.epochs, "best_epoch": probe.network.best_epoch},
    }
