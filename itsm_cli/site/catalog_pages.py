"""The catalog's pages: the home page (every service by category, and how to get help) and one page per service.

A service page shows what the service is, its status and availability, what
can be requested (never an offering's fulfilment checklist), its support hours
and service levels, its dependencies, its suppliers (only what each lists as
public) and its knowledge articles.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from itsm_cli.core.calendar import DURATION
from itsm_cli.site.builder import BOOST, SitePage
from itsm_cli.site.content import SiteContentError
from itsm_cli.site.links import URL_OK, contact_html, md_link, natural, prefill, rel_url
from itsm_cli.site.sanitize import attr, inline, one_line
from itsm_cli.site.status_model import pct

if TYPE_CHECKING:
    from itsm_cli.site.builder import Builder

__all__ = ["catalog_page", "duration", "service_page"]

DAY_LABELS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
              "sat": "Saturday", "sun": "Sunday"}
FIELD_TYPES = {"text": "Text", "textarea": "Longer text", "choice": "Choice", "date": "Date", "number": "Number",
               "email": "E-mail address"}
_NOT_WORD = re.compile(r"[^\w\s-]+")


def catalog_page(b: Builder) -> SitePage:
    """The home page: the catalog's services by category (with the filter's data), and how to get help."""
    uri = "index.md"
    desk_name = one_line(b.desk.get("name") or "IT service desk")
    live = sum(1 for s in b.services.values() if b.service_category(s["status"]) == "open")
    lines = [f"# {inline(desk_name)}: service catalog", ""]
    total = len(b.services)
    lines.append(
        f"{total} service{'s' if total != 1 else ''} ({live} live) in {len(b.category_ids)} "
        f"categor{'ies' if len(b.category_ids) != 1 else 'y'}. Open a service to see what you can request, "
        f"its support hours and service levels. [Get help](#get-help) · "
        f"{md_link(uri, 'status.md', 'Service status')} · "
        f"{md_link(uri, 'kb/index.md', 'Knowledge base')} · {md_link(uri, 'tags.md', 'Browse by tag')}"
    )
    lines.append("")
    lines += help_section(b, uri)
    if not b.services:
        lines.append("The catalog is empty: add a service as `catalog/<id>.yaml`.")
        return b.page(uri, "Service catalog", "\n".join(lines), in_nav=True)
    lines += ["## Services {#itsm-catalog}", ""]
    lines.append('<div class="itsm-filter" data-itsm-filter></div>')
    lines.append("")
    cats = " · ".join(f"[{inline(name)}](#{anchor})" for name, anchor in b.category_ids.items())
    lines += [f"**Categories:** {cats}", ""]
    by_category: dict[str, list[str]] = defaultdict(list)
    for sid, data in b.services.items():
        by_category[data["category"]].append(sid)
    for name, anchor in b.category_ids.items():
        lines += [f"### {inline(name)} {{#{anchor} data-search-exclude}}", ""]
        rows = []
        for sid in b.service_order(by_category[name]):
            s = b.services[sid]
            href = rel_url(uri, f"services/{sid}.md", b.directory_urls)
            tags = " ".join(s.get("tags") or [])
            rows.append(
                f'<tr data-itsm-tags="{attr(tags)}" data-itsm-status="{attr(s["status"])}"'
                f' data-itsm-health="{attr(b.status.by_service[sid].level if sid in b.status.by_service else "")}"'
                f' data-itsm-words="{attr(filter_words(s))}">'
                f'<td><a href="{attr(href)}">{attr(s["name"])}</a></td>'
                f'<td data-label="Status">{b.status_of(sid, uri)}</td>'
                f'<td data-label="Owner">{attr(b.person(s.get("owner")))}</td>'
                f'<td data-label="Summary">{attr(summary_of(s))}</td></tr>'
            )
        lines.append(
            f'<table data-itsm-category="{attr(name)}" data-itsm-heading="{anchor}">'
            '<thead><tr><th scope="col">Service</th><th scope="col">Status</th><th scope="col">Owner</th>'
            '<th scope="col">Summary</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
        )
        lines.append("")
    return b.page(uri, "Service catalog", "\n".join(lines), in_nav=True)


def help_section(b: Builder, uri: str) -> list[str]:
    """The home page's "Get help" route: how to report an incident, and how to reach the desk."""
    contact = b.desk.get("contact") if isinstance(b.desk.get("contact"), dict) else {}
    lines = ["## Get help {#get-help}", ""]
    report = b.desk.get("incident_url")
    if isinstance(report, str) and URL_OK.match(report):
        lines.append(f'- **Something broken?** <a href="{attr(report)}">Report an incident</a>, '
                     f"and check the {md_link(uri, 'status.md', 'service status')} for known outages.")
    else:
        lines.append(f"- **Something broken?** Check the {md_link(uri, 'status.md', 'service status')}, "
                     "then report it to the service desk.")
    reach = []
    if contact.get("phone"):
        phone = str(contact["phone"])
        reach.append(f'call <a href="tel:{attr(re.sub(r"[^0-9+]", "", phone))}">{attr(phone)}</a>')
    if contact.get("email"):
        reach.append(f'e-mail <a href="mailto:{attr(contact["email"])}">{attr(contact["email"])}</a>')
    if isinstance(contact.get("url"), str) and URL_OK.match(contact["url"]):
        reach.append(f'<a href="{attr(contact["url"])}">contact us online</a>')
    if reach:
        hours = b.config.calendars.get(str(contact.get("hours") or ""))
        when = f" ({attr((hours or {}).get('name') or contact['hours'])})" if hours else ""
        lines.append(f"- **Service desk:** {', '.join(reach)}{when}.")
    else:
        lines.append("- **Need something?** Find the service below and use its Request button.")
    if contact.get("note"):
        lines[-1] += f" {inline(contact['note'])}"
    return [*lines, ""]


