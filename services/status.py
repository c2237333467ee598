"""`occuloop status`: the loop's state at any time — dataset versions, training runs, gate decisions, the
champion, queue depths and the health of the local services. Reads the server named by `--data-dir` (the demo's
embedded server, while it runs) or by the standard CLEARML_* variables."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping

from . import http_client
from .clearml_server.app import read_env_file
from .loop_state import Api, StateError, holdout_accuracy, read
from .settings import CanarySettings, SyncSettings, TriggerSettings, UiSettings, absolute_path

SERVICES = {  # on their default ports (services/settings.py); the UI answers /healthz, not /status
    "sync": f"http://127.0.0.1:{SyncSettings.http_port}/status",
    "trigger": f"http://127.0.0.1:{TriggerSettings.http_port}/status",
    "rollout": f"http://127.0.0.1:{CanarySettings.http_port}/status",
    "ui": f"http://127.0.0.1:{UiSettings.port}/healthz",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.add_argument("--data-dir", type=absolute_path, help="a demo data dir (uses its server/clearml.env)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _health(url: str) -> str:
    answer = http_client.get(url, timeout=3)
    if answer.status is None:
        return "not running"
    return str((answer.json_object() or {}).get("state", "up"))


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    source = dict(environ)
    if args.data_dir is not None:
        source.update(read_env_file(args.data_dir / "server" / "clearml.env"))
    missing = [
        key for key in ("CLEARML_API_HOST", "CLEARML_API_ACCESS_KEY", "CLEARML_API_SECRET_KEY") if not source.get(key)
    ]
    if missing:
        print(f"occuloop status: set {', '.join(missing)} or pass --data-dir")
        return 2
    api = Api(source["CLEARML_API_HOST"], source["CLEARML_API_ACCESS_KEY"], source["CLEARML_API_SECRET_KEY"])
    try:
        state = read(api)
    except StateError as error:
        print(f"occuloop status: {error}")
        return 1
    services = dict(SERVICES)
    ports_file = args.data_dir / "demo.json" if args.data_dir is not None else None
    if ports_file is not None and ports_file.exists():  # the demo's services, on the ports it chose
        ports = json.loads(ports_file.read_text())
        services = {
            name: url.replace(url.split("/")[2], f"127.0.0.1:{ports[name]}")
            for name, url in SERVICES.items()
            if name in ports
        }
    health = {name: _health(url) for name, url in services.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "versions": len(state.versions),
                    "runs": len(state.runs),
                    "champion": state.champion,
                    "queues": state.queues,
                    "services": health,
                }
            )
        )
        return 0
    print(f"server {source['CLEARML_API_HOST']}")
    print("dataset versions:")
    for version in state.versions:
        run = state.run_for(version.dataset_id)
        model = state.models.get(run.model_id or "") if run else None
        decision = state.decision_for(run.model_id if run else None)
        print(
            f"  {version.version or '-':8} {version.status:10} {','.join(version.tags) or '-':12} "
            f"run {run.run_id[:12] + ' ' + run.status if run else '-':22} acc {holdout_accuracy(model):8} "
            f"gate {decision.decision if decision else '-':12} {version.sessions}"
        )
    champion = state.models.get(state.champion or "")
    print(f"champion: {state.champion or 'none'} (holdout accuracy {holdout_accuracy(champion)})")
    print("queues:   " + ", ".join(f"{name} {depth}" for name, depth in state.queues.items()))
    print("services: " + ", ".join(f"{name} {value}" for name, value in health.items()))
    return 0
