"""SIGTERM at any moment, interleaved with kill -9, while work flows: every long-running process exits 0 within
its stated shutdown bound, and what it held is neither lost nor duplicated after the next start.

The short version runs in `make test`; `make stress` (OCCULOOP_STRESS=1) runs the long one (50 SIGTERMs and 20
kills per process). A failure prints the seed; `OCCULOOP_STRESS_SEED=<seed>` replays the same moments.

The random moment is counted from the moment the child catches SIGTERM (its /proc status says so): before that,
the interpreter has not yet run occuloop's first line, holds nothing, and the default action applies."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from services.child_processes import Child, EmbeddedServer, inherited_environment, start_embedded_server, tail
from services.clearml_server.app import SHUTDOWN_BOUND_SECONDS as SERVER_BOUND
from services.sync.command import SHUTDOWN_BOUND_SECONDS as SYNC_BOUND
from services.sync.replay import deliver
from services.trigger.command import SHUTDOWN_BOUND_SECONDS as TRIGGER_BOUND
from services.trigger.scheduler import PROCESS_TAG
from services.ui.app import SHUTDOWN_BOUND_SECONDS as UI_AFTER_DRAIN
from services.ui.command import DRAIN_SECONDS as UI_DRAIN
from tests.reliability.test_sync_crashes import assert_one_clean_chain, leftovers
from tests.reliability.test_trigger_crashes import assert_one_run_each, start_publisher
from tests.support.clients import Clients, RawApi
from tests.support.service_process import ServiceProcess, free_port
from tests.support.signals import wait_until_it_catches_sigterm
from tests.support.sync import SyncProcess, versions
from tests.support.trigger import TriggerProcess, runs
from training.sessions import training_sessions

LONG = os.environ.get("OCCULOOP_STRESS") == "1"
SIGTERMS, KILLS = (50, 20) if LONG else (2, 1)  # per process; the short version keeps `make test` within ~3 min
SEED = int(os.environ.get("OCCULOOP_STRESS_SEED") or random.SystemRandom().randrange(1_000_000))
REPORT = Path(os.environ.get("OCCULOOP_STRESS_REPORT", "")) if os.environ.get("OCCULOOP_STRESS_REPORT") else None


@dataclass
class Tally:
    """What the rounds measured, for the assertion messages and the README's reliability section."""

    process: str
    seed: int
    stop_seconds: list[float] = field(default_factory=list)
    kills: int = 0

    def summary(self) -> str:
        worst = max(self.stop_seconds, default=0.0)
        mean = sum(self.stop_seconds) / len(self.stop_seconds) if self.stop_seconds else 0.0
        return (
            f"{self.process}: {len(self.stop_seconds)} SIGTERMs (exit 0 each, stop mean {mean:.2f} s, "
            f"max {worst:.2f} s), {self.kills} kill -9, seed {self.seed}"
        )


def start_at_random_moment(service: ServiceProcess, rng: random.Random) -> None:
    """Start the service and return at a random moment of its life: during start-up (counted from the moment it
    catches SIGTERM) or after it is ready (its work under way)."""
    ready_first = rng.random() < 0.6
    service.start(wait=ready_first)
    assert service.child is not None
    if not ready_first:
        wait_until_it_catches_sigterm(service.child)
    time.sleep(rng.uniform(0, 4))


def sigterm_and_measure(child: Child, bound: float, tally: Tally) -> None:
    started = time.monotonic()
    child.process.send_signal(signal.SIGTERM)
    try:
        code = child.process.wait(bound + 15)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f"{tally.process} ignored SIGTERM (seed {tally.seed}):\n{tail(child.log_path, 60)}")
    elapsed = time.monotonic() - started
    assert code == 0, f"{tally.process} exited {code} after SIGTERM (seed {tally.seed}):\n{tail(child.log_path, 60)}"
    assert elapsed <= bound, f"{tally.process} took {elapsed:.1f} s > {bound} s (seed {tally.seed})"
    tally.stop_seconds.append(elapsed)


