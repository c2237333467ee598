"""Inputs from the minutes before a reading: how CO2 and Light changed, and how long the light has been on or off.

Pure numpy over arrays in time order (minute stamps as int64, sensor values as float64), so the same code runs on a
training frame of 16,000 minutes and on one served reading with its recent history, and ports to any array
runtime. No per-row Python.

Gaps. Readings come one a minute, but minutes go missing (a sensor restarts, a request arrives without history).
A value `k` minutes back is the latest reading at or before t - k; if that reading is older than t - 2k the gap is
too long to bridge, and the input takes its neutral value (no change; "the light has been in this state a long
time"), which is also what a reading without any history gets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Minutes = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]

SWITCH_CAP_MINUTES = 60  # "minutes since the light switched" saturates here: longer says nothing more
MAX_STEP_MINUTES = 5  # a longer gap between consecutive readings breaks the light's on/off run


def _earlier(minutes: Minutes, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Per reading, the index of the latest reading at or before t - k, and whether it is usable: it exists and
    is no older than t - 2k."""
    earlier = np.searchsorted(minutes, minutes - k, side="right") - 1
    found = earlier >= 0
    index = np.where(found, earlier, 0)
    return index, found & (minutes - minutes[index] <= 2 * k)


def change_over(minutes: Minutes, values: Values, k: int) -> Values:
    """Change per `k` minutes: the value now minus the value k minutes back, scaled to exactly k minutes when the
    earlier reading is further back (a short gap); 0 without usable history."""
    index, usable = _earlier(minutes, k)
    span = (minutes - minutes[index]).astype(np.float64)
    rate = np.divide(values - values[index], span, out=np.zeros_like(values), where=usable & (span > 0))
    result: Values = rate * k
    return result


def minutes_in_state(minutes: Minutes, state: npt.NDArray[np.bool_]) -> Values:
    """Minutes since `state` (e.g. light on) last changed, capped at SWITCH_CAP_MINUTES; a run that begins at the
    first reading or after a gap counts as capped (it may have started long before)."""
    n = len(minutes)
    if n == 0:
        return np.zeros(0)
    step = np.diff(minutes, prepend=minutes[0] - MAX_STEP_MINUTES - 1)
    gap = step > MAX_STEP_MINUTES
    changed = np.r_[False, state[1:] != state[:-1]] & ~gap
    # the start of each reading's run, and whether that start is a real switch (not a gap or the first reading)
    starts = np.flatnonzero(gap | changed)
    run = np.searchsorted(starts, np.arange(n), side="right") - 1
    begun = minutes[starts[run]]
    known = changed[starts[run]]
    elapsed = np.minimum(minutes - begun, SWITCH_CAP_MINUTES).astype(np.float64)
    result: Values = np.where(known, elapsed, float(SWITCH_CAP_MINUTES))
    return result


def in_time_order(minutes: Minutes) -> npt.NDArray[np.int64] | None:
    """The permutation that sorts readings by time (None when they already are: the usual case)."""
    if len(minutes) < 2 or bool(np.all(minutes[1:] >= minutes[:-1])):
        return None
    order: npt.NDArray[np.int64] = np.argsort(minutes, kind="stable")
    return order
