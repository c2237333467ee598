"""In a fresh process: download a registered model package, load its SavedModel, predict the holdout again."""

import json
import sys
from pathlib import Path

import numpy as np
from clearml import InputModel, Task

from training.holdout import load_holdout
from training.model import load_package

model_id, task_id = sys.argv[1:]
folder = Path(InputModel(model_id).get_local_copy(extract_archive=True))
package = load_package(folder)
holdout = load_holdout(package.card["holdout"]["dataset_id"])
again = package.predict(package.spec.transform(holdout.readings))
recorded = np.array(Task.get_task(task_id=task_id).artifacts["holdout_predictions"].get()["probabilities"])
print(
    "RESULT "
    + json.dumps({"max_abs_diff": float(np.max(np.abs(again - recorded))), "rows": len(again), "card": package.card})
)
