"""The step a training run ends with when `gate_queue` is set: hand the new model to the gate.

The gate lives in `services/rollout` (it moves the champion pointer and writes receipts), and `training` must not
import `services`, so the gate runs as its own ClearML task — created here from the module's name and enqueued,
so that clearml-agent runs it unattended right after this run, on any queue (`occuloop gate --enqueue` does the
same by hand). The model card and holdout predictions are flushed first: the gate reads them.
"""

from __future__ import annotations

import logging
from typing import Any

from clearml import Task

logger = logging.getLogger(__name__)

GATE_MODULE = "services.rollout.gate_task"  # `python -m services.rollout.gate_task`; the agent runs it by name
GATE_TASK_TYPE = "qc"


def enqueue_gate(queue: str, model_id: str, project: str, training_task: Any | None = None) -> str:
    """Create the gate task for `model_id` and put it on `queue`; returns its id."""
    if training_task is not None:
        training_task.flush(wait_for_uploads=True)
    gate: Any = Task.create(
        project_name=project,
        task_name=f"gate {model_id}",
        task_type=GATE_TASK_TYPE,
        module=GATE_MODULE,
        detect_repository=False,  # run by module name from the installed package, not from a checkout
        packages=[],
        add_task_init_call=False,
    )
    gate.set_parameters(
        {"General/model_id": model_id, "General/training_task_id": str(training_task.id) if training_task else ""}
    )
    Task.enqueue(gate, queue_name=queue)
    logger.info("event=gate_enqueued model_id=%s gate_task=%s queue=%s", model_id, gate.id, queue)
    return str(gate.id)
