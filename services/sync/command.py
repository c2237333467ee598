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
from ..settings import SettingsError, SyncSettings, absolute_path, with_flags
from .http import SyncHandler
from .inbox import Inbox
from .journal import Journal
from .service import SyncService

logger = logging.getLogger(__name__)

# SIGTERM to exit: the step in progress, then one last step that finalizes what is staged (a few server calls);
# with the server unreachable that last step is skipped (the files stay staged for the next start)
SHUTDOWN_BOUND_SECONDS = 30.0

EPILOG = """\
environment (flags win): OCCULOOP_SYNC_INBOX, OCCULOOP_DATASET_PROJECT, OCCULOOP_DATASET_NAME,
OCCULOOP_PRODUCTION_TAG, OCCULOOP_SYNC_QUIET_SECONDS, OCCULOOP_SYNC_BATCH_SIZE, OCCULOOP_SYNC_COMPLETION,
OCCULOOP_SYNC_SETTLE_SECONDS, OCCULOOP_SYNC_POLL_SECONDS, OCCULOOP_SYNC_STALE_DRAFT_SECONDS, OCCULOOP_SYNC_FEED_CHUNK,
OCCULOOP_SYNC_HOST, OCCULOOP_SYNC_PORT, OCCULOOP_TRIGGER_URL, plus the standard CLEARML_API_HOST / CLEARML_FILES_HOST /
CLEARML_API_ACCESS_KEY / CLEARML_API_SECRET_KEY of the ClearML server.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Validate every finished labeling-session CSV in the inbox; quarantine rejected files with a reason; add "
        "accepted files to a new version of the labeled dataset (only the delta is uploaded) and finalize it after "
        "a quiet period, a batch size, POST /sync, --once or shutdown; tag it Production when it is complete."
    )
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--inbox", type=absolute_path, help="the labeling tool's output folder (default .occuloop/inbox)"
    )
    parser.add_argument("--once", action="store_true", help="take every file in the inbox now, finalize, exit")
    parser.add_argument("--dataset-project", help="project of the labeled dataset (default occuloop/labels)")
    parser.add_argument("--dataset-name", help="name of the labeled dataset (default labeled)")
    parser.add_argument("--quiet-seconds", type=float, help="finalize after this long without a new file (default 30)")
    parser.add_argument("--batch-size", type=int, help="finalize when this many files are pending (default 50)")
    parser.add_argument(
        "--completion", choices=("auto", "marker"), help="auto: .done marker or a settled file; marker: markers only"
    )
    parser.add_argument("--port", type=int, help="HTTP port for POST /sync and GET /status (default 8090; 0 picks one)")
    parser.add_argument("--host", help="HTTP interface (default 127.0.0.1)")
    parser.add_argument("--trigger-url", help="POST each new version here (the trigger service's push endpoint)")
    add_remote_argument(parser)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> SyncSettings:
    settings = SyncSettings.from_env(environ)
    overrides = {
        "inbox": args.inbox,
        "dataset_project": args.dataset_project,
        "dataset_name": args.dataset_name,
        "quiet_seconds": args.quiet_seconds,
        "batch_size": args.batch_size,
        "completion": args.completion,
        "http_port": args.port,
        "http_host": args.host,
        "trigger_url": args.trigger_url,
    }
    return with_flags(settings, **overrides)


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
            "sync", settings.http_host, settings.http_port, SyncHandler, service, _started(settings),
            bound_seconds=SHUTDOWN_BOUND_SECONDS,
        )  # fmt: skip


def serve(settings: SyncSettings, stop: threading.Event) -> None:
    """The service until `stop` (the work of the ClearML service task, services/sync/remote.py)."""
    with opened(settings) as service:
        serve_beside("sync", settings.http_host, settings.http_port, SyncHandler, service, _started(settings), stop)


def _once(service: SyncService) -> int:
    """Take everything now (the labeler said the files are done), finalize, report."""
    service.request_sync()
    for attempt in range(30):
        before = service.outcome_count()
        if service.attempt():
            outcome = service.wait_for_outcome(before, 0.0)
            if outcome is not None or service.status().get("staged_files", 0) == 0:
                print(json.dumps(dataclasses.asdict(outcome) if outcome else {"reason": "nothing to sync"}))
                return 0
        time.sleep(min(2.0**attempt, 30.0))
    logger.error("event=sync_once_gave_up")
    return 1


def _started(settings: SyncSettings) -> str:
    return (
        f"inbox={settings.inbox.resolve()} dataset={settings.dataset_project}/{settings.dataset_name} "
        f"quiet_seconds={settings.quiet_seconds:g} batch_size={settings.batch_size}"
    )
