"""`occuloop server` (also `python -m services.clearml_server`): the command line of the embedded server."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence

from ..logs import configure_logging
from ..settings import ServerSettings, SettingsError, absolute_path, process_environment, with_flags
from ..shutdown import defer_stop_signals

DESCRIPTION = """\
Run the embedded ClearML-compatible server: the ClearML REST API and a file server in one process,
with all state in SQLite (WAL) and files under the data dir. The real clearml SDK, clearml-agent and
clearml-serving talk to it over HTTP, unchanged. Its web UI is `occuloop ui`: with --web-host (the UI's URL)
CLEARML_WEB_HOST points there and the API port redirects the SDK's "results page" links to it.

On start it prints the four CLEARML_* variables a client needs and writes them to <data-dir>/clearml.env.
Without configured keys, a key pair is generated on first start and kept in <data-dir>/credentials.env.
SIGTERM or SIGINT stops it cleanly: no new requests are accepted, requests in flight finish.
Every acknowledged write survives a crash or kill -9 (and, with --fsync, a power loss)."""

EPILOG = """\
environment (flags win):
  OCCULOOP_DATA_DIR            --data-dir
  OCCULOOP_SERVER_HOST         --host
  OCCULOOP_API_PORT            --api-port
  OCCULOOP_FILES_PORT          --files-port
  OCCULOOP_SERVER_ACCESS_KEY   --access-key
  OCCULOOP_SERVER_SECRET_KEY   --secret-key
  OCCULOOP_SERVER_PUBLIC_HOST  --public-host
  OCCULOOP_SERVER_WEB_HOST     --web-host
  OCCULOOP_SERVER_FSYNC        --fsync (true/false)
  OCCULOOP_FILES_AUTH          --no-files-auth sets it false
  OCCULOOP_LOG_FORMAT          text | json
  OCCULOOP_LOG_LEVEL           DEBUG | INFO | WARNING | ERROR

example:
  occuloop server --data-dir /tmp/clearml
  eval "$(grep ^CLEARML_ /tmp/clearml/clearml.env | sed 's/^/export /')"
  python -c "from clearml import Task; Task.init('demo', 'hello').close()"
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--data-dir", type=absolute_path, help="state directory (default .occuloop/server)")
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--api-port", type=int, help="API port (default 8008; 0 picks a free port)")
    parser.add_argument("--files-port", type=int, help="file server port (default 8081; 0 picks a free port)")
    parser.add_argument("--access-key", help="accept this access key (with --secret-key) instead of a generated pair")
    parser.add_argument("--secret-key", help="the secret key that goes with --access-key")
    parser.add_argument("--public-host", help="host name to print in the CLEARML_* URLs (default: the bind host)")
    parser.add_argument("--web-host", help="the UI's URL (occuloop ui): CLEARML_WEB_HOST and web-path redirects")
    parser.add_argument("--fsync", action="store_true", default=None, help="fsync every commit and upload")
    parser.add_argument("--no-files-auth", action="store_true", help="serve files without checking the token")


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> ServerSettings:
    settings = ServerSettings.from_env(environ)
    overrides = {
        "data_dir": args.data_dir,
        "host": args.host,
        "api_port": args.api_port,
        "files_port": args.files_port,
        "access_key": args.access_key,
        "secret_key": args.secret_key,
        "public_host": args.public_host,
        "web_host": args.web_host,
        "durable": args.fsync,
    }
    settings = with_flags(settings, **overrides)
    if args.no_files_auth:
        settings = dataclasses.replace(settings, files_auth=False)
    return settings.validate()


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from .app import serve  # imported here: `occuloop --help` must not open anything

    settings = settings_from(args, environ)
    configure_logging(settings.log)
    return serve(settings, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    defer_stop_signals()  # a SIGTERM during start-up stops it cleanly once it serves
    parser = argparse.ArgumentParser(prog="occuloop server")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args, process_environment())
    except SettingsError as error:
        parser.error(str(error))


if __name__ == "__main__":
    sys.exit(main())
