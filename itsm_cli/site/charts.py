"""SVG charts drawn at build time: no JavaScript, readable by screen readers, printable.

Each chart is an inline ``<figure>`` holding an ``<svg role="img">`` with a
``<title>`` and ``<desc>``; the page shows the same figures as a table next to
it, so the chart is never the only way to read them. Every text value is
escaped; colours come from the site stylesheet (``.itsm-chart .s0`` ...).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["bar_chart", "line_chart"]

WIDTH = 720
HEIGHT = 300
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 64


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _frame(chart_id: str, title: str, desc: str, y_max: float, unit: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="itsm-chart__svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-title">{_e(title)}</title>',
        f'<desc id="{chart_id}-desc">{_e(desc)}</desc>',
    ]
    for i in range(5):
        value = y_max * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_fmt(value) + unit)}</text>')
    return parts


def _labels(labels: Sequence[str], centres: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 12))
    out = []
    for i, (label, x) in enumerate(zip(labels, centres)):
        if i % every == 0:
            out.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{_e(label)}</text>'
            )
    return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    x = LEFT
    for i, name in enumerate(names):
        out.append(f'<rect class="s{i}" x="{x}" y="{HEIGHT - 22}" width="12" height="12"/>')
        out.append(f'<text class="legend" x="{x + 18}" y="{HEIGHT - 12}">{_e(name)}</text>')
        x += 30 + 8 * len(name)
    return out


def _figure(chart_id: str, caption: str, parts: list[str]) -> str:
    svg = "".join(parts) + "</svg>"
    return f'<figure class="itsm-chart" id="{chart_id}">{svg}<figcaption>{_e(caption)}</figcaption></figure>'


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              caption: str = "") -> str:
    """Grouped vertical bars: one group per label, one bar per series; returns one line of HTML."""
    y_max = _nice_max(max((v for _, values in series for v in values), default=0))
    desc = "; ".join(
        f"{label}: " + ", ".join(f"{name} {_fmt(values[i])}" for name, values in series) for i, label in enumerate(labels)
    )
    parts = _frame(chart_id, title, desc, y_max, "")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_w / max(1, len(labels))
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    centres = []
    for i in range(len(labels)):
        x0 = LEFT + group * i + group * 0.1
        centres.append(LEFT + group * i + group / 2)
        for s, (name, values) in enumerate(series):
            h = plot_h * values[i] / y_max
            y = TOP + plot_h - h
            parts.append(
                f'<rect class="s{s}" x="{x0 + bar * s:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{_e(labels[i])}: {_e(name)} {_e(_fmt(values[i]))}</title></rect>"
            )
    parts += _labels(labels, centres)
    parts += _legend([name for name, _ in series])
    return _figure(chart_id, caption or title, parts)


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
               caption: str = "", y_max: float | None = None, unit: str = "") -> str:
    """Lines with point markers, one per series; None values leave a gap; returns one line of HTML."""
    top = y_max if y_max is not None else _nice_max(max((v for _, vs in series for v in vs if v is not None), default=0))
    desc = "; ".join(
        f"{label}: " + ", ".join(
            f"{name} {'no data' if values[i] is None else _fmt(values[i]) + unit}" for name, values in series
        )
        for i, label in enumerate(labels)
    )
    parts = _frame(chart_id, title, desc, top, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels))
    centres = [LEFT + step * i + step / 2 for i in range(len(labels))]
    for s, (name, values) in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            y = TOP + plot_h - plot_h * min(value, top) / top
            runs[-1].append((centres[i], y))
            parts.append(
                f'<circle class="s{s}" cx="{centres[i]:.1f}" cy="{y:.1f}" r="4">'
                f"<title>{_e(labels[i])}: {_e(name)} {_e(_fmt(value) + unit)}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="l{s}" points="{points}"/>')
    parts += _labels(labels, centres)
    parts += _legend([name for name, _ in series])
    return _figure(chart_id, caption or title, parts)
