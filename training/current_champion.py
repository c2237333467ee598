"""The champion's answers on the forward rows, computed by the training run that already has TensorFlow loaded.

The gate compares the challenger with the champion on the newest session(s), which the champion — trained before
they were labeled — has not seen either. Running the champion's SavedModel costs a TensorFlow import (3-4 s,
~600 MB) that the gate otherwise never pays, so the training run does it and stores the result with the model id.
It finds the champion by the model's `champion` tag, which mirrors the champion pointer; the gate checks the id
against the pointer and runs the package itself when they differ. Anything going wrong here only means the gate
will do the work: it never fails the training run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from clearml import InputModel, Model

from .model import load_package

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
