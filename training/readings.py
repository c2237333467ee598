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
from pathlib import Path
from typing import IO

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


def _to_floats(column: pd.Series) -> pd.Series:
    """Text to float64, vectorised: missing markers become NaN; anything else that is not a number raises."""
    try:  # the common case, all numbers (surrounding blanks allowed): no per-value string work
        return pd.to_numeric(column, errors="raise").astype("float64")
    except (ValueError, TypeError):
        pass
    values = column.str.strip()
    return pd.to_numeric(values.mask(values.isin(MISSING_MARKERS), None), errors="raise").astype("float64")


def to_readings(table: pd.DataFrame) -> pd.DataFrame:
    """Typed readings in time order; raises ValueError if a value does not convert. Empty or NaN sensor values
    become NaN (the validation's `finite` check reports them); labels must all be present."""
    readings = pd.DataFrame(
        {
            TIMESTAMP: pd.to_datetime(
                table[TIMESTAMP].str.strip().str.strip('"'), errors="raise", format="ISO8601"
            ).dt.round("min"),
            **{name: _to_floats(table[name]) for name in FEATURES},
            LABEL: pd.to_numeric(table[LABEL], errors="raise").astype("int64"),
        }
    )
    return readings.sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)[list(COLUMNS)]


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
