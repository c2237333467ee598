"""Request bodies for fuzzing the occupancy endpoint, and an independent oracle of which fields are wrong.

The oracle is written from the documented schema (serving/README.md) and the data contract's ranges, not from
serving/request.py, so the two can disagree.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from training.schema import SENSORS

OPTIONAL = ("timestamp", "room", "sensor_id")
_ABSENT = object()

junk = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def _sensor_value(name: str) -> st.SearchStrategy[Any]:
    sensor = SENSORS[name]
    valid = st.floats(min_value=sensor.low, max_value=sensor.high)
    return st.one_of(valid, valid, st.just(_ABSENT), junk)  # valid half of the time


@st.composite
def readings(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in SENSORS:
        value = draw(_sensor_value(name))
        if value is not _ABSENT:
            body[name] = value
    if draw(st.booleans()):
        body["room"] = draw(st.one_of(st.text(max_size=8), st.integers(0, 999), junk))
    if draw(st.booleans()):
        body["sensor_id"] = draw(st.one_of(st.text(max_size=8), junk))
    if draw(st.booleans()):
        body["timestamp"] = draw(
            st.one_of(st.datetimes().map(lambda stamp: stamp.isoformat()), st.text(max_size=12), junk)
        )
    body.update(draw(st.dictionaries(st.text(min_size=1, max_size=8), junk, max_size=2)))
    return body


bodies = st.one_of(
    readings(),
    st.lists(readings(), min_size=1, max_size=4).map(lambda items: {"readings": items}),
)


def bad_fields(body: dict[str, Any]) -> set[str]:
    """The fields a correct endpoint must name in its 422 (empty: it must answer 200)."""
    if "readings" in body:
        fields = {key for key in body if key != "readings"}
        for index, reading in enumerate(body["readings"]):
            fields |= {f"readings[{index}].{name}" for name in _bad_in_reading(reading)}
        return fields
    return _bad_in_reading(body)


def _bad_in_reading(reading: dict[str, Any]) -> set[str]:
    bad = {name for name in SENSORS if not _plausible(name, reading.get(name, _ABSENT))}
    for key, value in reading.items():
        if key in SENSORS:
            continue
        if key in ("room", "sensor_id"):
            is_id = isinstance(value, str | int) and not isinstance(value, bool)
            if not is_id or (isinstance(value, str) and len(value) > 200):
                bad.add(key)
        elif key == "timestamp":
            if not isinstance(value, str) or not _iso(value):
                bad.add(key)
        else:
            bad.add(key)
    return bad


def _plausible(name: str, value: Any) -> bool:
    if value is _ABSENT or isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    sensor = SENSORS[name]
    return math.isfinite(number) and sensor.low <= number <= sensor.high


def _iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
