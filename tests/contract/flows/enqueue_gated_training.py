"""Create the training task from training/train.py (standalone script) with the gate step on, and enqueue it."""

import json
import sys

from clearml import Task

script, queue, dataset_id, max_epochs, gate_queue = sys.argv[1:]
task = Task.create(
    project_name="occuloop/training", task_name="train occupancy model", script=script, add_task_init_call=False
)
task.set_parameters(
    {
        "General/dataset_id": dataset_id,
        "General/max_epochs": max_epochs,
        "General/seed": "42",
        "General/gate_queue": gate_queue,
    }
)
Task.enqueue(task, queue_name=queue)
print("RESULT " + json.dumps({"id": task.id}))
