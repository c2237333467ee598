"""The clearml SDK's experiment tracking against occuloop server."""

from __future__ import annotations

from tests.support.clients import Clients


def test_task_init_connect_report_upload_close_reads_back(clients: Clients) -> None:
    # with the SDK's own defaults (forked background reporter), not occuloop's clearml-sdk.conf
    defaults = clients.workdir / "sdk-defaults.conf"
    defaults.write_text("")
    result = clients.flow("task_flow", extra_env={"CLEARML_CONFIG_FILE": str(defaults)})
    assert result["status"] == "completed"
    assert result["parameters"]["General/lr"] == "0.01"
    assert result["parameters"]["General/CLEARML_DATASET_ID"] == "abc"
    assert result["last"]["loss"]["train"] == {"last": 1 / 3, "min": 1 / 3, "max": 1.0}
    assert result["artifacts"] == ["frame", "metrics"]
    assert result["metrics_artifact"] == {"acc": 0.93} and result["frame_rows"] == 3
    assert result["scalars"]["loss"]["train"]["x"] == [0, 1, 2]
    assert result["single"] == {"accuracy": 0.93}
    assert result["plots"] >= 2  # the scatter and the table
    assert any("console line from the task" in line for line in result["console"])
    task = clients.api.task(result["id"])
    assert task["status"] == "completed" and task["last_iteration"] == 2
