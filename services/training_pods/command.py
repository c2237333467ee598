"""`python -m services.training_pods` (or an `occuloop training-pods` subcommand): glue, record and probes."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Mapping

from ..logs import configure_logging
from ..settings import LogSettings, absolute_path
from ..shutdown import run_until_signalled

logger = logging.getLogger(__name__)

RECORDER_BOUND_SECONDS = 20.0  # SIGTERM to exit: the round in progress (a few API calls and task writes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Training pods on Kubernetes: the clearml-agent k8s glue and the pod-log recorder."
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    glue = actions.add_parser("glue", help="run the clearml-agent k8s glue on a queue with a pod template")
    glue.add_argument("--queue", required=True)
    glue.add_argument("--namespace", required=True)
    glue.add_argument("--template", type=absolute_path, required=True, help="pod template YAML (the chart's ConfigMap)")
    glue.add_argument("--max-pods", type=int, default=2)
    record = actions.add_parser("record", help="copy finished training pods' reason, events and logs to their tasks")
    record.add_argument("--namespace", required=True)
    record.add_argument("--log-lines", type=int, default=200)
    record.add_argument("--poll-seconds", type=float, default=10.0)
    record.add_argument("--heartbeat", type=absolute_path, help="touched after every successful round (liveness probe)")
    record.add_argument("--kubeconfig", help="outside a cluster: the kubeconfig file to use")
    alive = actions.add_parser("worker-alive", help="probe: exit 0 if the ClearML server lists this worker")
    alive.add_argument("--worker-id", required=True)
    beat = actions.add_parser("heartbeat-ok", help="probe: exit 0 if the heartbeat file is fresh")
    beat.add_argument("--heartbeat", type=absolute_path, required=True)
    beat.add_argument("--max-age", type=float, default=120.0)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.action == "heartbeat-ok":
        from .recorder import heartbeat_fresh

        return 0 if heartbeat_fresh(args.heartbeat, args.max_age) else 1
    if args.action == "worker-alive":
        from .sink import ClearMLConsoleSink

        return 0 if ClearMLConsoleSink().worker_registered(args.worker_id) else 1
    configure_logging(LogSettings.from_env(environ))
    if args.action == "glue":
        from .glue import run_glue

        return run_glue(queue=args.queue, namespace=args.namespace, template=args.template, max_pods=args.max_pods)
    from .kube import KubeApi, connect
    from .recorder import run as run_recorder
    from .sink import ClearMLConsoleSink

    logger.info("recording finished training pods in namespace %s every %.0f s", args.namespace, args.poll_seconds)

    def work(stop: threading.Event) -> None:
        run_recorder(
            KubeApi(connect(args.kubeconfig), args.namespace),
            ClearMLConsoleSink(),
            tail_lines=args.log_lines,
            poll_seconds=args.poll_seconds,
            heartbeat=args.heartbeat,
            stop=stop,
        )

    return run_until_signalled("recorder", work, bound_seconds=RECORDER_BOUND_SECONDS)


def main(argv: list[str] | None = None) -> int:
    from ..settings import process_environment

    parser = argparse.ArgumentParser(prog="python -m services.training_pods")
    add_arguments(parser)
    return run(parser.parse_args(argv), process_environment())


if __name__ == "__main__":
    sys.exit(main())
