"""A first look at the occupancy data, as a real ClearML Dataset version and a real ClearML Task.

`occuloop demo` runs it against the embedded server until the full retraining loop exists, in two processes as
the loop will: `register` puts the shipped UCI training file into a dataset version (once; a re-run reuses it),
`analyze` is a Task that reads that version back, scores the one-line baseline `Light > 364.5` and reports what
it found (scalars, a table, an artifact). Two processes, not one: a Task.init after Dataset.create in the same
process can deadlock in the SDK's fork of its background reporter.

Run it alone with the CLEARML_* variables of a server set:
    python -m training.first_look register   # prints RESULT {"dataset_id": ...}
    python -m training.first_look analyze --dataset-id <id>
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
from clearml import Dataset, Task

DATA_FILE = Path(__file__).resolve().parent / "occupancy_data" / "datatraining.txt"
LIGHT_THRESHOLD = 364.5  # the baseline rule of occupancy-data-and-model.md


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ensure_dataset_version(project: str, name: str, data_file: Path) -> tuple[str, bool]:
    """The id of a finalized version holding exactly `data_file`, creating it if needed; and whether it is new."""
    digest = _sha256(data_file)
    try:
        latest = Dataset.get(dataset_project=project, dataset_name=name, only_completed=True)
    except ValueError:  # no version yet
        latest = None
    metadata = latest.get_metadata() if latest is not None else None
    if latest is not None and isinstance(metadata, dict) and metadata.get("sha256") == digest:
        return latest.id, False
    version = Dataset.create(
        dataset_project=project, dataset_name=name, parent_datasets=[latest.id] if latest else None
    )
    version.add_files(str(data_file))
    version.set_metadata({"sha256": digest, "source": "UCI Occupancy Detection, CC BY 4.0"})
    version.upload()
    version.finalize()
    return version.id, True


def register(project: str, name: str) -> dict[str, object]:
    dataset_id, created = ensure_dataset_version(project, name, DATA_FILE)
    return {"dataset_id": dataset_id, "dataset_created": created}


def analyze(project: str, dataset_id: str) -> dict[str, object]:
    task: Task = Task.init(
        project_name=project, task_name="first look", auto_connect_frameworks=False, auto_resource_monitoring=False
    )
    params = task.connect({"dataset_id": dataset_id, "light_threshold": LIGHT_THRESHOLD})
    local = Path(Dataset.get(dataset_id=params["dataset_id"]).get_local_copy())
    frame = pd.read_csv(local / DATA_FILE.name)  # the header names 7 columns, rows carry 8: the 1st is the index
    rule = frame["Light"] > float(params["light_threshold"])
    accuracy = float((rule.astype(int) == frame["Occupancy"]).mean())
    occupied = float(frame["Occupancy"].mean())
    logger = task.get_logger()
    logger.report_single_value("rows", len(frame))
    logger.report_single_value("occupied share", occupied)
    logger.report_single_value("light rule accuracy", accuracy)
    logger.report_table("sensors", "summary", iteration=0, table_plot=frame.describe().round(4))
    summary = {
        "task_id": task.id,
        "dataset_id": params["dataset_id"],
        "rows": len(frame),
        "occupied_share": round(occupied, 4),
        "light_rule_accuracy": round(accuracy, 4),
    }
    task.upload_artifact("summary", summary)
    task.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("step", choices=("register", "analyze"))
    parser.add_argument("--project", default="occuloop")
    parser.add_argument("--dataset-name", default="uci-training")
    parser.add_argument("--dataset-id", help="the version to analyze (analyze)")
    args = parser.parse_args(argv)
    if args.step == "register":
        result = register(f"{args.project}/data", args.dataset_name)
    elif not args.dataset_id:
        parser.error("analyze needs --dataset-id")
    else:
        result = analyze(args.project, args.dataset_id)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
