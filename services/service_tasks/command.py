"""`--remote QUEUE` on the service commands (`occuloop sync|trigger|rollout --remote QUEUE`): register the
service, with the settings the command line and the environment give, as its ClearML service task."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from ..settings import ServiceTaskSettings
from .registry import ServiceTaskError, register
from .spec import ServiceTaskSpec


def add_remote_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remote",
        metavar="QUEUE",
        help="do not run here: make this the service's ClearML service task on QUEUE, run by a clearml-agent in "
        "services mode (`occuloop services-agent`); again with the same settings changes nothing, with other "
        "settings it replaces the task (stop, then start)",
    )


def register_remote(spec: ServiceTaskSpec, settings: Any, queue: str, environ: Mapping[str, str]) -> int:
    tasks = ServiceTaskSettings.from_env(environ)
    try:
        plan = register(spec, settings, queue, tasks.project, stop_seconds=tasks.stop_seconds)
    except ServiceTaskError as error:
        print(f"occuloop {spec.name} --remote: {error}", file=sys.stderr)
        return 2
    print(f"occuloop {spec.name}: service task {plan.task_id} on {queue} ({plan.action})", flush=True)
    return 0
