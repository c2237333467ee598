"""occuloop sync under kill -9 and beside a second instance, against occuloop server with the real SDK.

What must hold afterwards: every accepted session is in exactly one finalized version (added once, never
twice), the latest version holds them all, no draft is left on the server, nothing is left in the inbox but the
quarantine, and the versions form one chain (no fork)."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.child_processes import EmbeddedServer, inherited_environment, start_embedded_server, tail
from services.sync.replay import deliver
from tests.support.clients import Clients
from tests.support.signals import wait_until_it_catches_sigterm
from tests.support.sync import SyncProcess, assert_one_clean_chain, versions
from training.sessions import training_sessions

TRAINING_DAYS = [session.name for session in training_sessions()]
CORRUPTED_DAY = "2015-02-07"  # a Saturday, delivered with flipped labels: all "occupied"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    running: EmbeddedServer = start_embedded_server(
        tmp_path_factory.mktemp("server"), env=inherited_environment(os.environ)
    )
    yield Clients(running, tmp_path_factory.mktemp("clients"))
    assert running.child.stop() == 0, tail(running.child.log_path)


def leftovers(inbox: Path) -> list[str]:
    state = inbox / ".occuloop-sync"
    waiting = [path.name for path in inbox.iterdir() if path.is_file()]
    staged = (
        [path.name for path in (state / "staged").rglob("*") if path.is_file()] if (state / "staged").exists() else []
    )
    return waiting + staged


def _log_size(sync: SyncProcess) -> int:
    return sync.child.log_path.stat().st_size if sync.child and sync.child.log_path.exists() else 0


def _kill_at_a_random_moment(sync: SyncProcess, rng: random.Random, *, delivered: bool) -> str:
    """Start the service and kill it at a moment chosen by what it is doing, not by the clock since the spawn: on a
    busy machine the imports alone can outlast any fixed delay, and every kill would land before the work (CI-like
    load did exactly that). Returns the moment chosen."""
    log_start = _log_size(sync)
    sync.start(wait=False)
    assert sync.child is not None
    moments = ["start-up", "working"] + (["in a draft"] * 2 if delivered else [])
    moment = rng.choice(moments)
    if moment == "start-up":
        wait_until_it_catches_sigterm(sync.child)  # occuloop's code runs: opening the journal, recovery, intake
        time.sleep(rng.uniform(0, 1.0))
    elif moment == "in a draft":  # a draft is open on the server and in the journal: recovery must settle it

        def draft_opened() -> bool:
            assert sync.child is not None
            if not sync.child.alive():
                raise sync.child.failure("exited")
            with sync.child.log_path.open("rb") as log:
                log.seek(log_start)
                return b"event=draft_opened" in log.read()

        sync.clients.api.wait_for("the sync to open a draft", draft_opened, timeout=120, interval=0.05)
        time.sleep(rng.uniform(0, 0.3))
    else:
        sync.clients.api.wait_for("the sync to be ready", sync._alive_and_ready, timeout=120, interval=0.1)
        time.sleep(rng.uniform(0, 3.0))  # taking in, mid-upload, mid-finalize, tagging, idle
    sync.kill()
    return moment


def test_twenty_kill_9_during_a_replay_lose_and_duplicate_nothing(clients: Clients, tmp_path: Path) -> None:
    rng = random.Random(20261124)
    inbox = tmp_path / "inbox"
    days = list(TRAINING_DAYS)
    # feed_chunk=1: every file taken in uploads on the background thread while the next is validated; squash depth 3:
    # the chain is squashed into a new root every two versions, so kills land in squashes too
    sync = SyncProcess(clients, inbox, quiet=0.3, batch=2, dataset="crashes", feed_chunk=1, squash_depth=3)
    moments = []
    for _ in range(20):
        delivered = bool(days) and days[0] != CORRUPTED_DAY  # a quarantined file opens no draft
        if days:  # sessions keep arriving while the service dies and comes back
            day = days.pop(0)
            deliver(inbox, days=[day], corrupt={CORRUPTED_DAY: "flipped"})
        moments.append(_kill_at_a_random_moment(sync, rng, delivered=delivered))
    assert not days
    sync.start()
    sync.wait_until_idle(timeout=240)
    assert sync.stop() == 0

    log = sync.log()
    assert "Traceback" not in log.replace("event=sync_step_failed", ""), tail(sync.child.log_path, 80)  # type: ignore[union-attr]
    accepted = {f"{day}.csv" for day in TRAINING_DAYS if day != CORRUPTED_DAY}
    assert_one_clean_chain(versions(clients, "crashes"), accepted)
    assert leftovers(inbox) == []
    assert sorted(path.name for path in (inbox / "quarantine").iterdir()) == [
        f"{CORRUPTED_DAY}.csv",
        f"{CORRUPTED_DAY}.csv.reason.json",
    ]
    # the kills landed inside drafts, not only between them: recovery had to discard or complete some
    assert "in a draft" in moments, moments
    assert "event=draft_discarded" in log or "event=draft_finalized_before_restart" in log


def test_kill_9_in_the_middle_of_squashes_loses_and_duplicates_nothing(clients: Clients, tmp_path: Path) -> None:
    """Squash depth 2: every version after the first is squashed right after it is finalized. Each round delivers a
    session, waits for its version and for the squash that follows to begin, and kills the service at a random
    moment of it (copying and checking the files, uploading, finalizing, tagging) or just after it."""
    rng = random.Random(22)
    inbox = tmp_path / "inbox"
    sync = SyncProcess(clients, inbox, name="squash-kills", quiet=0.2, dataset="squash-kills", squash_depth=2)
    days = TRAINING_DAYS[:6]
    for number, day in enumerate(days):
        versions_before, squashes_before = (sync.log().count(event) if number else 0 for event in EVENTS)
        deliver(inbox, days=[day])
        sync.start()  # ready: recovery is done, the session is being taken in
        clients.api.wait_for(
            f"the version of {day}",
            lambda: sync.log().count("event=dataset_version_finalized") > versions_before,  # noqa: B023
        )
        if number:  # the first version is a root: nothing to squash
            clients.api.wait_for(
                "the squash",
                lambda: sync.log().count("event=squash_started") > squashes_before,  # noqa: B023
                interval=0.02,
            )
            # a squash of a few files takes well under a second on an idle machine: every other round kills early in
            # it, so that some kill lands inside one however fast the machine is
            time.sleep(rng.uniform(0.0, 0.3) if number % 2 else rng.uniform(0.0, 1.5))
        sync.kill()
    sync.start()
    sync.wait_until_idle(timeout=240)
    assert sync.stop() == 0

    log = sync.log()
    assert "Traceback" not in log.replace("event=sync_step_failed", ""), tail(sync.child.log_path, 80)  # type: ignore[union-attr]
    assert_one_clean_chain(versions(clients, "squash-kills"), {f"{day}.csv" for day in days})
    assert leftovers(inbox) == []
    started = set(re.findall(r"event=squash_started dataset_id=(\w+)", log))
    recovered = set(re.findall(r"event=draft_(?:discarded|finalized_before_restart) dataset_id=(\w+)", log))
    assert started & recovered, "no kill landed inside a squash"


EVENTS = ("event=dataset_version_finalized", "event=squash_started")


def test_two_instances_on_one_dataset_never_fork_it(clients: Clients, tmp_path: Path) -> None:
    """Two labeling teams, two inboxes, one dataset: both finalize often and at once. A version built on a parent
    that someone else extended first is archived and its files go into the next version on top of the winner."""
    # squash depth 3: each instance also squashes the chain it shares, racing the other's versions and squashes
    first, second = (
        SyncProcess(clients, tmp_path / name, name=name, quiet=0.2, batch=1, dataset="shared", squash_depth=3).start()
        for name in ("first", "second")
    )
    days = list(TRAINING_DAYS[:10])
    try:
        for index in range(0, len(days), 2):  # both inboxes receive a session at the same moment
            deliver(first.inbox, days=[days[index]])
            deliver(second.inbox, days=[days[index + 1]])
            time.sleep(0.3)
        first.wait_until_idle(timeout=180)
        second.wait_until_idle(timeout=180)
    finally:
        codes = (first.stop(), second.stop())
    assert codes == (0, 0)
    all_versions = versions(clients, "shared")
    assert_one_clean_chain(all_versions, {f"{day}.csv" for day in days})
    logs = (first.log(), second.log())
    forks = sum(log.count("event=dataset_fork_avoided") + log.count("event=squash_abandoned") for log in logs)
    archived = sum(1 for item in all_versions if item["archived"])
    assert forks == archived  # every lost race is visible in a log line and nowhere in the chain
