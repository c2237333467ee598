"""Line charts in stacked panels as plain SVG text, for BENCHMARKS.md' history section (no plotting package is
pinned, and a chart needs none). tests/benchmarks/svg_chart.py draws one chart with shaded bands (the forward
section); the two were written on two branches at once and are still to be folded into one.

`panels_svg([Panel(...), ...])` stacks panels vertically; each panel has its own axes, series and legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
WIDTH, PANEL_HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 34, 46


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    dashed: bool = False


@dataclass
class Panel:
    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    y_max: float | None = None  # clip the axis (points above are drawn at the top edge)


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """0 and round steps up to at least `high`."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * index for index in range(math.ceil(high / step - 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2g}"


def _panel(panel: Panel, top: float) -> list[str]:
    points = [point for series in panel.series for point in series.points]
    x_ticks = nice_ticks(max((x for x, _ in points), default=1.0))
    y_high = panel.y_max if panel.y_max is not None else max((y for _, y in points), default=1.0)
    y_ticks = nice_ticks(y_high)
    x_max, y_max = x_ticks[-1], y_ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL_HEIGHT - TOP - BOTTOM

    def sx(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def sy(y: float) -> float:
        return top + TOP + plot_h * (1 - min(y, y_max) / y_max)

    parts = [
        f'<text x="{WIDTH / 2}" y="{top + 20}" text-anchor="middle" font-weight="bold">{escape(panel.title)}</text>'
    ]
    for tick in y_ticks:
        y = sy(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_label(tick)}</text>')
    for tick in x_ticks:
        x = sx(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top + TOP + plot_h}" x2="{x:.1f}" y2="{top + TOP + plot_h + 4}" stroke="#333"/>'
        )
        parts.append(f'<text x="{x:.1f}" y="{top + TOP + plot_h + 17}" text-anchor="middle">{_label(tick)}</text>')
    parts.append(f'<rect x="{LEFT}" y="{top + TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{top + PANEL_HEIGHT - 8}" text-anchor="middle">{escape(panel.x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(16,{top + TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(panel.y_label)}</text>'
    )
    for index, series in enumerate(panel.series):
        color = COLORS[index % len(COLORS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(series.points))
        dash = ' stroke-dasharray="5,3"' if series.dashed else ""
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>')
        legend_y = top + TOP + 14 + 16 * index
        parts.append(
            f'<line x1="{LEFT + 10}" y1="{legend_y - 4}" x2="{LEFT + 34}" y2="{legend_y - 4}" stroke="{color}" stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{LEFT + 40}" y="{legend_y}">{escape(series.label)}</text>')
    return parts


def panels_svg(panels: list[Panel]) -> str:
    height = PANEL_HEIGHT * len(panels)
    body = [part for index, panel in enumerate(panels) for part in _panel(panel, index * PANEL_HEIGHT)]
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
            'font-family="sans-serif" font-size="12">',
            f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
            *body,
            "</svg>",
        ]
    )