def plan(rng: random.Random) -> list[str]:
    """SIGTERMs and kills in a seeded random order; a kill is never last (the last stop is the clean one)."""
    moves = ["term"] * SIGTERMS + ["kill"] * KILLS
    rng.shuffle(moves)
    if moves[-1] == "kill":
        moves.insert(0, moves.pop())
    return moves


def record(tally: Tally) -> None:
    print(tally.summary())
    if REPORT is not None:
        with REPORT.open("a") as report:
            report.write(tally.summary() + "\n")


# -- occuloop sync ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    running: EmbeddedServer = start_embedded_server(
        tmp_path_factory.mktemp("server"), env=inherited_environment(os.environ)
    )
    clients = Clients(running, tmp_path_factory.mktemp("clients"))
    clients.api.ok("queues.create", {"name": "training"})
    yield clients
    assert running.child.stop() == 0, tail(running.child.log_path)


def test_sync_sigterm_anytime(clients: Clients, tmp_path: Path) -> None:
    rng, tally = random.Random(SEED), Tally("sync", SEED)
    inbox = tmp_path / "inbox"
    days = [session.name for session in training_sessions()]
    delivered: list[str] = []
    sync = SyncProcess(clients, inbox, quiet=0.3, batch=2, dataset="sigterm", feed_chunk=1)
    for move in plan(rng):
        if days and rng.random() < 0.7:  # sessions keep arriving: some rounds hit an intake, an upload, a finalize
            delivered.append(days.pop(0))
            deliver(inbox, days=[delivered[-1]])
        start_at_random_moment(sync, rng)  # start-up, recovery, intake, upload, finalize, tagging, idle
        if move == "kill":
            sync.kill()
            tally.kills += 1
        else:
            sigterm_and_measure(sync.child, SYNC_BOUND, tally)
    sync.start()
    sync.wait_until_idle(timeout=240)
    sigterm_and_measure(sync.child, SYNC_BOUND, tally)  # type: ignore[arg-type]
    assert "Traceback" not in sync.log().replace("event=sync_step_failed", ""), tail(sync.child.log_path, 80)  # type: ignore[union-attr]
    assert_one_clean_chain(versions(clients, "sigterm"), set(delivered))
    assert leftovers(inbox) == []
    record(tally)


# -- occuloop trigger ---------------------------------------------------------------------------------------------


def test_trigger_sigterm_anytime(clients: Clients) -> None:
    rng, tally = random.Random(SEED), Tally("trigger", SEED)
    count = 6 if not LONG else 40
    publisher = start_publisher(clients, "sigterm", count, 1.0, SEED)
    trigger = TriggerProcess(clients, name="trigger-sigterm", project="sigterm")
    for move in plan(rng):
        start_at_random_moment(trigger, rng)  # imports, template, Task.init, a step mid-clone or mid-enqueue, idle
        if move == "kill":
            trigger.kill()
            tally.kills += 1
        else:
            sigterm_and_measure(trigger.child, TRIGGER_BOUND, tally)
    assert publisher.process.wait(300) == 0, tail(publisher.log_path)  # type: ignore[attr-defined]
    trigger.start()
    clients.api.wait_for(
        "a run for every version",
        lambda: sum(1 for run in runs(clients) if run["status"] == "queued") >= count,
        timeout=180,
        interval=0.5,
    )
    sigterm_and_measure(trigger.child, TRIGGER_BOUND, tally)  # type: ignore[arg-type]
    assert_one_run_each(clients, "sigterm", count)
    schedulers = clients.api.ok("tasks.get_all", {"tags": [PROCESS_TAG], "system_tags": ["-archived"]})["tasks"]
    assert len(schedulers) == 1, f"{len(schedulers)} scheduler tasks after {len(tally.stop_seconds)} restarts"
    record(tally)


# -- occuloop server ----------------------------------------------------------------------------------------------


