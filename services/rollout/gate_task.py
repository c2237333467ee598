"""`python -m services.rollout.gate_task`: the gate as the ClearML task clearml-agent runs after a training run
(created and enqueued by training/gate_step.py or `occuloop gate --enqueue`)."""

from __future__ import annotations

import sys

from ..settings import process_environment
from .command import run_gate_task

if __name__ == "__main__":
    sys.exit(run_gate_task(process_environment()))
