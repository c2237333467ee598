"""How `occuloop demo` runs the sync, the trigger and the canary controller: as three processes (the default, as the
chart's `services.mode: deployments`), or with `--agent-services` as ClearML service tasks under one
`occuloop services-agent` (as the chart's `services.mode: agent`). Either way each service gets the same settings,
through the environment, and listens on the same ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .loop_state import Api, StateError
from .service_tasks.spec import TAG_PREFIX

SERVICES = ("trigger", "sync", "rollout")  # in the order they start
AGENT_WORKER = "occuloop-demo-services"

# The demo's canary: short windows, because its users are a request loop of ~40 readings a second, not a building
# (OCCULOOP_CANARY_* in the environment win).
CANARY_ENV = {
    "OCCULOOP_CANARY_WINDOW_SECONDS": "3",
    "OCCULOOP_CANARY_MIN_REQUESTS": "40",  # the prediction-rate comparison needs a few dozen answers per side
    "OCCULOOP_CANARY_MAX_RATE_SHIFT": "0.25",
    "OCCULOOP_CANARY_POLL_SECONDS": "0.5",
    "OCCULOOP_CANARY_SILENCE_SECONDS": "10",
    "OCCULOOP_CANARY_MAX_P99_MS": "1000",  # training runs on the same two cores meanwhile
    "OCCULOOP_SERVING_METRICS_SECONDS": "1",
}


def environments(
    inbox: Path, ports: Mapping[str, int], template_parameters: str, environ: Mapping[str, str]
) -> dict[str, dict[str, str]]:
    """Each service's settings for the demo, as the variables `services/settings.py` reads."""
    canary_overrides = {key: value for key, value in environ.items() if key.startswith("OCCULOOP_CANARY_")}
    return {
        "trigger": {
            "OCCULOOP_TRIGGER_PORT": str(ports["trigger"]),
            "OCCULOOP_TRIGGER_POLL_SECONDS": "2",
            "OCCULOOP_TEMPLATE_PARAMETERS": template_parameters,
        },
        "sync": {
            "OCCULOOP_SYNC_INBOX": str(inbox),
            "OCCULOOP_SYNC_PORT": str(ports["sync"]),
            "OCCULOOP_SYNC_QUIET_SECONDS": "3600",  # the demo presses the upload button after each session
            "OCCULOOP_TRIGGER_URL": f"http://127.0.0.1:{ports['trigger']}/notify",
        },
        "rollout": {
            **CANARY_ENV,
            **canary_overrides,
            "OCCULOOP_ROLLOUT_PORT": str(ports["rollout"]),
            "OCCULOOP_CANARY_PROBE_URL": f"http://127.0.0.1:{ports['serving']}",
        },
    }


def agent_environment(environments: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """One environment for the services agent: the three services' settings (no variable is shared by two)."""
    merged: dict[str, str] = {"OCCULOOP_SERVICES_WORKER_ID": AGENT_WORKER, "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1"}
    for variables in environments.values():
        merged.update(variables)
    return merged


def service_tasks(api: Api) -> dict[str, dict[str, Any]]:
    """The unarchived service tasks by service name."""
    fields = ["id", "tags", "status", "status_reason", "status_changed"]
    found = api.call("tasks.get_all", {"type": ["service"], "system_tags": ["-archived"], "only_fields": fields})
    result = {}
    for task in found.get("tasks") or []:
        for tag in task.get("tags") or []:
            if tag.startswith(TAG_PREFIX):
                result[tag[len(TAG_PREFIX) :]] = task
    return result


def console(api: Api, task_id: str) -> list[str]:
    events = api.call("events.get_task_log", {"task": task_id, "batch_size": 10000, "order": "asc"}).get("events")
    return [line for event in events or [] for line in str(event.get("msg", "")).splitlines()]


def failed_task(api: Api, since: datetime) -> str | None:
    """A service task that failed since `since` (not in an earlier run: its next start enqueues it again),
    described with the end of its console (None: none did)."""
    for name, task in service_tasks(api).items():
        changed = datetime.fromisoformat(str(task.get("status_changed") or since.isoformat()))
        if task.get("status") == "failed" and changed >= since:
            tail = "\n".join(console(api, str(task["id"]))[-20:])
            return f"service task occuloop {name} failed ({task.get('status_reason')}); end of its console:\n{tail}"
    return None


def save_consoles(api: Api, logs: Path) -> None:
    """Each service task's console into logs/<service>.log, where the process mode writes its log."""
    try:
        for name, task in service_tasks(api).items():
            (logs / f"{name}.log").write_text("\n".join(console(api, str(task["id"]))) + "\n")
    except (OSError, StateError):
        return  # the server is gone: the consoles stay on it