def test_server_sigterm_anytime(tmp_path: Path) -> None:
    """Clients keep writing while the server is stopped and killed; every write it acknowledged is there after."""
    rng, tally = random.Random(SEED), Tally("server", SEED)
    env = inherited_environment(os.environ)
    server = start_embedded_server(tmp_path / "server", env=env)
    api_port, files_port = int(server.api_url.rsplit(":", 1)[1]), int(server.files_url.rsplit(":", 1)[1])
    acknowledged: list[str] = []
    stop_writing = threading.Event()
    current = {"server": server}

    def write() -> None:
        api, serving = RawApi(server), server
        while not stop_writing.is_set():
            if current["server"] is not serving:  # restarted: same ports and keys, a new token
                api, serving = RawApi(current["server"]), current["server"]
            try:
                status, answer = api.call("projects.create", {"name": f"stress-{time.monotonic_ns()}"})
            except Exception:  # the server is down between rounds: try again
                time.sleep(0.05)
                continue
            if status == 200:
                acknowledged.append(answer["data"]["id"])

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    moves = plan(rng) if LONG else plan(rng) + ["term"] * 4
    for index, move in enumerate(moves):
        if index:
            current["server"] = start_embedded_server(
                tmp_path / "server", env=env, api_port=api_port, files_port=files_port
            )
        child = current["server"].child
        wait_until_it_catches_sigterm(child)
        time.sleep(rng.uniform(0, 1.5))  # mid-request, mid-commit, idle
        if move == "kill":
            child.kill()
            tally.kills += 1
        else:
            sigterm_and_measure(child, SERVER_BOUND, tally)
    stop_writing.set()
    writer.join(30)
    final = start_embedded_server(tmp_path / "server", env=env, api_port=api_port, files_port=files_port)
    found = RawApi(final).ok("projects.get_all", {"only_fields": ["id"]})["projects"]
    missing = set(acknowledged) - {item["id"] for item in found}
    assert acknowledged and not missing, f"{len(missing)} acknowledged writes lost (seed {SEED})"
    sigterm_and_measure(final.child, SERVER_BOUND, tally)
    record(tally)


# -- occuloop ui ---------------------------------------------------------------------------------------------------


class UiProcess(ServiceProcess):
    def __init__(self, clients: Clients) -> None:
        super().__init__(clients, "ui-sigterm")
        quiet = f"http://127.0.0.1:{free_port()}"  # no sync/trigger/rollout: the pages say so
        self.argv = [sys.executable, "-m", "services.cli", "ui", "--port", str(self.port), "--poll-seconds", "1",
                     "--sync-url", quiet, "--trigger-url", quiet, "--rollout-url", quiet]  # fmt: skip

    def ready(self) -> bool:
        return requests.get(f"{self.url}/", timeout=5).status_code == 200


def test_ui_sigterm_anytime(clients: Clients) -> None:
    """Readers keep loading pages while the UI is stopped and killed: it holds no state, so the invariants are the
    exit code, the bound (uvicorn's drain, then the lifespan's guard) and that no page it answered was an error."""
    rng, tally = random.Random(SEED), Tally("ui", SEED)
    ui = UiProcess(clients)
    answers: list[int] = []
    stop_reading = threading.Event()

    def read() -> None:
        with requests.Session() as session:
            while not stop_reading.is_set():
                for path in ("/", "/datasets", "/runs", "/models", "/serving"):
                    try:
                        answers.append(session.get(ui.url + path, timeout=10).status_code)
                    except requests.RequestException:  # stopped or starting between rounds
                        time.sleep(0.05)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        for move in plan(rng):
            start_at_random_moment(ui, rng)  # imports, the app's creation, uvicorn's start, pages in flight, idle
            if move == "kill":
                ui.kill()
                tally.kills += 1
            else:
                sigterm_and_measure(ui.child, UI_DRAIN + UI_AFTER_DRAIN, tally)  # type: ignore[arg-type]
        ui.start()
        served = len(answers)
        clients.api.wait_for("pages after the last start", lambda: len(answers) > served + 10, timeout=60)
    finally:
        stop_reading.set()
        for reader in readers:
            reader.join(15)
    sigterm_and_measure(ui.child, UI_DRAIN + UI_AFTER_DRAIN, tally)  # type: ignore[arg-type]
    assert answers and set(answers) <= {200}, f"pages answered with {sorted(set(answers))} (seed {SEED})"
    assert "Traceback" not in ui.log(), tail(ui.child.log_path, 80)  # type: ignore[union-attr]
    record(tally)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
