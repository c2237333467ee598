"""Benchmark of the canary controller's reaction times (issue 7), with every setting at its production default
(controller poll 1 s, inference app config poll 5 s, metrics every 5 s, 30 s windows):

  gate passed → canary takes traffic   the model is tagged `canary` (what a passed gate does with
                                       OCCULOOP_GATE_ON_PASS=canary) → the first user request it answers
                                       (version registered, app picks it up, probe answered, weights set)
  unhealthy → rollback complete        the controller decides to roll back (`event=rolling_back`) → the last user
                                       request the canary answers (weights back to the champion, app re-reads them)

One `occuloop server`, `occuloop rollout`, one inference app (`occuloop serving run`) and ~40 requests/s on the
public endpoint. The challenger is a tiny network trained on inverted labels: it answers fluently and wrongly, so
each round it takes traffic and the prediction-shift rule rolls it back; then it is tagged `canary` again for the
next round. (No labels are published here: with them, live accuracy would refuse the re-tagged model at once, on
the minutes it got wrong in the first round, before it takes any traffic.)
Stock clearml-serving re-reads its configuration every 5 minutes: expected wait 150 s, worst case 300 s, for a new
version as for a rollback by re-publishing.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from services.child_processes import Child, inherited_environment, start_embedded_server
from tests.benchmarks.loop_bench import STAMP, _when
from tests.benchmarks.serving_bench import _flow, _free_port
from tests.support.clients import BIN, Clients
from tests.support.traffic import Traffic

STOCK_SYNC_SECONDS = 300.0
STATES = {"candidate", "canary", "champion", "rejected", "retired"}


def _wait(what: str, predicate: Any, timeout: float, *children: Child) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if not child.alive():
                raise child.failure("exited")
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not within {timeout:g} s")


def _event_times(log: Path, event: str, model_id: str) -> list[float]:
    times = []
    for line in log.read_text().splitlines():
        match = STAMP.match(line)
        if match and f"event={event} " in line and f"model_id={model_id}" in line:
            times.append(_when(match.group(1)))
    return times


def run_all(folder: Path, quick: bool = False) -> dict[str, Any]:
    rounds = 2 if quick else 5
    server = start_embedded_server(folder / "server", env=inherited_environment(os.environ))
    clients = Clients(server, folder / "clients")
    children: list[Child] = []
    traffic: Traffic | None = None
    try:
        trained = _flow(clients, "tiny_models.py", "occuloop/training", "1")
        flipped = _flow(clients, "tiny_models.py", "occuloop/training", "2", "--flipped")["models"][0]["model_id"]
        champion = trained["models"][0]["model_id"]
        occuloop = str(BIN / "occuloop")
        clients.api.ok("models.update", {"model": flipped, "tags": ["candidate"]})
        clients.run([occuloop, "promote", champion, "--reason", "the benchmark's champion"], timeout=180)
        port = _free_port()
        env = {"OCCULOOP_CANARY_PROBE_URL": f"http://127.0.0.1:{port}", "OCCULOOP_ROLLOUT_PORT": "0"}
        controller = clients.spawn("rollout", [occuloop, "rollout"], env)
        children.append(controller)
        # the controller creates the serving control plane the app needs, then routes the champion
        _wait("the champion routed", lambda: _event_times(controller.log_path, "champion_routed", champion), 120,
              controller)  # fmt: skip
        app = clients.spawn("inference", [occuloop, "serving", "run", "--port", str(port)])
        children.append(app)
        traffic = Traffic(f"http://127.0.0.1:{port}/serve/occupancy", trained["readings"], pause=0.025, clock=time.time)
        threading.Thread(target=traffic.run, daemon=True).start()

        def champion_only() -> bool:
            recent = traffic.answers[-20:] if traffic else []
            return len(recent) == 20 and all(status == 200 and model == champion for _, status, model in recent)

        _wait("the champion serving", champion_only, 240, controller, app)
        rounds_measured = [_round(clients, controller, traffic, flipped, champion_only) for _ in range(rounds)]
        to_traffic = [measured[0] for measured in rounds_measured]
        to_rollback = [measured[1] for measured in rounds_measured]
        rules = [measured[2] for measured in rounds_measured]
        failed = sum(1 for _, status, _ in traffic.answers if status != 200)
        return {
            "rounds": rounds,
            "gate_passed_to_traffic_s": _stats(to_traffic),
            "unhealthy_to_rollback_complete_s": _stats(to_rollback),
            "rules": sorted(set(rules)),
            "requests": len(traffic.answers),
            "failed_requests": failed,
            "stock_expected_s": STOCK_SYNC_SECONDS / 2,
            "stock_worst_s": STOCK_SYNC_SECONDS,
        }
    finally:
        if traffic is not None:
            traffic.stop.set()
        for child in reversed(children):
            child.stop()
        server.child.stop()


def _round(
    clients: Clients, controller: Child, traffic: Traffic, model_id: str, champion_only: Any
) -> tuple[float, float, str]:
    """Tag the model `canary`, wait for its first answer, its rollback and the champion alone again: (seconds to
    traffic, seconds from the decision to the canary's last answer, the rule that rolled it back)."""
    done = len(_event_times(controller.log_path, "rolled_back", model_id))
    tags = clients.api.ok("models.get_by_id", {"model": model_id})["model"].get("tags") or []
    tagged = time.time()
    clients.api.ok("models.update", {"model": model_id, "tags": [t for t in tags if t not in STATES] + ["canary"]})
    first = _wait(
        "the canary's first answer",
        lambda: next((t for t, _, m in list(traffic.answers) if m == model_id and t >= tagged), None),
        120,
        controller,
    )
    _wait("the rollback", lambda: len(_event_times(controller.log_path, "rolled_back", model_id)) > done, 240,
          controller)  # fmt: skip
    decided = _event_times(controller.log_path, "rolling_back", model_id)[-1]
    _wait("the champion serving alone again", champion_only, 60, controller)
    time.sleep(6)  # longer than the app's 5 s poll: a canary answer after this would still count
    last = max(t for t, _, m in list(traffic.answers) if m == model_id)
    line = [entry for entry in controller.log_path.read_text().splitlines() if "event=rolled_back " in entry][-1]
    return first - tagged, max(0.0, last - decided), line.split(" rule=", 1)[1].split()[0]


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "p50": round(statistics.median(values), 2),
        "max": round(max(values), 2),
        "each": [round(v, 2) for v in values],
    }


if __name__ == "__main__":
    import json
    import tempfile

    with tempfile.TemporaryDirectory(prefix="occuloop-rollout-bench-") as scratch:
        print(json.dumps(run_all(Path(scratch), quick="--quick" in sys.argv), indent=2))
