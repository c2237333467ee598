"""TriggerScheduler: a dataset trigger with task_parameters fires once on a new Production version."""

import json
import sys
import time
from pathlib import Path

from clearml import Dataset, Task
from clearml.automation import TriggerScheduler

project, queue = sys.argv[1], sys.argv[2]
seed = Dataset.create(dataset_project=project, dataset_name="labeled")  # the trigger only sees existing names
Path("seed.csv").write_text("a\n1\n")
seed.add_files("seed.csv")
seed.finalize(auto_upload=True)

template = Task.create(
    project_name=f"{project}-training", task_name="train-template", script="trainee.py", add_task_init_call=False
)
template.set_parameter("General/dataset_id", "unset")
scheduler = TriggerScheduler(
    pooling_frequency_minutes=0.02, sync_frequency_minutes=60, force_create_task_name=f"{project}-scheduler"
)
scheduler.add_dataset_trigger(
    schedule_task_id=template.id,
    schedule_queue=queue,
    trigger_project=project,
    trigger_on_tags=["Production"],
    name="retrain",
    task_parameters={"General/dataset_id": "${dataset.id}"},
)
before = scheduler._step()

version = Dataset.get(dataset_project=project, dataset_name="labeled", writable_copy=True)
Path("new.csv").write_text("a\n2\n")
version.add_files("new.csv")
version.tags = ["Production"]
version.finalize(auto_upload=True)
time.sleep(0.5)
fired = scheduler._step()
again = scheduler._step()
clones = Task.get_tasks(
    project_name=f"{project}-training", task_name="train-template", task_filter={"status": ["queued"]}
)
result = {
    "template": template.id,
    "version": version.id,
    "fired_before": bool(before),
    "fired": bool(fired),
    "clones": [{"id": c.id, "dataset_id": c.get_parameter("General/dataset_id"), "tags": c.get_tags()} for c in clones],
}
print("RESULT " + json.dumps(result))
