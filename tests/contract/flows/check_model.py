"""In a fresh process: download a registered model package, load its SavedModel, predict the holdout again, and the
forward rows (the newest session, held out of fitting) when the registered model is the one that predicted them."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from clearml import InputModel, Task

from training.holdout import load_holdout
from training.model import load_package

model_id, task_id = sys.argv[1:]
folder = Path(InputModel(model_id).get_local_copy(extract_archive=True))
package = load_package(folder)
holdout = load_holdout(package.card["holdout"]["dataset_id"])
again = package.predict(package.spec.transform(holdout.readings))
artifacts = Task.get_task(task_id=task_id).artifacts
recorded = np.array(artifacts["holdout_predictions"].get()["probabilities"])
result = {"max_abs_diff": float(np.max(np.abs(again - recorded))), "rows": len(again), "card": package.card}
forward = artifacts["forward_predictions"].get() if "forward_predictions" in artifacts else None
if forward:
    rows = pd.DataFrame(forward["readings"])
    rows["date"] = pd.to_datetime(rows["date"])
    result["forward"] = {key: forward[key] for key in ("sessions", "sha256", "challenger_model", "champion")}
    result["forward"]["rows"] = len(rows)
    result["forward"]["occupied"] = int(rows["Occupancy"].sum())
    if forward["challenger_model"] == "registered":
        predicted = package.predict(package.spec.transform(rows))
        result["forward"]["max_abs_diff"] = float(np.max(np.abs(predicted - np.array(forward["challenger"]))))
print("RESULT " + json.dumps(result))
