"""`occuloop lineage`: the labeling sessions in a version of the labeled dataset, each with the version that added
it, also across squashed roots (services/dataset_history.py): what a model was trained on, traced to the
deliveries of the labeling tool."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from ..clearml_gateway import DatasetGateway
from ..dataset_history import DatasetHistory
from ..setting import add_flags, given_flags
from ..settings import SyncSettings, with_flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--dataset-id", help="the version to trace (default: the newest finalized one)")
    add_flags(parser, SyncSettings, dataset_project="--dataset-project", dataset_name="--dataset-name")
    parser.add_argument("--json", action="store_true", help="one line of JSON instead of a table")


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = with_flags(SyncSettings.from_env(environ), **given_flags(args, SyncSettings))
    gateway = DatasetGateway(settings.dataset_project, settings.dataset_name)
    dataset_id = args.dataset_id
    if not dataset_id:
        latest = gateway.latest()
        if latest is None:
            print(f"no finalized version of {settings.dataset_project}/{settings.dataset_name}")
            return 1
        dataset_id = latest[0]
    described = gateway.version(dataset_id)
    traced = DatasetHistory(gateway).trace(dataset_id)
    version = described.version if described else ""
    if args.json:
        print(json.dumps({"dataset_id": dataset_id, "version": version, "sessions": traced}))
        return 0
    squashed = f", a squashed root replacing {described.squash_of}" if described and described.squash_of else ""
    print(f"{settings.dataset_name} {version} ({dataset_id}): {len(traced)} labeling sessions{squashed}")
    width = max((len(name) for name in traced), default=7)
    print(f"{'session':<{width}}  added by version  dataset id")
    for name, origin in sorted(traced.items()):
        print(f"{name:<{width}}  {origin['version']:<16}  {origin['dataset_id']}")
    return 0
