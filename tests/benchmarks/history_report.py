"""The history benchmark's results as BENCHMARKS.md text and an SVG chart (tests/benchmarks/history_bench.py)."""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from tests.benchmarks.svg_panels import Panel, Series, panels_svg

CHART = Path(__file__).resolve().parent / "history.svg"
# stages of one loop iteration that read nothing of the dataset's history (issue 8's loop benchmark)
STEADY_STAGES = ("agent", "gate agent pick-up", "gate", "serving config propagation")


def steady_stage_seconds(benchmarks_md: str) -> float | None:
    """The issue-8 loop section's medians of the stages that do not depend on the dataset's history."""
    section = benchmarks_md.split("<!-- bench:loop:begin -->")[-1].split("<!-- bench:loop:end -->")[0]
    values = {name: float(value) for name, value in re.findall(r"^\| ([^|*]+?) \| ([\d.]+) \|$", section, re.M)}
    found = [values[stage] for stage in STEADY_STAGES if stage in values]
    return round(sum(found), 2) if len(found) == len(STEADY_STAGES) else None


MEASURES = (  # the order of the summary table
    "versions (sessions)",
    "longest chain (depth)",
    "finalize CPU s: first version -> max later",
    "finalize CPU: ratio to the root it was built on, p50 / p90 / max",
    "finalize wall s: first version -> max later",
    "cold download CPU s: first version -> max later",
    "cold download CPU: ratio to the root it was built on, p50 / p90 / max",
    "cold download wall s: first version -> max later",
    "sync + server CPU per version s: first -> max later",
    "squashes: count, p50 / max s, files in the last",
    "upload button -> version final, last 10, p50 s",
    "version final -> run enqueued (trigger), last 10, p50 s",
    "loop overhead after it, s (target 15)",
    "training runs: rows, fit s (epochs)",
    "server DB / file store at the end, MB",
    "wall time of the scenario",
)


def _rows(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list(results["scenarios"].get(name, {}).get("versions", []))


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [row[key] for row in rows if row.get(key) is not None]


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f}"


def _fmt(value: Any, digits: int = 2) -> str:
    return "" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def ratio_summary(rows: list[dict[str, Any]], key: str, reference: str) -> str:
    """p50 / p90 / max of `key / reference` over the versions that have both (e.g. a version against the root it
    was built on: the same history at depth 1)."""
    ratios = sorted(row[key] / row[reference] for row in rows if row.get(key) and row.get(reference))
    if not ratios:
        return "-"
    p90 = ratios[round(0.9 * (len(ratios) - 1))]
    return f"{statistics.median(ratios):.2f}x / {p90:.2f}x / {ratios[-1]:.2f}x (n={len(ratios)})"


def _first_to_max(rows: list[dict[str, Any]], key: str) -> str:
    """`first -> max of the later ones (ratio)` of one measure."""
    values = _values(rows[1:], key)
    if not values or not rows[0].get(key):
        return "-"
    return f"{rows[0][key]:.2f} -> {max(values):.2f} ({max(values) / rows[0][key]:.2f}x)"


def _cpu_pair(row: dict[str, Any], key: str, root_key: str) -> str:
    root = row.get(root_key)
    return f"{row[key]:.2f}" + (f"; {root:.2f}" if root is not None else "")


def summary(results: dict[str, Any], steady: float | None) -> dict[str, dict[str, str]]:
    """Per measure, per scenario: the issue's targets are finalize and cold training download within 1.5x of
    depth 1 at every depth up to a year, and the loop overhead after a simulated year within 15 s."""
    table: dict[str, dict[str, str]] = {}

    def put(measure: str, name: str, value: str) -> None:
        table.setdefault(measure, {})[name] = value

    for name, scenario in results["scenarios"].items():
        rows = _rows(results, name)
        tail = rows[-10:]
        per_version = scenario["scenario"]["per_version"]
        put("versions (sessions)", name, f"{len(rows)} ({rows[-1]['version'] * per_version})")
        put("longest chain (depth)", name, str(max(row["depth"] for row in rows)))
        put("finalize CPU s: first version -> max later", name, _first_to_max(rows, "finalize_cpu_s"))
        put("finalize CPU: ratio to the root it was built on, p50 / p90 / max", name,
            ratio_summary(rows, "finalize_cpu_s", "root_finalize_cpu_s"))  # fmt: skip
        put("finalize wall s: first version -> max later", name, _first_to_max(rows, "finalize_s"))
        put("cold download CPU s: first version -> max later", name, _first_to_max(rows, "download_cpu_s"))
        put("cold download CPU: ratio to the root it was built on, p50 / p90 / max", name,
            ratio_summary(rows, "download_cpu_s", "root_download_cpu_s"))  # fmt: skip
        put("cold download wall s: first version -> max later", name, _first_to_max(rows, "download_s"))
        put("sync + server CPU per version s: first -> max later", name, _first_to_max(rows, "sync_cpu_s"))
        sync_p50 = statistics.median(row["sync_s"] for row in tail)
        trigger_p50 = statistics.median(_values(tail, "trigger_s") or [0.0])
        put("upload button -> version final, last 10, p50 s", name, f"{sync_p50:.2f}")
        put("version final -> run enqueued (trigger), last 10, p50 s", name, f"{trigger_p50:.2f}")
        if steady is not None:
            put("loop overhead after it, s (target 15)", name, f"{sync_p50 + trigger_p50 + steady:.1f}")
        squashes = scenario["squashes"]
        if squashes:
            seconds = [item["seconds"] for item in squashes]
            put("squashes: count, p50 / max s, files in the last", name,
                f"{len(squashes)}, {statistics.median(seconds):.1f} / {max(seconds):.1f}, {squashes[-1]['files']}")  # fmt: skip
        trained = [row for row in rows if "train_rows" in row]
        if trained:
            put("training runs: rows, fit s (epochs)", name,
                "; ".join(f"v{row['version']}: {row['train_rows']:,}, {row['fit_s']:.0f} ({row['epochs']})" for row in trained))  # fmt: skip
        put(
            "server DB / file store at the end, MB",
            name,
            f"{_mb(rows[-1]['db_bytes'])} / {_mb(rows[-1]['files_bytes'])}",
        )
        put("wall time of the scenario", name, f"{scenario['wall_s'] / 60:.0f} min")
    order = [measure for measure in MEASURES if measure in table] + [m for m in table if m not in MEASURES]
    return {measure: table[measure] for measure in order}


