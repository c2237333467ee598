"""`occuloop rollout`: the canary controller. It makes serving follow the champion pointer and ramps models tagged
`canary` (a passed gate with OCCULOOP_GATE_ON_PASS=canary) through the steps, judging live health at each one.

Every poll (`poll_seconds`, 1 s) it reads the pointer, the canary-tagged models, the serving routing and the live
metrics (during a ramp also the minutes each version served and, every `labels_seconds`, whether a newer labeled
dataset version brought those minutes' labels: live_accuracy.py), and then:

- a ramp in progress: judge the current window (canary_rules.judge, one function per rule); healthy: next step (`event=canary_step`), or
  after the last step `Rollout.promote` (receipt, pointer, old champion retired; `event=promoted`); unhealthy:
  weights back to the champion at 100 %, a `rolled_back` receipt with the window's evidence, the model tagged
  `rejected` (`event=rolled_back reason=...`);
- a model tagged `canary` and no ramp: register it as a version and start at the first step;
- otherwise: if the champion pointer's model is not served at 100 %, register it and route everything to it (so
  `occuloop promote` and `occuloop rollback` reach serving within a poll or two).

Nothing about a ramp lives only in this process. The step is the canary's weight in the control plane, the ramp's
subject is the `canary` tag, and a rollback in progress is the model's metadata `canary_progress=rolling_back`.
After a restart (kill -9 included) the controller resumes at the step the weights show and judges it on a fresh
full window before moving on: a step is never skipped or taken twice. One controller per control plane (writes
are read-modify-write); run a single replica.

What it talks to are Protocols (seams.py): the serving plane, the registry, the promoter and the label source,
with the clock injected, so tests/services/test_canary_controller.py runs `tick()` on fakes of them. The loop
around `tick()` is services/polling.py's: a failed tick is logged (`event=rollout_step_failed`) and retried after
a backoff of 1 s doubling up to 30 s, the ramp then re-read from the server; GET /status says `backoff` meanwhile.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from training.schema import EXAMPLE_READING

from .. import http_client
from ..http_base import ServiceHandler, serve_beside, serve_until_signalled
from ..logs import configure_logging, log_event, quoted
from ..polling import Loop, Status, Stop
from ..service_tasks.command import add_remote_argument, register_remote
from ..setting import add_flags, given_flags
from ..settings import CanarySettings, environment_epilog, with_flags
from . import receipts
from .canary_rules import HEALTHY, UNHEALTHY, Counters, Window, judge, same_weights, step_index, weights_for
from .decisions import Rollout
from .live_accuracy import ServedMinutes, Tally
from .live_labels import DatasetLabels
from .metrics import GATE_RECEIPTS_SECONDS, RolloutMetrics
from .receipts import DecidedBy, PointerMove
from .registry import Registry, RolloutError
from .seams import CanaryRegistry, LabelSource, Promoter, ServingPlane
from .states import CHAMPION, REJECTED, ModelRecord, model_fields

if TYPE_CHECKING:
    from serving.endpoints import Routing

logger = logging.getLogger(__name__)

# SIGTERM to exit: the tick in progress (a gate or one canary step: a few server calls), then the SDK's flush
SHUTDOWN_BOUND_SECONDS = 30.0

WAIT_LOG_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 30.0  # failed ticks (the server away) are retried after 1, 2, 4, ... up to this many seconds


@dataclass
class Ramp:
    model_id: str
    version: int
    steps: tuple[float, ...]
    index: int
    started: float  # monotonic time the window started
    canary_base: Counters
    champion_base: Counters
    champion_version: int | None
    worst_p99: float | None = None
    last_requests: int = 0
    reference_rate: float | None = None  # the champion's occupied share in the last window it had traffic
    passed: list[dict[str, Any]] = field(default_factory=list)  # evidence of the steps passed
    last_wait_log: float = 0.0
    health: dict[str, str] = field(default_factory=dict)  # the latest window's verdict, rule and reason

    @property
    def weight(self) -> float:
        return self.steps[self.index]


class Controller:
    def __init__(
        self,
        settings: CanarySettings,
        plane: ServingPlane,
        registry: CanaryRegistry,
        rollout: Promoter,
        decided_by: DecidedBy,
        *,
        labels: LabelSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.plane = plane
        self.registry = registry
        self.rollout = rollout
        self.decided_by = decided_by
        self.clock = clock
        self.ramp: Ramp | None = None
        self._records: dict[str, ModelRecord] = {}
        self.served = ServedMinutes()
        self._served_next_read = 0.0
        self.metrics = RolloutMetrics()
        self._gate_next_count = 0.0
        self.labels = labels or DatasetLabels(
            settings.labels_project, settings.labels_name, settings.labels_seconds, clock=clock
        )
        self.loop = Loop(
            "rollout",
            self.tick,
            interval=settings.poll_seconds,
            most_backoff=MAX_BACKOFF_SECONDS,
            status=Status(),
            on_failure=self._forget_ramp,
            log=logger,
            clock=clock,
            failures=self.metrics.step_failures,
        )

    def status(self) -> dict[str, Any]:
        """For GET /status: what the controller is doing right now."""
        if self.loop.backoff.failing:
            return self.loop.status.snapshot()  # backoff, the error, when it retries
        ramp = self.ramp
        if ramp is None:
            return {"state": "following_champion"}
        return {
            "state": "canary",
            "model_id": ramp.model_id,
            "version": ramp.version,
            "weight": ramp.weight,
            "step": f"{ramp.index + 1}/{len(ramp.steps)}",
            "window": ramp.health,
        }

    # -- reading ------------------------------------------------------------------------------------------------

    def _record(self, model_id: str) -> ModelRecord:
        if model_id not in self._records:
            self._records[model_id] = self.registry.model(model_id)
        return self._records[model_id]

    def _fields(self, model_id: str | None, prefix: str = "") -> dict[str, Any]:
        return model_fields(self._record(model_id) if model_id else None, prefix)

    def _version_of(self, routing: Routing, model_id: str | None) -> int | None:
        if not model_id:
            return None
        for number, served in routing.versions.items():
            if served == model_id:
                return int(number)
        return None

    # -- the loop -----------------------------------------------------------------------------------------------

    def run(self, stop: Stop) -> None:
        log_event(
            logger,
            "rollout_ready",
            service_id=self.plane.service_id,
            endpoint=self.plane.endpoint,
            steps=",".join(f"{s:g}" for s in self.settings.steps),
            window_seconds=self.settings.window_seconds,
            poll_seconds=self.settings.poll_seconds,
        )
        self.loop.run(stop)

    def _forget_ramp(self) -> None:
        """After a failed tick: re-read everything from the server next time (it holds the ramp's state)."""
        self.ramp = None

    def tick(self) -> None:
        try:
            self._tick()
        finally:
            ramp = self.ramp
            if ramp is None:
                self.metrics.ramp(0, 0, 0.0)
            else:
                self.metrics.ramp(ramp.version, ramp.index + 1, ramp.weight)
        if self.clock() >= self._gate_next_count:
            self._gate_next_count = self.clock() + GATE_RECEIPTS_SECONDS
            try:
                self.metrics.gate(self.registry.gate_receipts())
            except Exception as error:  # a metric must never stop the canary: the gauge keeps its last count
                log_event(logger, "gate_receipts_unread", level=logging.WARNING, error=str(error))

    def _tick(self) -> None:
        pointer = self.registry.pointer.read()
        routing = self.plane.current_routing()
        canaries = self.registry.canaries()  # newest first
        if pointer.model_id in canaries:  # promoted meanwhile (or a crash between pointer move and retag)
            self.registry.set_state(self._record(pointer.model_id), CHAMPION, pointer.decision_id or "")
            canaries.remove(pointer.model_id)
            if self.ramp is not None and self.ramp.model_id == pointer.model_id:
                self.ramp = None
        if self.ramp is not None and self.ramp.model_id not in canaries:
            log_event(
                logger,
                "canary_abandoned",
                level=logging.WARNING,
                model_id=self.ramp.model_id,
                detail="no longer tagged canary",
            )
            self.ramp = None
        if self.ramp is None and canaries:
            self.ramp = self._start_or_resume(canaries, pointer.model_id, routing)
        if self.ramp is not None:
            self._advance(self.ramp, pointer.model_id, routing)
            return
        self._follow_champion(pointer.model_id, routing)

    def _follow_champion(self, champion: str | None, routing: Routing) -> None:
        if not champion:
            return
        version = self._version_of(routing, champion)
        if version is not None and same_weights(routing.weights, {version: 1.0}):
            return
        started = self.clock()
        if version is None:
            version = self.plane.register_version(champion)
        self.plane.set_canary({version: 1.0})
        self.metrics.decisions.labels(decision="champion_routed", rule="pointer").inc()
        log_event(
            logger,
            "champion_routed",
            **self._fields(champion),
            version=version,
            seconds=round(self.clock() - started, 2),
        )

    # -- the ramp -----------------------------------------------------------------------------------------------

    def _start_or_resume(self, canaries: list[str], champion: str | None, routing: Routing) -> Ramp | None:
        routed = [m for m in canaries if routing.weights.get(self._version_of(routing, m) or -1, 0.0) > 0]
        model_id = (routed or canaries)[0]
        if self.registry.progress(model_id) == "rolling_back":  # a rollback was under way when the controller stopped
            champion_version = self._version_of(routing, champion)
            self._reject(model_id, champion, champion_version, "resumed", "finishing an interrupted rollback", {})
            return None
        steps = self.settings.steps if champion else (1.0,)  # the first model has nothing to share traffic with
        champion_version = self._version_of(routing, champion)
        if champion and champion_version is None:
            champion_version = self.plane.register_version(champion)
        version = self._version_of(routing, model_id)
        index = -1 if version is None else step_index(routing.weights.get(version, 0.0), steps)
        if version is None:
            version = self.plane.register_version(model_id)
        ramp = self._window(
            Ramp(model_id, version, steps, max(index, 0), 0.0, Counters(), Counters(), champion_version)
        )
        if index >= 0:
            self._log_step("canary_resumed", ramp, champion)
            return ramp
        failure = self._probe(version)
        if failure is not None:  # it cannot answer: no user request ever reaches it
            self._reject(model_id, champion, champion_version, "probe", failure, {"probe": failure})
            return None
        self.registry.set_progress(model_id, "ramping")
        self.plane.set_canary(weights_for(champion_version, version, ramp.weight))
        self._window(ramp)  # the first window starts with the canary's traffic, not before its probe
        self.metrics.decisions.labels(decision="canary_step", rule="probe").inc()
        self._log_step("canary_step", ramp, champion)
        return ramp

    def _probe(self, version: int) -> str | None:
        """Ask the new version on its own endpoint (`<endpoint>/<n>`, which users do not call) before it gets any
        traffic: None once it answers a reading, else the last failure when `probe_seconds` have passed."""
        if not self.settings.probe_url:
            return None
        url = f"{self.settings.probe_url.rstrip('/')}/serve/{self.settings.serving.endpoint}/{version}"
        deadline = time.monotonic() + self.settings.probe_seconds
        last = "no answer"
        while time.monotonic() < deadline:
            answer = http_client.post(url, json_body=EXAMPLE_READING, timeout=10)
            if answer.status == 200:
                return None
            last = answer.detail()
            time.sleep(0.5)
        logger.warning("event=canary_probe_failed version=%d detail=%s", version, quoted(last))
        return f"version {version} did not answer a reading within {self.settings.probe_seconds:g} s: {last}"

    def _window(self, ramp: Ramp) -> Ramp:
        """Start a fresh evaluation window at the ramp's current step."""
        metrics = self.plane.read_metrics()
        ramp.started = self.clock()
        ramp.canary_base = Counters.of(metrics.get(ramp.version))
        ramp.champion_base = Counters.of(metrics.get(ramp.champion_version)) if ramp.champion_version else Counters()
        ramp.last_requests = ramp.canary_base.requests
        ramp.worst_p99 = None
        return ramp

    def _advance(self, ramp: Ramp, champion: str | None, routing: Routing) -> None:
        read_at = self.clock()  # the window ends when its counters were read, not after slower reads that follow
        champion_version = self._version_of(routing, champion)
        if champion_version != ramp.champion_version:  # the pointer moved during the ramp (an operator)
            if champion and champion_version is None:
                champion_version = self.plane.register_version(champion)
            ramp.champion_version = champion_version
            ramp.champion_base = Counters.of(self.plane.read_metrics().get(champion_version or -1))
        wanted = weights_for(ramp.champion_version, ramp.version, ramp.weight)
        if not same_weights(routing.weights, wanted):  # someone changed the routing: put the step back
            self.plane.set_canary(wanted)
        metrics = self.plane.read_metrics()
        now = Counters.of(metrics.get(ramp.version))
        canary = now.since(ramp.canary_base)
        latest = metrics.get(ramp.version)
        if latest is not None and now.requests != ramp.last_requests and latest.latency_p99_ms is not None:
            ramp.worst_p99 = max(ramp.worst_p99 or 0.0, float(latest.latency_p99_ms))  # a new report
        ramp.last_requests = now.requests
        champ = None
        if ramp.champion_version is not None and ramp.weight < 1.0:
            champ = Counters.of(metrics.get(ramp.champion_version)).since(ramp.champion_base)
        canary_live, champion_live = self._live_tallies(ramp)
        self.metrics.live(canary_live, champion_live)
        window = Window(read_at - ramp.started, ramp.weight, canary, champ, ramp.worst_p99, canary_live, champion_live)
        health = judge(window, self.settings, ramp.reference_rate)
        ramp.health = {"verdict": health.verdict, "rule": health.rule, "reason": health.reason}  # for GET /status
        if health.verdict == UNHEALTHY:
            evidence = {**health.facts, "steps_passed": ramp.passed}
            self._reject(ramp.model_id, champion, ramp.champion_version, health.rule, health.reason, evidence)
            self.ramp = None
            return
        if health.verdict != HEALTHY:
            if self.clock() - ramp.last_wait_log >= WAIT_LOG_SECONDS:
                ramp.last_wait_log = self.clock()
                log_event(
                    logger,
                    "canary_waiting",
                    model_id=ramp.model_id,
                    weight=ramp.weight,
                    rule=health.rule,
                    detail=health.reason,
                )
            return
        log_event(
            logger,
            "canary_healthy",
            **self._fields(ramp.model_id),
            weight=ramp.weight,
            detail=health.reason,
            window=health.facts,
        )
        ramp.passed.append(health.facts)
        if champ is not None and champ.occupied_rate is not None and champ.readings >= self.settings.min_requests:
            ramp.reference_rate = champ.occupied_rate
        if ramp.index + 1 >= len(ramp.steps):
            self._promote(ramp, champion)
            self.ramp = None
            return
        ramp.index += 1
        self.plane.set_canary(weights_for(ramp.champion_version, ramp.version, ramp.weight))
        self._window(ramp)
        self.metrics.decisions.labels(decision="canary_step", rule=health.rule).inc()
        self._log_step("canary_step", ramp, champion)

    def _log_step(self, event: str, ramp: Ramp, champion: str | None) -> None:
        if event == "canary_step":
            self.registry.record_step(ramp.model_id, ramp.weight)
        log_event(
            logger,
            event,
            **self._fields(ramp.model_id),
            **self._fields(champion, "champion_"),
            version=ramp.version,
            weight=ramp.weight,
            step=f"{ramp.index + 1}/{len(ramp.steps)}",
        )

    def _live_tallies(self, ramp: Ramp) -> tuple[Tally, Tally]:
        """Canary and champion right answers on the served minutes whose labels have arrived (none: no labels)."""
        labels = self.labels.current()
        if not labels:
            return Tally(), Tally()
        if self.clock() >= self._served_next_read:  # the app writes them once per metrics interval
            self._served_next_read = self.clock() + max(
                self.settings.poll_seconds, self.settings.serving.metrics_seconds
            )
            for version, reports in self.plane.read_served_minutes().items():
                self.served.add(version, reports)
        return self.served.tally(ramp.version, labels), self.served.tally(ramp.champion_version, labels)

    # -- the two endings ----------------------------------------------------------------------------------------

    def _promote(self, ramp: Ramp, champion: str | None) -> None:
        steps = ", ".join(f"{step * 100:g} %" for step in ramp.steps)
        try:
            outcome = self.rollout.promote(
                ramp.model_id, f"canary healthy at {steps} of the traffic ({len(ramp.passed)} windows)", rule="canary"
            )
        except RolloutError as error:  # e.g. an operator made it champion meanwhile
            logger.warning("event=canary_promote_refused model_id=%s detail=%s", ramp.model_id, quoted(str(error)))
            return
        self.registry.set_progress(ramp.model_id, "done")
        self.metrics.decisions.labels(decision="promoted", rule="canary").inc()
        logger.info("event=canary_done model_id=%s outcome=promoted receipt=%s", ramp.model_id, outcome.receipt_id)

    def _reject(
        self,
        model_id: str,
        champion: str | None,
        champion_version: int | None,
        rule: str,
        reason: str,
        facts: dict[str, Any],
    ) -> None:
        started = self.clock()
        logger.info("event=rolling_back model_id=%s rule=canary:%s", model_id, rule)  # the decision; done below
        self.registry.set_progress(model_id, "rolling_back")
        if champion_version is not None:
            self.plane.set_canary({champion_version: 1.0})  # users first: the champion takes everything back
        routed = self.clock() - started
        record = self._record(model_id)
        champion_record = self._record(champion) if champion else None
        receipt = receipts.build(
            decision="rolled_back",
            decided_by=self.decided_by,
            rule=f"canary:{rule}",
            reason=reason,
            challenger=record,
            champion=champion_record,
            assessment=None,
            verdict=None,
            holdout=None,
            thresholds=self.settings.rollout.gate,
            pointer=PointerMove(champion, champion, None),
        )
        canary_settings = {
            k: v for k, v in dataclasses.asdict(self.settings).items() if k not in ("rollout", "serving")
        }
        receipt["canary"] = {"window": facts, "thresholds": canary_settings}
        task = self.registry.open_receipt("rolled_back", model_id)
        self.registry.seal_receipt(task, receipt, model_id)
        self.registry.set_state(record, REJECTED, str(task.id))
        self.registry.set_progress(model_id, "done")
        self.metrics.decisions.labels(decision="rolled_back", rule=f"canary:{rule}").inc()
        log_event(
            logger,
            "rolled_back",
            **self._fields(model_id),
            **self._fields(champion, "champion_"),
            rule=f"canary:{rule}",
            receipt=str(task.id),
            routed_back_seconds=round(routed, 2),
            reason=reason,
        )


# -- the command --------------------------------------------------------------------------------------------------


class RolloutHandler(ServiceHandler):
    post_hint = "GET /healthz"


class RolloutCommand:
    """`occuloop rollout [--once] [--poll-seconds S] [--window-seconds S] [--steps 10,50,100]`."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.description = (
            "The canary controller: serving follows the champion pointer; models tagged canary (a passed gate with "
            "OCCULOOP_GATE_ON_PASS=canary) are ramped through the steps on live health, then promoted or rolled back."
        )
        parser.epilog = environment_epilog(CanarySettings)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        add_flags(
            parser,
            CanarySettings,
            poll_seconds="--poll-seconds",
            window_seconds="--window-seconds",
            steps="--steps",
            http_port="--port",
        )
        add_remote_argument(parser)

    def run(self, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        settings = with_flags(CanarySettings.from_env(environ), **given_flags(args, CanarySettings))
        configure_logging(settings.rollout.log)
        if args.remote:
            from .remote import SPEC

            return register_remote(SPEC, settings, args.remote, environ)
        controller = controller_for(settings)
        if args.once:
            return 0 if controller.loop.attempt() else 1
        return serve_until_signalled(
            "rollout",
            settings.http_host,
            settings.http_port,
            RolloutHandler,
            controller,
            _started(settings),
            bound_seconds=SHUTDOWN_BOUND_SECONDS,
        )


def controller_for(settings: CanarySettings) -> Controller:
    """The controller on the serving control plane (created when missing) and the registry."""
    from ..serving_plane import ensure_plane  # clearml-serving: imported only when the controller runs

    plane = ensure_plane(settings.serving)
    who = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
    registry = Registry(settings.rollout)
    decided_by = DecidedBy("canary", who, "occuloop rollout")
    return Controller(settings, plane, registry, Rollout(registry, settings.rollout, decided_by), decided_by)


def serve(settings: CanarySettings, stop: threading.Event) -> None:
    """The controller until `stop` (the work of the ClearML service task, services/rollout/remote.py)."""
    controller = controller_for(settings)
    serve_beside(
        "rollout", settings.http_host, settings.http_port, RolloutHandler, controller, _started(settings), stop
    )


def _started(settings: CanarySettings) -> str:
    serving = settings.serving
    return f"serving={serving.service_name} endpoint={serving.endpoint} steps={','.join(map(str, settings.steps))}"


ROLLOUT = RolloutCommand()
