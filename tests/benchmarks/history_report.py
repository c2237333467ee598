"""The history benchmark's results as BENCHMARKS.md text and an SVG chart (tests/benchmarks/history_bench.py)."""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from tests.benchmarks.svg_chart import Panel, Series, panels_svg

CHART = Path(__file__).resolve().parent / "history.svg"
# stages of one loop iteration that read nothing of the dataset's history (issue 8's loop benchmark)
STEADY_STAGES = ("agent", "gate agent pick-up", "gate", "serving config propagation")


def steady_stage_seconds(benchmarks_md: str) -> float | None:
    """The issue-8 loop section's medians of the stages that do not depend on the dataset's history."""
    section = benchmarks_md.split("<!-- bench:loop:begin -->")[-1].split("<!-- bench:loop:end -->")[0]
    values = {name: float(value) for name, value in re.findall(r"^\| ([^|*]+?) \| ([\d.]+) \|$", section, re.M)}
    found = [values[stage] for stage in STEADY_STAGES if stage in values]
    return round(sum(found), 2) if len(found) == len(STEADY_STAGES) else None


def _rows(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list(results["scenarios"].get(name, {}).get("versions", []))


def _values(rows: list[dict[str, Any]], key: str) -> list[float]:
    return [row[key] for row in rows if row.get(key) is not None]


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f}"


def _fmt(value: Any, digits: int = 2) -> str:
    return "" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def _max_ratio(rows: list[dict[str, Any]], key: str, reference: str) -> float | None:
    """The largest `key / reference` over the versions that have both (a version against the root it was built on:
    the same history at depth 1)."""
    ratios = [row[key] / row[reference] for row in rows if row.get(key) and row.get(reference)]
    return round(max(ratios), 2) if ratios else None


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _paren(value: Any) -> str:
    return f" ({value})" if value is not None else ""


def summary(results: dict[str, Any], steady: float | None) -> dict[str, Any]:
    """The issue's targets: finalize and cold training download at every depth within 1.5x of depth 1, the loop
    overhead after a simulated year within 15 s."""
    out: dict[str, Any] = {}
    for name in results["scenarios"]:
        rows = _rows(results, name)
        first = rows[0]
        later = rows[1:]
        finalize, download, cpu = (
            _values(later, "finalize_s"),
            _values(later, "download_s"),
            _values(later, "sync_cpu_s"),
        )
        tail = rows[-10:]
        out[name] = {
            "versions": len(rows),
            "sessions": rows[-1]["version"] * results["scenarios"][name]["scenario"]["per_version"],
            "max_depth": max(row["depth"] for row in rows),
            "finalize_depth1_s": first["finalize_s"],
            "finalize_max_s": max(finalize, default=None),
            "finalize_max_ratio": round(max(finalize) / first["finalize_s"], 2) if finalize else None,
            "sync_cpu_depth1_s": first["sync_cpu_s"],
            "sync_cpu_max_ratio": round(max(cpu) / first["sync_cpu_s"], 2) if cpu else None,
            "download_depth1_s": first.get("download_s"),
            "download_max_s": max(download, default=None),
            "download_max_ratio": round(max(download) / first["download_s"], 2)
            if download and first.get("download_s")
            else None,
            "finalize_vs_root_max_ratio": _max_ratio(rows, "finalize_s", "root_finalize_s"),
            "download_vs_root_max_ratio": _max_ratio(rows, "download_s", "root_download_s"),
            "sync_last10_p50_s": round(statistics.median(row["sync_s"] for row in tail), 2),
            "trigger_last10_p50_s": round(statistics.median(_values(tail, "trigger_s") or [0.0]), 2),
            "wall_s": results["scenarios"][name]["wall_s"],
        }
        if steady is not None:
            out[name]["loop_overhead_s"] = round(
                out[name]["sync_last10_p50_s"] + out[name]["trigger_last10_p50_s"] + steady, 2
            )
    return out


