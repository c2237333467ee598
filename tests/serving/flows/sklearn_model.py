"""A scikit-learn LogisticRegression on the five sensors, registered for clearml-serving's stock `sklearn` engine
(the benchmark's reference point). argv: project. Prints `RESULT {"model_id": ...}`."""

import json
import sys

import joblib
from clearml import OutputModel, Task
from sklearn.linear_model import LogisticRegression

from training.readings import uci
from training.schema import FEATURES, LABEL

rows = uci("training")
model = LogisticRegression(max_iter=1000).fit(rows[list(FEATURES)].to_numpy(), rows[LABEL].to_numpy())
joblib.dump(model, "model.pkl")
task = Task.init(
    project_name=sys.argv[1],
    task_name="sklearn reference",
    output_uri=True,
    auto_connect_frameworks=False,
    auto_resource_monitoring=False,
    reuse_last_task_id=False,
)
output = OutputModel(task=task, name="occupancy-sklearn", framework="ScikitLearn")
output.update_weights("model.pkl", auto_delete_file=False)
output.wait_for_uploads()
task.close()
print("RESULT " + json.dumps({"model_id": output.id}))
