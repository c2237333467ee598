"""`occuloop demo` — placeholder until written."""

from __future__ import annotations

import argparse
from collections.abc import Mapping


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return 0
