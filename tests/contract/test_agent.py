"""clearml-agent (no virtualenv, no pip) pulls a standalone task from a queue and runs it to completion."""

from __future__ import annotations

import shutil
import sys

from tests.support.clients import BIN, FLOWS, Clients

AGENT_ENV = {
    "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",  # wire protocol doc §15: run with this interpreter, no venv
    "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
    "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
}


def test_agent_runs_a_queued_task_that_sees_its_overridden_parameter(clients: Clients) -> None:
    shutil.copy(FLOWS / "trainee.py", clients.workdir / "trainee.py")
    clients.api.ok("queues.create", {"name": "agent-queue"})
    task_id = clients.flow("standalone_task", "agent-queue", "dataset-123")["id"]
    agent = clients.spawn(
        "agent",
        [str(BIN / "clearml-agent"), "daemon", "--queue", "agent-queue", "--foreground", "--cpu-only"],
        AGENT_ENV,
    )
    try:

        def finished() -> str | None:
            status = str(clients.api.task(task_id)["status"])
            return status if status in ("completed", "failed") else None

        status = clients.api.wait_for("the agent to finish the task", finished, timeout=180)
        assert status == "completed", agent.log_path.read_text()[-4000:]
        assert "DATASET_SEEN dataset-123" in clients.api.log_lines(task_id)
        assert clients.api.task(task_id)["last_metrics"]
        workers = clients.api.ok("workers.get_all", {})["workers"]
        assert any("agent-queue" in [queue["name"] for queue in worker["queues"]] for worker in workers)
    finally:
        agent.stop()
