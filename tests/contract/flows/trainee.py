"""The script a cloned training task runs: it reports which dataset id it was given."""

from clearml import Task

task = Task.init(
    project_name="contract", task_name="trainee", auto_connect_frameworks=False, auto_resource_monitoring=False
)
params = task.connect({"dataset_id": "unset"}, name="General")
print(f"DATASET_SEEN {params['dataset_id']}", flush=True)
task.get_logger().report_scalar("accuracy", "holdout", value=0.9, iteration=1)
