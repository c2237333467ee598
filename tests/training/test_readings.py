"""One reader for the raw UCI files and the labeling tool's session CSVs."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from training.readings import ReadError, read_readings, read_table, uci, write_session_csv
from training.schema import COLUMNS


@pytest.mark.parametrize(("name", "rows"), [("training", 8143), ("test1", 2665), ("test2", 9752)])
def test_uci_files_read_with_exactly_the_seven_named_columns(name: str, rows: int) -> None:
    readings = uci(name)
    assert list(readings.columns) == list(COLUMNS) and len(readings) == rows
    assert readings["date"].is_monotonic_increasing and not readings["date"].duplicated().any()
    assert (readings["date"].dt.second == 0).all()  # the `:59` stamps are rounded to their minute
    assert readings["Occupancy"].isin([0, 1]).all()


def test_quoted_and_unquoted_dates_and_the_row_number_column() -> None:
    quoted = '"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"\n"7","2015-02-04 17:51:59",23.18,27.272,426,721.25,0.00479298817650529,1\n'
    unquoted = "date,Temperature,Humidity,Light,CO2,HumidityRatio,Occupancy\n2015-02-04 17:52:00,23.18,27.272,426,721.25,0.0047,1\n"
    first, second = read_readings(io.StringIO(quoted)), read_readings(io.StringIO(unquoted))
    assert first["date"][0] == second["date"][0] == pd.Timestamp("2015-02-04 17:52:00")
    assert first["Light"][0] == 426.0 and first["Occupancy"][0] == 1


def test_session_csv_round_trip(tmp_path: Path) -> None:
    readings = uci("training").head(100)
    write_session_csv(readings, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == ",".join(COLUMNS)
    pd.testing.assert_frame_equal(read_readings(tmp_path / "s.csv"), readings)


def test_unreadable_files_raise_a_reason() -> None:
    with pytest.raises(ReadError) as empty:
        read_table(io.StringIO("   \n"))
    assert empty.value.reason == "empty_file"
    with pytest.raises(ReadError) as ragged:
        read_table(io.StringIO('a,b\n1,2\n"unterminated,3,4,5\n'))
    assert ragged.value.reason == "malformed_csv"
