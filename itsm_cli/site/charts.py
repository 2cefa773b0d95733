"""SVG charts drawn at build time: no JavaScript, readable by screen readers, printable.

Each chart is an inline ``<figure>`` holding an ``<svg role="img">`` with a
``<title>`` and ``<desc>``; the page shows the same figures as a table next to
it (the caption says so), so the chart is never the only way to read them.
Every text value is escaped; colours come from the site stylesheet
(``.itsm-chart .s0`` ...).

A chart is drawn twice, for a wide and a narrow column (the stylesheet shows
one, the other is ``display: none`` and so out of the accessibility tree too):
an SVG scales its text with its width, and one drawing cannot keep 12 px
labels both in a 750 px column and on a 360 px phone.

``partial``: the last label is a period still running (this month, a few days
old). Its bars are pale with a dashed outline, its point apart from the line, marked
"so far", so a month that has just begun does not read as a fall.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["bar_chart", "line_chart"]


@dataclass(frozen=True)
class _Layout:
    name: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    max_labels: int


# Text is 13 user units in both: 12 px or more at the column widths each is shown in (CSS: .itsm-chart__svg--*).
WIDE = _Layout("wide", 720, 340, 52, 16, 16, 90, 12)
NARROW = _Layout("narrow", 360, 320, 44, 8, 16, 90, 4)
# The first layout's numbers, for callers that size things by them.
WIDTH, HEIGHT = WIDE.width, WIDE.height


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


def _frame(lay: _Layout, chart_id: str, title: str, desc: str, y_max: float, unit: str) -> list[str]:
    plot_h = lay.height - lay.top - lay.bottom
    sid = f"{chart_id}-{lay.name}"
    parts = [
        f'<svg class="itsm-chart__svg itsm-chart__svg--{lay.name}" viewBox="0 0 {lay.width} {lay.height}" role="img" '
        f'aria-labelledby="{sid}-title {sid}-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{sid}-title">{_e(title)}</title>',
        f'<desc id="{sid}-desc">{_e(desc)}</desc>',
    ]
    for i in range(5):
        value = y_max * i / 4
        y = lay.top + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{lay.left}" x2="{lay.width - lay.right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{lay.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_fmt(value) + unit)}</text>')
    return parts


def _labels(lay: _Layout, labels: Sequence[str], centres: Sequence[float], partial: bool) -> list[str]:
    every = max(1, math.ceil(len(labels) / lay.max_labels))
    last = len(labels) - 1
    out = []
    y = lay.height - lay.bottom + 18
    year = None
    for i, (label, x) in enumerate(zip(labels, centres)):
        # Always label the last period (counting back from it), the one a reader looks for first.
        if (last - i) % every:
            continue
        # "Jan 2026": the month on the first line, its year below only where the year changes.
        head, _, tail = label.partition(" ")
        lines = [head]
        if tail and tail != year:
            lines.append(tail)
            year = tail
        if partial and i == last:
            lines.append("so far")
        for n, text in enumerate(lines):
            out.append(f'<text class="tick" x="{x:.1f}" y="{y + 16 * n}" text-anchor="middle">{_e(text)}</text>')
    return out


def _legend(lay: _Layout, names: Sequence[str], partial: bool) -> list[str]:
    out = []
    x = lay.left
    y = lay.height - 16
    for i, name in enumerate(names):
        out.append(f'<rect class="s{i}" x="{x}" y="{y - 11}" width="13" height="13"/>')
        out.append(f'<text class="legend" x="{x + 18}" y="{y}">{_e(name)}</text>')
        x += 34 + 8 * len(name)
    if partial:
        out.append(f'<rect class="partial-key" x="{x}" y="{y - 11}" width="13" height="13"/>')
        out.append(f'<text class="legend" x="{x + 18}" y="{y}">month so far</text>')
    return out


def _figure(chart_id: str, caption: str, svgs: list[str]) -> str:
    stop = "" if caption.rstrip().endswith((".", "!", "?")) else "."
    return (f'<figure class="itsm-chart" id="{chart_id}">{"".join(svgs)}'
            f"<figcaption>{_e(caption)}{stop} The table below gives the same figures.</figcaption></figure>")


def _desc(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], unit: str, partial: bool) -> str:
    out = []
    for i, label in enumerate(labels):
        shown = f"{label} (so far)" if partial and i == len(labels) - 1 else label
        out.append(f"{shown}: " + ", ".join(
            f"{name} {'no data' if values[i] is None else _fmt(values[i]) + unit}" for name, values in series))
    return "; ".join(out)


def _bars(lay: _Layout, chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
          partial: bool) -> str:
    y_max = _nice_max(max((v for _, values in series for v in values), default=0))
    parts = _frame(lay, chart_id, title, _desc(labels, series, "", partial), y_max, "")
    plot_w, plot_h = lay.width - lay.left - lay.right, lay.height - lay.top - lay.bottom
    group = plot_w / max(1, len(labels))
    bar = max(1.0, group * 0.8 / max(1, len(series)))
    centres = []
    for i in range(len(labels)):
        x0 = lay.left + group * i + group * 0.1
        centres.append(lay.left + group * i + group / 2)
        so_far = partial and i == len(labels) - 1
        for s, (name, values) in enumerate(series):
            h = plot_h * values[i] / y_max
            y = lay.top + plot_h - h
            parts.append(
                f'<rect class="s{s}{" partial" if so_far else ""}" x="{x0 + bar * s:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}">'
                f"<title>{_e(labels[i])}{' (so far)' if so_far else ''}: {_e(name)} {_e(_fmt(values[i]))}</title></rect>"
            )
    parts += _labels(lay, labels, centres, partial)
    parts += _legend(lay, [name for name, _ in series], partial)
    return "".join(parts) + "</svg>"


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              caption: str = "", partial: bool = False) -> str:
    """Grouped vertical bars: one group per label, one bar per series; returns one line of HTML."""
    return _figure(chart_id, caption or title,
                   [_bars(lay, chart_id, title, labels, series, partial) for lay in (WIDE, NARROW)])


def _lines(lay: _Layout, chart_id: str, title: str, labels: Sequence[str],
           series: Sequence[tuple[str, Sequence[float | None]]], top: float, unit: str, partial: bool) -> str:
    parts = _frame(lay, chart_id, title, _desc(labels, series, unit, partial), top, unit)
    plot_w, plot_h = lay.width - lay.left - lay.right, lay.height - lay.top - lay.bottom
    step = plot_w / max(1, len(labels))
    centres = [lay.left + step * i + step / 2 for i in range(len(labels))]
    for s, (name, values) in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(values):
            so_far = partial and i == len(values) - 1
            if value is None or so_far:
                runs.append([])  # a gap, and the month so far stands apart from the finished ones
            if value is None:
                continue
            y = lay.top + plot_h - plot_h * min(value, top) / top
            if not so_far:
                runs[-1].append((centres[i], y))
            cls = f"s{s} partial" if so_far else f"s{s}"
            parts.append(
                f'<circle class="{cls}" cx="{centres[i]:.1f}" cy="{y:.1f}" r="{5 if so_far else 4}">'
                f"<title>{_e(labels[i])}{' (so far)' if so_far else ''}: {_e(name)} {_e(_fmt(value) + unit)}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline class="l{s}" points="{points}"/>')
    parts += _labels(lay, labels, centres, partial)
    parts += _legend(lay, [name for name, _ in series], False)
    return "".join(parts) + "</svg>"


def line_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
               caption: str = "", y_max: float | None = None, unit: str = "", partial: bool = False) -> str:
    """Lines with point markers, one per series; None values leave a gap; returns one line of HTML."""
    top = y_max if y_max is not None else _nice_max(max((v for _, vs in series for v in vs if v is not None), default=0))
    return _figure(chart_id, caption or title,
                   [_lines(lay, chart_id, title, labels, series, top, unit, partial) for lay in (WIDE, NARROW)])
