"""The sync, trigger and canary controller as ClearML service tasks under a real clearml-agent in services mode
(`occuloop services-agent`) against `occuloop server`, with a real clearml-agent training on the training queue:

1. the three service tasks run, their settings are their parameters, their consoles show the services' lines;
2. two labeled sessions go through: sync -> version -> trigger -> training -> gate -> promoted model -> the
   controller routes it;
3. the whole services agent (every process of it, the service tasks too) killed with -9 while a session is staged,
   then started again: the same three tasks run again, and the session ends in exactly one version with exactly
   one training run;
4. a setting changed through the task's parameters (Abort, Reset, edit, Enqueue: the ClearML way) takes effect,
   and the abort reached the service as SIGTERM (the shutdown contract);
5. registering again with the same settings changes nothing (the edit stays), with other settings replaces the
   task (stop, then start) and says so;
6. SIGTERM to the services agent stops every service cleanly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from services.loop_state import Api, read
from services.sync.replay import deliver
from tests.support.clients import BIN, Clients
from tests.support.services_agent import ServicesAgent
from tests.support.trigger import runs_per_dataset

pytestmark = pytest.mark.contract

QUEUE = "occuloop-services"
TRAINING_QUEUE = "training"
NO_VENV = {
    "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",
    "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
    "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
}
# the training agent runs the runs and their gates: a tiny network, and a gate that passes what it learns (this
# test is about the service tasks, tests/contract/test_gate.py about the gate)
GATE_ENV = {"OCCULOOP_GATE_BASELINE_MARGIN": "1", "OCCULOOP_GATE_BOOTSTRAP_SAMPLES": "200"}
SERVICES_ENV = {
    "OCCULOOP_SYNC_QUIET_SECONDS": "3600",  # a session stays staged until the upload button is pressed
    "OCCULOOP_TRIGGER_POLL_SECONDS": "1",
    "OCCULOOP_TEMPLATE_PARAMETERS": "General/gate_queue=training,General/max_epochs=2,General/hidden_units=8",
    "OCCULOOP_CANARY_POLL_SECONDS": "0.5",
}


def console(clients: Clients, task_id: str) -> str:
    return "\n".join(clients.api.log_lines(task_id))


def parameter(task: dict[str, Any], key: str) -> str:
    section, name = key.split("/", 1)
    return str(task["hyperparams"][section][name]["value"])


def versions_with(clients: Clients, api: Api, session: str) -> list[str]:
    return [version.dataset_id for version in read(api).versions if session in version.sessions.split(", ")]


def test_sync_trigger_and_rollout_as_service_tasks(clients: Clients, tmp_path: Path) -> None:
    clients.api.ok("queues.create", {"name": TRAINING_QUEUE})
    env = clients.server.client_env
    api = Api(clients.server.api_url, env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])
    inbox = tmp_path / "inbox"
    training = clients.spawn(
        "training-agent",
        [str(BIN / "clearml-agent"), "daemon", "--queue", TRAINING_QUEUE, "--foreground", "--cpu-only"],
        NO_VENV | GATE_ENV,
    )
    agent = ServicesAgent(clients, inbox, queue=QUEUE, worker_id="test-services-agent", env=SERVICES_ENV).start()
    try:
        # 1. three service tasks, settings as parameters, the services' own lines in their consoles
        tasks = agent.wait_running()
        assert parameter(tasks["sync"], "Sync/inbox") == str(inbox)
        assert parameter(tasks["trigger"], "Trigger/poll_seconds") == "1"
        assert parameter(tasks["rollout"], "Rollout/rollout.gate.min_days") == "2"
        first_ids = {name: task["id"] for name, task in tasks.items()}
        assert "event=service_task_created service=sync" in agent.log()

        # 2. two labeled sessions through to a promoted model that the controller routes
        deliver(inbox, days=["2015-02-05", "2015-02-06"])
        synced = agent.press_upload()
        assert synced["status"] == "synced", synced
        state = clients.api.wait_for(
            "a promoted model", lambda: (lambda s: s if s.champion else None)(read(api)), timeout=420, interval=2
        )
        run = state.run_for(synced["dataset_id"])
        assert run is not None and run.status == "completed"
        assert state.champion == run.model_id
        clients.api.wait_for(
            "the controller to route the champion",
            lambda: f"event=champion_routed model_id={state.champion}" in console(clients, first_ids["rollout"]),
            timeout=60,
            interval=1,
        )
        training.stop()  # what follows needs no more training: later runs stay queued

        # 3. kill -9 of everything while a session is staged, then a restart: nothing lost, nothing twice
        deliver(inbox, days=["2015-02-09"])
        clients.api.wait_for(
            "the session to be staged",
            lambda: "event=file_accepted file=2015-02-09.csv" in console(clients, first_ids["sync"]),
            timeout=60,
            interval=0.5,
        )
        agent.kill_everything()
        assert {task["status"] for task in agent.tasks().values()} == {"in_progress"}  # nobody will say otherwise
        tasks = agent.start().wait_running()
        assert {name: task["id"] for name, task in tasks.items()} == first_ids  # the same tasks, enqueued again
        assert agent.log().count("event=service_task_orphaned") == 3
        synced = agent.press_upload()
        assert synced["status"] == "synced" and synced["files"] == ["2015-02-09.csv"], synced
        clients.api.wait_for(
            "the run of the new version",
            lambda: runs_per_dataset(clients)[synced["dataset_id"]] == 1,
            timeout=60,
            interval=0.5,
        )
        assert versions_with(clients, api, "2015-02-09.csv") == [synced["dataset_id"]]
        assert sorted(runs_per_dataset(clients).values()) == [1, 1]
        assert not any((inbox / ".occuloop-sync" / "staged").iterdir())

        # 4. a setting changed in the task's parameters: Abort, Reset, edit, Enqueue
        sync_id = first_ids["sync"]
        clients.api.ok("tasks.stop", {"task": sync_id})
        clients.api.wait_for(
            "the abort", lambda: clients.api.task(sync_id)["status"] == "stopped", timeout=90, interval=0.5
        )
        aborted = console(clients, sync_id)
        assert "event=service_task_aborted service=sync" in aborted
        assert (
            "event=sync_stopping signal=SIGTERM" in aborted
            and "event=sync_stopped exit_code=254 aborted=True" in aborted
        )
        clients.api.ok("tasks.reset", {"task": sync_id, "force": True})
        clients.api.ok(
            "tasks.edit_hyper_params",
            {"task": sync_id, "hyperparams": [{"section": "Sync", "name": "quiet_seconds", "value": "7.5"}]},
        )
        clients.api.ok("tasks.enqueue", {"task": sync_id, "queue_name": QUEUE})
        clients.api.wait_for(
            "the sync with its new setting",
            lambda: "quiet_seconds=7.5" in console(clients, sync_id),
            timeout=120,
            interval=1,
        )

        # 5. registering again: the same settings change nothing; other settings replace the task
        same = clients.run([sys.executable, "-m", "services.cli", "sync", "--remote", QUEUE], extra_env=agent.env)
        assert f"service task {sync_id} on {QUEUE} (unchanged)" in same
        assert parameter(agent.tasks()["sync"], "Sync/quiet_seconds") == "7.5"
        replaced = clients.run(
            [sys.executable, "-m", "services.cli", "trigger", "--remote", QUEUE, "--poll-seconds", "3"],
            extra_env=agent.env,
        )
        assert f"event=service_task_replaced service=trigger old_task_id={first_ids['trigger']}" in replaced
        assert "changed=Trigger/poll_seconds" in replaced
        old_trigger = clients.api.task(first_ids["trigger"])
        assert old_trigger["status"] == "stopped" and "archived" in old_trigger["system_tags"]
        assert "event=trigger_stopping signal=SIGTERM" in console(clients, first_ids["trigger"])
        tasks = agent.wait_running()
        assert tasks["trigger"]["id"] != first_ids["trigger"]
        assert parameter(tasks["trigger"], "Trigger/poll_seconds") == "3"

        # 6. SIGTERM: every service stops within its bound, then the agent
        assert agent.stop() == 0
        for name, task in agent.tasks().items():
            assert f"event={name}_stopping signal=SIGTERM" in console(clients, task["id"]), name
    finally:  # whatever happened: no agent, task or service left running
        for child in (agent.child, training):
            if child is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait(30)  # reaped here, not reported as still running when collected in a later test
    for start in range(1, agent.starts + 1):
        log = (clients.workdir / f"services-agent-{start}.log").read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]
