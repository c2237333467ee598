"""The canary's decisions as plain functions: which step the routing weights say a ramp is at, what the next
weights are, and whether a window of live metrics is healthy, unhealthy or not yet enough evidence.

The controller (controller.py) reads `ServingPlane.read_metrics()` (counters since each inference app started) at
the start of a window and on every poll; a window is the difference. Pure: no ClearML, no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..settings import CanarySettings
from .live_accuracy import Tally

HEALTHY, UNHEALTHY, WAIT = "healthy", "unhealthy", "wait"
WEIGHT_TOLERANCE = 1e-3  # the control plane stores weights rounded to 6 places


@dataclass(frozen=True)
class Counters:
    """The counters of one endpoint version (serving.endpoints.VersionMetrics), or their change over a window."""

    requests: int = 0
    readings: int = 0
    failed: int = 0
    occupied: int = 0

    @classmethod
    def of(cls, metrics: Any) -> Counters:
        if metrics is None:
            return cls()
        return cls(int(metrics.requests), int(metrics.readings), int(metrics.failed), int(metrics.occupied))

    def since(self, base: Counters) -> Counters:
        """The change since `base`; counters that went down mean the app restarted, so all of them are new."""
        if self.requests < base.requests or self.readings < base.readings:
            return self
        return Counters(
            self.requests - base.requests,
            self.readings - base.readings,
            max(0, self.failed - base.failed),
            max(0, self.occupied - base.occupied),
        )

    @property
    def occupied_rate(self) -> float | None:
        return self.occupied / self.readings if self.readings else None


@dataclass(frozen=True)
class Window:
    seconds: float  # since the step's weights were set (or the controller resumed)
    weight: float  # the canary's share during the window
    canary: Counters
    champion: Counters | None  # None: no champion (the first model) or the canary has all the traffic
    canary_p99_ms: float | None  # the worst p99 the canary reported during the window
    # live accuracy on served minutes whose labels have arrived: the canary's over its whole ramp, the champion's
    # over everything it served that the controller has seen
    canary_live: Tally = field(default_factory=Tally)
    champion_live: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class Health:
    verdict: str  # healthy | unhealthy | wait
    rule: str  # error_rate | latency_p99 | silent | live_accuracy | prediction_shift | min_requests | window |
    #            all_rules
    reason: str
    facts: dict[str, Any]


def step_index(weight: float, steps: tuple[float, ...]) -> int:
    """The step the canary's current weight belongs to (the highest step at or below it); -1 when not routed."""
    index = -1
    for number, step in enumerate(steps):
        if weight + WEIGHT_TOLERANCE >= step:
            index = number
    return index


def weights_for(champion_version: int | None, canary_version: int, share: float) -> dict[int, float]:
    """The public endpoint's weights with the canary at `share` and the champion on the rest."""
    if champion_version is None or champion_version == canary_version or share >= 1.0:
        return {canary_version: 1.0}
    return {canary_version: round(share, 6), champion_version: round(1.0 - share, 6)}


def same_weights(a: dict[int, float], b: dict[int, float]) -> bool:
    keys = {k for k, v in a.items() if v > 0} | {k for k, v in b.items() if v > 0}
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) <= WEIGHT_TOLERANCE for k in keys)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def judge(window: Window, settings: CanarySettings, reference_rate: float | None = None) -> Health:
    """Judge a window. Failures end it as soon as there is enough evidence; a pass needs the whole window.

    `reference_rate` is the champion's occupied share from an earlier window, used when the champion has no traffic
    of its own in this one (at 100 %)."""
    canary, champion = window.canary, window.champion
    facts: dict[str, Any] = {
        "seconds": round(window.seconds, 1),
        "weight": window.weight,
        "canary_requests": canary.requests,
        "canary_failed": canary.failed,
        "canary_error_rate": round(canary.failed / canary.requests, 4) if canary.requests else None,
        "canary_p99_ms": window.canary_p99_ms,
        "canary_occupied_rate": None if canary.occupied_rate is None else round(canary.occupied_rate, 4),
        "champion_requests": champion.requests if champion else None,
        "champion_occupied_rate": (
            None if champion is None or champion.occupied_rate is None else round(champion.occupied_rate, 4)
        ),
        "canary_live_labeled": window.canary_live.labeled,
        "canary_live_accuracy": _rounded(window.canary_live.accuracy),
        "champion_live_labeled": window.champion_live.labeled,
        "champion_live_accuracy": _rounded(window.champion_live.accuracy),
    }
    enough = canary.requests >= settings.min_requests
    if enough and canary.failed / canary.requests > settings.max_error_rate:
        return Health(UNHEALTHY, "error_rate", f"{canary.failed} of {canary.requests} requests failed "
                      f"({_pct(canary.failed / canary.requests)} > {_pct(settings.max_error_rate)})", facts)  # fmt: skip
    if enough and window.canary_p99_ms is not None and window.canary_p99_ms > settings.max_p99_ms:
        return Health(UNHEALTHY, "latency_p99", f"p99 {window.canary_p99_ms:.1f} ms > {settings.max_p99_ms:g} ms",
                      facts)  # fmt: skip
    if canary.requests == 0 and champion is not None and 0 < window.weight < 1.0:
        expected = champion.requests * window.weight / (1.0 - window.weight)
        facts["canary_expected_requests"] = round(expected, 1)
        if window.seconds >= settings.silence_seconds and expected >= settings.min_requests:
            return Health(UNHEALTHY, "silent", f"the champion answered {champion.requests} requests in "
                          f"{window.seconds:.0f} s, the canary at {_pct(window.weight)} counted none (about "
                          f"{expected:.0f} expected): it fails before answering, e.g. its model does not load",
                          facts)  # fmt: skip
    live, reference = window.canary_live, window.champion_live
    if live.labeled >= settings.min_labeled and reference.labeled >= settings.min_labeled:
        assert live.accuracy is not None and reference.accuracy is not None
        if reference.accuracy - live.accuracy > settings.max_accuracy_drop:
            return Health(UNHEALTHY, "live_accuracy", f"right about {_pct(live.accuracy)} of {live.labeled} served "
                          f"readings labeled since, the champion {_pct(reference.accuracy)} of {reference.labeled} "
                          f"(drop > {_pct(settings.max_accuracy_drop)})", facts)  # fmt: skip
    mine = canary.occupied_rate if canary.readings >= settings.min_requests else None
    theirs = reference_rate
    if champion is not None and champion.readings >= settings.min_requests:
        theirs = champion.occupied_rate
    if mine is not None and theirs is not None and abs(mine - theirs) > settings.max_rate_shift:
        return Health(UNHEALTHY, "prediction_shift", f"predicts occupied for {_pct(mine)} of readings, the champion "
                      f"{_pct(theirs)} (shift > {_pct(settings.max_rate_shift)})", facts)  # fmt: skip
    if not enough:
        return Health(WAIT, "min_requests", f"{canary.requests} of {settings.min_requests} requests so far", facts)
    if window.seconds < settings.window_seconds:
        return Health(WAIT, "window", f"{window.seconds:.0f} of {settings.window_seconds:g} s so far", facts)
    return Health(HEALTHY, "all_rules", f"{canary.requests} requests, {canary.failed} failed, p99 "
                  f"{window.canary_p99_ms if window.canary_p99_ms is not None else '-'} ms, occupied {_pct(mine)} vs "
                  f"{_pct(theirs)}", facts)  # fmt: skip
