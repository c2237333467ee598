"""Task.init + connect + scalars/scatter/table/single value + artifacts + close, then read everything back."""

import json

import pandas as pd
from clearml import Task

task = Task.init(
    project_name="contract", task_name="task-flow", auto_connect_frameworks=False, auto_resource_monitoring=False
)
params = task.connect({"lr": 0.01, "epochs": 3})
task.set_parameter("General/CLEARML_DATASET_ID", "abc")
logger = task.get_logger()
for iteration in range(3):
    logger.report_scalar("loss", "train", value=1.0 / (iteration + 1), iteration=iteration)
logger.report_scatter2d("scatter", "points", scatter=[[0, 1], [1, 2]], iteration=0)
logger.report_table("table", "rows", iteration=0, table_plot=pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
logger.report_single_value("accuracy", 0.93)
print("console line from the task", flush=True)
task.upload_artifact("metrics", {"acc": 0.93})
task.upload_artifact("frame", pd.DataFrame({"a": [1, 2, 3]}))
task_id = task.id
task.close()

back = Task.get_task(task_id=task_id)
result = {
    "id": task_id,
    "status": str(back.get_status()),
    "parameters": back.get_parameters(),
    "last": back.get_last_scalar_metrics(),
    "artifacts": sorted(back.artifacts),
    "metrics_artifact": back.artifacts["metrics"].get(),
    "frame_rows": len(back.artifacts["frame"].get()),
    "scalars": back.get_reported_scalars(),
    "single": back.get_reported_single_values(),
    "plots": len(back.get_reported_plots(max_iterations=5)),
    "console": back.get_reported_console_output(number_of_reports=100),
}
print("RESULT " + json.dumps(result, default=str))