def filter_words(s: Mapping[str, Any]) -> str:
    """What the catalog's Words filter matches for a service: name, id, category, tags, offerings, summary."""
    parts = [s["name"], s["id"], s["category"], *(s.get("tags") or [])]
    for o in s.get("offerings") or []:
        parts += [o.get("name") or "", o.get("id") or ""]
    parts.append(summary_of(s, limit=400))
    # Words only: punctuation is no use to the filter, and none of it can then look like markup.
    return " ".join(_NOT_WORD.sub(" ", " ".join(one_line(p) for p in parts if p)).lower().split())


def summary_of(data: Mapping[str, Any], limit: int = 160) -> str:
    """A service's summary in one line (else its description's first sentence), cut to ``limit`` characters."""
    text = one_line(data.get("summary") or "")
    if not text:
        description = one_line(data.get("description") or "")
        text = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def service_page(b: Builder, sid: str) -> SitePage:
    """One service's page: what it is, its status, offerings, hours, service levels, dependencies and articles."""
    s = b.services[sid]
    uri = f"services/{sid}.md"
    category = b.service_category(s["status"])
    anchor = b.category_ids[s["category"]]
    lines = [f"# {inline(s['name'])}", ""]
    facts = [b.status_of(sid, uri), f"**Category:** {md_link(uri, 'index.md', s['category'], anchor)}",
             f"**Owner:** {inline(b.person(s.get('owner')))}"]
    if s.get("group"):
        facts.append(f"**Support group:** {inline(b.group_name(s['group']))}")
    lines += [" · ".join(facts), "{: data-search-exclude }", ""]
    if s.get("tags"):
        lines += ["**Tags:** " + ", ".join(md_link(uri, "tags.md", t, f"tag-{t}") for t in s["tags"]), ""]
    if s.get("summary"):
        lines += [f"**{inline(s['summary'])}**", ""]
    lines.append(b.prose(s.get("description"), uri))
    if s.get("contact"):
        lines += [f"<p><strong>Contact:</strong> {contact_html(s['contact'])}</p>", ""]
    if s.get("url") and URL_OK.match(str(s["url"])):
        lines += [f'<p><a href="{attr(s["url"])}">Open {attr(s["name"])}</a></p>', ""]
    # The hours, targets, dependencies and article links (the same on many services) are left out of the
    # search index, and so are the home page's lists of services: each reader's browser builds that index
    # before the first search, and a catalog of 1,000 services made it take seconds.
    lines += _incident_section(b, sid, uri)
    lines += _offerings_section(b, s, uri, category)
    lines += _hours_section(b, s)
    lines += _sla_section(b, s)
    lines += _availability_section(b, sid, uri)
    lines += _dependency_section(b, sid, uri)
    lines += _supplier_section(b, s)
    lines += ["## Knowledge articles {: data-search-exclude }", ""]
    related = sorted(b.kb_by_service.get(sid, []), key=lambda k: natural(b.articles[k]["title"]))
    if related:
        lines += [f"- {md_link(uri, f'kb/{k}.md', b.articles[k]['title'])}" for k in related]
    else:
        lines.append("No published articles for this service yet.")
    lines.append("")
    return b.page(uri, s["name"], "\n".join(lines), source=b.service_paths[sid], search=BOOST)


