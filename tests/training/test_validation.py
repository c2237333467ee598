"""Every bad case of occupancy-data-and-model.md §10 is rejected with its reason; every clean day passes."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.drift import prepare
from training.readings import read_table, to_readings, uci
from training.sessions import holdouts, training_sessions
from training.validation import ValidationContext, check_file, validate_batch, validate_file, validate_table

CLEAN_WEEKDAY = "2015-02-16"


def as_csv(readings: pd.DataFrame) -> io.StringIO:
    out = readings.copy()
    if pd.api.types.is_datetime64_any_dtype(out["date"]):
        out["date"] = out["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    buffer.seek(0)
    return buffer


def session(day: str) -> pd.DataFrame:
    return next(item.readings for item in training_sessions() if item.name == day)


@pytest.mark.parametrize("day", [item.name for item in training_sessions()])
def test_every_clean_session_passes_including_all_zero_weekends(day: str) -> None:
    report = validate_file(as_csv(session(day)), day)
    assert report.passed, report.to_dict()
    assert set(report.checks_run) >= {"schema", "finite", "ranges", "humidity_ratio", "night", "label_sanity"}


def test_weekend_sessions_are_single_class_and_still_pass() -> None:
    report = validate_file(as_csv(session("2015-02-07")), "saturday")
    assert report.passed and report.label_balance == {"unoccupied": 1440, "occupied": 0}


def _flip(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Occupancy=1 - frame["Occupancy"])


def _noisy(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    flips = rng.random(len(frame)) < 0.3
    return frame.assign(Occupancy=np.where(flips, 1 - frame["Occupancy"], frame["Occupancy"]))


def _nan(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.loc[out.index[::20], "CO2"] = np.nan
    return out


def _swap(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(Light=frame["CO2"], CO2=frame["Light"])


CORRUPTIONS: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], set[str]]] = {
    "NaN CO2 (5 %)": (_nan, {"nan_or_inf"}),
    "Temperature in °F": (
        lambda f: f.assign(Temperature=f["Temperature"] * 9 / 5 + 32),
        {"out_of_range", "humidity_ratio_mismatch"},
    ),
    "Light and CO2 swapped": (_swap, {"out_of_range", "night_light_on"}),
    "all labels flipped": (_flip, {"label_disagreement"}),
    "all labels 1": (lambda f: f.assign(Occupancy=1), {"label_disagreement"}),
    "30 % random flips": (_noisy, {"label_disagreement"}),
    "labels 60 min late": (
        lambda f: f.assign(Occupancy=f["Occupancy"].shift(60, fill_value=0)),
        {"label_disagreement"},
    ),
    "Light +300 lux (lamp left on)": (lambda f: f.assign(Light=f["Light"] + 300), {"night_light_on"}),
    "Humidity +10": (lambda f: f.assign(Humidity=f["Humidity"] + 10), {"humidity_ratio_mismatch"}),
    "missing column": (lambda f: f.drop(columns=["CO2"]), {"missing_columns"}),
    "extra column": (lambda f: f.assign(Room="A"), {"extra_columns"}),
    "renamed column": (lambda f: f.rename(columns={"Light": "Lux"}), {"missing_columns", "extra_columns"}),
    "text in a number column": (
        lambda f: f.assign(Light=f["Light"].astype(object).where(f.index != f.index[3], "bright")),
        {"not_a_number"},
    ),
    "labels 0/1/2": (
        lambda f: f.assign(Occupancy=f["Occupancy"].where(f.index != f.index[5], 2)),
        {"label_not_binary"},
    ),
    "too short": (lambda f: f.head(30), {"too_few_rows"}),
    "a minute twice": (lambda f: pd.concat([f, f.head(1)]), {"duplicate_timestamps"}),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_each_corruption_is_rejected_with_its_reason(case: str) -> None:
    corrupt, expected = CORRUPTIONS[case]
    report = validate_file(as_csv(corrupt(session(CLEAN_WEEKDAY))), case)
    assert not report.passed
    assert expected <= set(report.reasons), report.to_dict()


def _set_field(text: str, *, row: int, field: int, value: str) -> str:
    lines = text.splitlines(keepends=True)
    fields = lines[row].split(",")
    fields[field] = value
    lines[row] = ",".join(fields)
    return "".join(lines)


TEXT_QUIRKS: dict[str, Callable[[str], str]] = {  # what the typed read refuses or reads differently from text
    "padded and quoted dates": lambda text: re.sub(r"^(2015-02-1\d [0-9:]+),", r' "\1",', text, flags=re.M),
    "N/A in CO2": lambda text: _set_field(text, row=1, field=4, value="N/A"),
    "blank label": lambda text: text[: text.rindex(",")] + ",\n",
    "trailing blanks": lambda text: text.replace(",0\n", ",0  \n", 3),
}


@pytest.mark.parametrize("case", [*sorted(CORRUPTIONS), "clean", *sorted(TEXT_QUIRKS)])
def test_the_fast_typed_read_reports_exactly_what_the_text_read_does(case: str, tmp_path: Path) -> None:
    readings = session(CLEAN_WEEKDAY)
    if case in CORRUPTIONS:
        readings = CORRUPTIONS[case][0](readings)
    text = as_csv(readings).getvalue()
    text = TEXT_QUIRKS[case](text) if case in TEXT_QUIRKS else text
    path = tmp_path / "session.csv"
    path.write_text(text)
    report, typed = check_file(path, "session.csv")
    assert report.to_dict() == validate_file(path, "session.csv").to_dict()
    if report.passed:
        assert typed is not None
        expected = to_readings(read_table(path))
        pd.testing.assert_frame_equal(typed, expected, check_dtype=False)
        assert (
            typed["date"].to_numpy(dtype="datetime64[ns]").tolist()
            == expected["date"].to_numpy(dtype="datetime64[ns]").tolist()
        )
    else:
        assert typed is None


def test_empty_file() -> None:
    report = validate_file(io.StringIO(""), "empty")
    assert report.reasons == ["empty_file"] and report.rows == 0


def test_holdout_rows_and_rows_already_in_the_dataset_are_rejected() -> None:
    pinned = holdouts()
    context = ValidationContext(holdout_timestamps=frozenset(pinned["2015-02-17"]["date"]))
    leaking = pd.concat([session(CLEAN_WEEKDAY), pinned["2015-02-17"]])
    assert "holdout_leak" in validate_file(as_csv(leaking), "leak", context).reasons
    known = ValidationContext(known_timestamps=frozenset(session(CLEAN_WEEKDAY)["date"]))
    assert "duplicate_rows" in validate_file(as_csv(session(CLEAN_WEEKDAY)), "again", known).reasons


def test_a_batch_catches_the_same_rows_in_two_files() -> None:
    day = session("2015-02-05")
    reports = validate_batch(
        [("a.csv", pd.read_csv(as_csv(day), dtype=str)), ("b.csv", pd.read_csv(as_csv(day), dtype=str))]
    )
    assert reports[0].passed and reports[1].reasons == ["duplicate_rows"]


def test_a_champion_that_agrees_rescues_a_session_the_light_rule_would_reject() -> None:
    day = session(CLEAN_WEEKDAY).assign(Light=lambda f: f["Light"] * 0.5)  # dirty sensor: the rule disagrees
    labels = day["Occupancy"].to_numpy(dtype=float)
    assert "label_disagreement" in validate_file(as_csv(day), "dim").reasons
    agreeing = ValidationContext(champion=lambda readings: labels)
    assert validate_file(as_csv(day), "dim", agreeing).passed


def test_drift_is_reported_but_never_blocks() -> None:
    report = validate_table(
        pd.read_csv(as_csv(session(CLEAN_WEEKDAY)), dtype=str), "d", ValidationContext(reference=uci("training"))
    )
    assert report.passed
    co2 = next(item for item in report.drift if item["feature"] == "CO2")
    assert co2["ks"] > 0.5 and co2["psi"] > 1  # enormous drift on a perfectly clean day
    assert any(finding.reason == "night_co2_high" and finding.severity == "warning" for finding in report.findings)
    prepared = ValidationContext(reference=prepare(uci("training")))  # what the sync passes: prepared once a batch
    assert validate_table(pd.read_csv(as_csv(session(CLEAN_WEEKDAY)), dtype=str), "d", prepared).drift == report.drift


def test_report_serializes_for_an_artifact_and_a_table() -> None:
    report = validate_file(as_csv(_flip(session(CLEAN_WEEKDAY))), "flipped")
    document = report.to_dict()
    assert document["passed"] is False and document["reasons"] == ["label_disagreement"]
    label = next(item for item in document["findings"] if item["reason"] == "label_disagreement")
    assert label["details"]["light_rule_agreement"] < 0.1
    assert report.table()[0] == ["check", "result", "details"]


def test_rows_inside_the_spans_of_files_already_in_the_dataset_are_duplicates() -> None:
    day = session(CLEAN_WEEKDAY)
    first, last = day["date"].iloc[0], day["date"].iloc[-1]
    inside = ValidationContext(known_spans=((pd.Timestamp("2015-02-01"), pd.Timestamp("2015-02-02")), (first, last)))
    report = validate_file(as_csv(day), "again", inside)
    duplicate = next(item for item in report.findings if item.reason == "duplicate_rows")
    assert duplicate.details["count"] == len(day)
    elsewhere = ValidationContext(known_spans=((pd.Timestamp("2015-02-01"), pd.Timestamp("2015-02-02")),))
    assert validate_file(as_csv(day), "new", elsewhere).passed