def markdown(results: dict[str, Any], steady: float | None) -> str:
    totals = summary(results, steady)
    k = results["squash_depth"]
    lines = [
        f"Squash depth {k} (`OCCULOOP_SYNC_SQUASH_DEPTH`), training window 60 days + one session per 30-day period "
        "before it. Sessions are the real UCI full days moved forward a day at a time; `no policy` is the same "
        "daily chain without squashing, stopped early. CPU = CPU seconds of the sync and server processes for the "
        "version (robust to the other work on a shared machine).",
        "",
        "![cost against history](tests/benchmarks/history.svg)",
        "",
        "| scenario | versions (sessions) | max depth | finalize, first version s | finalize, max later s (ratio) "
        "| finalize / its root's, max | sync CPU, max ratio to first | cold download, first s "
        "| cold download, max s (ratio) | cold download / its root's, max | upload button, last 10 p50 s "
        "| trigger, last 10 p50 s | loop overhead s | wall |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, item in totals.items():
        lines.append(
            f"| {name} | {item['versions']} ({item['sessions']}) | {item['max_depth']} | {item['finalize_depth1_s']} "
            f"| {_fmt(item['finalize_max_s'])} ({_ratio(item['finalize_max_ratio'])}) "
            f"| {_ratio(item['finalize_vs_root_max_ratio'])} | {_ratio(item['sync_cpu_max_ratio'])} "
            f"| {_fmt(item['download_depth1_s'])} | {_fmt(item['download_max_s'])} ({_ratio(item['download_max_ratio'])}) "
            f"| {_ratio(item['download_vs_root_max_ratio'])} "
            f"| {item['sync_last10_p50_s']} | {item['trigger_last10_p50_s']} | {_fmt(item.get('loop_overhead_s'))} "
            f"| {item['wall_s'] / 60:.0f} min |"
        )
    lines += [
        "",
        "Targets (issue 22): finalize and training download within 1.5x of depth 1 at every depth up to a year; loop "
        f"overhead after a simulated year ≤ 15 s (upload button + trigger of the last 10 versions, plus "
        f"{_fmt(steady)} s of the issue-8 stages that read no dataset history: {', '.join(STEADY_STAGES)}).",
    ]
    for name in results["scenarios"]:
        rows = _rows(results, name)
        squashes = results["scenarios"][name]["squashes"]
        if squashes:
            seconds = [item["seconds"] for item in squashes]
            lines += ["", f"{name}: {len(squashes)} squashes, p50 {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s "
                      f"(the last one: {squashes[-1]['files']} files in {squashes[-1]['seconds']:.1f} s)."]  # fmt: skip
        lines += [
            "",
            f"Per version, {name} (every sampled version: cold download and read at each, `occuloop train` where listed):",
            "",
            "| version | depth | upload button s | draft open s | finalize s (its root's) | sync CPU s | squash CPU s "
            "| trigger s | cold download s (its root's) | read + validate s | rows read | trained rows | fit s (epochs) "
            "| DB MB | files MB |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            if "download_s" not in row:
                continue
            fit = f"{row['fit_s']} ({row['epochs']})" if "fit_s" in row else ""
            lines.append(
                f"| {row['version']} | {row['depth']} | {row['sync_s']} | {row['open_draft_s']} "
                f"| {row['finalize_s']}{_paren(row.get('root_finalize_s'))} | {row['sync_cpu_s']} "
                f"| {_fmt(row.get('squash_cpu_s'))} | {_fmt(row.get('trigger_s'))} "
                f"| {row['download_s']}{_paren(row.get('root_download_s'))} | {row['read_s']} | {row['rows']:,} "
                f"| {_fmt(row.get('train_rows'))} | {fit} "
                f"| {_mb(row['db_bytes'])} | {_mb(row['files_bytes'])} |"
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

    sessions = "labeling sessions in the dataset (= chain depth without a policy)"
    return panels_svg(
        [
            Panel("sync: finalize call per version", sessions, "seconds", series("finalize_s")),
            Panel("sync: CPU per version (sync + server processes)", sessions, "CPU seconds", series("sync_cpu_s")),
            Panel("training data: cold Dataset.get + get_local_copy", sessions, "seconds", series("download_s")),
            Panel("server: file store", sessions, "MB", series("files_bytes", 1e-6)),
        ]
    )