def _incident_section(b: Builder, sid: str, uri: str) -> list[str]:
    st = b.status.by_service.get(sid)
    if st is None or not st.reasons:
        return []
    status_href = rel_url(uri, "status.md", b.directory_urls)
    kind = "danger" if st.level == "down" else "warning"
    lines = [f'<div class="admonition {kind}" role="status">',
             f'<p class="admonition-title">{"Service down" if st.level == "down" else "Service degraded"} '
             f"since {attr(b.status.when(st.since))}</p>", "<ul>"]
    for info in st.reasons:
        lines.append(f"<li>{b.status.reason_html(info, status_href + '#' + info.id.lower())}</li>")
    lines += ["</ul>", f'<p><a href="{attr(status_href)}">Service status</a></p>', "</div>", ""]
    return lines


def _availability_section(b: Builder, sid: str, uri: str) -> list[str]:
    st = b.status.by_service.get(sid)
    if st is None:
        return []
    status_href = rel_url(uri, "status.md", b.directory_urls)
    # Figures and a strip of bars: nothing to search for, and 1,000 services of it weigh on the index.
    return ["## Availability {: data-search-exclude }", "", b.status.figure_text(st), "", b.status.strip(st), "",
            b.status.past_html(st, lambda i: f"{status_href}#{i.id.lower()}"), ""]


def _approval_text(b: Builder, offering: Mapping[str, Any]) -> str:
    approval = offering.get("approval")
    if not approval:
        return "not needed"
    default = {}
    for t in b.config.types.values():
        if t.kind == "ticket" and t.name == "request" and t.approval:
            default = t.approval
    rule = approval if isinstance(approval, dict) else {}
    group = rule.get("group") or default.get("group")
    count = int(rule.get("count") or default.get("count") or 1)
    who = f" by {b.group_name(group)}" if group else ""
    return f"needed{who} ({count} approver{'s' if count != 1 else ''})"


