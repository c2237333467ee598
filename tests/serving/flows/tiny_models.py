"""Train tiny occupancy networks and register each as the training task does (training.train.register_model).

argv: project, comma-separated seeds[, hidden units (default 8; the design's network has 255)[, a folder to keep
each package in as seed-<seed>/]]; `--flipped` anywhere trains on inverted labels (a model that answers, fluently
and wrongly). Prints `RESULT {json}`: per model its id and the offline predictions of its SavedModel package on the
probe readings, the probe readings as the endpoint's request bodies (with their timestamps), and `probe_csv`, the
probe rows with their labels as a labeling-session file (the labels that arrive after the minutes were served).
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from clearml import Task

from training import features
from training.fitting import split_for_early_stopping
from training.model import load_package, train_network, write_package
from training.params import TrainingParams
from training.readings import uci, write_session_csv
from training.schema import FEATURES
from training.sessions import training_sessions
from training.train import register_model

flipped = "--flipped" in sys.argv
argv = [arg for arg in sys.argv if arg != "--flipped"]
project, seeds = argv[1], [int(seed) for seed in argv[2].split(",")]
hidden_units = int(argv[3]) if len(argv) > 3 else 8
keep = Path(argv[4]) if len(argv) > 4 else None
sessions = training_sessions()[1:3]  # Feb 5 and 6: a few thousand rows, enough for a tiny network
rows = pd.concat([session.readings for session in sessions], ignore_index=True)
if flipped:
    rows["Occupancy"] = 1 - rows["Occupancy"]
probe = uci("test1").iloc[::53].head(48).reset_index(drop=True)  # both classes, day and night
probe_csv = Path("probe-labels.csv").resolve()
write_session_csv(probe, probe_csv)
models = []
for seed in seeds:
    # one task per model, as in training: a task's model named "occupancy" has one upload location
    task = Task.init(
        project_name=project,
        task_name=f"tiny model seed {seed}" + (" flipped" if flipped else ""),
        output_uri=True,
        auto_connect_frameworks=False,
        auto_resource_monitoring=False,
        reuse_last_task_id=False,
    )
    params = TrainingParams(hidden_units=hidden_units, max_epochs=3, patience=2, seed=seed, batch_size=256)
    fit_rows, stop_rows = split_for_early_stopping(rows, params.validation_share, seed)
    spec = features.fit(fit_rows, params.feature_set)
    network = train_network(
        spec.transform(fit_rows),
        fit_rows["Occupancy"].to_numpy(dtype=np.float32),
        spec.transform(stop_rows),
        stop_rows["Occupancy"].to_numpy(dtype=np.float32),
        params,
    )
    card = {
        "task_id": task.id,
        "dataset_id": f"dataset-of-seed-{seed}",
        "dataset_version": f"1.{seed}.0",
        "labeling_sessions": [session.name for session in sessions],
        "rows": len(rows),
        "occupied": int(rows["Occupancy"].sum()),
        "class_balance": round(float(rows["Occupancy"].mean()), 4),
        "metrics": {"accuracy": 0.9, "f1": 0.9, "auc": 0.9},
        "code_version": "tests",
    }
    model_id = register_model(task, params, network.model, spec, card)
    with tempfile.TemporaryDirectory() as folder:
        package = write_package(Path(folder) / "package", network.model, spec, card)
        offline = load_package(package).predict(spec.transform(probe))
        if keep is not None:
            shutil.copytree(package, keep / f"seed-{seed}")
    models.append({"model_id": model_id, "seed": seed, "card": card, "offline": [float(p) for p in offline]})
    task.close()
readings = [
    {**{name: float(row[name]) for name in FEATURES}, "timestamp": row["date"].isoformat()}
    for _, row in probe.iterrows()
]
print("RESULT " + json.dumps({"models": models, "readings": readings, "probe_csv": str(probe_csv)}))
