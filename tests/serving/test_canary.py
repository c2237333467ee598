"""The canary controller (`occuloop rollout`) for real: `occuloop server`, tiny trained models, clearml-serving's
inference app started by `occuloop serving run`, and a request loop standing in for the users.

In file order: the champion (promoted by `occuloop promote`) serves at 100 % because the controller routes it; a
healthy challenger tagged `canary` goes 10 -> 50 -> 100 % and is promoted; a challenger whose package does not load
is rolled back automatically while the champion keeps answering; `occuloop rollback` reaches serving within seconds;
a controller killed with -9 mid-ramp resumes at the step the routing shows, without taking a step twice; once a
labeling session brings the labels of the minutes served, a challenger trained on inverted labels is rolled back on
live accuracy.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from services.child_processes import Child
from services.rollout.controller import SHUTDOWN_BOUND_SECONDS as ROLLOUT_BOUND
from services.serving_command import DRAIN_SECONDS
from tests.serving.test_endpoint import OCCULOOP, SERVICE, _flow, _free_port
from tests.support.clients import Clients
from tests.support.signals import wait_until_it_catches_sigterm
from tests.support.traffic import Traffic

pytestmark = pytest.mark.contract
SERVING_BOUND = DRAIN_SECONDS + 10.0  # README "Shutdown": the drain, then the app's own shutdown (serving/app.py)

CONTROLLER_ENV = {
    "OCCULOOP_SERVING_METRICS_SECONDS": "1",
    "OCCULOOP_SERVING_LOG_RATE": "0",
    "OCCULOOP_CANARY_POLL_SECONDS": "0.5",
    "OCCULOOP_CANARY_WINDOW_SECONDS": "3",
    "OCCULOOP_CANARY_MIN_REQUESTS": "10",
    "OCCULOOP_CANARY_SILENCE_SECONDS": "6",  # the app polls routing every 1 s, reports every 1 s
    "OCCULOOP_CANARY_MAX_P99_MS": "1000",  # two shared cores: the test is about the ramp, not the latency bar
    "OCCULOOP_CANARY_MAX_RATE_SHIFT": "1",  # off: 3-epoch networks disagree wildly (unit-tested in test_canary_rules)
    "OCCULOOP_CANARY_PROBE_SECONDS": "8",
    "OCCULOOP_CANARY_LABELS_SECONDS": "1",
    "OCCULOOP_CANARY_MIN_LABELED": "10",
    "OCCULOOP_CANARY_MAX_ACCURACY_DROP": "0.1",  # the labels arrive in the last test: an inverted network
    "OCCULOOP_ROLLOUT_PORT": "0",
}


@dataclass
class Rig:
    clients: Clients
    models: dict[str, str]  # seed-1, seed-2, broken, flipped -> model id
    probe_csv: str  # the labels of the minutes the traffic asks about, as a labeling-session file
    traffic: Traffic
    controller: Child
    app: Child | None = None
    app_argv: tuple[str, ...] = ()

    def log(self) -> str:
        return self.controller.log_path.read_text()

    def events(self, event: str, model_id: str) -> list[str]:
        return [
            line for line in self.log().splitlines() if f"event={event} " in line and f" model_id={model_id}" in line
        ]

    def wait_event(self, event: str, model_id: str, timeout: float = 90) -> str:
        def found() -> str | None:
            if not self.controller.alive():
                raise self.controller.failure("exited")
            lines = self.events(event, model_id)
            return lines[0] if lines else None

        return str(self.clients.api.wait_for(f"{event} of {model_id}", found, timeout=timeout, interval=0.2))

    def tag(self, model_id: str, state: str) -> None:
        tags = self.clients.api.ok("models.get_by_id", {"model": model_id})["model"].get("tags") or []
        states = {"candidate", "canary", "champion", "rejected", "retired"}
        self.clients.api.ok(
            "models.update", {"model": model_id, "tags": [t for t in tags if t not in states] + [state]}
        )

    def state(self, model_id: str) -> list[str]:
        return list(self.clients.api.ok("models.get_by_id", {"model": model_id})["model"].get("tags") or [])

    def spawn_controller(self, name: str) -> Child:
        self.controller = self.clients.spawn(name, [OCCULOOP, "rollout"], CONTROLLER_ENV)
        return self.controller

    def spawn_app(self, name: str = "inference") -> Child:
        self.app = self.clients.spawn(name, self.app_argv)
        return self.app

    def served_only(self, model_id: str, timeout: float = 30) -> float:
        """Seconds until 20 answers in a row come from `model_id`."""
        start = time.monotonic()

        def only() -> bool:
            recent = self.traffic.since(start)[-20:]
            return len(recent) == 20 and all(status == 200 and model == model_id for _, status, model in recent)

        self.clients.api.wait_for(f"serving to answer with {model_id} only", only, timeout=timeout, interval=0.1)
        return time.monotonic() - start


def _weights(lines: list[str]) -> list[float]:
    return [float(re.search(r" weight=([0-9.]+)", line).group(1)) for line in lines]  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def rig(clients: Clients) -> Iterator[Rig]:
    trained = _flow(clients, "tiny_models.py", "occuloop/training", "1,2")
    broken = _flow(clients, "broken_model.py", "occuloop/training")["model_id"]
    flipped = _flow(clients, "tiny_models.py", "occuloop/training", "3", "--flipped")["models"][0]["model_id"]
    models = {f"seed-{m['seed']}": m["model_id"] for m in trained["models"]} | {"broken": broken, "flipped": flipped}
    for model_id in models.values():  # as training leaves them
        clients.api.ok("models.update", {"model": model_id, "tags": ["candidate"]})
    clients.run([OCCULOOP, "promote", models["seed-1"], "--reason", "the first champion"], timeout=180)
    port = _free_port()
    CONTROLLER_ENV["OCCULOOP_CANARY_PROBE_URL"] = f"http://127.0.0.1:{port}"  # a new version answers before traffic
    traffic = Traffic(f"http://127.0.0.1:{port}/serve/occupancy", trained["readings"])
    controller = clients.spawn("rollout", [OCCULOOP, "rollout"], CONTROLLER_ENV)
    rig = Rig(clients, models, trained["probe_csv"], traffic, controller)
    rig.wait_event("champion_routed", models["seed-1"], timeout=60)  # the controller set up serving
    rig.app_argv = (OCCULOOP, "serving", *SERVICE, "run", "--port", str(port), "--poll-seconds", "1")
    rig.spawn_app()
    thread = threading.Thread(target=traffic.run, daemon=True)
    thread.start()
    try:
        rig.served_only(models["seed-1"], timeout=120)
        yield rig
    finally:
        traffic.stop.set()
        thread.join(10)
        assert rig.app is not None
        rig.app.stop()
        rig.controller.stop()
    assert "Traceback" not in rig.controller.log_path.read_text(), tail_of(rig.controller)


def tail_of(child: Child) -> str:
    return child.log_path.read_text()[-4000:]


def test_a_healthy_canary_ramps_10_50_100_and_becomes_champion(rig: Rig) -> None:
    challenger, champion = rig.models["seed-2"], rig.models["seed-1"]
    started = time.monotonic()
    rig.tag(challenger, "canary")
    rig.clients.api.wait_for("the canary's first answer", lambda: any(m == challenger for _, _, m in rig.traffic.since(started)),
                             timeout=30, interval=0.1)  # fmt: skip
    first_answer = time.monotonic() - started
    promoted = rig.wait_event("promoted", challenger, timeout=120)
    ramp_seconds = time.monotonic() - started
    assert _weights(rig.events("canary_step", challenger)) == [0.1, 0.5, 1.0]
    assert len(rig.events("canary_healthy", challenger)) == 3
    assert "rule=canary" in promoted and f"previous_model_id={champion}" in promoted and "dataset_id=" in promoted
    assert "champion" in rig.state(challenger) and "retired" in rig.state(champion)
    rig.served_only(challenger)
    during = rig.traffic.since(started)
    assert {status for _, status, _ in during} == {200}, "no request failed during a healthy ramp"
    print(f"canary answered {first_answer:.1f} s after it was tagged; promoted after {ramp_seconds:.1f} s")


def test_a_canary_that_fails_to_load_is_rolled_back_and_the_champion_keeps_answering(rig: Rig) -> None:
    broken, champion = rig.models["broken"], rig.models["seed-2"]
    started = time.monotonic()
    rig.tag(broken, "canary")
    line = rig.wait_event("rolled_back", broken, timeout=90)
    rolled_back = time.monotonic() - started
    assert "rule=canary:probe" in line and f"champion_model_id={champion}" in line
    assert "rejected" in rig.state(broken) and "champion" in rig.state(champion)
    settled = rig.served_only(champion)
    during = rig.traffic.since(started)
    failed = sum(1 for _, status, _ in during if status != 200)
    assert failed == 0, (failed, len(during))  # the probe caught it: no user request ever reached it
    receipts = rig.clients.api.ok("tasks.get_all", {"name": f"^rolled_back {broken}$", "only_fields": ["id", "status"]})
    assert [task["status"] for task in receipts["tasks"]] == ["published"]
    print(f"broken canary: rolled back {rolled_back:.1f} s after it was tagged, serving only the champion "
          f"{settled:.1f} s later; {failed} of {len(during)} requests failed meanwhile")  # fmt: skip


def test_occuloop_rollback_reaches_serving_within_seconds(rig: Rig) -> None:
    started = time.monotonic()
    rig.clients.run([OCCULOOP, "rollback", "--reason", "contract test"], timeout=180)
    decided = time.monotonic() - started
    seconds = rig.served_only(rig.models["seed-1"], timeout=120)  # how soon: the rollout benchmark (BENCHMARKS.md)
    print(f"rollback: decision {decided:.1f} s, then serving answered with the older model {seconds:.1f} s later")


def test_a_controller_killed_mid_ramp_resumes_without_taking_a_step_twice(rig: Rig) -> None:
    challenger = rig.models["seed-2"]  # rejected by the rollback above; an operator sends it to the canary again
    rig.tag(challenger, "canary")

    def at_half() -> bool:
        return 0.5 in _weights(rig.events("canary_step", challenger))

    before = len(rig.events("canary_step", challenger))
    rig.clients.api.wait_for("the 50 % step", lambda: at_half() and len(rig.events("canary_step", challenger)) >=
                             before + 2, timeout=60, interval=0.1)  # fmt: skip
    first = rig.controller
    first.kill()
    second = rig.spawn_controller("rollout-resumed")
    resumed = rig.wait_event("canary_resumed", challenger, timeout=60)
    assert " weight=0.5 " in resumed
    rig.wait_event("promoted", challenger, timeout=120)
    assert _weights(rig.events("canary_step", challenger)) == [1.0]  # in the resumed controller's log
    assert "champion" in rig.state(challenger)
    assert second.alive()


def test_a_canary_wrong_about_minutes_labeled_later_is_rolled_back_on_live_accuracy(rig: Rig) -> None:
    flipped, champion = rig.models["flipped"], rig.models["seed-2"]
    # The traffic has been asking about the probe minutes all along; now a labeling session brings their labels.
    labels = _flow(rig.clients, "labels_version.py", rig.probe_csv)["dataset_id"]
    started = time.monotonic()
    rig.tag(flipped, "canary")
    line = rig.wait_event("rolled_back", flipped, timeout=90)
    assert "rule=canary:live_accuracy" in line and f"champion_model_id={champion}" in line, line
    assert rig.events("canary_step", flipped), "it got traffic: its answers are what the labels judged"
    loaded = [entry for entry in rig.log().splitlines() if "event=live_labels_loaded" in entry]
    assert loaded and f"dataset_id={labels}" in loaded[-1] and "minutes=48" in loaded[-1], loaded
    assert "rejected" in rig.state(flipped) and "champion" in rig.state(champion)
    rig.served_only(champion)
    assert {status for _, status, _ in rig.traffic.since(started)} == {200}
    receipt_task = rig.clients.api.ok("tasks.get_all", {"name": f"^rolled_back {flipped}$", "only_fields": ["id"]})
    assert len(receipt_task["tasks"]) == 1
    print(f"inverted canary rolled back on live accuracy {time.monotonic() - started:.1f} s after it was tagged: "
          f"{line.split('reason=', 1)[-1]}")  # fmt: skip


def test_sigterm_at_any_moment_of_a_ramp_stops_the_controller_and_the_app_cleanly(rig: Rig) -> None:
    """README "Shutdown", for the two processes a ramp runs through: SIGTERMs at seeded random moments (start-up, a
    probe, a step, a judged window, idle), interleaved with kill -9, to the controller and to the inference app. Each
    exits 0 within its bound; the ramp still ends in one decision, no step is taken twice, and serving answers with
    the model the registry names champion. The seed is printed; OCCULOOP_STRESS_SEED replays it."""
    seed = int(os.environ.get("OCCULOOP_STRESS_SEED") or random.SystemRandom().randrange(1_000_000))
    rng = random.Random(seed)
    terms, kills = (12, 4) if os.environ.get("OCCULOOP_STRESS") == "1" else (2, 1)  # `make stress`: the long one
    moves = [(victim, move) for victim in ("rollout", "serving") for move in ["term"] * terms + ["kill"] * kills]
    rng.shuffle(moves)
    challenger = rig.models["seed-1"]  # retired by the kill test's promotion; an operator sends it to the canary
    assert rig.controller.stop() == 0
    rig.spawn_controller("rollout-sigterm")  # one log for every start below: the steps are counted across them
    rig.tag(challenger, "canary")
    stops: list[str] = []
    for victim, move in moves:
        child = rig.controller if victim == "rollout" else rig.app
        assert child is not None
        wait_until_it_catches_sigterm(child)
        time.sleep(rng.uniform(0, 4))
        if move == "kill":
            child.kill()
        else:
            bound = ROLLOUT_BOUND if victim == "rollout" else SERVING_BOUND
            started = time.monotonic()
            code = child.stop(timeout=bound + 15)
            elapsed = time.monotonic() - started
            assert code == 0 and elapsed <= bound, (
                f"{victim}: exit {code} after {elapsed:.1f} s (seed {seed})\n" + tail_of(child)
            )
            stops.append(f"{victim} {elapsed:.1f} s")
        rig.spawn_controller("rollout-sigterm") if victim == "rollout" else rig.spawn_app()
    rig.clients.api.wait_for(
        "the ramp's decision",
        lambda: rig.events("promoted", challenger) or rig.events("rolled_back", challenger),
        timeout=180,
        interval=0.5,
    )
    decision = "promoted" if rig.events("promoted", challenger) else "rolled back"
    steps = _weights(rig.events("canary_step", challenger))
    assert steps == sorted(set(steps)), f"a step taken twice: {steps} (seed {seed})"
    champions = [name for name, model in rig.models.items() if "champion" in rig.state(model)]
    assert len(champions) == 1, champions
    rig.served_only(rig.models[champions[0]], timeout=120)
    print(f"seed {seed}: {', '.join(stops)}; steps {steps}; {decision}; champion {champions[0]}")
