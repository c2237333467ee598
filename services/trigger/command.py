"""`occuloop trigger`: the exactly-once retraining trigger, as a process/pod or as a ClearML service task."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Mapping

from ..http_base import serve_beside, serve_until_signalled
from ..logs import configure_logging
from ..service_tasks.command import add_remote_argument, register_remote
from ..settings import SettingsError, TriggerSettings, with_flags
from .http import TriggerHandler
from .service import TriggerService

logger = logging.getLogger(__name__)

# SIGTERM to exit: the scheduler step in progress (a clone and an enqueue at most per version), then the SDK's
# flush of the scheduler task at exit
SHUTDOWN_BOUND_SECONDS = 20.0

EPILOG = """\
Every finalized, unarchived version of every dataset under --dataset-project that carries the tags (all of them
by default, or any of them with --tag-match any) gets exactly one training run: a clone of the template task with
its dataset-id parameter set to the version, enqueued on --queue. Runs are tagged `retrain` and
`dataset:<version id>`; that tag is the ledger, kept on the server, so restarts, kill -9 and several replicas
neither skip nor repeat a version. The sync service pushes new versions to POST /notify; polling every
--poll-seconds is the safety net.

environment (flags win): OCCULOOP_DATASET_PROJECT, OCCULOOP_TRIGGER_TAGS (comma-separated),
OCCULOOP_TRIGGER_TAG_MATCH, OCCULOOP_TEMPLATE_PROJECT, OCCULOOP_TEMPLATE_NAME, OCCULOOP_TEMPLATE_TAG,
OCCULOOP_TRAINING_PROJECT, OCCULOOP_TRAINING_QUEUE, OCCULOOP_TRIGGER_PARAMETER, OCCULOOP_TRIGGER_POLL_SECONDS,
OCCULOOP_TRIGGER_COALESCE_SECONDS, OCCULOOP_TRIGGER_STALE_CLONE_SECONDS, OCCULOOP_SERVICES_PROJECT,
OCCULOOP_TRIGGER_HOST, OCCULOOP_TRIGGER_PORT, OCCULOOP_TRIGGER_REMOTE_QUEUE, OCCULOOP_TEMPLATE_PARAMETERS, plus the
standard CLEARML_API_HOST / CLEARML_FILES_HOST / CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY of the server.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Clone and enqueue the training task once for every new Production dataset version."
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--dataset-project", help="watch every dataset under this project (default occuloop/labels)")
    parser.add_argument("--tags", help="comma-separated tags a version must carry (default Production)")
    parser.add_argument("--tag-match", choices=("all", "any"), help="all (default) or any of --tags")
    parser.add_argument("--queue", help="the training queue (default training)")
    parser.add_argument("--poll-seconds", type=float, help="safety-net polling interval (default 5)")
    parser.add_argument(
        "--coalesce-seconds", type=float, help="train only the newest version of a burst once quiet this long (off)"
    )
    parser.add_argument("--port", type=int, help="HTTP port for POST /notify and GET /status (default 8091)")
    parser.add_argument("--host", help="HTTP interface (default 127.0.0.1)")
    parser.add_argument("--once", action="store_true", help="one catch-up step, then exit")
    add_remote_argument(parser)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> TriggerSettings:
    settings = TriggerSettings.from_env(environ)
    tags = tuple(tag.strip() for tag in args.tags.split(",") if tag.strip()) if args.tags else None
    overrides = {
        "dataset_project": args.dataset_project,
        "tags": tags,
        "tag_match": args.tag_match,
        "queue": args.queue,
        "poll_seconds": args.poll_seconds,
        "coalesce_seconds": args.coalesce_seconds,
        "http_port": args.port,
        "http_host": args.host,
        "remote_queue": args.remote,
    }
    return checked(with_flags(settings, **overrides))


def checked(settings: TriggerSettings) -> TriggerSettings:
    """What the flags and the task's parameters can get wrong beyond their types."""
    if settings.poll_seconds < 0.1:
        raise SettingsError("--poll-seconds must be at least 0.1")
    if "/" not in settings.parameter:
        raise SettingsError(f"the dataset parameter must be Section/name, got {settings.parameter!r}")
    return settings


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    if settings.remote_queue:
        from .remote import SPEC

        return register_remote(SPEC, settings, settings.remote_queue, environ)
    service = TriggerService(settings)
    if args.once:
        return 0 if service.step() else 1
    return serve_until_signalled(
        "trigger", settings.http_host, settings.http_port, TriggerHandler, service, _started(settings),
        bound_seconds=SHUTDOWN_BOUND_SECONDS,
    )  # fmt: skip


def serve(settings: TriggerSettings, stop: threading.Event) -> None:
    """The service until `stop` (the work of the ClearML service task, services/trigger/remote.py)."""
    settings = checked(settings)
    service = TriggerService(settings)
    serve_beside("trigger", settings.http_host, settings.http_port, TriggerHandler, service, _started(settings), stop)


def _started(settings: TriggerSettings) -> str:
    return f"dataset_project={settings.dataset_project} queue={settings.queue}"
