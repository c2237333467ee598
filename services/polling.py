"""The loop of every long-running occuloop service (sync, trigger, rollout): one step, a pause, the next step; after
a failure, a longer pause. The services differ only in their step.

A step ends one of four ways (kopf's TemporaryError / PermanentError are the model):
- it returns: healthy. The next step comes `interval` seconds later, or at once after `wake()` (the sync's push to
  the trigger);
- it raises `RetryLater(reason, delay=...)`: a condition the service expected and knows will pass (a queue not
  created yet). Logged as one warning line, no traceback; the next step after `delay`, or after the backoff;
- it raises any other exception: unexpected (the server went away, a bug). Logged with its traceback; the next
  step after the backoff, which doubles from 1 s up to `most_backoff` while steps keep failing;
- it raises `GiveUp(reason)`: no later step can succeed. The loop ends and the exception propagates, so the process
  exits 1 (`shutdown.run_until_signalled`) and its supervisor shows a crash instead of a service retrying forever.

Nothing is caught anywhere else: a step lets its errors rise to here. The loop's state (`healthy`, `backoff` with
the error and the delay, `gave_up`) goes into the service's `Status`, which its HTTP thread reads for GET /status.
Time is injected (`clock`, and the `Waiter` the pauses wait on), so tests drive the loop without sleeping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .logs import log_event

if TYPE_CHECKING:
    from prometheus_client import Counter

logger = logging.getLogger(__name__)

PAUSE_SLICE_SECONDS = 0.5  # a stop is noticed within this long while the loop pauses


class RetryLater(Exception):
    """The step cannot finish now, for a reason that will pass; try again after `delay` (None: the backoff)."""

    def __init__(self, reason: str, *, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class GiveUp(Exception):
    """The step can never succeed as the service is configured: stop the loop, exit non-zero."""


class Backoff:
    """Delays after consecutive failures: `first`, then doubling up to `most`; a success starts over."""

    def __init__(self, *, most: float, first: float = 1.0) -> None:
        self.most = most
        self.first = first
        self.delay = 0.0  # 0: the last step succeeded

    @property
    def failing(self) -> bool:
        return self.delay > 0

    def failed(self) -> float:
        self.delay = min(self.most, max(self.first, self.delay * 2))
        return self.delay

    def succeeded(self) -> None:
        self.delay = 0.0


class Status:
    """What a service is doing, as a dict: written by its loop thread, read by its HTTP thread."""

    def __init__(self, **initial: Any) -> None:
        self._values: dict[str, Any] = dict(initial)
        self._lock = threading.Lock()

    def update(self, **values: Any) -> None:
        with self._lock:
            self._values.update(values)

    def count(self, name: str) -> None:
        with self._lock:
            self._values[name] = int(self._values.get(name, 0)) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)


class Stop(Protocol):
    def is_set(self) -> bool: ...


class Waiter(Protocol):
    """What the loop pauses on: a `threading.Event` (woken by `set`), or a fake clock's in tests."""

    def wait(self, timeout: float | None = None) -> bool: ...
    def set(self) -> None: ...
    def clear(self) -> None: ...


class Loop:
    """Runs `step` over and over until `stop` is set (see the module docstring)."""

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        *,
        interval: float,
        most_backoff: float,
        status: Status,
        on_failure: Callable[[], None] | None = None,
        log: logging.Logger = logger,
        clock: Callable[[], float] = time.monotonic,
        waiter: Waiter | None = None,
        failures: Counter | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.backoff = Backoff(most=most_backoff)
        self.status = status
        self.on_failure = on_failure  # undo what a failed step may have left half done
        self.log = log  # the service's own logger: its lines read as the service's
        self.failures = failures  # the service's step-failure counter (its /metrics), if it keeps one
        self.clock = clock
        self.next_at = 0.0  # clock time of the next step
        self._waiter: Waiter = waiter if waiter is not None else threading.Event()

    def wake(self) -> None:
        """Step now instead of after the interval (a healthy loop only: a failing one keeps its backoff)."""
        self._waiter.set()

    def attempt(self, step: Callable[[], object] | None = None) -> bool:
        """One step (`step` instead of the loop's own, e.g. a last one at shutdown); False when it failed and the
        next one waits for the backoff. GiveUp propagates."""
        try:
            (step or self.step)()
        except GiveUp as error:
            self.status.update(state="gave_up", error=str(error)[:300])
            log_event(self.log, f"{self.name}_gave_up", level=logging.ERROR, reason=str(error))
            raise
        except Exception as error:  # the top of the loop: every failure is retried
            delay = self.backoff.failed()
            if isinstance(error, RetryLater) and error.delay is not None:
                delay = error.delay
            self.next_at = self.clock() + delay
            if self.on_failure is not None:
                self.on_failure()
            if self.failures is not None:
                self.failures.inc()
            self.status.update(state="backoff", error=str(error)[:300], retry_in_seconds=delay)
            log_event(
                self.log,
                f"{self.name}_step_failed",
                level=logging.WARNING,
                exc_info=not isinstance(error, RetryLater),
                retry_in_seconds=round(delay, 1),
                error=str(error),
            )
            return False
        self.backoff.succeeded()
        self.next_at = self.clock() + self.interval
        self.status.update(error=None, retry_in_seconds=None)
        return True

    def run(self, stop: Stop) -> None:
        """Step and pause until `stop` is set; returns after the step in progress when it is."""
        while not stop.is_set():
            if self.clock() >= self.next_at:
                self._waiter.clear()
                self.attempt()
            self._pause(stop)

    def _pause(self, stop: Stop) -> None:
        while not stop.is_set():
            remaining = self.next_at - self.clock()
            if remaining <= 0:
                return
            if self._waiter.wait(min(remaining, PAUSE_SLICE_SECONDS)):
                if not self.backoff.failing:
                    self.next_at = self.clock()  # woken: step now
                    return
                self._waiter.clear()  # failing: the step after the backoff looks at everything anyway
