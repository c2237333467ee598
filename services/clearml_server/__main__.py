"""`occuloop server` (also `python -m services.clearml_server`): the command line of the embedded server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from ..logs import configure_logging
from ..setting import add_flag, add_flags, given_flags
from ..settings import ServerSettings, SettingsError, environment_epilog, process_environment, with_flags
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

EXAMPLE = """\
example:
  occuloop server --data-dir /tmp/clearml
  eval "$(grep ^CLEARML_ /tmp/clearml/clearml.env | sed 's/^/export /')"
  python -c "from clearml import Task; Task.init('demo', 'hello').close()"
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = environment_epilog(ServerSettings, clearml=False) + "\n" + EXAMPLE
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_flags(
        parser,
        ServerSettings,
        data_dir="--data-dir",
        host="--host",
        api_port="--api-port",
        files_port="--files-port",
        access_key="--access-key",
        secret_key="--secret-key",
        public_host="--public-host",
        web_host="--web-host",
    )
    add_flag(parser, ServerSettings, "durable", "--fsync", const=True)
    add_flag(
        parser,
        ServerSettings,
        "files_auth",
        "--no-files-auth",
        const=False,
        help="serve files without checking the token",
    )


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> ServerSettings:
    return with_flags(ServerSettings.from_env(environ), **given_flags(args, ServerSettings)).validate()


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
