"""Reading labeled sensor files into one shape: the raw UCI files and the labeling tool's session CSVs.

Two layers, so that validation can see a file as it was written before anything is coerced:
- `read_table(source)`: the named columns as text. The UCI files carry 8 fields under a 7-name header (a quoted row
  number comes first); that row number is dropped. Dates may be quoted or not.
- `to_readings(table)`: typed readings — `date` as a timestamp rounded to the minute (some stamps end in `:59`),
  the five sensors as float64, `Occupancy` as int64 — in time order. Call it on a table that passed validation;
  `read_readings` does both for trusted files (the data shipped in `occupancy_data/`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from .schema import COLUMNS, FEATURES, LABEL, TIMESTAMP

Source = str | Path | IO[str] | IO[bytes]

DATA_DIR = Path(__file__).resolve().parent / "occupancy_data"
UCI_FILES = {"training": "datatraining.txt", "test1": "datatest.txt", "test2": "datatest2.txt"}


class ReadError(ValueError):
    """A file that cannot be read as a table at all; `reason` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def read_table(source: Source) -> pd.DataFrame:
    """The file's named columns as text, exactly as written (no type coercion, no NaN guessing)."""
    if isinstance(source, str | Path):
        raw = Path(source).read_bytes()
    else:
        data = source.read()
        raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw.strip():
        raise ReadError("empty_file", "the file is empty")
    try:
        table = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ReadError("malformed_csv", f"not a readable CSV file: {error}") from error
    # pandas turns the UCI files' unnamed leading row number into the index: a header one field short.
    table = table.reset_index(drop=True)
    table.columns = [str(name).strip() for name in table.columns]
    return table


MISSING_MARKERS = frozenset({"", "nan", "NaN", "NA", "null", "None"})
_TYPED_COLUMNS: dict[str, str] = {TIMESTAMP: "str", **{name: "float64" for name in (*FEATURES, LABEL)}}


def read_typed_table(path: Path) -> pd.DataFrame | None:
    """The fast way in for a file that is probably fine: the numbers parsed by the CSV reader itself (only the
    missing markers become NaN), the date kept as text. None when anything does not convert or the file does not
    read; `read_table` then keeps every value as written, so validation can say which values are wrong. Both give
    validation the same findings and the same readings for a file this reads."""
    try:
        table = pd.read_csv(
            path,
            dtype=_TYPED_COLUMNS,
            na_values=sorted(MISSING_MARKERS),
            keep_default_na=False,
            skipinitialspace=True,
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return None
    table = table.reset_index(drop=True)  # the UCI files' row numbers, as in read_table
    table.columns = [str(name).strip() for name in table.columns]
    return table


@dataclass(frozen=True)
class Conversion:
    """Every value of a table converted once, and what did not convert: validation turns the failures into
    findings, `to_readings` into an error, and both build the readings from the same converted columns."""

    dates: pd.Series  # NaT where a stamp does not parse
    numbers: dict[str, pd.Series]  # the sensors and the label as float64; NaN where missing or not a number
    not_numbers: dict[str, int]  # per column, the values that are neither numbers nor missing markers
    missing_labels: int

    @property
    def bad_dates(self) -> int:
        return int(self.dates.isna().sum())

    @property
    def clean(self) -> bool:
        return not self.bad_dates and not self.not_numbers and not self.missing_labels

    def readings(self) -> pd.DataFrame:
        """Typed readings in time order (call on a clean conversion): `date` rounded to the minute (some stamps end
        in `:59`), the sensors float64 (missing ones NaN), `Occupancy` int64."""
        stamps = self.dates.dt.round("min").to_numpy(dtype="datetime64[ns]")
        in_order = bool(np.all(stamps[1:] >= stamps[:-1]))  # usually: no sort
        order = None if in_order else np.argsort(stamps, kind="stable")
        columns = {
            TIMESTAMP: stamps,
            **{name: self.numbers[name].to_numpy(dtype=np.float64) for name in FEATURES},
            LABEL: self.numbers[LABEL].to_numpy(dtype=np.int64),
        }
        return pd.DataFrame({name: values if order is None else values[order] for name, values in columns.items()})


def convert(table: pd.DataFrame) -> Conversion:
    """Convert a table from `read_table` (text) or `read_typed_table` (numbers already parsed)."""
    dates = pd.to_datetime(table[TIMESTAMP], errors="coerce", format="ISO8601")
    if dates.isna().any():  # quoted or padded stamps: only then the string work
        dates = pd.to_datetime(table[TIMESTAMP].str.strip().str.strip('"'), errors="coerce", format="ISO8601")
    numbers: dict[str, pd.Series] = {}
    not_numbers: dict[str, int] = {}
    missing_labels = 0
    for name in (*FEATURES, LABEL):
        column = table[name]
        if pd.api.types.is_float_dtype(column):  # read_typed_table: only missing markers became NaN
            numbers[name] = column
            garbage, missing = 0, int(column.isna().sum())
        else:
            numbers[name] = pd.to_numeric(column, errors="coerce")  # blanks around a number are fine
            unparsed = column[numbers[name].isna()].str.strip()  # usually none: string work only on those
            is_missing = unparsed.isin(MISSING_MARKERS)
            garbage, missing = int((~is_missing).sum()), int(is_missing.sum())
        if garbage:
            not_numbers[name] = garbage
        if name == LABEL:
            missing_labels = missing
    return Conversion(dates, numbers, not_numbers, missing_labels)


def to_readings(table: pd.DataFrame) -> pd.DataFrame:
    """Typed readings in time order; raises ValueError if a value does not convert. Empty or NaN sensor values
    become NaN (the validation's `finite` check reports them); labels must all be present."""
    converted = convert(table)
    if not converted.clean:
        raise ValueError(
            f"values do not convert: {converted.bad_dates} dates, not numbers {converted.not_numbers}, "
            f"{converted.missing_labels} missing labels"
        )
    return converted.readings()


def read_readings(source: Source) -> pd.DataFrame:
    return to_readings(read_table(source))


def uci(name: str) -> pd.DataFrame:
    """One of the shipped UCI files ("training", "test1", "test2") as typed readings."""
    return read_readings(DATA_DIR / UCI_FILES[name])


def write_session_csv(readings: pd.DataFrame, path: Path) -> None:
    """Write readings the way the labeling tool does: the exact header, no row numbers, ISO minute stamps."""
    out = readings[list(COLUMNS)].copy()
    out[TIMESTAMP] = out[TIMESTAMP].dt.strftime("%Y-%m-%d %H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, lineterminator="\n")
