"""Chart data made ready for plotly.js, server side. Pure.

- Titles: clearml 2.1.12 writes `layout.title` as a string, a flattened `"title.text"` key, and string axis titles;
  plotly.js >= 3 ignores string titles (plotly.js#7212), so with unmodified figures no title renders. Every title
  becomes `{"text": ...}` here.
- Scalars: at most `max_points` per series, keeping each bucket's minimum and maximum (a spike never disappears
  from the overview, unlike averaging), plus the first and last point.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_POINTS = 2000
AXIS_PREFIXES = ("xaxis", "yaxis", "zaxis")


def _title(value: Any) -> Any:
    if isinstance(value, str):
        return {"text": value}
    return value


def normalize_titles(figure: dict[str, Any]) -> dict[str, Any]:
    """The figure with every layout, axis and colour-bar title as `{"text": ...}` (in place, and returned)."""
    layout = figure.setdefault("layout", {})
    flattened = layout.pop("title.text", None)
    if flattened is not None and not layout.get("title"):
        layout["title"] = flattened
    if "title" in layout:
        layout["title"] = _title(layout["title"])
    for key, value in list(layout.items()):
        if isinstance(value, dict) and key.startswith(AXIS_PREFIXES):
            flat = value.pop("title.text", None)
            if flat is not None and not value.get("title"):
                value["title"] = flat
            if "title" in value:
                value["title"] = _title(value["title"])
        elif key.startswith(AXIS_PREFIXES) and key.endswith(".title"):  # "xaxis.title": "epoch"
            axis = layout.setdefault(key.removesuffix(".title"), {})
            if isinstance(axis, dict):
                axis["title"] = _title(layout.pop(key))
    for trace in figure.get("data") or []:
        colorbar = trace.get("colorbar") if isinstance(trace, dict) else None
        if isinstance(colorbar, dict) and "title" in colorbar:
            colorbar["title"] = _title(colorbar["title"])
    return figure


def figure_of(plot_event: dict[str, Any]) -> dict[str, Any] | None:
    """A `plot` event's figure (`plot_str` JSON), titles normalised; None when it does not parse."""
    try:
        figure = json.loads(plot_event.get("plot_str") or "")
    except (TypeError, ValueError):
        return None
    return normalize_titles(figure) if isinstance(figure, dict) else None


def downsample(xs: Sequence[Any], ys: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list[Any], list[float]]:
    """At most `max_points` points: the first and last, and per bucket its minimum and maximum in x order."""
    count = len(xs)
    if count <= max_points or max_points < 4:
        return list(xs), list(ys)
    buckets = (max_points - 2) // 2
    inner = range(1, count - 1)
    size = len(inner) / buckets
    keep = [0]
    for bucket in range(buckets):
        start = 1 + int(bucket * size)
        stop = 1 + int((bucket + 1) * size)
        if start >= stop:
            continue
        window = range(start, stop)
        low = min(window, key=lambda i: ys[i])
        high = max(window, key=lambda i: ys[i])
        keep.extend(sorted({low, high}))
    keep.append(count - 1)
    return [xs[i] for i in keep], [ys[i] for i in keep]


def smooth_hint(points: int) -> float:
    """The default EMA weight the page starts with: none for short curves, some for long noisy ones."""
    return 0.0 if points < 200 else 0.6


def scalar_series(histogram: dict[str, Any], max_points: int = MAX_POINTS) -> list[dict[str, Any]]:
    """`events.scalar_metrics_iter_histogram` → one entry per metric: its variants as downsampled {name, x, y} and
    a summary (first, last, min, max, points) per variant, for the chart and its table alternative."""
    metrics = []
    for metric in sorted(histogram):
        variants = histogram[metric]
        if not isinstance(variants, dict):
            continue
        series, summary = [], []
        for name in sorted(variants):
            points = variants[name] or {}
            xs, ys = list(points.get("x") or []), [float(v) for v in points.get("y") or []]
            if not ys:
                continue
            summary.append(
                {"variant": name, "first": ys[0], "last": ys[-1], "min": min(ys), "max": max(ys), "points": len(ys)}
            )
            small_x, small_y = downsample(xs, ys, max_points)
            series.append({"name": name, "x": small_x, "y": small_y})
        if series:
            metrics.append({"metric": metric, "series": series, "summary": summary})
    return metrics
