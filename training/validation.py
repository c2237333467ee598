"""The validation report of a labeled file or batch: what keeps bad labels and broken sensors out of training.

Checks run cheapest first; each finding carries a machine-readable `reason`, a sentence a labeler can act on, and
the numbers behind it. Structural failures (unreadable, wrong columns, values that are not numbers) stop the
report early, because nothing after them would mean anything. Content checks all run, so a file is rejected
with every reason at once. Drift (PSI/KS per sensor) and night-time CO2 are warnings: reported, never blocking.

Thresholds come from measurements on the data set (occupancy-data-and-model.md §10-11): label agreement with
the Light rule is 95.3-100 % on every clean day and 0.8-70.8 % for every corrupted batch tried, hence 93 %.
Pure: no I/O, no TensorFlow; the champion's predictions come in as a function.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .baselines import light_rule
from .drift import DriftReference, feature_drift
from .readings import ReadError, Source, convert, read_table, read_typed_table
from .schema import COLUMNS, FEATURES, LABEL, SENSORS, TIMESTAMP, humidity_ratio

MIN_ROWS = 60
MAX_HUMIDITY_RATIO_ERROR = 0.02  # relative; clean rows are within 0.3 %
MAX_HUMIDITY_RATIO_BAD_SHARE = 0.01
NIGHT_HOURS = range(0, 5)
MAX_NIGHT_LIGHT_MEDIAN = 50.0  # lux: Light is exactly 0 at night on every clean day
MAX_NIGHT_CO2_P5 = 650.0  # ppm: above it, CO2 drifts (a warning, Feb 16-18 trip it legitimately)
MIN_LABEL_AGREEMENT = 0.93

ERROR, WARNING = "error", "warning"
Stamp = pd.Timestamp | np.datetime64
Predictor = Callable[[pd.DataFrame], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str  # "error" rejects the file, "warning" is reported only
    reason: str  # machine-readable
    message: str  # for the labeler
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationContext:
    """What a file is checked against, besides itself."""

    holdout_timestamps: frozenset[pd.Timestamp] = frozenset()  # rows of the pinned holdouts must never train
    known_timestamps: frozenset[pd.Timestamp] = frozenset()  # rows already in the dataset
    known_spans: tuple[tuple[Stamp, Stamp], ...] = ()  # (first, last) minutes of files already in it
    known_minutes: npt.NDArray[np.int64] | None = None  # rows already in it, as sorted nanoseconds (validate_batch)
    champion: Predictor | None = None  # P(occupied) of the production model, if there is one
    reference: pd.DataFrame | DriftReference | None = None  # readings to measure drift against (drift.prepare)


@dataclass(frozen=True)
class ValidationReport:
    source: str
    rows: int
    findings: tuple[Finding, ...]
    checks_run: tuple[str, ...]
    drift: tuple[dict[str, Any], ...] = ()
    label_balance: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not any(finding.severity == ERROR for finding in self.findings)

    @property
    def reasons(self) -> list[str]:
        return [finding.reason for finding in self.findings if finding.severity == ERROR]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "passed": self.passed,
            "rows": self.rows,
            "reasons": self.reasons,
            "findings": [asdict(finding) for finding in self.findings],
            "checks_run": list(self.checks_run),
            "drift": list(self.drift),
            "label_balance": self.label_balance,
        }

    def table(self) -> list[list[str]]:
        """Rows for a human-readable table (check, result, details)."""
        failed = {finding.check: finding for finding in self.findings}
        rows = [["check", "result", "details"]]
        for check in self.checks_run:
            finding = failed.get(check)
            rows.append([check, finding.severity if finding else "ok", finding.message if finding else ""])
        return rows


def validate_file(source: Source, name: str, context: ValidationContext = ValidationContext()) -> ValidationReport:
    try:
        table = read_table(source)
    except ReadError as error:
        return _unreadable(name, error)
    return validate_table(table, name, context)


def check_file(
    path: Path, name: str, context: ValidationContext = ValidationContext()
) -> tuple[ValidationReport, pd.DataFrame | None]:
    """`validate_file` for a file on disk, plus its typed readings when it passed. The CSV reader parses the
    numbers itself first (read_typed_table, several times faster); a file it cannot read that way is read as text,
    so the report names every value that is wrong. The report is the same either way."""
    table = read_typed_table(path)
    if table is None:
        try:
            table = read_table(path)
        except ReadError as error:
            return _unreadable(name, error), None
    report, readings = check_table(table, name, context)
    return report, (readings if report.passed else None)


def _unreadable(name: str, error: ReadError) -> ValidationReport:
    return ValidationReport(name, 0, (Finding("readable", ERROR, error.reason, str(error)),), ("readable",))


def validate_table(
    table: pd.DataFrame, name: str, context: ValidationContext = ValidationContext()
) -> ValidationReport:
    return check_table(table, name, context)[0]


def check_table(
    table: pd.DataFrame, name: str, context: ValidationContext = ValidationContext()
) -> tuple[ValidationReport, pd.DataFrame | None]:
    """The report, and the typed readings if the table got far enough to have them (for callers that keep the
    data of a file that passed: converting once is most of the cost of validating)."""
    checks: list[str] = ["readable"]
    findings: list[Finding] = []

    def stop() -> tuple[ValidationReport, None]:
        return ValidationReport(name, len(table), tuple(findings), tuple(checks)), None

    checks.append("schema")
    findings.extend(_schema(table))
    if findings:
        return stop()
    checks.append("parseable")
    problems, parsed = _parse(table)
    findings.extend(problems)
    if parsed is None:
        return stop()
    readings = parsed
    for check, function in _CONTENT_CHECKS:
        checks.append(check)
        findings.extend(function(readings, context))
    drift = (
        tuple(asdict(item) for item in feature_drift(context.reference, readings))
        if context.reference is not None
        else ()
    )
    balance = {"unoccupied": int((readings[LABEL] == 0).sum()), "occupied": int((readings[LABEL] == 1).sum())}
    return ValidationReport(name, len(readings), tuple(findings), tuple(checks), drift, balance), readings


def validate_batch(
    files: Iterable[tuple[str, pd.DataFrame]], context: ValidationContext = ValidationContext()
) -> list[ValidationReport]:
    """Validate several files together: a row present in two files of the batch is a duplicate in the second.

    The rows seen so far are kept as one sorted array that each passed file is merged into (a linear merge), so a
    batch of a year of sessions costs what its files cost one by one, not their square."""
    reports: list[ValidationReport] = []
    seen = np.empty(0, dtype=np.int64)
    for name, table in files:
        report, readings = check_table(table, name, dataclasses.replace(context, known_minutes=seen))
        if report.passed and readings is not None:
            values = np.sort(readings[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view(np.int64))
            seen = np.sort(np.concatenate([seen, values]), kind="stable")  # two sorted runs: merged, not re-sorted
        reports.append(report)
    return reports


# -- structural checks ----------------------------------------------------------------------------------------


def _schema(table: pd.DataFrame) -> list[Finding]:
    columns = list(table.columns)
    missing = [name for name in COLUMNS if name not in columns]
    extra = [name for name in columns if name not in COLUMNS]
    findings = []
    if missing:
        findings.append(
            Finding(
                "schema", ERROR, "missing_columns", f"missing column(s): {', '.join(missing)}", {"missing": missing}
            )
        )
    if extra:
        findings.append(
            Finding("schema", ERROR, "extra_columns", f"unexpected column(s): {', '.join(extra)}", {"extra": extra})
        )
    if not missing and not extra and columns != list(COLUMNS):
        findings.append(
            Finding(
                "schema",
                ERROR,
                "column_order",
                f"columns must be in the order {', '.join(COLUMNS)}",
                {"columns": columns},
            )
        )
    return findings


def _parse(table: pd.DataFrame) -> tuple[list[Finding], pd.DataFrame | None]:
    """Every value converted once (readings.convert): findings for what does not convert, else the readings."""
    converted = convert(table)
    findings = []
    if converted.bad_dates:
        bad = table.loc[converted.dates.isna(), TIMESTAMP].head(3).tolist()
        count = converted.bad_dates
        findings.append(
            Finding("parseable", ERROR, "bad_timestamp", f"{count} dates do not parse, e.g. {bad}", {"count": count})
        )
    if converted.not_numbers:
        not_numbers = converted.not_numbers
        findings.append(
            Finding(
                "parseable",
                ERROR,
                "not_a_number",
                f"values that are not numbers: {not_numbers}",
                {"counts": not_numbers},
            )
        )
    if converted.missing_labels:
        unlabeled = converted.missing_labels
        findings.append(
            Finding(
                "parseable", ERROR, "missing_labels", f"{unlabeled} rows have no Occupancy label", {"count": unlabeled}
            )
        )
    return findings, (None if findings else converted.readings())


# -- content checks (typed readings) ---------------------------------------------------------------------------


def _finite(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    values = readings[list(FEATURES)].to_numpy(dtype=np.float64)
    bad = {name: int((~np.isfinite(values[:, index])).sum()) for index, name in enumerate(FEATURES)}
    bad = {name: count for name, count in bad.items() if count}
    if bad:
        return [
            Finding(
                "finite",
                ERROR,
                "nan_or_inf",
                f"NaN or infinite values: {bad} (Keras would train on them silently)",
                {"counts": bad},
            )
        ]
    return []


def _labels(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    values = sorted(set(readings[LABEL].unique().tolist()) - {0, 1})
    if values:
        return [
            Finding(
                "labels",
                ERROR,
                "label_not_binary",
                f"Occupancy must be 0 or 1, found {values[:5]}",
                {"values": values[:5]},
            )
        ]
    return []


def _size(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    if len(readings) < MIN_ROWS:
        return [
            Finding(
                "size",
                ERROR,
                "too_few_rows",
                f"{len(readings)} rows; a session needs at least {MIN_ROWS}",
                {"rows": len(readings)},
            )
        ]
    return []


def _duplicates(readings: pd.DataFrame, context: ValidationContext) -> list[Finding]:
    findings = []
    repeated = int(readings[TIMESTAMP].duplicated().sum())
    if repeated:
        findings.append(
            Finding(
                "duplicates",
                ERROR,
                "duplicate_timestamps",
                f"{repeated} minutes appear more than once in the file",
                {"count": repeated},
            )
        )
    known = _count_in(readings[TIMESTAMP], context.known_timestamps)
    known += int(_inside_spans(readings[TIMESTAMP], context.known_spans).sum())
    if context.known_minutes is not None:
        known += _count_sorted(readings[TIMESTAMP], context.known_minutes)
    if known:
        findings.append(
            Finding("duplicates", ERROR, "duplicate_rows", f"{known} rows are already in the dataset", {"count": known})
        )
    return findings


@functools.lru_cache(maxsize=8)
def _sorted_stamps(stamps: frozenset[pd.Timestamp]) -> npt.NDArray[np.int64]:
    """A set of minutes as sorted nanoseconds, computed once per set (the sync checks every file against the same
    holdout set; a frozenset caches its hash, so finding it here again is cheap)."""
    return np.sort(pd.DatetimeIndex(list(stamps)).as_unit("ns").asi8)


def _count_in(stamps: pd.Series, known: frozenset[pd.Timestamp]) -> int:
    return _count_sorted(stamps, _sorted_stamps(known)) if known else 0


def _count_sorted(stamps: pd.Series, ordered: npt.NDArray[np.int64]) -> int:
    """How many of the stamps are in `ordered` (sorted nanoseconds)."""
    if not len(ordered):
        return 0
    values = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    index = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return int((ordered[index] == values).sum())


def _inside_spans(stamps: pd.Series, spans: tuple[tuple[Stamp, Stamp], ...]) -> npt.NDArray[np.bool_]:
    """Which stamps fall inside any [first, last] span (spans may overlap)."""
    if not spans:
        return np.zeros(len(stamps), dtype=bool)
    pairs = np.array(spans, dtype="datetime64[ns]").view(np.int64)  # n x 2, in numpy: no per-span Python work
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    starts = pairs[:, 0]
    ends = np.maximum.accumulate(pairs[:, 1])  # the furthest end reached by any span starting at or before
    values = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    index = np.searchsorted(starts, values, side="right") - 1
    inside: npt.NDArray[np.bool_] = (index >= 0) & (values <= ends[np.maximum(index, 0)])
    return inside


def _holdout(readings: pd.DataFrame, context: ValidationContext) -> list[Finding]:
    leaked = _count_in(readings[TIMESTAMP], context.holdout_timestamps)
    if leaked:
        return [
            Finding(
                "holdout",
                ERROR,
                "holdout_leak",
                f"{leaked} rows belong to the pinned holdout and must never train a model",
                {"count": leaked},
            )
        ]
    return []


def _ranges(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    outside: dict[str, dict[str, float]] = {}
    for name, sensor in SENSORS.items():
        column = readings[name].to_numpy()
        bad = (column < sensor.low) | (column > sensor.high)
        if bad.any():
            outside[name] = {
                "rows": int(bad.sum()),
                "min": float(np.nanmin(column)),
                "max": float(np.nanmax(column)),
                "low": sensor.low,
                "high": sensor.high,
            }
    if outside:
        summary = ", ".join(
            f"{name} {v['min']:g}..{v['max']:g} (expected {v['low']:g}..{v['high']:g} {SENSORS[name].unit})"
            for name, v in outside.items()
        )
        return [Finding("ranges", ERROR, "out_of_range", f"physically implausible values: {summary}", outside)]
    return []


def _humidity_ratio(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    expected = humidity_ratio(readings["Temperature"], readings["Humidity"])
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.abs(readings["HumidityRatio"].to_numpy() / expected - 1.0)
    share = float(np.mean(~(error <= MAX_HUMIDITY_RATIO_ERROR)))
    if share > MAX_HUMIDITY_RATIO_BAD_SHARE:
        return [
            Finding(
                "humidity_ratio",
                ERROR,
                "humidity_ratio_mismatch",
                f"HumidityRatio disagrees with Temperature and Humidity on {share:.0%} of rows (a swapped column or a unit change?)",
                {"share": round(share, 4), "median_error": round(float(np.nanmedian(error)), 4)},
            )
        ]
    return []


def _night(readings: pd.DataFrame, _: ValidationContext) -> list[Finding]:
    hours = readings[TIMESTAMP].dt.hour.to_numpy()
    at_night = (hours >= NIGHT_HOURS.start) & (hours < NIGHT_HOURS.stop)
    if not at_night.any():
        return []
    findings = []
    light = float(np.nanmedian(readings["Light"].to_numpy()[at_night]))
    if light > MAX_NIGHT_LIGHT_MEDIAN:
        findings.append(
            Finding(
                "night",
                ERROR,
                "night_light_on",
                f"median Light between 00:00 and 05:00 is {light:g} lux (normally 0): a lamp left on, or swapped columns",
                {"median_light": light},
            )
        )
    co2 = float(np.nanquantile(readings["CO2"].to_numpy()[at_night], 0.05))
    if co2 > MAX_NIGHT_CO2_P5:
        findings.append(
            Finding(
                "night",
                WARNING,
                "night_co2_high",
                f"night-time CO2 5th percentile is {co2:.0f} ppm (above {MAX_NIGHT_CO2_P5:.0f}): CO2 drifts, models leaning on it may degrade",
                {"co2_p5": co2},
            )
        )
    return findings


def _label_sanity(readings: pd.DataFrame, context: ValidationContext) -> list[Finding]:
    labels = readings[LABEL].to_numpy()
    rule = float(np.mean((light_rule(readings) > 0.5) == labels))
    details: dict[str, Any] = {"light_rule_agreement": round(rule, 4)}
    agreements = [rule]
    if context.champion is not None:
        champion = float(np.mean((context.champion(readings) > 0.5) == labels))
        details["champion_agreement"] = round(champion, 4)
        agreements.append(champion)
    if max(agreements) < MIN_LABEL_AGREEMENT:
        return [
            Finding(
                "label_sanity",
                ERROR,
                "label_disagreement",
                f"labels agree with the Light rule on only {rule:.1%} of rows (clean sessions: 95-100 %); flipped, shifted or random labels?",
                details,
            )
        ]
    return []


_CONTENT_CHECKS: tuple[tuple[str, Callable[[pd.DataFrame, ValidationContext], list[Finding]]], ...] = (
    ("finite", _finite),
    ("labels", _labels),
    ("size", _size),
    ("duplicates", _duplicates),
    ("holdout", _holdout),
    ("ranges", _ranges),
    ("humidity_ratio", _humidity_ratio),
    ("night", _night),
    ("label_sanity", _label_sanity),
)
