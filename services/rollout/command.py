"""`occuloop gate`, `occuloop promote`, `occuloop rollback`: the rollout decisions from the command line.

Each prints one `RESULT {json}` line per decision (receipt task id, rule, champion after) and logs
`event=gate_passed|gate_failed|promoted|rolled_back` with the model and dataset ids. Exit codes: 0 a decision
was recorded (a refusal is a decision too), 2 no decision could be taken (the message says why).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import shlex
import socket
import sys
from collections.abc import Mapping
from typing import Any

from ..logs import configure_logging
from ..settings import RolloutSettings, environment_epilog
from .controller import ROLLOUT as ROLLOUT  # `occuloop rollout`, the canary controller
from .decisions import Outcome, Rollout
from .receipts import DecidedBy
from .registry import Registry, RolloutError

logger = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser, description: str) -> None:
    parser.description = description
    parser.epilog = environment_epilog(RolloutSettings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--rescore", action="store_true", help="run both SavedModels on the holdout instead of reusing predictions"
    )


def _operator(argv: list[str]) -> DecidedBy:
    return DecidedBy("operator", f"{getpass.getuser()}@{socket.gethostname()}", shlex.join(["occuloop", *argv]))


def _report(outcomes: list[Outcome]) -> int:
    for outcome in outcomes:
        print("RESULT " + json.dumps(dataclasses.asdict(outcome)), flush=True)
    return 0


def _decide(settings: RolloutSettings, decided_by: DecidedBy, rescore: bool, action: str, **kwargs: Any) -> int:
    rollout = Rollout(Registry(settings), settings, decided_by, rescore=rescore)
    try:
        if action == "gate":
            outcomes = rollout.gate(kwargs.get("model_id"))
        elif action == "promote":
            outcomes = [rollout.promote(kwargs["model_id"], kwargs.get("reason", ""))]
        else:
            outcomes = [rollout.rollback(kwargs.get("model_id"), kwargs.get("reason", ""))]
    except RolloutError as error:
        logger.error("event=%s_refused detail=%s", action, json.dumps(str(error)))
        print(f"occuloop {action}: {error}", file=sys.stderr)
        return 2
    return _report(outcomes)


class GateCommand:
    """`occuloop gate [--model-id ID] [--enqueue QUEUE]`."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _common(
            parser,
            "Score a candidate model and the champion on the pinned holdout and pass or refuse the candidate; a "
            "pass promotes it (OCCULOOP_GATE_ON_PASS=promote). Every decision writes a receipt.",
        )
        parser.add_argument("--model-id", default="", help="the candidate to gate (default: the newest candidate)")
        parser.add_argument("--enqueue", metavar="QUEUE", help="do not gate here: enqueue the gate task for an agent")

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        settings = RolloutSettings.from_env(environ)
        configure_logging(settings.log)
        if args.enqueue:
            from training.gate_step import enqueue_gate

            if not args.model_id:
                print("occuloop gate: --enqueue needs --model-id", file=sys.stderr)
                return 2
            gate_task = enqueue_gate(args.enqueue, args.model_id, settings.project)
            print("RESULT " + json.dumps({"gate_task_id": gate_task, "queue": args.enqueue}), flush=True)
            return 0
        argv = ["gate", *(["--model-id", args.model_id] if args.model_id else [])]
        return _decide(settings, _operator(argv), args.rescore, "gate", model_id=args.model_id or None)


class PromoteCommand:
    """`occuloop promote MODEL_ID [--reason TEXT]`."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _common(
            parser,
            "Make a model the champion whatever the gate says (the receipt records what the gate would have said).",
        )
        parser.add_argument("model_id", help="the model to promote")
        parser.add_argument("--reason", default="", help="why (goes into the receipt and the log)")

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        settings = RolloutSettings.from_env(environ)
        configure_logging(settings.log)
        decided_by = _operator(["promote", args.model_id, *(["--reason", args.reason] if args.reason else [])])
        return _decide(settings, decided_by, args.rescore, "promote", model_id=args.model_id, reason=args.reason)


class RollbackCommand:
    """`occuloop rollback [MODEL_ID] [--reason TEXT]`."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        _common(
            parser,
            "Move the champion pointer back to an earlier model (default: the previous champion); the current "
            "champion is tagged rejected. Serving follows the pointer.",
        )
        parser.add_argument("model_id", nargs="?", default="", help="the model to restore (default: the previous)")
        parser.add_argument("--reason", default="", help="why (goes into the receipt and the log)")

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        settings = RolloutSettings.from_env(environ)
        configure_logging(settings.log)
        argv = [
            "rollback",
            *([args.model_id] if args.model_id else []),
            *(["--reason", args.reason] * bool(args.reason)),
        ]
        return _decide(
            settings, _operator(argv), args.rescore, "rollback", model_id=args.model_id or None, reason=args.reason
        )


GATE, PROMOTE, ROLLBACK = GateCommand(), PromoteCommand(), RollbackCommand()


def run_gate_task(environ: Mapping[str, str]) -> int:
    """The gate as a ClearML task under clearml-agent (`python -m services.rollout.gate_task`): the model id comes
    from the task's `General/model_id`; the decisions are also shown on this task (table, artifact)."""
    from clearml import Task

    settings = RolloutSettings.from_env(environ)
    configure_logging(settings.log)
    task: Any = Task.init(
        project_name=settings.project,
        task_name="gate",
        task_type=Task.TaskTypes.qc,
        auto_connect_frameworks=False,
        auto_resource_monitoring=False,
        reuse_last_task_id=False,
    )
    params = task.connect({"model_id": "", "training_task_id": ""}, name="General")
    model_id = str(params.get("model_id") or "") or None
    decided_by = DecidedBy("gate", f"task {task.id}", f"python -m services.rollout.gate_task (model {model_id})")
    registry = Registry(settings)
    try:
        outcomes = Rollout(registry, settings, decided_by).gate(model_id)
    except RolloutError as error:
        logger.error("event=gate_refused detail=%s", json.dumps(str(error)))
        task.mark_failed(status_reason=str(error)[:1000], force=True)
        return 2
    from .receipts import table

    for outcome in outcomes:
        receipt = registry.read_receipt(outcome.receipt_id)
        task.get_logger().report_table("receipt", outcome.decision, iteration=0, table_plot=table(receipt))
    task.upload_artifact("decisions", [dataclasses.asdict(outcome) for outcome in outcomes], wait_on_upload=True)
    return _report(outcomes)
