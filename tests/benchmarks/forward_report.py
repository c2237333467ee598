"""The forward section of BENCHMARKS.md: tables and two SVG charts from `forward_bench.run_all`'s results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.forward_bench import SEEDS
from tests.benchmarks.svg_chart import Series, line_chart

PLOT = Path(__file__).resolve().parent / "forward.svg"
COLORS = {"before, default": "#d62728", "before, fast": "#ff9896", "default": "#1f77b4", "fast": "#17becf"}


def _pt(value: float) -> str:
    return f"{100 * value:+.2f}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def summary(results: dict[str, Any]) -> dict[str, dict[int, dict[str, float]]]:
    """Per configuration and N: min / mean / max accuracy on the later days over seeds, the worst and mean
    difference to the Light rule, the same for the refit's probe (the recipe without refit), the mean fit time."""
    collected: dict[tuple[str, int], dict[str, list[float]]] = {}
    for run in results["runs"]:
        count = int(run["sessions"])
        rule = results["references"][str(count)]["light_rule"]["later"]
        cell = collected.setdefault((run["mode"], count), {"acc": [], "delta": [], "probe": [], "fit": [], "test1": []})
        cell["test1"].append(run["test1"])
        cell["acc"].append(run["later"])
        cell["delta"].append(run["later"] - rule)
        cell["fit"].append(run["fit_seconds"])
        if run["refit"] and "probe_later" in run:
            cell["probe"].append(run["probe_later"] - rule)
    out: dict[str, dict[int, dict[str, float]]] = {}
    for (mode, count), cell in collected.items():
        probe = cell["probe"] or [float("nan")]
        out.setdefault(mode, {})[count] = {
            "min": min(cell["acc"]),
            "mean": float(np.mean(cell["acc"])),
            "max": max(cell["acc"]),
            "worst_delta": min(cell["delta"]),
            "mean_delta": float(np.mean(cell["delta"])),
            "probe_worst_delta": min(probe),
            "probe_mean_delta": float(np.mean(probe)),
            "fit_seconds": float(np.mean(cell["fit"])),
            "test1_min": min(cell["test1"]),
            "test1_max": max(cell["test1"]),
        }
    return out


def plot(results: dict[str, Any], folder: Path = PLOT.parent) -> list[Path]:
    """Two charts: accuracy on the later days (mean and min-max band over seeds, with the Light rule and logistic
    regression), and the worst seed's difference to the Light rule, with the goal line at -0.2 points."""
    table = summary(results)
    counts = tuple(sorted(int(key) for key in results["references"]))
    x = tuple(float(count) for count in counts)
    reference = results["references"]
    rule = tuple(100 * reference[str(c)]["light_rule"]["later"] for c in counts)
    logistic = tuple(100 * reference[str(c)]["logistic_regression"]["later"] for c in counts)
    accuracy_series = [
        Series("Light > 364.5", x, rule, "#000000"),
        Series("logistic regression", x, logistic, "#7f7f7f", dashed=True),
    ]
    delta_series = [Series("goal: -0.2 pt", x, tuple(-0.2 for _ in x), "#000000", dashed=True)]
    for mode, cells in table.items():
        color, dashed = COLORS.get(mode, "#2ca02c"), mode.endswith("fast")
        accuracy_series.append(
            Series(
                f"network, {mode}",
                x,
                tuple(100 * cells[c]["mean"] for c in counts),
                color,
                band=(tuple(100 * cells[c]["min"] for c in counts), tuple(100 * cells[c]["max"] for c in counts)),
                dashed=dashed,
            )
        )
        delta_series.append(
            Series(f"network, {mode}", x, tuple(100 * cells[c]["worst_delta"] for c in counts), color, dashed=dashed)
        )
    lowest = min(min(item.band[0]) if item.band else min(item.y) for item in accuracy_series)
    charts = {
        PLOT: line_chart(
            f"Accuracy on every later day (sessions N+1..14 and Feb 17), {len(SEEDS)} seeds: mean and min-max",
            "N: trained on the first N daily labeling sessions",
            "accuracy %",
            accuracy_series,
            (max(80.0, float(np.floor(lowest))), 100.0),
        ),
        PLOT.with_name("forward-delta.svg"): line_chart(
            "Worst seed minus the Light rule on the later days (points; clipped at -3)",
            "N: trained on the first N daily labeling sessions",
            "points",
            delta_series,
            (-3.0, 0.5),
        ),
    }
    written = []
    for path, chart in charts.items():
        target = folder / path.name
        target.write_text(chart)
        written.append(target)
    return written


