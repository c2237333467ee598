"""`occuloop ui`: serve the read-only web UI with uvicorn until SIGTERM.

Shutdown contract (README "Shutdown"): uvicorn owns the signals; `enable_stack_dumps()` at start, and the app's
lifespan arms the overrun guard when its shutdown begins (app.SHUTDOWN_BOUND_SECONDS after uvicorn's drain)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path

from ..logs import configure_logging
from ..setting import add_flags, given_flags
from ..settings import ENV_FILE, UiSettings, absolute_path, environment_epilog, read_env_file, with_flags
from ..shutdown import enable_stack_dumps, stop_requested_early

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 5  # uvicorn --timeout-graceful-shutdown: a page in flight finishes; live polls just retry
CLEARML_EPILOG = """\
  plus the ClearML API it reads: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY and CLEARML_API_SECRET_KEY
  (or --data-dir of a demo / an embedded server)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.epilog = environment_epilog(UiSettings, clearml=False) + CLEARML_EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_flags(
        parser,
        UiSettings,
        host="--host",
        port="--port",
        poll_seconds="--poll-seconds",
        sync_url="--sync-url",
        trigger_url="--trigger-url",
        rollout_url="--rollout-url",
    )
    parser.add_argument(
        "--data-dir", type=absolute_path, help="an embedded server's data dir: read its clearml.env for the API"
    )


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> UiSettings:
    source = dict(environ)
    if args.data_dir is not None:
        for folder in (Path(args.data_dir), Path(args.data_dir) / "server"):  # a server's or a demo's data dir
            source.update(read_env_file(folder / ENV_FILE))
    return with_flags(UiSettings.from_env(source), **given_flags(args, UiSettings)).validate()


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    enable_stack_dumps()
    import uvicorn

    from .app import create_app, instrumented
    from .reads import Reader

    reader = Reader(
        settings.api_host,
        settings.access_key,
        settings.secret_key,
        service_urls={"sync": settings.sync_url, "trigger": settings.trigger_url, "rollout": settings.rollout_url},
        dataset_project=settings.dataset_project,
        training_project=settings.training_project,
        rollout_project=settings.rollout_project,
        serving_project=settings.serving_project,
    )
    app = create_app(settings, reader, guard_shutdown=True)
    if stop_requested_early():  # uvicorn replaces the handlers that held it
        return 0
    print(f"occuloop ui: http://{settings.host}:{settings.port}/  (ClearML API {settings.api_host})", flush=True)
    uvicorn.run(
        instrumented(app),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,  # occuloop's own logging (services/logs.py)
        timeout_graceful_shutdown=DRAIN_SECONDS,
    )
    return 0
