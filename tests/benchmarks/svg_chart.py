"""A line chart as SVG text, for BENCHMARKS.md: no plotting library to pin for one figure.

Series are drawn in order; each is a line through its points, optionally with a shaded band (low..high) behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 880, 440
LEFT, RIGHT, TOP, BOTTOM = 64, 250, 36, 52  # margins; the legend sits in the right one


@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    color: str
    band: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # (low, high) per point
    dashed: bool = False


def _ticks(low: float, high: float, count: int = 6) -> list[float]:
    raw = (high - low) / max(count - 1, 1)
    step = next(s for s in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 20) if s >= raw)
    first = round(low / step) * step
    return [round(first + i * step, 6) for i in range(int((high - first) / step) + 1) if first + i * step >= low]


def line_chart(title: str, x_label: str, y_label: str, series: list[Series], y_range: tuple[float, float]) -> str:
    xs = sorted({x for item in series for x in item.x})
    x_low, x_high = xs[0], xs[-1]
    y_low, y_high = y_range
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x_low) / max(x_high - x_low, 1e-9) * plot_w

    def py(y: float) -> float:
        clipped = min(max(y, y_low), y_high)
        return TOP + (y_high - clipped) / max(y_high - y_low, 1e-9) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in _ticks(y_low, y_high):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#e4e4e4"/>'
        )
        parts.append(f'<text x="{LEFT - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
    for x in xs:
        parts.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{x:g}</text>')
    parts += [
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>',
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>',
    ]
    for item in series:
        if item.band is not None:
            low, high = item.band
            outline = [(px(x), py(y)) for x, y in zip(item.x, high, strict=True)]
            outline += [(px(x), py(y)) for x, y in reversed(list(zip(item.x, low, strict=True)))]
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in outline)
            parts.append(f'<polygon points="{points}" fill="{item.color}" fill-opacity="0.15" stroke="none"/>')
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(item.x, item.y, strict=True))
        dash = ' stroke-dasharray="6 4"' if item.dashed else ""
        parts.append(f'<polyline points="{points}" fill="none" stroke="{item.color}" stroke-width="2"{dash}/>')
        for x, y in zip(item.x, item.y, strict=True):
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{item.color}"/>')
    for index, item in enumerate(series):
        y = TOP + 10 + index * 20
        dash = ' stroke-dasharray="6 4"' if item.dashed else ""
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 16}" x2="{WIDTH - RIGHT + 40}" y1="{y}" y2="{y}" stroke="{item.color}" '
            f'stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{WIDTH - RIGHT + 46}" y="{y + 4}">{escape(item.label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
