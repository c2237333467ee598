"""`occuloop trigger`: the exactly-once retraining trigger, as a process/pod or as a ClearML service task."""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Mapping

from ..http_base import serve_beside, serve_until_signalled
from ..logs import configure_logging
from ..service_tasks.command import register_remote
from ..setting import add_flags, given_flags
from ..settings import TriggerSettings, environment_epilog, with_flags
from .http import TriggerHandler
from .service import TriggerService

logger = logging.getLogger(__name__)

# SIGTERM to exit: the scheduler step in progress (a clone and an enqueue at most per version), then the SDK's
# flush of the scheduler task at exit
SHUTDOWN_BOUND_SECONDS = 20.0

DESCRIPTION = """\
Every finalized, unarchived version of every dataset under --dataset-project that carries the tags (all of them
by default, or any of them with --tag-match any) gets exactly one training run: a clone of the template task with
its dataset-id parameter set to the version, enqueued on --queue. Runs are tagged `retrain` and
`dataset:<version id>`; that tag is the ledger, kept on the server, so restarts, kill -9 and several replicas
neither skip nor repeat a version. The sync service pushes new versions to POST /notify; polling every
--poll-seconds is the safety net.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Clone and enqueue the training task once for every new Production dataset version."
    parser.epilog = DESCRIPTION + "\n" + environment_epilog(TriggerSettings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_flags(
        parser,
        TriggerSettings,
        dataset_project="--dataset-project",
        tags="--tags",
        tag_match="--tag-match",
        queue="--queue",
        poll_seconds="--poll-seconds",
        coalesce_seconds="--coalesce-seconds",
        http_port="--port",
        http_host="--host",
        remote_queue="--remote",
    )
    parser.add_argument("--once", action="store_true", help="one catch-up step, then exit")


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> TriggerSettings:
    return with_flags(TriggerSettings.from_env(environ), **given_flags(args, TriggerSettings))


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    if settings.remote_queue:
        from .remote import SPEC

        return register_remote(SPEC, settings, settings.remote_queue, environ)
    service = TriggerService(settings)
    if args.once:
        return 0 if service.loop.attempt() else 1
    return serve_until_signalled(
        "trigger",
        settings.http_host,
        settings.http_port,
        TriggerHandler,
        service,
        _started(settings),
        bound_seconds=SHUTDOWN_BOUND_SECONDS,
    )


def serve(settings: TriggerSettings, stop: threading.Event) -> None:
    """The service until `stop` (the work of the ClearML service task, services/trigger/remote.py)."""
    service = TriggerService(settings)
    serve_beside("trigger", settings.http_host, settings.http_port, TriggerHandler, service, _started(settings), stop)


def _started(settings: TriggerSettings) -> str:
    return f"dataset_project={settings.dataset_project} queue={settings.queue}"
