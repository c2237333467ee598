"""The `occuloop` command: one subcommand per service or tool; each module in the table defines its own arguments
(`add_arguments`) and what they run (`run`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from .settings import SettingsError, process_environment
from .shutdown import defer_stop_signals, exit_on_stop_signals

Runner = Callable[[argparse.Namespace, Mapping[str, str]], int]
# The commands that run until SIGTERM (services/shutdown.py): from their first line a SIGTERM means "stop cleanly".
LONG_RUNNING = frozenset({"server", "sync", "trigger", "rollout", "services-agent", "ui"})


class _TrainingCommand:
    """Adapts a `training` module (which must not import `services`) to the command table."""

    def __init__(self, module_name: str) -> None:
        self._module_name = module_name

    def _module(self) -> ModuleType:
        import importlib

        return importlib.import_module(self._module_name)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self._module().add_arguments(parser)

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        return int(self._module().run_command(args))


def _commands() -> dict[str, tuple[str, Any]]:
    from . import demo, services_agent, serving_command, status
    from .clearml_server import __main__ as server
    from .rollout import command as rollout
    from .sync import command as sync
    from .sync import lineage, replay
    from .trigger import command as trigger
    from .ui import command as ui

    return {
        "server": ("run the embedded ClearML-compatible API and file server", server),
        "demo": ("run the whole loop locally on the embedded server", demo),
        "status": ("the loop's state: versions, runs, gate decisions, champion, queues, services", status),
        "sync": ("turn a labeling tool's finished files into validated dataset versions", sync),
        "label-replay": ("play the UCI data into an inbox day by day, as a labeling tool would", replay),
        "lineage": ("the labeling sessions of a dataset version and the version that added each", lineage),
        "trigger": ("one training run for every new Production dataset version", trigger),
        "train": (
            "one training run on a labeled dataset version (what clearml-agent runs)",
            _TrainingCommand("training.train"),
        ),
        "gate": ("pass or refuse a candidate model against the champion", rollout.GATE),
        "promote": ("force a model to champion (with a receipt)", rollout.PROMOTE),
        "rollback": ("move the champion pointer back to an earlier model", rollout.ROLLBACK),
        "rollout": ("the canary controller: ramp, promote, roll back", rollout.ROLLOUT),
        "serving": ("the occupancy endpoint on clearml-serving: setup and run", serving_command),
        "services-agent": (
            "clearml-agent in services mode running sync, trigger and rollout as ClearML service tasks",
            services_agent,
        ),
        "ui": ("the read-only web UI: the loop's timeline, runs, models, receipts, serving, quarantine", ui),
        "sessions": (
            "cut the UCI data into daily labeling sessions and the pinned holdouts",
            _TrainingCommand("training.sessions"),
        ),
    }


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    long_running = next((item for item in given if not item.startswith("-")), None) in LONG_RUNNING
    if long_running:
        exit_on_stop_signals()  # the imports below take seconds and hold nothing
    parser = argparse.ArgumentParser(
        prog="occuloop", description="occuloop: a fully automatic retraining loop on ClearML"
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners: dict[str, Runner] = {}
    for name, (summary, module) in _commands().items():
        module.add_arguments(subcommands.add_parser(name, help=summary))
        runners[name] = module.run
    args = parser.parse_args(argv)
    if long_running:
        defer_stop_signals()  # from here on the command opens what it holds: stop it cleanly once it runs
    try:
        return runners[args.command](args, process_environment())
    except SettingsError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
