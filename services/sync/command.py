"""`occuloop sync`: watch a labeling tool's output folder and turn finished files into dataset versions."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import IO

from ..clearml_gateway import DatasetGateway
from ..http_base import serve_beside, serve_until_signalled
from ..logs import configure_logging
from ..service_tasks.command import add_remote_argument, register_remote
from ..setting import add_flags, given_flags
from ..settings import SettingsError, SyncSettings, environment_epilog, with_flags
from .http import SyncHandler
from .inbox import Inbox
from .journal import Journal
from .service import SyncService

logger = logging.getLogger(__name__)

# SIGTERM to exit: the step in progress, then one last step that finalizes what is staged (a few server calls);
# with the server unreachable that last step is skipped (the files stay staged for the next start)
SHUTDOWN_BOUND_SECONDS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate every finished labeling-session CSV in the inbox; quarantine rejected files with a reason; add "
        "accepted files to a new version of the labeled dataset (only the delta is uploaded) and finalize it after "
        "a quiet period, a batch size, POST /sync, --once or shutdown; tag it Production when it is complete."
    )
    parser.epilog = environment_epilog(SyncSettings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--once", action="store_true", help="take every file in the inbox now, finalize, exit")
    add_flags(
        parser,
        SyncSettings,
        inbox="--inbox",
        dataset_project="--dataset-project",
        dataset_name="--dataset-name",
        quiet_seconds="--quiet-seconds",
        batch_size="--batch-size",
        completion="--completion",
        http_port="--port",
        http_host="--host",
        trigger_url="--trigger-url",
        squash_depth="--squash-depth",
    )
    add_remote_argument(parser)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> SyncSettings:
    return with_flags(SyncSettings.from_env(environ), **given_flags(args, SyncSettings))


@contextlib.contextmanager
def exclusive(inbox: Inbox) -> Iterator[IO[str]]:
    """One sync service per inbox: a second one would move the same files."""
    inbox.state_dir.mkdir(parents=True, exist_ok=True)
    with open(inbox.state_dir / "lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SettingsError(f"another occuloop sync is already running on {inbox.root}") from None
        yield handle


@contextlib.contextmanager
def opened(settings: SyncSettings) -> Iterator[SyncService]:
    """The sync service on its inbox: the inbox lock held and the journal open for as long as it runs."""
    inbox = Inbox(settings.inbox, settings.completion, settings.settle_seconds)
    with exclusive(inbox):
        journal = Journal(inbox.journal_path)
        try:
            yield SyncService(settings, DatasetGateway(settings.dataset_project, settings.dataset_name), inbox, journal)
        finally:
            journal.close()


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    if args.remote:
        from .remote import SPEC

        return register_remote(SPEC, settings, args.remote, environ)
    with opened(settings) as service:
        if args.once:
            return _once(service)
        return serve_until_signalled(
            "sync",
            settings.http_host,
            settings.http_port,
            SyncHandler,
            service,
            _started(settings),
            bound_seconds=SHUTDOWN_BOUND_SECONDS,
        )


def serve(settings: SyncSettings, stop: threading.Event) -> None:
    """The service until `stop` (the work of the ClearML service task, services/sync/remote.py)."""
    with opened(settings) as service:
        serve_beside("sync", settings.http_host, settings.http_port, SyncHandler, service, _started(settings), stop)


def _once(service: SyncService) -> int:
    """Take everything now (the labeler said the files are done), finalize, report."""
    service.request_sync()
    for _ in range(30):
        before = service.outcome_count()
        if service.attempt():
            outcome = service.wait_for_outcome(before, 0.0)
            if outcome is not None or service.status().get("staged_files", 0) == 0:
                print(json.dumps(dataclasses.asdict(outcome) if outcome else {"reason": "nothing to sync"}))
                return 0
        time.sleep(max(0.0, service.loop.next_at - time.monotonic()))  # the poll interval, or the backoff
    logger.error("event=sync_once_gave_up")
    return 1


def _started(settings: SyncSettings) -> str:
    return (
        f"inbox={settings.inbox.resolve()} dataset={settings.dataset_project}/{settings.dataset_name} "
        f"quiet_seconds={settings.quiet_seconds:g} batch_size={settings.batch_size}"
    )
