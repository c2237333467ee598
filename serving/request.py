"""The request schema of the occupancy endpoint and its validation: a JSON body in, sensor rows or field errors out.

One reading is an object with the five sensors of the data contract (training/schema.py: names, units, physical
ranges), an optional `timestamp` (ISO 8601, the building's local time; required only by models whose inputs use
the time of day) and optional `room` / `sensor_id`, which are echoed back. A batch is `{"readings": [...]}`.

Every wrong field is reported, not only the first, with a machine-readable reason; a body with any error is
rejected whole, so a bad reading never reaches the model. Pure Python, numpy and pandas: no TensorFlow, no ClearML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from training.schema import FEATURES, SENSORS, TIMESTAMP

TIMESTAMP_FIELD = "timestamp"
ECHO_FIELDS = ("room", "sensor_id")
BATCH_FIELD = "readings"
MAX_READINGS = 1000  # one building's rooms per call; larger batches belong in an offline job
MAX_ECHO_LENGTH = 200
_KNOWN = frozenset((*FEATURES, TIMESTAMP_FIELD, *ECHO_FIELDS))
_COLUMNS = pd.Index(FEATURES)  # built once: a column index per request costs more than the rest of the frame


@dataclass(frozen=True)
class FieldError:
    field: str  # "CO2", "readings[3].Light", "readings", "" for the body itself
    reason: str  # missing, not_a_number, nan_or_inf, out_of_range, bad_timestamp, not_a_string, too_long,
    #              unknown_field, not_an_object, not_a_list, empty, too_many
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class Readings:
    """Validated readings: sensors in FEATURES order, and what each reading asked to have echoed."""

    values: npt.NDArray[np.float64]  # n x len(FEATURES)
    timestamps: tuple[datetime | None, ...]
    echoes: tuple[dict[str, Any], ...]
    batch: bool  # the body was {"readings": [...]}: answer with a list

    def columns(self) -> dict[str, npt.NDArray[Any]]:
        """What training/features.py transforms, as arrays by column name (no DataFrame: it cost more than the
        network for one reading); TIMESTAMP only when a reading has one."""
        columns: dict[str, npt.NDArray[Any]] = {name: self.values[:, index] for index, name in enumerate(FEATURES)}
        if any(stamp is not None for stamp in self.timestamps):
            columns[TIMESTAMP] = np.array(self.timestamps, dtype="datetime64[ns]")
        return columns

    def to_frame(self) -> pd.DataFrame:
        """The shape training/features.py transforms: one row per reading, the contract's column names."""
        frame = pd.DataFrame(self.values, columns=_COLUMNS, copy=False)
        if any(stamp is not None for stamp in self.timestamps):
            frame[TIMESTAMP] = pd.to_datetime(pd.Series(self.timestamps, dtype=object))
        return frame


def parse(body: object, *, needs_timestamp: bool = False) -> Readings | list[FieldError]:
    if not isinstance(body, Mapping):
        return [FieldError("", "not_an_object", 'the body must be a JSON object: one reading or {"readings": [...]}')]
    if BATCH_FIELD not in body:
        return _collect([body], "", needs_timestamp, batch=False)
    errors = [
        FieldError(str(key), "unknown_field", f"{key!r} is not allowed next to 'readings' (put it in each reading)")
        for key in body
        if key != BATCH_FIELD
    ]
    items = body[BATCH_FIELD]
    if not isinstance(items, list):
        return [*errors, FieldError(BATCH_FIELD, "not_a_list", "'readings' must be a list of reading objects")]
    if not items:
        return [*errors, FieldError(BATCH_FIELD, "empty", "'readings' must hold at least one reading")]
    if len(items) > MAX_READINGS:
        return [*errors, FieldError(BATCH_FIELD, "too_many", f"at most {MAX_READINGS} readings per request")]
    parsed = _collect(items, BATCH_FIELD, needs_timestamp, batch=True)
    if isinstance(parsed, list):
        return [*errors, *parsed]
    return errors or parsed


