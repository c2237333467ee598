"""A training run with the label-sanity check switched off, as if bad labels had slipped past validation: the
real training code otherwise (features, network, holdout scoring, model registration with tag `candidate`)."""

import json
import logging
import sys

from clearml import Task

import training.validation
from training.params import TrainingParams
from training.train import TASK_NAME, train

logging.basicConfig(level=logging.INFO)
dataset_id, max_epochs = sys.argv[1:]
training.validation.MIN_LABEL_AGREEMENT = 0.0  # the defect under test: flipped labels are not caught
task = Task.init(
    project_name="occuloop/training",
    task_name=TASK_NAME,
    output_uri=True,
    auto_connect_frameworks=False,
    auto_resource_monitoring=False,
)
result = train(task, TrainingParams(dataset_id=dataset_id, max_epochs=int(max_epochs)))
task.flush(wait_for_uploads=True)
task.close()
print("RESULT " + json.dumps({"model_id": result["model_id"], "accuracy": result["metrics"]["accuracy"]}))
