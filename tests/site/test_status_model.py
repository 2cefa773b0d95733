"""Unit tests of site/status_model.py: percentages, the feed's link and order, from a builder of the fixture desk."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from itsm_cli.site.builder import Builder
from itsm_cli.site.status_model import FEED, _duration, feed_link, pct

ATOM = "{http://www.w3.org/2005/Atom}"


def test_percentages_never_round_an_outage_away() -> None:
    assert pct(100.0) == "100%" and pct(99.5) == "99.5%" and pct(None) == "—"
    assert pct(99.996) == "99.996%"  # not 100 %


def test_durations_in_days_hours_and_minutes() -> None:
    assert _duration(0) == "0 min" and _duration(90 * 60) == "1 h 30 min" and _duration(86400 + 60) == "1 d 1 min"


def test_the_feed_link_is_relative_to_the_page() -> None:
    assert feed_link("status.md", "status/") == "feed.xml"
    assert feed_link("index.md", "") == FEED
    assert feed_link("services/x.md", "services/x.html") == "../status/feed.xml"


def test_the_feed_lists_status_changes_newest_first(site_builder: Builder) -> None:
    feed = ET.fromstring(site_builder.status.feed("./"))
    entries = feed.findall(f"{ATOM}entry")
    updated = [e.findtext(f"{ATOM}updated") for e in entries]
    assert updated and updated == sorted(updated, reverse=True)
    assert any("E-mail" in (e.findtext(f"{ATOM}title") or "") and "down" in (e.findtext(f"{ATOM}title") or "")
               for e in entries)