def _collect(items: list[Any], prefix: str, needs_timestamp: bool, *, batch: bool) -> Readings | list[FieldError]:
    errors: list[FieldError] = []
    rows: list[list[float]] = []
    stamps: list[datetime | None] = []
    echoes: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]" if batch else ""
        if not isinstance(item, Mapping):
            errors.append(FieldError(where, "not_an_object", "a reading must be a JSON object"))
            continue
        row, stamp, echo = _reading(item, f"{where}." if where else "", needs_timestamp, errors)
        rows.append(row)
        stamps.append(stamp)
        echoes.append(echo)
    if errors:
        return errors
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
    return Readings(values, tuple(stamps), tuple(echoes), batch)


def _reading(
    item: Mapping[str, Any], prefix: str, needs_timestamp: bool, errors: list[FieldError]
) -> tuple[list[float], datetime | None, dict[str, Any]]:
    row = [_sensor(item, name, prefix, errors) for name in FEATURES]
    stamp = _timestamp(item, prefix, needs_timestamp, errors)
    echo: dict[str, Any] = {}
    for name in ECHO_FIELDS:
        if name in item:
            value = item[name]
            if isinstance(value, bool) or not isinstance(value, str | int):
                errors.append(FieldError(prefix + name, "not_a_string", f"{name} must be a string (or an integer id)"))
            elif isinstance(value, str) and len(value) > MAX_ECHO_LENGTH:
                errors.append(FieldError(prefix + name, "too_long", f"{name} is longer than {MAX_ECHO_LENGTH}"))
            else:
                echo[name] = value
    for key in item:
        if key not in _KNOWN:
            errors.append(FieldError(prefix + str(key), "unknown_field", _unknown_message(str(key))))
    return row, stamp, echo


def _sensor(item: Mapping[str, Any], name: str, prefix: str, errors: list[FieldError]) -> float:
    sensor = SENSORS[name]
    field = prefix + name
    if name not in item:
        errors.append(FieldError(field, "missing", f"{name} ({sensor.unit}) is required"))
        return math.nan
    raw = item[name]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        errors.append(FieldError(field, "not_a_number", f"{name} must be a JSON number in {sensor.unit}"))
        return math.nan
    try:
        value = float(raw)
    except OverflowError:  # an integer literal too large for a float
        value = math.inf
    if not math.isfinite(value):
        errors.append(FieldError(field, "nan_or_inf", f"{name} must be a finite number"))
    elif not sensor.low <= value <= sensor.high:
        errors.append(
            FieldError(
                field, "out_of_range", f"{name} = {value:g} {sensor.unit} is outside {sensor.low:g}..{sensor.high:g}"
            )
        )
    return value


def _timestamp(
    item: Mapping[str, Any], prefix: str, needs_timestamp: bool, errors: list[FieldError]
) -> datetime | None:
    field = prefix + TIMESTAMP_FIELD
    if TIMESTAMP_FIELD not in item:
        if needs_timestamp:
            errors.append(FieldError(field, "missing", "this model's inputs use the time of day: send 'timestamp'"))
        return None
    raw = item[TIMESTAMP_FIELD]
    if not isinstance(raw, str):
        errors.append(FieldError(field, "bad_timestamp", "timestamp must be an ISO 8601 string"))
        return None
    try:
        # the building's wall clock is what the model learned; an offset is accepted and ignored
        return datetime.fromisoformat(raw).replace(tzinfo=None)
    except ValueError:
        errors.append(FieldError(field, "bad_timestamp", f"{raw[:40]!r} is not an ISO 8601 timestamp"))
        return None


def _unknown_message(key: str) -> str:
    close = [name for name in _KNOWN if name.lower() == key.lower().replace("0", "o")]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{key[:60]!r} is not a field of a reading{hint}"
