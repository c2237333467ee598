"""The clearml SDK's experiment tracking against occuloop server."""

from __future__ import annotations

from tests.support.clients import Clients


def test_task_init_connect_report_upload_close_reads_back(clients: Clients) -> None:
    # With the SDK's own defaults (forked background reporter), not occuloop's clearml-sdk.conf, except two settings
    # that only take other threads out of Task.init. clearml 2.1.12 has a race of its own (reporter.py/log.py:
    # "HANGS IF RACE HOLDS!"): a log record emitted by another thread between `set_subprocess_mode()` and the fork
    # of the reporting process finds no process yet, switches to thread mode and can deadlock in the fork that
    # follows. CI met it once ("Event reporting sub-process lost, switching to thread based reporting", then a hang):
    # the record came from the asynchronous repository detection ("No repository found"); the PyPI version check
    # thread can log the same way. Both are SDK-side and independent of the server under test.
    defaults = clients.workdir / "sdk-defaults.conf"
    defaults.write_text("sdk.development.vcs_repo_detect_async: false\nsdk.development.suppress_update_message: true\n")
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
