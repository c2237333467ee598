"""The canary's decisions as plain functions: which step the routing weights say a ramp is at, what the next
weights are, and whether a window of live metrics is healthy, unhealthy or not yet enough evidence.

The controller (controller.py) reads `ServingPlane.read_metrics()` (counters since each inference app started) at
the start of a window and on every poll; a window is the difference. Each rule is its own function of the window
and the settings, returning the reason to roll back or None (like gate_rules.py); `judge` runs them in order, and
the first that objects decides. Pure: no ClearML, no clock, no I/O.
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


def window_facts(window: Window) -> dict[str, Any]:
    """The window's numbers as the receipt and the logs record them (every rule reads the same facts)."""
    canary, champion = window.canary, window.champion
    facts: dict[str, Any] = {
        "seconds": round(window.seconds, 1),
        "weight": window.weight,
        "canary_requests": canary.requests,
        "canary_failed": canary.failed,
        "canary_error_rate": round(canary.failed / canary.requests, 4) if canary.requests else None,
        "canary_p99_ms": window.canary_p99_ms,
        "canary_occupied_rate": _rounded(canary.occupied_rate),
        "champion_requests": champion.requests if champion else None,
        "champion_occupied_rate": None if champion is None else _rounded(champion.occupied_rate),
        "canary_live_labeled": window.canary_live.labeled,
        "canary_live_accuracy": _rounded(window.canary_live.accuracy),
        "champion_live_labeled": window.champion_live.labeled,
        "champion_live_accuracy": _rounded(window.champion_live.accuracy),
    }
    expected = _expected_requests(window)
    if expected is not None:
        facts["canary_expected_requests"] = round(expected, 1)
    return facts


def _expected_requests(window: Window) -> float | None:
    """How many requests a canary that counted none should have had, given the champion's traffic and the split."""
    if window.canary.requests == 0 and window.champion is not None and 0 < window.weight < 1.0:
        return window.champion.requests * window.weight / (1.0 - window.weight)
    return None


# -- the rules, in the order that names the deciding one: each returns a reason to roll back, or None ------------


def error_rate_rule(window: Window, settings: CanarySettings) -> str | None:
    canary = window.canary
    if canary.requests < settings.min_requests or canary.failed / canary.requests <= settings.max_error_rate:
        return None
    rate = canary.failed / canary.requests
    return f"{canary.failed} of {canary.requests} requests failed ({_pct(rate)} > {_pct(settings.max_error_rate)})"


def latency_p99_rule(window: Window, settings: CanarySettings) -> str | None:
    p99 = window.canary_p99_ms
    if window.canary.requests < settings.min_requests or p99 is None or p99 <= settings.max_p99_ms:
        return None
    return f"p99 {p99:.1f} ms > {settings.max_p99_ms:g} ms"


def silent_rule(window: Window, settings: CanarySettings) -> str | None:
    expected = _expected_requests(window)
    if expected is None or window.seconds < settings.silence_seconds or expected < settings.min_requests:
        return None
    assert window.champion is not None  # _expected_requests needs one
    return (
        f"the champion answered {window.champion.requests} requests in {window.seconds:.0f} s, the canary at "
        f"{_pct(window.weight)} counted none (about {expected:.0f} expected): it fails before answering, e.g. its "
        "model does not load"
    )


def live_accuracy_rule(window: Window, settings: CanarySettings) -> str | None:
    live, reference = window.canary_live, window.champion_live
    if live.accuracy is None or reference.accuracy is None:
        return None
    if min(live.labeled, reference.labeled) < settings.min_labeled:
        return None
    if reference.accuracy - live.accuracy <= settings.max_accuracy_drop:
        return None
    return (
        f"right about {_pct(live.accuracy)} of {live.labeled} served readings labeled since, the champion "
        f"{_pct(reference.accuracy)} of {reference.labeled} (drop > {_pct(settings.max_accuracy_drop)})"
    )


def occupied_rates(
    window: Window, settings: CanarySettings, reference_rate: float | None
) -> tuple[float | None, float | None]:
    """The canary's and the champion's share of readings predicted occupied, each once it has enough readings;
    the champion's falls back on `reference_rate` (an earlier window) when it has no traffic of its own."""
    mine = window.canary.occupied_rate if window.canary.readings >= settings.min_requests else None
    theirs = reference_rate
    if window.champion is not None and window.champion.readings >= settings.min_requests:
        theirs = window.champion.occupied_rate
    return mine, theirs


def prediction_shift_rule(window: Window, settings: CanarySettings, reference_rate: float | None) -> str | None:
    mine, theirs = occupied_rates(window, settings, reference_rate)
    if mine is None or theirs is None or abs(mine - theirs) <= settings.max_rate_shift:
        return None
    return (
        f"predicts occupied for {_pct(mine)} of readings, the champion {_pct(theirs)} "
        f"(shift > {_pct(settings.max_rate_shift)})"
    )


def judge(window: Window, settings: CanarySettings, reference_rate: float | None = None) -> Health:
    """Judge a window. Failures end it as soon as there is enough evidence; a pass needs the whole window.

    `reference_rate` is the champion's occupied share from an earlier window, used when the champion has no traffic
    of its own in this one (at 100 %)."""
    facts = window_facts(window)
    failures = (
        ("error_rate", error_rate_rule(window, settings)),
        ("latency_p99", latency_p99_rule(window, settings)),
        ("silent", silent_rule(window, settings)),
        ("live_accuracy", live_accuracy_rule(window, settings)),
        ("prediction_shift", prediction_shift_rule(window, settings, reference_rate)),
    )
    for rule, reason in failures:
        if reason is not None:
            return Health(UNHEALTHY, rule, reason, facts)
    canary = window.canary
    if canary.requests < settings.min_requests:
        return Health(WAIT, "min_requests", f"{canary.requests} of {settings.min_requests} requests so far", facts)
    if window.seconds < settings.window_seconds:
        return Health(WAIT, "window", f"{window.seconds:.0f} of {settings.window_seconds:g} s so far", facts)
    mine, theirs = occupied_rates(window, settings, reference_rate)
    p99 = window.canary_p99_ms if window.canary_p99_ms is not None else "-"
    reason = (
        f"{canary.requests} requests, {canary.failed} failed, p99 {p99} ms, occupied {_pct(mine)} vs {_pct(theirs)}"
    )
    return Health(HEALTHY, "all_rules", reason, facts)
