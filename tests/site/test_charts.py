"""Unit tests of site/charts.py: SVG charts that are well formed, accessible and escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from itsm_cli.site import charts


def test_charts_are_well_formed_accessible_svg() -> None:
    bar = charts.bar_chart("c1", "Opened <&>", ["Jan", "Feb"], [("Opened", [3, 0]), ("Closed", [1, 7])])
    line = charts.line_chart("c2", "SLA", ["Jan", "Feb", "Mar"], [("Met", [90.5, None, 100])], y_max=100, unit="%")
    for chart in (bar, line):
        root = ET.fromstring(chart)
        assert root.tag == "figure"
        svg = root.find("svg")
        assert svg is not None and svg.get("role") == "img" and svg.get("aria-labelledby")
    assert "Opened &lt;&amp;&gt;" in bar and "Jan: Opened 3, Closed 1" in bar
    assert "Feb: Met no data" in line and "90.5%" in line
    assert charts.bar_chart("c3", "empty", [], [])  # nothing to draw is not an error


def _svgs(chart: str) -> list[ET.Element]:
    return ET.fromstring(chart).findall("svg")


def test_each_chart_is_drawn_wide_and_narrow_with_a_caption() -> None:
    chart = charts.bar_chart("c1", "Tickets", ["Jan"], [("Opened", [2])], caption="Opened per month")
    root = ET.fromstring(chart)
    assert root.get("id") == "c1" and root.get("class") == "itsm-chart"
    assert len(root.findall("svg")) == 2
    assert root.find("figcaption").text == "Opened per month. The table below gives the same figures."
    assert "\n" not in chart  # one line of HTML: Markdown cannot break it apart


def test_one_bar_per_label_and_series_with_the_value_in_its_title() -> None:
    chart = charts.bar_chart("c", "T", ["Jan", "Feb", "Mar"], [("Opened", [1, 2, 3]), ("Closed", [0, 4, 1])])
    wide = _svgs(chart)[0]
    rects = [r for r in wide.iter("rect") if r.find("title") is not None]  # the legend's swatches have none
    titles = [r.find("title").text for r in rects]
    assert len(rects) == 6
    assert "Feb: Closed 4" in titles and "Jan: Opened 1" in titles
    # The tallest bar is the largest value; a zero is drawn with no height.
    heights = {t: float(r.get("height")) for t, r in zip(titles, rects)}
    assert max(heights, key=heights.get) == "Feb: Closed 4"
    assert heights["Jan: Closed 0"] == 0.0


def test_a_running_period_is_marked_so_far() -> None:
    bar = charts.bar_chart("c", "T", ["Jan", "Feb"], [("Opened", [5, 1])], partial=True)
    assert "Feb (so far): Opened 1" in bar
    assert 'class="s0 partial"' in bar
    line = charts.line_chart("l", "T", ["Jan", "Feb", "Mar"], [("Met", [80, 90, 10])], partial=True, unit="%")
    assert "Mar (so far): Met 10%" in line
    # The finished months are joined by a line; the month so far stands apart.
    points = re.findall(r'<polyline class="l0" points="([^"]+)"', line)
    assert points and all(len(p.split()) == 2 for p in points)


def test_a_gap_in_a_line_breaks_it() -> None:
    line = charts.line_chart("l", "T", ["a", "b", "c", "d", "e"], [("x", [1, 2, None, 3, 4])])
    wide = _svgs(line)[0]
    assert len([c for c in wide.iter("circle")]) == 4
    assert [len(p.get("points").split()) for p in wide.iter("polyline")] == [2, 2]


def test_values_are_capped_at_y_max_in_a_line_chart() -> None:
    line = charts.line_chart("l", "T", ["a"], [("x", [150])], y_max=100, unit="%")
    circle = next(_svgs(line)[0].iter("circle"))
    assert float(circle.get("cy")) == charts.WIDE.top  # drawn at the top, not above it
    assert "a: x 150%" in line  # the title still says what it is


def test_hostile_labels_are_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script>'
    chart = charts.bar_chart("c", evil, [evil], [(evil, [1])], caption=evil)
    assert "<script>" not in chart
    ET.fromstring(chart)  # still well formed
