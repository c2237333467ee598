"""`occuloop ui`: serve the read-only web UI with uvicorn until SIGTERM.

Shutdown contract (README "Shutdown"): uvicorn owns the signals; `enable_stack_dumps()` at start, and the app's
lifespan arms the overrun guard when its shutdown begins (app.SHUTDOWN_BOUND_SECONDS after uvicorn's drain)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path

from ..logs import configure_logging
from ..settings import ENV_FILE, UiSettings, absolute_path, read_env_file, with_flags
from ..shutdown import enable_stack_dumps, stop_requested_early

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 5  # uvicorn --timeout-graceful-shutdown: a page in flight finishes; live polls just retry
EPILOG = """\
environment (flags win): OCCULOOP_UI_HOST, OCCULOOP_UI_PORT, OCCULOOP_UI_POLL_SECONDS, OCCULOOP_UI_SYNC_URL,
OCCULOOP_UI_TRIGGER_URL, OCCULOOP_UI_ROLLOUT_URL, OCCULOOP_UI_USER + OCCULOOP_UI_PASSWORD (basic auth),
OCCULOOP_DATASET_PROJECT, OCCULOOP_TRAINING_PROJECT, OCCULOOP_ROLLOUT_PROJECT, OCCULOOP_SERVING_PROJECT (where the services keep the loop's
records), and the ClearML API it reads: CLEARML_API_HOST, CLEARML_API_ACCESS_KEY,
CLEARML_API_SECRET_KEY (or --data-dir of a demo / an embedded server).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--host", help="interface (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, help="port (default 8080)")
    parser.add_argument("--poll-seconds", type=float, help="live updates every N seconds (default 3)")
    parser.add_argument("--sync-url", help="the sync's HTTP API (default http://127.0.0.1:8090)")
    parser.add_argument("--trigger-url", help="the trigger's HTTP API (default http://127.0.0.1:8091)")
    parser.add_argument("--rollout-url", help="the canary controller's HTTP API (default http://127.0.0.1:8092)")
    parser.add_argument(
        "--data-dir", type=absolute_path, help="an embedded server's data dir: read its clearml.env for the API"
    )


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> UiSettings:
    source = dict(environ)
    if args.data_dir is not None:
        for folder in (Path(args.data_dir), Path(args.data_dir) / "server"):  # a server's or a demo's data dir
            source.update(read_env_file(folder / ENV_FILE))
    settings = with_flags(
        UiSettings.from_env(source),
        host=args.host,
        port=args.port,
        poll_seconds=args.poll_seconds,
        sync_url=args.sync_url,
        trigger_url=args.trigger_url,
        rollout_url=args.rollout_url,
    )
    return settings.validate()


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    enable_stack_dumps()
    import uvicorn

    from .app import create_app
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
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,  # occuloop's own logging (services/logs.py)
        timeout_graceful_shutdown=DRAIN_SECONDS,
    )
    return 0
