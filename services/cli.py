"""The `occuloop` command: one subcommand per service or tool, each defined beside the code it runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType

from .settings import SettingsError, process_environment

Runner = Callable[[argparse.Namespace, Mapping[str, str]], int]


def _commands() -> dict[str, tuple[str, ModuleType]]:
    from . import demo
    from .clearml_server import __main__ as server

    return {
        "server": ("run the embedded ClearML-compatible API and file server", server),
        "demo": ("run the loop locally on the embedded server and show where the state lives", demo),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="occuloop", description="occuloop: a fully automatic retraining loop on ClearML"
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners: dict[str, Runner] = {}
    for name, (summary, module) in _commands().items():
        module.add_arguments(subcommands.add_parser(name, help=summary))
        runners[name] = module.run
    args = parser.parse_args(argv)
    try:
        return runners[args.command](args, process_environment())
    except SettingsError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
