"""Create a standalone task (code stored in the task, no git) with an overridden parameter and enqueue it."""

import json
import sys

from clearml import Task

queue, dataset_id = sys.argv[1], sys.argv[2]
task = Task.create(project_name="contract-agent", task_name="standalone", script="trainee.py", add_task_init_call=False)
task.set_parameter("General/dataset_id", dataset_id)
Task.enqueue(task, queue_name=queue)
print("RESULT " + json.dumps({"id": task.id}))