def markdown(results: dict[str, Any]) -> str:
    table = summary(results)
    counts = sorted(int(key) for key in results["references"])
    modes = list(table)
    lines = [
        "Every choice tried, judged only on the days of `datatraining.txt` (Feb 4-10): trained on the first k = 2..6 "
        "days, scored on that file's remaining days against the Light rule on the same minutes (Δ in points; "
        "`(no refit)` is the same run's probe, the recipe without refit):",
        "",
        "| candidate | inputs | seeds | mean Δ | worst Δ, k ≥ 3 | runs below -0.2, k ≥ 3 | worst Δ, k = 2 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    candidates = results["candidates"]
    for name, value in results["selection"].items():
        about = candidates[name.removesuffix(" (no refit)")]
        lines.append(
            f"| {name} | {', '.join(about['inputs'])} | {len(about['seeds'])} | {_pt(value['mean_delta'])} "
            f"| {_pt(value['from_3_worst_delta'])} | {value['cells_below_0.2']} | {_pt(value['worst_delta'])} |"
        )
    lines += [
        "",
        "Trained on the first N sessions, scored on every later day (sessions N+1..14 and the held-out Feb 17); "
        f"accuracy % as min-max over seeds {', '.join(map(str, SEEDS))} (the recipe before: 42 and 1), and the worst "
        "seed's difference to the Light rule in points:",
        "",
        f"| N | last day | later minutes | Light > 364.5 | logistic regression | {' | '.join(modes)} |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in modes) + " |",
    ]
    for count in counts:
        reference = results["references"][str(count)]
        cells = [
            f"{_pct(table[mode][count]['min'])}-{_pct(table[mode][count]['max'])} ({_pt(table[mode][count]['worst_delta'])})"
            for mode in modes
        ]
        lines.append(
            f"| {count} | {reference['last_day']} | {reference['later_rows']:,} "
            f"| {_pct(reference['light_rule']['later'])} | {_pct(reference['logistic_regression']['later'])} "
            f"| {' | '.join(cells)} |"
        )
    lines += [
        "",
        "From three sessions on, per configuration (the goal: worst Δ ≥ -0.20 for every seed; fit seconds on a "
        "shared machine, compare within the table; test 1 is the pinned holdout, Feb 2-4, for reference):",
        "",
    ]
    lines += [
        "| configuration | worst Δ | mean Δ | N with a seed below -0.2 | mean fit s | test 1 accuracy % |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for mode in modes:
        cells = [table[mode][count] for count in counts if count >= 3]
        below = [str(count) for count in counts if count >= 3 and table[mode][count]["worst_delta"] < -0.002]
        lines.append(
            f"| {mode} | {_pt(min(c['worst_delta'] for c in cells))} | {_pt(float(np.mean([c['mean_delta'] for c in cells])))} "
            f"| {', '.join(below) or 'none'} | {np.mean([c['fit_seconds'] for c in cells]):.1f} "
            f"| {_pct(min(c['test1_min'] for c in cells))}-{_pct(max(c['test1_max'] for c in cells))} |"
        )
    refit = [mode for mode in modes if any(not np.isnan(table[mode][c]["probe_mean_delta"]) for c in counts if c >= 3)]
    if refit:
        lines += ["", "Refit or not (the same runs: the probe is the model without the refit), N ≥ 3:", ""]
        lines += ["| configuration | refit: worst Δ / mean Δ | no refit: worst Δ / mean Δ |", "| --- | --- | --- |"]
        for mode in refit:
            cells = [table[mode][count] for count in counts if count >= 3]
            lines.append(
                f"| {mode} | {_pt(min(c['worst_delta'] for c in cells))} / {_pt(float(np.mean([c['mean_delta'] for c in cells])))} "
                f"| {_pt(min(c['probe_worst_delta'] for c in cells))} / {_pt(float(np.mean([c['probe_mean_delta'] for c in cells])))} |"
            )
    where = PLOT.relative_to(PLOT.parents[2])
    lines += [
        "",
        f"![forward accuracy]({where})",
        "",
        f"![worst seed minus the Light rule]({where.with_name('forward-delta.svg')})",
    ]
    return "\n".join(lines)
