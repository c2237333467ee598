"""`occuloop demo` — the whole retraining loop on one machine, on the embedded server.

It starts, as separate processes with their own logs, what a cluster runs: `occuloop server`, a clearml-agent on
the training queue (no virtualenv, no pip), the sync, the trigger and the canary controller (as processes, or with
--agent-services as ClearML service tasks under `occuloop services-agent`), the inference app and the web UI
(`occuloop ui`). Then it plays the UCI data in as
labeling sessions, day by day: the first day alone (too little data: the gate refuses it), one session delivered
with flipped labels (quarantined, then delivered again corrected), then the rest. For each session it shows the
dataset version, the training run, the holdout accuracy, the gate's decision and the champion, and it ends with a
summary and where the state lives. Ctrl-C stops everything cleanly; running it again resumes where it stopped
(`--reset` starts over). `occuloop status` shows the loop's state at any time.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from training.params import FAST_OVERRIDES
from training.schema import EXAMPLE_READING
from training.sessions import holdouts, training_sessions

from . import demo_services, http_client
from .child_processes import (
    Child,
    ChildFailed,
    EmbeddedServer,
    inherited_environment,
    spawn,
    start_embedded_server,
    tail,
)
from .logs import configure_logging
from .loop_state import Api, LoopState, StateError, accuracy_with_ci, holdout_accuracy, read, receipt
from .settings import (
    CanarySettings,
    LogSettings,
    ServerSettings,
    ServingSettings,
    SyncSettings,
    TriggerSettings,
    UiSettings,
    absolute_path,
)
from .sync.replay import deliver

logger = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_DATA_DIR = Path(".occuloop")
STEP_TIMEOUT_SECONDS = 900.0
PROGRESS_FILE = "demo-progress.json"
INTERRUPTED_FILE = "demo-interrupted-tasks.json"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Step:
    day: str
    corrupt: str | None = None  # deliver the day damaged (it must be quarantined)


# --fast buys speed with fewer epochs only: measured forward (BENCHMARKS.md, "Forward"), its models answer every later
# day exactly like the default's, for every seed and N = 2..13, in about two thirds of the fit time
FAST_HELP = "at most 8 epochs (training/params.py FAST_OVERRIDES): the same forward accuracy as the default, measured"


def plan(count: int) -> list[Step]:
    """The first day alone, then the second day with flipped labels, then corrected, then the rest in order."""
    days = [session.name for session in training_sessions()][: max(1, count)]
    steps = [Step(days[0])]
    if len(days) > 1:
        steps += [Step(days[1], corrupt="flipped"), Step(days[1])]
    return steps + [Step(day) for day in days[2:]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--data-dir", type=absolute_path, default=str(DEFAULT_DATA_DIR), help="where all state lives (%(default)s)"
    )
    parser.add_argument(
        "--sessions", type=int, default=14, help="how many daily labeling sessions to play (%(default)s)"
    )
    parser.add_argument("--fast", action="store_true", help=FAST_HELP)
    parser.add_argument("--reset", action="store_true", help="delete the data dir first and start over")
    ports = (  # the services' own default ports (services/settings.py)
        ("--api-port", ServerSettings.api_port, "API port of the embedded server"),
        ("--files-port", ServerSettings.files_port, "file server port"),
        ("--sync-port", SyncSettings.http_port, "the sync service's HTTP port"),
        ("--trigger-port", TriggerSettings.http_port, "the trigger service's HTTP port"),
        ("--serving-port", ServingSettings.port, "the inference app's port"),
        ("--rollout-port", CanarySettings.http_port, "the canary controller's HTTP port"),
        ("--ui-port", UiSettings.port, "the web UI's port"),
    )
    for flag, default, meaning in ports:
        parser.add_argument(flag, type=int, default=default, help=f"{meaning} (%(default)s)")
    parser.add_argument("--keep-running", action="store_true", help="leave everything running until Ctrl-C")
    parser.add_argument(
        "--agent-services",
        action="store_true",
        help="run sync, trigger and rollout as ClearML service tasks under `occuloop services-agent` (the chart's "
        "services.mode=agent) instead of as processes",
    )


class Loop:
    """The processes of the loop, started and watched; any that dies is reported with its last log lines."""

    def __init__(
        self,
        data_dir: Path,
        server: EmbeddedServer,
        env: dict[str, str],
        fast: bool,
        ports: dict[str, int],
        agent_services: bool = False,
    ) -> None:
        if not data_dir.is_absolute():  # children run in it: a relative path would mean another place to them
            raise ValueError(f"the demo's data dir must be absolute, not {data_dir}")
        self.data_dir = data_dir
        self.ports = ports
        (data_dir / "demo.json").write_text(json.dumps(ports))  # for `occuloop status --data-dir`
        self.logs = data_dir / "logs"
        self.server = server
        self.env = env
        self.fast = fast
        self.agent_services = agent_services
        self._next_task_check = 0.0
        self._started_at = datetime.now(UTC)
        self.children: dict[str, Child] = {}
        self.traffic: Traffic | None = None
        self.api = Api(server.api_url, env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ui']}"

    def start_ui(self) -> None:
        """The web UI first, so that the URL printed at the start answers while the rest comes up."""
        self._spawn(
            "ui",
            [
                sys.executable,
                "-m",
                "services.cli",
                "ui",
                "--port",
                str(self.ports["ui"]),
                "--poll-seconds",
                "2",
                *(f"--{name}-url=http://127.0.0.1:{self.ports[name]}" for name in ("sync", "trigger", "rollout")),
            ],
        )
        self.wait("the web UI", lambda: _get(f"{self.ui_url}/healthz") is not None, 90)

    def start(self) -> None:
        if not self.api.call("queues.get_all", {"name": "^training$"})["queues"]:
            self.api.call("queues.create", {"name": "training"})
        self._requeue_interrupted()
        agent_env = {
            "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1",  # run tasks with this interpreter: no venv, no pip
            "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL": sys.executable,
            "CLEARML_AGENT_QUEUE_POLL_FREQ_SEC": "1",
            "OCCULOOP_GATE_ON_PASS": "canary",  # the gate tasks the agent runs hand passing models to the canary
        }
        self._spawn(
            "agent",
            [str(BIN / "clearml-agent"), "daemon", "--queue", "training", "--foreground", "--cpu-only"],
            agent_env,
        )
        template = ",".join(f"General/{key}={value}" for key, value in self.template_parameters().items())
        environments = demo_services.environments(self.inbox, self.ports, template, self.env)
        if self.agent_services:  # one clearml-agent in services mode runs the three as ClearML service tasks
            agent = [sys.executable, "-m", "services.cli", "services-agent", "--services", "sync,trigger,rollout"]
            self._spawn("services-agent", agent, demo_services.agent_environment(environments))
        else:
            for name in demo_services.SERVICES:
                self._spawn(name, [sys.executable, "-m", "services.cli", name], environments[name])
        self.wait(
            "the serving control plane",
            lambda: self.api.call("tasks.get_all", {"name": "^occuloop serving$", "only_fields": ["id"]})["tasks"],
            120,
        )
        self._spawn(
            "serving",
            [sys.executable, "-m", "services.cli", "serving", "run", "--port", str(self.ports["serving"])],
            {"OCCULOOP_SERVING_POLL_SECONDS": "1"},
        )
        started = 180 if self.agent_services else 90  # service tasks start one after the other
        self.wait(
            "the sync service", lambda: _get(f"http://127.0.0.1:{self.ports['sync']}/healthz") is not None, started
        )
        self.wait(
            "the trigger service",
            lambda: "template_task_id" in (_get(f"http://127.0.0.1:{self.ports['trigger']}/status") or {}),
            started,
        )
        self.wait("the agent", lambda: bool(self.api.call("workers.get_all", {}).get("workers")), 90)
        self.wait("the inference app", lambda: _status_of(self.serving_url) is not None, 180)
        self.traffic = Traffic(self.serving_url)
        threading.Thread(target=self.traffic.run, name="users", daemon=True).start()

    def template_parameters(self) -> dict[str, Any]:
        """What every training run of the demo is told: hand its model to the gate; with --fast, the training
        parameters of a quick look (training/params.py FAST_OVERRIDES, measured in BENCHMARKS.md "Forward")."""
        return {"gate_queue": "training", **(FAST_OVERRIDES if self.fast else {})}

    @property
    def serving_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['serving']}/serve/occupancy"

    @property
    def inbox(self) -> Path:
        return self.data_dir / "inbox"

    def service_log(self, name: str) -> str:
        if self.agent_services:
            return f"the console of the ClearML task 'occuloop {name}' (copied to {self.logs / f'{name}.log'} at exit)"
        return str(self.logs / f"{name}.log")

    def _spawn(self, name: str, argv: list[str], extra: Mapping[str, str] | None = None) -> None:
        self.children[name] = spawn(
            name, argv, log_path=self.logs / f"{name}.log", env={**self.env, **(extra or {})}, cwd=self.data_dir
        )
        logger.info("event=demo_process_started process=%s log=%s", name, self.logs / f"{name}.log")

    def check(self) -> None:
        for name, child in self.children.items():
            if not child.alive():
                raise ChildFailed(
                    f"{name} exited ({child.process.returncode}); its last lines:\n{tail(child.log_path)}"
                )
        if not self.server.child.alive():
            raise ChildFailed(f"the server exited; its last lines:\n{tail(self.server.child.log_path)}")
        if self.agent_services and time.monotonic() >= self._next_task_check:
            self._next_task_check = time.monotonic() + 5.0
            failed = demo_services.failed_task(self.api, self._started_at)
            if failed:
                raise ChildFailed(failed)

    def wait(self, what: str, predicate: Callable[[], T | None], timeout: float) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise ChildFailed(f"timed out after {timeout:.0f} s waiting for {what}")

    def stop(self) -> None:
        if self.traffic is not None:
            self.traffic.stop.set()
        # the sync first: it finalizes its batch (the services agent stops the three, the sync among them)
        for name in ("services-agent", "sync", "trigger", "rollout", "serving", "agent", "ui"):
            child = self.children.get(name)
            if child is None:
                continue
            if name == "agent":
                self._record_interrupted()
            child.stop(timeout=60)
            if name == "services-agent":
                demo_services.save_consoles(self.api, self.logs)

    # A training run or gate task that the agent was running when the demo stopped is killed with the agent and
    # stays in progress for ever; the next start puts it back on the queue (the same task: still one run per
    # version), so that a session interrupted in the middle resumes instead of waiting for a run that never ends.
    @property
    def _interrupted_file(self) -> Path:
        return self.data_dir / INTERRUPTED_FILE

    def _record_interrupted(self) -> None:
        try:
            workers = self.api.call("workers.get_all", {}).get("workers") or []
        except (OSError, StateError):
            return  # the server is gone: nothing can be recorded, nor requeued later
        running = [
            str(worker["task"]["id"])
            for worker in workers
            if (worker.get("task") or {}).get("id") and ":service:" not in str(worker.get("id"))  # a service task
        ]
        if running:
            self._interrupted_file.write_text(json.dumps(running))
            logger.info("event=demo_tasks_interrupted tasks=%s", ",".join(running))

    def _requeue_interrupted(self) -> None:
        if not self._interrupted_file.exists():
            return
        for task_id in json.loads(self._interrupted_file.read_text()):
            found = self.api.call("tasks.get_all", {"id": [task_id], "only_fields": ["id", "status"]})["tasks"]
            if not found or found[0].get("status") not in ("in_progress", "stopped"):
                continue  # finished after all, or already queued again
            self.api.call("tasks.reset", {"task": task_id, "force": True})
            self.api.call("tasks.enqueue", {"task": task_id, "queue_name": "training"})
            logger.info("event=demo_task_requeued task_id=%s reason=interrupted_by_the_demo_stopping", task_id)
        self._interrupted_file.unlink()


class Traffic:
    """The building's sensors: one reading at a time, about 40 a second, drawn at random from the pinned holdout
    (random, so that champion and canary see the same mix of day and night within a short window)."""

    def __init__(self, url: str) -> None:
        from training.schema import FEATURES

        self.url = url
        frame = holdouts()["test1"]
        self.readings = [{name: float(row[name]) for name in FEATURES} for _, row in frame.iterrows()]
        random.Random(0).shuffle(self.readings)
        self.stop = threading.Event()
        self.answers: list[int] = []

    def run(self) -> None:
        index = 0
        while not self.stop.wait(0.025):
            status = _status_of(self.url, self.readings[index % len(self.readings)])
            self.answers.append(status or 0)
            index += 1


def _status_of(url: str, reading: dict[str, Any] | None = None) -> int | None:
    """The HTTP status of one prediction request (None: nothing listens)."""
    return http_client.post(url, json_body=reading or EXAMPLE_READING, timeout=10).status


def _get(url: str) -> dict[str, Any] | None:
    answer = http_client.get(url, timeout=5)
    return answer.json_object() if answer.ok else None


def _press_upload(url: str) -> dict[str, Any]:
    answer = http_client.post(f"{url}/sync?wait=120", timeout=150)
    if not answer.ok:
        raise RuntimeError(f"the sync's upload button: {answer.detail()}")
    return answer.json_object() or {}


COLUMNS = (
    "session",
    "version",
    "rows",
    "validation",
    "training run",
    "holdout acc % [95% CI] (vs champion)",
    "gate",
    "champion",
)
WIDTHS = (21, 7, 5, 32, 12, 44, 62, 12)


def _row(values: tuple[str, ...]) -> str:
    return "  ".join(str(value)[:width].ljust(width) for value, width in zip(values, WIDTHS, strict=True))


class DeliveryLost(ChildFailed):
    """A delivered session yielded neither a dataset version nor a quarantine entry: the demo must not go on as if
    it had (issue 14: a sync watching another folder answered "nothing to sync" to every upload)."""


@dataclass(frozen=True)
class Intake:
    """What became of one delivered session: a version (dataset_id set), a quarantine (reasons set), or, when the
    upload button's wait ran out, a version still being finalized (neither set)."""

    dataset_id: str | None = None
    version: str = "-"
    rows: str = "-"
    reasons: tuple[str, ...] = ()