def _offerings_section(b: Builder, s: Mapping[str, Any], uri: str, category: str) -> list[str]:
    lines = ["## Request something {: data-search-exclude }", ""]
    offerings = s.get("offerings") or []
    if category == "new":
        lines += ["This service is not live yet: nothing can be requested from it. "
                  + ("What it will offer:" if offerings else ""), ""]
    elif category == "closed":
        lines += ["This service is retired: nothing can be requested from it any more."
                  + (" What it offered:" if offerings else ""), ""]
    elif not offerings:
        return [*lines, "This service has no offerings to request; ask the service desk for help.", ""]
    _, calendar = calendar_of(b, s)
    for o in offerings:
        lines += [f"### {inline(o['name'])}", ""]
        if o.get("description"):
            lines.append(b.prose(o["description"], uri))
        # The facts and questions are out of the search index (the offering's name and description
        # are in it), and the questions are a list, not a table, which a phone shows whole.
        facts = [f"<li><strong>Approval:</strong> {attr(_approval_text(b, o))}</li>"]
        if o.get("fulfilment"):
            facts.append(f"<li><strong>Expected fulfilment:</strong> {duration(o['fulfilment'], calendar)}</li>")
        if o.get("audience"):
            facts.append(f"<li><strong>Who can ask:</strong> {attr(o['audience'])}</li>")
        lines += ['<ul data-search-exclude="">' + "".join(facts) + "</ul>", ""]
        form = o.get("form") or []
        questions = [f for f in form if isinstance(f, dict)]
        if questions:
            items = []
            for f in questions:
                kind = FIELD_TYPES.get(str(f.get("type") or "text"), str(f.get("type")))
                notes = [kind.lower(), "required" if f.get("required") else "optional"]
                if f.get("options"):
                    notes.append("one of: " + ", ".join(one_line(x) for x in f["options"]))
                help_text = f": {attr(f['help'])}" if f.get("help") else ""
                items.append(f"<li><strong>{attr(f.get('label'))}</strong> ({attr('; '.join(notes))}){help_text}</li>")
            lines += ['<p data-search-exclude="">What you will be asked:</p>',
                      '<ul data-search-exclude="">' + "".join(items) + "</ul>", ""]
        url = request_url(b, s["id"], o["id"]) if category == "open" else None
        if url:
            details = "".join(f"### {one_line(f.get('label'))}\n\n\n" for f in questions if f.get("label"))
            url = prefill(url, f"[Request]: {one_line(o['name'])} ({one_line(s['name'])})", details)
            lines += [f'<p data-search-exclude=""><a class="md-button md-button--primary" href="{attr(url)}">'
                      f'Request {attr(o["name"])}</a></p>', ""]
    return lines


def _hours_section(b: Builder, s: Mapping[str, Any]) -> list[str]:
    name, cal = calendar_of(b, s)
    title = one_line(cal.get("name") or name)
    tz = one_line(cal.get("timezone") or "UTC")
    lines = ["## Support hours {: data-search-exclude }", ""]
    if cal.get("always"):
        lines.append(f"**{inline(title)}:** around the clock, every day (time zone {inline(tz)}).")
    else:
        days = cal.get("days") or list(DAY_LABELS)
        shifts = cal.get("hours") or [["00:00", "24:00"]]
        hours = " and ".join(f"{one_line(a)}–{one_line(b)}" for a, b in shifts)
        lines.append(f"**{inline(title)}:** {inline(_day_ranges(days))}, {inline(hours)} ({inline(tz)} time).")
        upcoming = sorted(str(h) for h in cal.get("holidays") or [] if str(h) >= b.today.isoformat())
        if upcoming:
            shown = ", ".join(upcoming[:8]) + (" and more" if len(upcoming) > 8 else "")
            lines += ["", f"Closed on holidays: {inline(shown)}."]
    lines.append("")
    return lines


def _sla_section(b: Builder, s: Mapping[str, Any]) -> list[str]:
    targets = s.get("sla_targets")
    source = "this service's own targets"
    if targets is None:
        profile = s.get("sla") or b.config.sla.get("default_profile")
        targets = (b.config.sla.get("profiles") or {}).get(profile) if profile else None
        source = f"the {one_line(profile)} profile" if profile else ""
    lines = ["## Service levels {: data-search-exclude }", ""]
    if not targets:
        return [*lines, "No service-level targets are set for this service.", ""]
    _, cal = calendar_of(b, s)
    lines += [f"Targets per priority ({inline(source)}), counted in the support hours above:", "",
              "| Priority | First response | Resolution |", "|---|---|---|"]
    for priority in sorted(k for k in targets if k != "availability"):
        entry = targets.get(priority) or {}
        lines.append(f"| {inline(priority)} | {duration(entry.get('response'), cal)} "
                     f"| {duration(entry.get('resolution'), cal)} |")
    lines.append("")
    st = b.status.by_service.get(s["id"])
    if st is not None and st.target is not None:
        lines += [f"Availability target: **{pct(st.target)}** over {b.status.rules.days} days "
                  f"({inline(b.status.hours_text(st))}).", ""]
    return lines


