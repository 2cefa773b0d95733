"""The status parts of the site: the status model, the outage banner, status on catalog and service pages, the feed.

(The status page itself is made by :mod:`itsm_cli.site.status_pages` from these parts.)

The figures come from :mod:`itsm_cli.core.status`; this module only places
them. What it publishes of a ticket: an incident's ID, title (as
:mod:`itsm_cli.site.pages` allows), level, when it started and ended and when
it was last updated (the time only, never the text of an update); a change's
ID, title and planned window. Internal incidents and changes are left out
(and so do not count against availability either).
"""

from __future__ import annotations

import posixpath
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from xml.sax.saxutils import escape as xml_escape

from itsm_cli.core import status as core
from itsm_cli.core.security import is_security
from itsm_cli.core.sla import category_of, parse_timestamp
from itsm_cli.site.sanitize import attr, one_line

__all__ = ["FEED", "FeedEntry", "ServiceStatus", "StatusModel", "feed_link", "pct"]

FEED = "status/feed.xml"
LABELS = {"operational": "Operational", "degraded": "Degraded", "down": "Down", "closed": "No service hours"}
BADGE = {"operational": "open", "degraded": "waiting", "down": "down"}
FEED_ENTRIES = 50


def _internal(data: Mapping[str, Any]) -> bool:
    return data.get("internal") is True or "internal" in (data.get("tags") or [])


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins or not (days or hours) else ""]
    return " ".join(p for p in parts if p)


def pct(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}"
    # 99.996 % is not 100 %: show as many places as it takes not to round an outage away.
    if text == "100.00" and value < 100:
        text = f"{value:.4f}"
    return text.rstrip("0").rstrip(".") + "%"


@dataclass
class IncidentInfo:
    """What the site shows of one incident."""

    id: str
    title: str
    service: str
    priority: str | None
    outages: list[core.Outage]
    last_update: datetime | None

    @property
    def level(self) -> str:
        """Its level now (operational when it no longer counts)."""
        return next((o.level for o in self.outages if o.end is None), "operational")

    @property
    def since(self) -> datetime | None:
        """When its present run of windows began (back through windows that adjoin), None when it no longer counts."""
        if self.level == "operational":
            return None
        start = None
        for o in reversed(self.outages):
            if start is not None and o.end != start:
                break
            start = o.start
        return start


class FeedEntry(NamedTuple):
    """One status change in the feed: when, which service, its new level, and the entry's title and text."""

    at: datetime
    service: str
    level: str
    title: str
    text: str


@dataclass
class ServiceStatus:
    """One live service's status now, the incidents behind it, and its availability."""

    id: str
    level: str
    since: datetime | None
    reasons: list[IncidentInfo]
    spans: list[core.Span]
    figures: core.Availability
    days: list[core.Day]
    target: float | None
    hours: str
    past: list[IncidentInfo] = field(default_factory=list)


