"""`occuloop services-agent`: the one clearml-agent in services mode that runs the sync, trigger and rollout as
ClearML service tasks, as the chart's `services.mode: agent` pod and `occuloop demo --agent-services` run it.

Every start, before the agent pulls anything:
1. the services queue is created if missing;
2. the service tasks that this agent's previous run left in progress (kill -9, an evicted pod: nobody runs them
   any more) are marked stopped, and tasks of services it no longer runs are archived (registry.take_back);
3. each service is registered with the settings of this environment (registry.register: unchanged settings
   change nothing, so values edited in the UI survive; a stopped task is enqueued again; changed settings
   replace the task). So install, upgrade and every restart leave exactly one task per service, running.
Then `clearml-agent daemon --services-mode` runs them with this interpreter (no virtualenv, no pip, no checkout).

SIGTERM (the pod stops): the agent itself would kill its tasks at once, so this process first sends SIGTERM to
each service task's process, which stops within its own bound (services/shutdown.py: the sync finalizes what it
holds), and only then stops the agent. If the agent dies on its own, the services are stopped the same way and
this process exits 1, so Kubernetes restarts it (and step 2 takes the tasks back).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from .logs import configure_logging, log_event
from .rollout.remote import SPEC as ROLLOUT
from .service_tasks.registry import ensure_queue, register, take_back
from .service_tasks.spec import ServiceTaskSpec
from .settings import ServiceTaskSettings, SettingsError, with_flags
from .shutdown import run_until_signalled
from .sync.remote import SPEC as SYNC
from .trigger.remote import SPEC as TRIGGER

logger = logging.getLogger(__name__)

SPECS: dict[str, ServiceTaskSpec] = {spec.name: spec for spec in (SYNC, TRIGGER, ROLLOUT)}
SERVICES_STOP_SECONDS = 35.0  # the services stop in parallel, each within its own bound (at most 30 s) ...
AGENT_STOP_SECONDS = 8.0  # ... then the agent
SHUTDOWN_BOUND_SECONDS = SERVICES_STOP_SECONDS + AGENT_STOP_SECONDS + 2.0
WATCH_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
AGENT = Path(sys.executable).parent / "clearml-agent"
IDLE_POLL_LINES = (b"No tasks in queue ", b"No tasks in Queues, sleeping")


class AgentExited(RuntimeError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[0] if __doc__ else ""
    parser.epilog = (
        "environment (flags win): OCCULOOP_SERVICES_QUEUE (occuloop-services), OCCULOOP_SERVICES_WORKER_ID "
        "(occuloop-services-agent), OCCULOOP_SERVICES (sync,trigger,rollout), OCCULOOP_SERVICES_PROJECT "
        "(occuloop/services), OCCULOOP_SERVICES_STOP_SECONDS (90), each service's own variables (its settings), "
        "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC (the agent's poll, 5 s) and the CLEARML_* variables of the server."
    )
    parser.add_argument("--queue", help="the services queue (default occuloop-services)")
    parser.add_argument("--worker-id", help="the agent's worker id; keep it across restarts")
    parser.add_argument("--services", help="comma-separated: which services to run (default sync,trigger,rollout)")


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> ServiceTaskSettings:
    services = tuple(item.strip() for item in args.services.split(",") if item.strip()) if args.services else None
    unknown = sorted(set(services or ()) - set(SPECS))
    if unknown:
        raise SettingsError(f"--services: unknown {', '.join(unknown)} (known: {', '.join(SPECS)})")
    return with_flags(
        ServiceTaskSettings.from_env(environ), queue=args.queue, worker_id=args.worker_id, services=services
    )


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    configure_logging(settings.log)
    code = run_until_signalled(
        "services_agent", lambda stop: supervise(settings, environ, stop), bound_seconds=SHUTDOWN_BOUND_SECONDS
    )
    log_event(logger, "services_agent_stopped", exit_code=code)
    return code


def prepare(settings: ServiceTaskSettings, environ: Mapping[str, str]) -> None:
    """Steps 1-3 of the docstring: the queue, the tasks a killed run left behind, one registered task per service."""
    ensure_queue(settings.queue)
    take_back(settings.project, settings.queue, settings.worker_id, settings.services)
    for name in settings.services:
        spec = SPECS[name]
        register(
            spec,
            spec.settings_type.from_env(environ),
            settings.queue,
            settings.project,
            stop_seconds=settings.stop_seconds,
        )


def supervise(settings: ServiceTaskSettings, environ: Mapping[str, str], stop: threading.Event) -> None:
    backoff = 1.0
    while True:  # the server may come up after this pod: retried with backoff, like every service
        try:
            prepare(settings, environ)
            break
        except SettingsError:
            raise  # a bad value in the environment: retrying cannot fix it
        except Exception as error:
            log_event(
                logger,
                "services_agent_setup_failed",
                level=logging.WARNING,
                retry_in_seconds=backoff,
                error=str(error)[:300],
            )
            if stop.wait(backoff):
                return
            backoff = min(2 * backoff, MAX_BACKOFF_SECONDS)
    if not stop.is_set():
        run_agent(settings, environ, stop)


def run_agent(settings: ServiceTaskSettings, environ: Mapping[str, str], stop: threading.Event) -> None:
    """clearml-agent in services mode until `stop`; then the services, then the agent. Raises AgentExited when
    the agent ended by itself."""
    # A temporary directory of this start's own: clearml-agent keeps a pid file per worker id in it and refuses to
    # start when the pid it names exists, which after a container restart (/tmp is an emptyDir that survives it,
    # and pids start over) can be any process.
    scratch = tempfile.mkdtemp(prefix="occuloop-services-agent-")
    agent = subprocess.Popen(
        [str(AGENT), "daemon", "--services-mode", "--queue", settings.queue, "--foreground", "--cpu-only"],
        env={
            **environ,
            "CLEARML_WORKER_ID": settings.worker_id,
            "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",  # the image's interpreter runs the tasks: no venv, no pip
            "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
            "TMPDIR": scratch,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    threading.Thread(target=_relay, args=(agent,), name="agent-output", daemon=True).start()
    log_event(
        logger,
        "services_agent_started",
        queue=settings.queue,
        worker=settings.worker_id,
        services=",".join(settings.services),
        pid=agent.pid,
    )
    modules = tuple(SPECS[name].module for name in settings.services)
    services: dict[int, Any] = {}
    while not stop.wait(WATCH_SECONDS) and agent.poll() is None:
        services.update(_service_processes(agent.pid, modules))  # remembered: they outlive an agent that dies
    _stop_services(list(services.values()) + list(_service_processes(agent.pid, modules).values()))
    code = _stop_agent(agent)
    shutil.rmtree(scratch, ignore_errors=True)
    if not stop.is_set():
        raise AgentExited(f"clearml-agent exited by itself (exit code {code}); its service tasks were stopped")


def _relay(agent: subprocess.Popen[bytes]) -> None:
    """The agent's output to ours, without the two lines it prints on every empty poll of its queue."""
    assert agent.stdout is not None
    for line in agent.stdout:
        if not line.startswith(IDLE_POLL_LINES):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()


def _service_processes(agent_pid: int, modules: tuple[str, ...]) -> dict[int, Any]:
    """The processes of the service tasks under the agent (`python -m services.<name>.remote`)."""
    try:
        below = psutil.Process(agent_pid).children(recursive=True)
    except psutil.Error:
        return {}
    found = {}
    for process in below:
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if any(module in command for module in modules):
            found[process.pid] = process
    return found


def _stop_services(processes: list[Any]) -> None:
    """SIGTERM to each service task's process (the shutdown contract), then wait for them all."""
    alive = []
    for process in {process.pid: process for process in processes}.values():
        try:
            if process.is_running():
                process.send_signal(signal.SIGTERM)
                alive.append(process)
        except psutil.Error:
            continue
    if not alive:
        return
    log_event(logger, "services_stopping", pids=",".join(str(process.pid) for process in alive))
    _, left = psutil.wait_procs(alive, timeout=SERVICES_STOP_SECONDS)
    for process in left:
        log_event(logger, "service_stop_overran", level=logging.WARNING, pid=process.pid)


def _stop_agent(agent: subprocess.Popen[bytes]) -> int:
    if agent.poll() is None:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(AGENT_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            agent.kill()
    return int(agent.wait())
