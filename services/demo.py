"""`occuloop demo` — the embedded server and a real ClearML Dataset + Task flow on the shipped data, locally.

Until the full retraining loop exists (sync, trigger, agent, gate, canary), the demo does what can already run:
it starts `occuloop server` as its own process, registers the UCI training file as a dataset version, runs a
Task that reads that version back and scores the Light-rule baseline, and then says where every piece of state
lives. A second run reuses the dataset version (nothing is duplicated); `--reset` starts from nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from .child_processes import ChildFailed, EmbeddedServer, inherited_environment, spawn, start_embedded_server, tail
from .logs import configure_logging
from .settings import LogSettings

logger = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(".occuloop")
RESULT_PREFIX = "RESULT "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="where all demo state lives (default .occuloop)"
    )
    parser.add_argument("--reset", action="store_true", help="delete the data dir first and start over")
    parser.add_argument("--api-port", type=int, default=8008, help="API port of the embedded server (default 8008)")
    parser.add_argument("--files-port", type=int, default=8081, help="file server port (default 8081)")
    parser.add_argument("--keep-running", action="store_true", help="leave the server running until Ctrl-C")


def _run_step(name: str, argv: list[str], env: Mapping[str, str], logs: Path) -> dict[str, object]:
    """Run one client step as its own process; its RESULT line is the outcome."""
    child = spawn(name, argv, log_path=logs / f"{name}.log", env=env)
    code = child.process.wait()
    if code != 0:
        raise child.failure(f"failed with exit code {code}")
    for line in reversed(child.log_path.read_text(errors="replace").splitlines()):
        if line.startswith(RESULT_PREFIX):
            return dict(json.loads(line[len(RESULT_PREFIX) :]))
    raise child.failure("printed no RESULT line")


def _explain(
    server: EmbeddedServer, data_dir: Path, look: Mapping[str, object], registered: Mapping[str, object]
) -> str:
    root = data_dir.resolve()
    dataset_note = "new version" if registered["dataset_created"] else "reused: same data as last run"
    return f"""
occuloop demo — done
  dataset version   {registered["dataset_id"]}  ({dataset_note})
  task              {look["task_id"]}  "first look" in project occuloop
  rows              {look["rows"]}  (occupied {float(str(look["occupied_share"])):.1%})
  Light > 364.5     {float(str(look["light_rule_accuracy"])):.2%} accuracy on the training file

Where the state lives (everything is under {root}):
  server/occuloop-server.sqlite3   tasks, datasets, models, queues, events (SQLite, WAL)
  server/files/                    uploaded dataset chunks and artifacts
  server/clearml.env               the CLEARML_* variables of this server
  logs/                            one log per process (server.log, register-data.log, first-look.log)
  client-home/                     the SDK's cache (dataset local copies)

Explore it: occuloop server --data-dir {root / "server"}   (then use the clearml SDK with clearml.env)
Start over: make demo DEMO_ARGS=--reset
Server API was {server.api_url}, files {server.files_url}. There is no web UI: the embedded server is API-only.
"""


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    configure_logging(LogSettings.from_env(environ))
    data_dir: Path = args.data_dir
    if args.reset and data_dir.exists():
        shutil.rmtree(data_dir)
        logger.info("event=demo_reset data_dir=%s", data_dir.resolve())
    logs = data_dir / "logs"
    try:
        server = start_embedded_server(
            data_dir / "server",
            env=inherited_environment(environ),
            api_port=args.api_port,
            files_port=args.files_port,
            log_path=logs / "server.log",
        )
    except ChildFailed as error:
        print(
            f"occuloop demo: the server did not start (is port {args.api_port} or {args.files_port} taken?)\n{error}",
            file=sys.stderr,
        )
        return 1
    logger.info("event=demo_server_started api_url=%s data_dir=%s", server.api_url, (data_dir / "server").resolve())
    client_env = inherited_environment(environ, HOME=str((data_dir / "client-home").resolve()), **server.client_env)
    try:
        registered = _run_step(
            "register-data", [sys.executable, "-m", "training.first_look", "register"], client_env, logs
        )
        logger.info(
            "event=demo_dataset_ready dataset_id=%s created=%s", registered["dataset_id"], registered["dataset_created"]
        )
        look = _run_step(
            "first-look",
            [sys.executable, "-m", "training.first_look", "analyze", "--dataset-id", str(registered["dataset_id"])],
            client_env,
            logs,
        )
        logger.info(
            "event=demo_task_completed task_id=%s light_rule_accuracy=%s", look["task_id"], look["light_rule_accuracy"]
        )
        print(_explain(server, data_dir, look, registered))
        if args.keep_running:
            print("The server keeps running; Ctrl-C stops it.")
            server.child.process.wait()
    except ChildFailed as error:
        print(f"occuloop demo failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; stopping the server cleanly", file=sys.stderr)
    finally:
        code = server.child.stop()
        if code != 0:
            print(f"the server exited with {code}; its log:\n{tail(server.child.log_path)}", file=sys.stderr)
    return 0