class StatusModel:
    """Every live service's status and availability at build time, computed once per build."""

    def __init__(self, config: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]], live: Iterable[str],
                 tickets: Iterable[tuple[str, Mapping[str, Any]]], hidden_incident: set[str], hidden_change: set[str],
                 now: datetime, desk_name: str):
        self.config = config
        self.now = parse_timestamp(now)
        self.rules = core.StatusRules.from_config(config)
        self.desk_name = desk_name
        self.services = services
        incidents: dict[str, list[IncidentInfo]] = defaultdict(list)
        changes = []
        live = list(live)
        for _path, data in tickets:
            if _internal(data) or is_security(data, config):
                continue
            if data.get("type") == "change" and data.get("service") in services:
                changes.append(data)
            if data.get("type") != "incident" or data.get("service") not in services or self._long_over(data):
                continue
            outages = core.incident_outages(data, config, self.rules, self.now)
            if not outages:
                continue
            title = data.get("title") if "title" not in hidden_incident else None
            incidents[data["service"]].append(IncidentInfo(
                str(data["id"]), one_line(title or f"Incident {data['id']}"), data["service"],
                data.get("priority") if "priority" not in hidden_incident else None, outages,
                self._last_update(data)))
        self.maintenance = [
            {"id": c["id"], "title": one_line(c.get("title") if "title" not in hidden_change else f"Change {c['id']}"),
             "service": c["service"], "start": parse_timestamp(c["planned_start"]),
             "end": parse_timestamp(c["planned_end"])}
            for c in core.maintenance_windows(changes, config, self.rules, self.now)
        ]
        self.by_service: dict[str, ServiceStatus] = {}
        for sid in live:
            self.by_service[sid] = self._service(sid, incidents.get(sid, []))

    def _long_over(self, data: Mapping[str, Any]) -> bool:
        """An incident resolved or closed before the status window: it cannot count (saves reading its history)."""
        if category_of(self.config, "incident", str(data.get("status"))) in ("new", "open", "waiting"):
            return False
        try:
            updated = parse_timestamp(data.get("updated") or "")
        except ValueError:
            return False
        # The window starts at a local midnight at most a day before now - days (time zones).
        return updated < self.now - timedelta(days=self.rules.days + 1)

    def _last_update(self, data: Mapping[str, Any]) -> datetime | None:
        times = [parse_timestamp(e["at"]) for e in data.get("history") or () if e.get("internal") is not True
                 and e.get("at")]
        times = [t for t in times if t <= self.now]
        return max(times) if times else None

    def _service(self, sid: str, incidents: list[IncidentInfo]) -> ServiceStatus:
        spans = core.merge_spans((o for i in incidents for o in i.outages), self.now)
        target, calendar = core.availability_target(self.config, self.services[sid])
        since, _ = core.period_of_days(calendar, self.now, self.rules.days)
        figures = core.availability(spans, calendar, since, self.now, self.rules.unavailable)
        days = core.daily(spans, calendar, self.now, self.rules.days, self.rules.unavailable)
        current = spans[-1] if spans and spans[-1].end is None else None
        level = current.level if current else "operational"
        reasons = sorted((i for i in incidents if i.level != "operational"),
                         key=lambda i: (-core.RANK[i.level], i.id))
        past = sorted((i for i in incidents if any((o.end or self.now) > since for o in i.outages)),
                      key=lambda i: (i.outages[0].start, i.id), reverse=True)
        cal_entry = (self.config.get("calendars") or {}).get(calendar.name) or {}
        hours = "" if calendar.always else one_line(cal_entry.get("name") or calendar.name)
        return ServiceStatus(sid, level, self._run_start(spans) if current else None, reasons, spans, figures, days,
                             target, hours, past)

    @staticmethod
    def _run_start(spans: list[core.Span]) -> datetime | None:
        """When the service's present non-operational run began (back through adjoining spans)."""
        start = None
        for span in reversed(spans):
            if start is not None and span.end != start:
                break
            start = span.start
        return start

    # --- text ---------------------------------------------------------------------------

    def when(self, dt: datetime | None) -> str:
        """A time for people: ``05:48 UTC`` today, else ``2026-11-24 05:48 UTC``."""
        if dt is None:
            return "—"
        dt = dt.astimezone(self.now.tzinfo)
        return dt.strftime("%H:%M UTC") if dt.date() == self.now.date() else dt.strftime("%Y-%m-%d %H:%M UTC")

    def down(self) -> list[ServiceStatus]:
        """The services down now."""
        return [s for s in self.by_service.values() if s.level == "down"]

    def rules_text(self) -> str:
        """The desk's rules in words."""
        parts: dict[str, list[str]] = defaultdict(list)
        for when, level in self.rules.rules:
            words = []
            for k, v in when.items():
                values = v if isinstance(v, list) else [v]
                if any(isinstance(x, bool) for x in values):
                    words.append(k if values[0] is True else f"not {k}")
                else:
                    words.append(f"{k} {' or '.join(str(x) for x in values)}")
            parts[level].append(" and ".join(words))
        out = [f"{LABELS[lvl]}: an open incident with {', or '.join(parts[lvl])}." for lvl in ("down", "degraded")
               if parts[lvl]]
        return " ".join([*out, "Other incidents leave a service operational."])

    def badge(self, level: str, since: datetime | None = None) -> str:
        """The status as raw HTML: a badge whose text says it, and since when."""
        text = f'<span class="itsm-badge itsm-badge--{BADGE[level]}">{LABELS[level]}</span>'
        return text + (f" since {attr(self.when(since))}" if since else "")

    def reason_html(self, info: IncidentInfo, href: str) -> str:
        """Why a service is not operational: incident, title, since when, last update, and a link."""
        return (f'<a href="{attr(href)}">{attr(info.id)}</a> {attr(info.title)} '
                f"({LABELS[info.level].lower()} since {attr(self.when(info.since))}; "
                f"last update {attr(self.when(info.last_update))})")

    def banner(self, status_href: str) -> str:
        """The site-wide banner while any service is down (empty when none is)."""
        down = self.down()
        if not down:
            return ""
        names = [f"{attr(self.services[s.id]['name'])} is down since {attr(self.when(s.since))}" for s in down]
        return (f'<aside class="itsm-banner itsm-banner--down" aria-label="Service disruption" data-itsm-banner data-search-exclude>'
                f"<p><strong>Service disruption:</strong> {'; '.join(names)}. "
                f'<a href="{attr(status_href)}">Service status</a></p></aside>')

    def strip(self, s: ServiceStatus) -> str:
        """The daily bars of one service as an SVG with a text title per bar, a legend, and a table of bad days."""
        width, gap, height = 6, 2, 34
        bars = []
        for i, day in enumerate(s.days):
            label = self.day_text(day)
            bars.append(f'<rect class="itsm-day itsm-day--{day.level}" x="{i * (width + gap)}" y="0" '
                        f'width="{width}" height="{height}"><title>{xml_escape(label)}'
                        "</title></rect>")
        total = len(s.days) * (width + gap) - gap
        counts = {lvl: sum(1 for d in s.days if d.level == lvl) for lvl in ("operational", "degraded", "down", "closed")}
        legend = ", ".join(f"{n} {LABELS[lvl].lower()}" for lvl, n in counts.items() if n)
        first, last = s.days[0].day.isoformat(), s.days[-1].day.isoformat()
        svg = (f'<svg class="itsm-strip__svg" viewBox="0 0 {total} {height}" preserveAspectRatio="none" '
               f'role="img" aria-label="{attr(f"Daily status from {first} to {last}: {legend}")}">'
               + "".join(bars) + "</svg>")
        bad = [d for d in s.days if d.level in ("down", "degraded")]
        rows = "".join(
            f'<tr><th scope="row">{d.day.isoformat()}</th><td>{LABELS[d.level]}</td>'
            f"<td>{pct(d.figures.percent)}</td><td>{_duration(d.figures.down)}</td>"
            f"<td>{_duration(d.figures.degraded)}</td></tr>" for d in bad)
        table = ('<div class="itsm-strip__days" data-search-exclude><table><caption>Days that were not fully operational</caption><thead><tr>'
                 '<th scope="col">Day</th><th scope="col">Worst status</th><th scope="col">Available</th>'
                 '<th scope="col">Down</th><th scope="col">Degraded</th></tr></thead>'
                 f"<tbody>{rows}</tbody></table></div>") if bad else "<p>Every day was fully operational.</p>"
        keys = "".join(f'<li><span class="itsm-key itsm-day--{lvl}" aria-hidden="true"></span>{LABELS[lvl]}: {n} '
                       f"day{'s' if n != 1 else ''}</li>" for lvl, n in counts.items() if n)
        # A div, not a figure: the theme shrinks a figure to the width of its content.
        return (f'<div class="itsm-strip" data-itsm-strip="{attr(s.id)}" data-search-exclude>{svg}'
                f'<p class="itsm-strip__axis"><span>{first}</span><span>{last} (today, so far)</span></p>'
                f'<ul class="itsm-strip__legend">{keys}</ul></div>\n{table}')

    def day_text(self, day: core.Day) -> str:
        """One bar's text: the date, its status and its figures."""
        if day.level == "closed":
            return f"{day.day.isoformat()}: no service hours"
        text = f"{day.day.isoformat()}: {LABELS[day.level].lower()}, {pct(day.figures.percent)} available"
        if day.figures.down:
            text += f", down {_duration(day.figures.down)}"
        if day.figures.degraded:
            text += f", degraded {_duration(day.figures.degraded)}"
        return text

    def figure_short(self, s: ServiceStatus) -> str:
        """Availability against target in a few words, for a table cell."""
        text = pct(s.figures.percent)
        if s.target is not None:
            met = s.figures.percent is None or s.figures.percent >= s.target
            text += f" (target {pct(s.target)}, {'met' if met else 'missed'})"
        return text

    def figure_text(self, s: ServiceStatus) -> str:
        """Availability against target in one sentence."""
        text = f"**{pct(s.figures.percent)}** available over the last {self.rules.days} days ({self.hours_text(s)})"
        if s.target is not None:
            met = s.figures.percent is None or s.figures.percent >= s.target
            text += f" (target {pct(s.target)}: {'met' if met else 'missed'})"
        else:
            text += " (no availability target is set)"
        lost = [f"{word} {_duration(v)}" for word, v in (("down", s.figures.down), ("degraded", s.figures.degraded)) if v]
        return text + (f"; {', '.join(lost)}" if lost else "") + "."

    def hours_text(self, s: ServiceStatus) -> str:
        """The hours availability is counted in, in words."""
        return f"counted in {s.hours}" if s.hours else "counted around the clock"

    def past_html(self, s: ServiceStatus, href_of: Any) -> str:
        """The incidents of the last days that affected the service, newest first."""
        if not s.past:
            return f"<p>No incidents affected this service in the last {self.rules.days} days.</p>"
        rows = []
        for i in s.past:
            start, end = i.outages[0].start, i.outages[-1].end
            worst = max((o.level for o in i.outages), key=core.RANK.__getitem__)
            rows.append(f'<tr><th scope="row"><a href="{attr(href_of(i))}">{attr(i.id)}</a></th><td>{attr(i.title)}</td>'
                        f"<td>{LABELS[worst]}</td><td>{attr(self.when(start))}</td>"
                        f"<td>{attr(self.when(end)) if end else 'ongoing'}</td></tr>")
        return ('<div class="itsm-past"><table><caption>Incidents in the last '
                f'{self.rules.days} days</caption><thead><tr><th scope="col">Incident</th><th scope="col">Title</th>'
                '<th scope="col">Worst status</th><th scope="col">Started</th><th scope="col">Ended</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table></div>")

    # --- the feed ---------------------------------------------------------------------

    def feed(self, status_href: str) -> str:
        """An Atom feed of status changes over the last days, newest first (``status_href``: from the feed)."""
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, "itsm:" + self.desk_name)
        entries: list[FeedEntry] = []
        for sid, s in self.by_service.items():
            titles = {i.id: i.title for i in s.past}
            for at, level, ids in core.status_changes(s.spans):
                if at < s.figures.since:
                    continue
                name = one_line(self.services[sid]["name"])
                why = "; ".join(f"{i} {titles.get(i, '')}".strip() for i in ids)
                text = (f"{name} is {LABELS[level].lower()} as of {self.when(at)} ({why})." if level != "operational"
                        else f"{name} is operational again as of {self.when(at)} ({why} ended).")
                entries.append(FeedEntry(at, sid, level, f"{name}: {LABELS[level].lower()}", text))
        entries.sort(key=lambda e: (e.at, e.service), reverse=True)
        entries = entries[:FEED_ENTRIES]
        updated = entries[0].at if entries else self.now
        out = ['<?xml version="1.0" encoding="utf-8"?>', '<feed xmlns="http://www.w3.org/2005/Atom">',
               f"<title>{xml_escape(one_line(self.desk_name))}: service status</title>",
               f"<id>urn:uuid:{namespace}</id>", f"<updated>{_iso(updated)}</updated>",
               f"<author><name>{xml_escape(one_line(self.desk_name))}</name></author>",
               f'<link rel="alternate" type="text/html" href="{xml_escape(status_href)}"/>']
        for at, sid, level, title, text in entries:
            key = uuid.uuid5(namespace, f"{sid}/{_iso(at)}/{level}")
            out += ["<entry>", f"<id>urn:uuid:{key}</id>", f"<title>{xml_escape(title)}</title>",
                    f"<updated>{_iso(at)}</updated>",
                    f'<link rel="alternate" type="text/html" href="{xml_escape(status_href + "#svc-" + sid)}"/>',
                    f'<content type="text">{xml_escape(text)}</content>', "</entry>"]
        out.append("</feed>")
        return "\n".join(out) + "\n"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def feed_link(from_uri: str, page_url: str) -> str:
    """The feed's URL from a page at site-relative URL ``page_url``."""
    base = page_url if page_url.endswith("/") or page_url == "" else posixpath.dirname(page_url) + "/"
    return posixpath.relpath(FEED, base.rstrip("/") or ".")