def _dependency_section(b: Builder, sid: str, uri: str) -> list[str]:
    def links(items: Iterable[str]) -> str:
        out = [md_link(uri, f"services/{d}.md", b.services[d]["name"]) for d in b.service_order(items)]
        return ", ".join(out) if out else "none"

    return ["## Dependencies {: data-search-exclude }", "", f"- **Depends on:** {links(b.services[sid].get('depends_on') or [])}",
            f"- **Needed by:** {links(b.needed_by.get(sid, []))}", ""]


def _supplier_section(b: Builder, s: Mapping[str, Any]) -> list[str]:
    """The suppliers a service names: their names, and only what each lists as public."""
    from itsm_cli.core.suppliers import public_view

    named = [b.content.suppliers[x] for x in s.get("suppliers") or [] if x in b.content.suppliers]
    if not named:
        return []
    lines = ["## Suppliers {: data-search-exclude }", ""]
    for supplier in named:
        view = public_view(supplier, s["id"])
        website = view.get("website")
        name = inline(view["name"])
        if isinstance(website, str) and URL_OK.match(website):
            name = f'<a href="{attr(website)}">{attr(view["name"])}</a>'
        lines.append(f"- **{name}**")
        if view.get("description"):
            lines.append(f"    {inline(one_line(str(view['description'])))}")
        for contact in view.get("contacts") or []:
            parts = [str(contact.get(k)) for k in ("name", "role", "email", "phone") if contact.get(k)]
            lines.append(f"    - {inline(', '.join(parts))}")
        for targets in view.get("targets") or []:
            words = [text.format(targets[key]) for key, text in
                     (("response", "responds within {}"), ("resolution", "resolves within {}"),
                      ("availability", "{} % available"), ("hours", "hours: {}")) if key in targets]
            lines.append(f"    - Supplier's targets: {inline('; '.join(words))}")
    lines.append("")
    return lines


def calendar_of(b: Builder, service: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The name and itsm.yaml entry of the calendar a service's hours are counted in (24x7 when it names none)."""
    name = service.get("support_hours") or ("24x7" if "24x7" in b.config.calendars else None)
    if name is None and b.config.calendars:
        name = next(iter(b.config.calendars))
    return (name or "24x7"), dict(b.config.calendars.get(name) or {"timezone": "UTC", "always": True})


def duration(text: Any, calendar: Mapping[str, Any]) -> str:
    """A duration as people read it (``4h`` -> ``4 hours``; days are business days outside a 24x7 calendar)."""
    match = DURATION.match(str(text or ""))
    if not match:
        return inline(text) if text else "—"
    amount, unit = match.groups()
    number = float(amount)
    word = {"m": "minute", "h": "hour", "d": "day"}[unit]
    if unit == "d" and not calendar.get("always"):
        word = "business day"
    shown = amount if not number.is_integer() else str(int(number))
    return f"{shown} {word}{'' if number == 1 else 's'}"


def request_url(b: Builder, service_id: str, offering_id: str) -> str | None:
    """The desk's request URL for an offering (``desk.request_url`` filled in), None when the desk sets none."""
    template = b.desk.get("request_url")
    if not template:
        return None
    if not isinstance(template, str) or not URL_OK.match(template):
        raise SiteContentError("desk.request_url must be an https:// or mailto: URL", "itsm.yaml")
    return template.replace("{service}", quote(service_id, safe="")).replace("{offering}", quote(offering_id, safe=""))


def _day_ranges(days: Iterable[str]) -> str:
    order = list(DAY_LABELS)
    idx = sorted(order.index(d) for d in days if d in DAY_LABELS)
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        first, last = DAY_LABELS[order[run[0]]], DAY_LABELS[order[run[-1]]]
        parts.append(first if len(run) == 1 else (f"{first} and {last}" if len(run) == 2 else f"{first} to {last}"))
    return ", ".join(parts) if parts else "no days"
