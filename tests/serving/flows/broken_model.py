"""Register a model named "occupancy" whose package is not a model package at all: the engine's load() fails, so
every request routed to it fails before the engine counts it. argv: project. Prints `RESULT {"model_id": ...}`."""

import json
import sys
from pathlib import Path

from clearml import OutputModel, Task

task = Task.init(
    project_name=sys.argv[1],
    task_name="broken model",
    output_uri=True,
    auto_connect_frameworks=False,
    auto_resource_monitoring=False,
    reuse_last_task_id=False,
)
Path("broken.txt").write_text("this is not a SavedModel package\n")
output = OutputModel(task=task, name="occupancy", framework="TensorFlow")
output.update_weights("broken.txt", auto_delete_file=False)
output.wait_for_uploads()
task.close()
print("RESULT " + json.dumps({"model_id": output.id}))