def intake_of(answer: Mapping[str, Any], new_reasons: list[str] | None, *, day: str, sync_log: Path | str) -> Intake:
    """The outcome of pressing "upload" after delivering `day`: the sync's answer, and the reasons of a quarantine
    entry written for it since the delivery (None: none was). Anything else is a lost delivery, named loudly."""
    status = answer.get("status")
    if status == "synced" and answer.get("dataset_id"):
        return Intake(str(answer["dataset_id"]), str(answer.get("version")), str(answer.get("rows")))
    if new_reasons is not None:
        return Intake(reasons=tuple(new_reasons) or ("rejected",))
    if status == "finalizing":
        return Intake()
    raise DeliveryLost(
        f"session {day} was delivered, but the sync answered {status!r} and quarantined nothing: it did not see "
        f"the file. Read the sync's log: {sync_log}"
    )


def _reason_stamp(path: Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def _version_with(state: LoopState, day: str) -> Any:
    return next((v for v in state.versions if f"{day}.csv" in v.sessions.split(", ") and v.completed), None)


def take_in(loop: Loop, step: Step) -> Intake:
    """Deliver one session as the labeling tool would and press "upload" — unless the loop already took it in
    before an interrupt, in which case it is followed from where it is."""
    reason_file = loop.inbox / "quarantine" / f"{step.day}.csv.reason.json"
    taken = _version_with(read(loop.api), step.day)
    if step.corrupt and reason_file.exists():
        return Intake(reasons=tuple(json.loads(reason_file.read_text())["reasons"]))
    if not step.corrupt and taken is not None:
        return Intake(taken.dataset_id, taken.version)
    before = _reason_stamp(reason_file)  # a corrected delivery follows the quarantined one of the same day
    deliver(loop.inbox, days=[step.day], corrupt={step.day: step.corrupt} if step.corrupt else None)
    answer = _press_upload(f"http://127.0.0.1:{loop.ports['sync']}")
    quarantined = _reason_stamp(reason_file) not in (None, before)
    reasons = json.loads(reason_file.read_text())["reasons"] if quarantined else None
    intake = intake_of(answer, reasons, day=step.day, sync_log=loop.service_log("sync"))
    if intake.dataset_id is None and not intake.reasons:  # still finalizing when the button's wait ran out
        version = loop.wait(f"the version of {step.day}", lambda: _version_with(read(loop.api), step.day), 300)
        intake = Intake(version.dataset_id, version.version)
    return intake


def play(loop: Loop, step: Step) -> tuple[str, ...]:
    """One session through the loop: its intake, then its training run, gate and canary, as one table row."""
    label = f"{step.day}" + (f" ({step.corrupt})" if step.corrupt else "")
    intake = take_in(loop, step)
    if intake.dataset_id is None:
        return (label, "-", "-", f"quarantined: {','.join(intake.reasons)}", "-", "-", "never trained", "-")
    answer = {"version": intake.version, "rows": intake.rows}
    dataset_id = intake.dataset_id

    def finished() -> LoopState | None:
        state = read(loop.api)
        run = state.run_for(dataset_id)
        if run is None or run.status not in ("completed", "failed", "stopped"):
            return None
        if run.status != "completed":
            return state
        decision = state.decision_for(run.model_id)
        if decision is None:
            return None  # the gate task runs after the training run
        if decision.decision == "gate_passed" and state.decision_for(run.model_id, ("promoted", "rolled_back")) is None:
            return None  # a passed model goes through the canary: wait until it is promoted or rolled back
        return state

    state = loop.wait(f"the training run and gate of {dataset_id}", finished, STEP_TIMEOUT_SECONDS)
    run = state.run_for(dataset_id)
    assert run is not None
    decision = state.decision_for(run.model_id)
    if run.status != "completed" or decision is None:
        gate, scores = "training refused", "-"
    else:
        found = receipt(loop.api, decision)
        models = found.get("models") or {}
        scores = accuracy_with_ci(models.get("challenger"))
        if models.get("champion"):
            scores += f" vs {accuracy_with_ci(models.get('champion'))}"
        verdict = "passed" if decision.decision == "gate_passed" else "refused"
        gate = f"{verdict}: {found.get('rule', '?')}"
        if decision.decision == "gate_passed":
            ended = state.decision_for(run.model_id, ("promoted", "rolled_back"))
            canary = "-> champion" if ended and ended.decision == "promoted" else "rolled back"
            gate = f"{gate}; canary {canary}"
    return (
        label,
        str(answer.get("version")),
        str(answer.get("rows")),
        "accepted" if not step.corrupt else "accepted: the damage was NOT caught",
        run.run_id[:12],
        scores,
        gate,
        (state.champion or "-")[:12],
    )


def ask_endpoint(loop: Loop, champion: str) -> tuple[str, dict[str, Any]]:
    """One prediction from the public `occupancy` endpoint, once it answers with the champion (the canary
    controller routes it there); returns the URL and the answer, which names the model and data behind it."""

    def answer() -> dict[str, Any] | None:
        value = http_client.post(loop.serving_url, json_body=EXAMPLE_READING, timeout=10).json_object()
        return value if value is not None and value.get("model_id") == champion else None

    return loop.serving_url, loop.wait("the endpoint to answer with the champion", answer, 120)


def _summary(loop: Loop, state: LoopState) -> str:
    root = loop.data_dir.resolve()
    final = [version for version in state.versions if version.status in ("completed", "published")]
    champion = state.models.get(state.champion or "")
    return f"""
occuloop demo — done
  dataset versions  {len(final)} finalized ({sum(1 for v in final if "Production" in v.tags)} Production)
  training runs     {len(state.runs)} ({sum(1 for r in state.runs if r.status == "completed")} completed)
  gate decisions    {", ".join(f"{kind} {sum(1 for d in state.decisions if d.decision == kind)}" for kind in ("gate_passed", "gate_failed", "promoted", "rolled_back"))}
  champion          {state.champion or "none yet"}  (holdout accuracy {holdout_accuracy(champion)})
  queues            {", ".join(f"{name}: {depth}" for name, depth in state.queues.items())}

Where the state lives (everything is under {root}):
  server/            the embedded ClearML server: SQLite + files (clearml.env has its CLEARML_* variables)
  inbox/             the labeling inbox; inbox/quarantine/ holds rejected sessions with their .reason.json
  logs/              one log per process: server, agent, sync, trigger, rollout, serving, ui (with --agent-services:
                     services-agent, and the service tasks' consoles copied at exit)
  client-home/       the SDK's cache
Look again any time: occuloop status --data-dir {root}
Start over: make demo DEMO_ARGS=--reset
"""


def _progress(data_dir: Path) -> list[str]:
    path = data_dir / PROGRESS_FILE
    return list(json.loads(path.read_text())) if path.exists() else []


def step_key(index: int, step: Step) -> str:
    return f"{index}:{step.day}:{step.corrupt or ''}"


def observed(steps: list[Step], done: list[str], state: LoopState, quarantine: Path) -> list[str]:
    """The recorded steps whose outcome the server and the inbox still show: a progress file is a cache, and a
    step it names without a trace (a server directory deleted, a progress file from an older run) is played again."""
    kept = []
    for index, step in enumerate(steps):
        key = step_key(index, step)
        if key not in done:
            continue
        if step.corrupt:
            seen = (quarantine / f"{step.day}.csv.reason.json").exists()
        else:
            version = _version_with(state, step.day)
            seen = version is not None and state.run_for(version.dataset_id) is not None
        if seen:
            kept.append(key)
    return kept


def _record(data_dir: Path, done: list[str]) -> None:
    (data_dir / PROGRESS_FILE).write_text(json.dumps(done))


def _interrupt(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    configure_logging(LogSettings.from_env(environ))
    # Ctrl-C and SIGTERM stop everything cleanly, also when started from a shell that ignores SIGINT for background
    # jobs (Python would then leave it ignored)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    data_dir = absolute_path(args.data_dir)  # once, before any child starts with its own working directory
    if args.reset and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = start_embedded_server(
            data_dir / "server",
            env=inherited_environment(environ),
            api_port=args.api_port,
            files_port=args.files_port,
            log_path=data_dir / "logs" / "server.log",
            extra_args=["--web-host", f"http://127.0.0.1:{args.ui_port}"],  # the SDK's links lead to the UI
        )
    except ChildFailed as error:
        print(f"occuloop demo: the server did not start (port {args.api_port} or {args.files_port} taken?)\n{error}")
        return 1
    env = inherited_environment(environ, HOME=str((data_dir / "client-home").resolve()), **server.client_env)
    loop = Loop(
        data_dir,
        server,
        env,
        args.fast,
        {
            "sync": args.sync_port,
            "trigger": args.trigger_port,
            "rollout": args.rollout_port,
            "serving": args.serving_port,
            "ui": args.ui_port,
        },
        agent_services=args.agent_services,
    )
    steps = plan(args.sessions)
    done = _progress(data_dir)
    code = 0
    try:
        how = "as ClearML service tasks under the services agent" if args.agent_services else "as processes"
        print(
            f"occuloop demo: starting the server, agents, and sync, trigger and rollout {how} "
            f"(logs in {(data_dir / 'logs').resolve()})"
        )
        loop.start_ui()
        print(f"occuloop demo: watch the loop in a browser at {loop.ui_url}/", flush=True)
        loop.start()
        kept = observed(steps, done, read(loop.api), loop.inbox / "quarantine")
        if len(kept) < len(done):
            print(f"{len(done) - len(kept)} recorded sessions left no trace on the server: playing them again")
            done = kept
            _record(data_dir, done)
        if len(done) == len(steps):
            print(
                f"nothing to play: all {len(steps)} sessions were already played, nothing changes "
                "(make demo DEMO_ARGS=--reset starts over)"
            )
        elif done:
            print(f"resuming: {len(done)} of {len(steps)} sessions already played")
        if len(done) < len(steps):
            print(_row(COLUMNS))
        for index, step in enumerate(steps):
            key = step_key(index, step)
            if key in done:
                continue
            row = play(loop, step)
            done.append(key)
            _record(data_dir, done)
            print(_row(row), flush=True)
        state = read(loop.api)
        print(_summary(loop, state))
        if state.champion:
            print(f"The champion in the web UI: {loop.ui_url}/projects/*/models/{state.champion}/general")
            url, answer = ask_endpoint(loop, state.champion)
            body = json.dumps(EXAMPLE_READING)
            print(f"The endpoint (clearml-serving inference app, log in {loop.logs / 'serving.log'}):")
            print(f"  curl -s {url} -H 'Content-Type: application/json' -d '{body}'")
            print(f"  {json.dumps(answer)}")
        if args.keep_running:
            print("Everything keeps running; Ctrl-C stops it.")
            while True:
                loop.check()
                time.sleep(2)
    except ChildFailed as error:
        print(f"occuloop demo failed: {error}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping every process cleanly; `make demo` resumes from here", file=sys.stderr)
        code = 130
    finally:
        loop.stop()
        server.child.stop()
    return code
