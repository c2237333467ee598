"""`occuloop serving setup` and `occuloop serving run`: endpoints on the control plane, and the inference app.

setup  finds or creates the control-plane task, registers models as `<endpoint>/<n>` (uploading the engine code
       with each), and sets the public canary endpoint's weights; running it again changes nothing.
run    starts clearml-serving's inference app (`python -m serving.launch serving.app:app`: uvicorn, the stock app
       + one error handler),
       polling it every few seconds instead of clearml-serving's default five minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from serving.endpoints import Routing, ServingError, newest_model

from .logs import configure_logging, log_event
from .serving_plane import ensure_plane, find_plane
from .setting import add_flags, given_flags
from .settings import ServingSettings, SettingsError, environment_epilog, with_flags

DRAIN_SECONDS = 10  # uvicorn --timeout-graceful-shutdown: how long requests in flight may finish after SIGTERM

logger = logging.getLogger(__name__)

SDK_CONFIG = Path(__file__).resolve().parent / "clearml-sdk.conf"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.epilog = environment_epilog(ServingSettings)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_flags(parser, ServingSettings, service_name="--name", service_project="--project", endpoint="--endpoint")
    actions = parser.add_subparsers(dest="serving_command", required=True, metavar="ACTION")

    setup = actions.add_parser("setup", help="create or find the control plane, register models, set the canary")
    setup.add_argument(
        "--model-id",
        action="append",
        default=[],
        help="serve this model (repeatable); default: the newest model named OCCULOOP_MODEL_NAME",
    )
    setup.add_argument(
        "--weights",
        nargs="+",
        help="canary weights: one number per --model-id (in that order), or VERSION=WEIGHT pairs; "
        "default: all traffic to the newest version when no canary exists yet, else unchanged",
    )
    add_flags(setup, ServingSettings, prediction_log_rate="--log-rate", metrics_seconds="--metrics-seconds")

    run = actions.add_parser("run", help="start the clearml-serving inference app on the control plane")
    add_flags(run, ServingSettings, host="--host", port="--port", poll_seconds="--poll-seconds")
    run.add_argument("--access-log", action="store_true", help="log every request (costs ~0.1 ms each)")


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> ServingSettings:
    return with_flags(ServingSettings.from_env(environ), **given_flags(args, ServingSettings))


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    try:
        if args.serving_command == "setup":
            return setup(settings, args.model_id, args.weights)
        return serve(settings, environ, access_log=args.access_log)
    except ServingError as error:
        logger.error("event=serving_refused reason=%s", str(error).replace(" ", "_")[:200])
        print(f"occuloop serving: {error}", file=sys.stderr)
        return 2


def setup(settings: ServingSettings, model_ids: Sequence[str], weights: Sequence[str] | None) -> int:
    plane = ensure_plane(settings)
    if not model_ids:
        newest = newest_model(settings.model_project, settings.model_name)
        if newest is None:
            raise ServingError(
                f"no model named {settings.model_name!r} in project {settings.model_project!r}: pass --model-id"
            )
        model_ids = [newest]
    versions = [plane.register_version(model_id) for model_id in model_ids]
    routing = plane.current_routing()
    if weights:
        routing = plane.set_canary(_weights(weights, versions))
    elif not routing.weights:
        routing = plane.set_canary({max(routing.versions): 1.0})
    print(json.dumps(_summary(routing, settings), indent=2))
    return 0


def _weights(given: Sequence[str], versions: Sequence[int]) -> dict[int, float]:
    try:
        if all("=" in item for item in given):
            return {int(key): float(value) for key, value in (item.split("=", 1) for item in given)}
        if len(given) != len(versions):
            raise ServingError(f"{len(given)} weights for {len(versions)} --model-id values")
        return {version: float(weight) for version, weight in zip(versions, given, strict=True)}
    except ValueError as error:
        if isinstance(error, ServingError):
            raise
        raise ServingError(f"--weights {' '.join(given)}: expected numbers or VERSION=WEIGHT pairs") from error


def _summary(routing: Routing, settings: ServingSettings) -> dict[str, object]:
    return {
        **dataclasses.asdict(routing),
        "service_name": settings.service_name,
        "url": f"http://{settings.host}:{settings.port}/serve/{settings.endpoint}",
    }


def serve(settings: ServingSettings, environ: Mapping[str, str], *, access_log: bool = False) -> int:
    plane = find_plane(settings)
    if plane is None:
        raise ServingError(
            f"no control plane {settings.service_name!r} in {settings.service_project!r}: run `occuloop serving setup`"
        )
    env = dict(environ)
    env["CLEARML_SERVING_TASK_ID"] = plane.service_id
    env["CLEARML_SERVING_POLL_FREQ"] = f"{settings.poll_seconds / 60:.6f}"  # clearml-serving reads minutes
    env["CLEARML_SERVING_PORT"] = str(settings.port)
    env.setdefault("CLEARML_CONFIG_FILE", str(SDK_CONFIG))  # threads, not a forked reporter (see the file)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # oneDNN's kernels cost ~30 us more on one reading's tiny matmuls
    argv = [sys.executable, "-m", "serving.launch", "serving.app:app"]  # uvicorn's CLI inside the signal path
    argv += ["--host", settings.host, "--port", str(settings.port)]
    argv += ["--timeout-graceful-shutdown", str(DRAIN_SECONDS)]  # the shutdown contract (serving/app.py)
    if not access_log:
        argv.append("--no-access-log")
    url = f"http://{settings.host}:{settings.port}/serve/{settings.endpoint}"
    log_event(
        logger, "inference_app_starting", service_id=plane.service_id, url=url, poll_seconds=settings.poll_seconds
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # the app becomes this process: signals and exit codes are its own
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    from .settings import process_environment

    parser = argparse.ArgumentParser(prog="occuloop serving")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv), process_environment())
    except SettingsError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
