"""The services' loop on a fake clock: healthy steps every interval, failures back off and recover, RetryLater
waits as long as it says without a traceback, GiveUp ends the loop, a wake-up steps at once only when healthy."""

from __future__ import annotations

import logging

import pytest

from services.polling import GiveUp, Loop, RetryLater, Status


class FakeTime:
    """The clock and the waiter of a loop: waiting moves the clock instead of sleeping."""

    def __init__(self) -> None:
        self.now = 0.0
        self.woken = False

    def clock(self) -> float:
        return self.now

    def wait(self, timeout: float | None = None) -> bool:
        if not self.woken:
            self.now += timeout or 0.0
        return self.woken

    def set(self) -> None:
        self.woken = True

    def clear(self) -> None:
        self.woken = False


class Until:
    """A stop that is set once the fake clock reaches `seconds`."""

    def __init__(self, time: FakeTime, seconds: float) -> None:
        self.time = time
        self.seconds = seconds

    def is_set(self) -> bool:
        return self.time.now >= self.seconds


class Script:
    """A step that fails as told, in order (None: succeeds), and records when it ran."""

    def __init__(self, time: FakeTime, outcomes: list[BaseException | None]) -> None:
        self.time = time
        self.outcomes = outcomes
        self.ran_at: list[float] = []

    def __call__(self) -> None:
        self.ran_at.append(self.time.now)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def loop_of(time: FakeTime, step: Script, **options: object) -> Loop:
    settings: dict[str, object] = {"interval": 2.0, "most_backoff": 8.0, "status": Status(state="starting")}
    settings.update(options)
    return Loop("test", step, clock=time.clock, waiter=time, **settings)  # type: ignore[arg-type]


def test_a_healthy_step_runs_every_interval() -> None:
    time = FakeTime()
    step = Script(time, [])
    loop_of(time, step).run(Until(time, 9))
    assert step.ran_at == [0, 2, 4, 6, 8]


def test_failures_back_off_doubling_up_to_the_most_and_a_success_starts_over() -> None:
    time = FakeTime()
    failures: list[BaseException | None] = [ConnectionError("server away")] * 5
    step = Script(time, [*failures, None, ConnectionError("again")])
    undone: list[float] = []
    loop = loop_of(time, step, on_failure=lambda: undone.append(time.now))
    loop.run(Until(time, 26))
    assert step.ran_at == [0, 1, 3, 7, 15, 23, 25]  # +1 +2 +4 +8 +8 (the most), healthy: +2, then failing: +1
    assert undone == [0, 1, 3, 7, 15, 25]
    assert loop.status.snapshot() == {"state": "backoff", "error": "again", "retry_in_seconds": 1.0}


def test_success_clears_the_error_from_the_status() -> None:
    time = FakeTime()
    loop = loop_of(time, Script(time, [ValueError("bad"), None]))
    assert loop.attempt() is False and loop.status.snapshot()["error"] == "bad"
    assert loop.attempt() is True and loop.status.snapshot()["error"] is None and not loop.backoff.failing


def test_retry_later_waits_as_long_as_it_says_and_logs_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    step = Script(time, [RetryLater("queue 'later' does not exist", delay=5), RuntimeError("a bug")])
    with caplog.at_level(logging.WARNING):
        loop_of(time, step).run(Until(time, 8))
    assert step.ran_at == [0, 5, 7]  # the bug then backs off on from there: 2 s
    expected, unexpected = caplog.records[:2]
    assert "event=test_step_failed retry_in_seconds=5" in expected.getMessage() and not expected.exc_info
    assert 'error="a bug"' in unexpected.getMessage() and unexpected.exc_info


def test_give_up_ends_the_loop_with_the_error() -> None:
    time = FakeTime()
    step = Script(time, [ConnectionError("away"), GiveUp("the server refuses our key pair")])
    loop = loop_of(time, step)
    with pytest.raises(GiveUp):
        loop.run(Until(time, 100))
    assert step.ran_at == [0, 1]
    assert loop.status.snapshot()["state"] == "gave_up"


def test_a_wake_up_steps_at_once_when_healthy_and_not_during_a_backoff() -> None:
    time = FakeTime()
    step = Script(time, [None, ConnectionError("away"), ConnectionError("still away")])
    loop = loop_of(time, step, interval=60.0)
    assert loop.attempt() and loop.next_at == 60
    loop.wake()
    loop.run(Until(time, 0.5))  # woken: steps at once (and fails: the next step in 1 s)
    assert step.ran_at == [0, 0] and loop.next_at == 1
    loop.wake()
    loop.run(Until(time, 2))  # woken again during the backoff: the step still waits for it
    assert step.ran_at == [0, 0, 1]
