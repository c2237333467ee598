"""Objects whose names carry markup, made with the real clearml SDK: a task (name, tag, console line, plot and scalar
titles) and a dataset version (name). Prints `RESULT {json}` with their ids. The UI must show all of it as text."""

import json
import tempfile
from pathlib import Path

from clearml import Dataset, Task

SCRIPT = "<script>alert('xss')</script>"
IMG = '<img src=x onerror="alert(1)">'

task = Task.init(project_name="occuloop/hostile", task_name=f"run {SCRIPT}", auto_connect_frameworks=False,
                 auto_resource_monitoring=False, auto_connect_streams=False)  # fmt: skip
task.add_tags([IMG])
logger = task.get_logger()
logger.report_text(f"console line {SCRIPT} {IMG}", print_console=False)
for iteration in range(3):
    logger.report_scalar(f"loss {IMG}", f"train {SCRIPT}", iteration * 0.5, iteration)
logger.report_scatter2d(f"plot {SCRIPT}", f"series {IMG}", [[0, 1], [1, 2]], iteration=0, xaxis=IMG, yaxis=SCRIPT)
task.flush(wait_for_uploads=True)
task.close()

folder = Path(tempfile.mkdtemp())
(folder / "data.csv").write_text("a,b\n1,2\n")
dataset = Dataset.create(dataset_project="occuloop/hostile", dataset_name=f"data {IMG}")
dataset.add_files(str(folder))
dataset.upload()
dataset.finalize()
print("RESULT " + json.dumps({"task_id": task.id, "task_project": task.project, "dataset_id": dataset.id}))