def markdown(results: dict[str, Any], steady: float | None) -> str:
    table = summary(results, steady)
    names = list(results["scenarios"])
    lines = [
        f"Squash depth {results['squash_depth']} (`OCCULOOP_SYNC_SQUASH_DEPTH`), training window 60 days + one session "
        "per 30-day period before it. Sessions are the real UCI full days moved forward a day at a time; `no policy` "
        "is the same daily chain without squashing, stopped early. CPU times do not count the waits for other work on "
        "the shared machine (finalize: the sync process's CPU during the SDK call; download: the probe process's CPU), so "
        "their ratios are the comparison; wall times are what it took here.",
        "",
        "![cost against history](tests/benchmarks/history.svg)",
        "",
        "| measure | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
        *(
            f"| {measure} | " + " | ".join(values.get(name, "") for name in names) + " |"
            for measure, values in table.items()
        ),
        "",
        "Targets (issue 22): finalize and training download within 1.5x of depth 1 at every depth up to a year; loop "
        f"overhead after a simulated year ≤ 15 s: the upload button and the trigger measured here, plus "
        f"{_fmt(steady)} s of the issue-8 stages that read no dataset history ({', '.join(STEADY_STAGES)}).",
    ]
    for name in names:
        lines += [
            "",
            f"{name}, the sampled versions (cold download and read each, its root's in parentheses; `occuloop train` "
            "where listed):",
            "",
            "| version | depth | upload button s | finalize s (CPU; root's CPU) | sync CPU s | squash CPU s | trigger s "
            "| cold download s (CPU; root's CPU) | read + validate s | rows read | DB MB | files MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in _rows(results, name):
            if "download_s" not in row:
                continue
            lines.append(
                f"| {row['version']} | {row['depth']} | {row['sync_s']:.2f} "
                f"| {row['finalize_s']:.2f} ({_cpu_pair(row, 'finalize_cpu_s', 'root_finalize_cpu_s')}) "
                f"| {row['sync_cpu_s']:.2f} | {_fmt(row.get('squash_cpu_s'))} | {_fmt(row.get('trigger_s'))} "
                f"| {row['download_s']:.2f} ({_cpu_pair(row, 'download_cpu_s', 'root_download_cpu_s')}) "
                f"| {row['read_s']:.2f} | {row['rows']:,} | {_mb(row['db_bytes'])} | {_mb(row['files_bytes'])} |"
            )
    return "\n".join(lines)


def chart(results: dict[str, Any]) -> str:
    def series(key: str, scale: float = 1.0) -> list[Series]:
        return [
            Series(f"{name}: {key}", [(row["version"] * results["scenarios"][name]["scenario"]["per_version"],
                                       row[key] * scale) for row in _rows(results, name) if row.get(key) is not None],
                   dashed=name == "no policy")
            for name in results["scenarios"]
        ]  # fmt: skip

    def by_depth(key: str) -> list[Series]:
        """Per scenario, the mean of `key` over its versions at each chain depth."""
        out = []
        for name in results["scenarios"]:
            depths: dict[int, list[float]] = {}
            for row in _rows(results, name):
                if row.get(key) is not None:
                    depths.setdefault(row["depth"], []).append(row[key])
            points = [(float(depth), statistics.mean(values)) for depth, values in sorted(depths.items())]
            out.append(Series(f"{name}: mean {key}", points, dashed=name == "no policy"))
        return out

    sessions = "labeling sessions in the dataset (= chain depth without a policy)"
    return panels_svg(
        [
            Panel("sync: CPU of the finalize call against chain depth", "chain depth (versions walked by the SDK)",
                  "CPU seconds", by_depth("finalize_cpu_s")),
            Panel("sync: CPU of the finalize call per version", sessions, "CPU seconds", series("finalize_cpu_s")),
            Panel("sync + server: CPU per version (upload button)", sessions, "CPU seconds", series("sync_cpu_s")),
            Panel("training data: CPU of a cold Dataset.get + get_local_copy", sessions, "CPU seconds",
                  series("download_cpu_s")),
            Panel("trigger: version final -> training run enqueued", sessions, "seconds", series("trigger_s")),
            Panel("server: file store", sessions, "MB", series("files_bytes", 1e-6)),
        ]
    )  # fmt: skip
