"""The status page: every live service's status now and why, scheduled maintenance, incidents and availability.

Made from the :class:`~itsm_cli.site.status_model.StatusModel` the builder
computed once per build (what of a ticket it may show is said there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from itsm_cli.site.links import md_link, page_url, rel_url
from itsm_cli.site.sanitize import attr, inline
from itsm_cli.site.status_model import feed_link

if TYPE_CHECKING:
    from itsm_cli.site.builder import Builder, SitePage

__all__ = ["status_page"]


def status_page(b: Builder) -> SitePage:
    """The status page: every live service's status now and why, maintenance, incidents and availability."""
    uri = "status.md"
    model = b.status
    states = model.by_service
    live = list(states)
    counts = {lvl: sum(1 for st in states.values() if st.level == lvl) for lvl in ("down", "degraded")}
    lines = ["# Service status", ""]
    feed = feed_link(uri, page_url(uri, b.directory_urls))
    lines += [f'<p class="itsm-feed"><a href="{attr(feed)}" type="application/atom+xml">Status changes as an Atom '
              "feed</a></p>", ""]
    if counts["down"] or counts["degraded"]:
        parts = [f"{counts['down']} down" if counts["down"] else "",
                 f"{counts['degraded']} degraded" if counts["degraded"] else ""]
        lines.append(f"**{' and '.join(p for p in parts if p)}** of {len(live)} live services.")
    else:
        lines.append(f"**All {len(live)} live services are operating normally.**")
    lines += ["", f"As of {b.now.strftime('%Y-%m-%d %H:%M')} UTC. {inline(model.rules_text())}", ""]
    if not live:
        return b.page(uri, "Service status", "\n".join(lines), in_nav=True)
    rows = []
    order = sorted(live, key=lambda s: (-{"down": 2, "degraded": 1}.get(states[s].level, 0),
                                        b.services[s]["name"].lower()))
    for sid in order:
        st = states[sid]
        # The reasons sit under the status in its cell: three columns still fit a phone.
        why = "".join(f"<br>{model.reason_html(i, '#' + i.id.lower())}" for i in st.reasons)
        name = rel_url(uri, f"services/{sid}.md", b.directory_urls)
        rows.append(f'<tr id="svc-{attr(sid)}" data-itsm-level="{st.level}"><th scope="row"><a href="{attr(name)}">'
                    f"{attr(b.services[sid]['name'])}</a></th><td>{model.badge(st.level, st.since)}{why}</td>"
                    f"<td>{attr(model.figure_short(st))}</td></tr>")
    lines += ['<div class="itsm-status" data-search-exclude><table><thead><tr><th scope="col">Service</th>'
              '<th scope="col">Status and why</th>'
              f'<th scope="col">Availability, {model.rules.days} days</th></tr></thead>'
              "<tbody>" + "".join(rows) + "</tbody></table></div>", ""]
    lines += ["## Scheduled maintenance", ""]
    if model.maintenance:
        lines += ["| Change | Service | Window |", "|---|---|---|"]
        for c in model.maintenance:
            lines.append(f"| {inline(c['id'])}: {inline(c['title'])} "
                         f"| {md_link(uri, 'services/' + c['service'] + '.md', b.services[c['service']]['name'])} "
                         f"| {inline(model.when(c['start']))} to {inline(model.when(c['end']))} |")
    else:
        lines.append("No maintenance is scheduled.")
    lines.append("")
    incidents = {i.id: i for st in states.values() for i in st.past}
    lines += ["## Incidents", ""]
    if not incidents:
        lines += [f"No incident affected a live service in the last {model.rules.days} days.", ""]
    for info in sorted(incidents.values(), key=lambda i: (i.level == "operational", -i.outages[0].start.timestamp())):
        lines += [f"### {inline(info.id)}: {inline(info.title)} {{#{info.id.lower()}}}", ""]
        spans = "; ".join(f"{o.level} from {model.when(o.start)} to {model.when(o.end) if o.end else 'now'}"
                          for o in info.outages)
        lines += [f"**Service:** {md_link(uri, 'services/' + info.service + '.md', b.services[info.service]['name'])}"
                  f" · **Status:** {'ongoing, ' + info.level if info.level != 'operational' else 'ended'}"
                  + (f" · **Priority:** {inline(info.priority)}" if info.priority else "")
                  + f" · **Last update:** {inline(model.when(info.last_update))}", "",
                  f"Affected the service: {inline(spans)}.", ""]
    # Day by day for the services something happened to; every service's own page has its strip.
    affected = [sid for sid in b.service_order(live) if states[sid].past]
    lines += [f"## Availability over the last {model.rules.days} days {{: data-search-exclude }}", ""]
    if affected:
        lines += ["Each bar is a day (hover one for its figures); the table under each strip lists every day "
                  "that was not fully operational.", ""]
    for sid in affected:
        st = states[sid]
        lines += [f"### {inline(b.services[sid]['name'])} {{#availability-{sid}}}", "",
                  model.figure_text(st), "", model.strip(st), ""]
    rest = len(live) - len(affected)
    if rest:
        lines += [f"{'The other' if affected else 'All'} {rest} live service{'s' if rest != 1 else ''} had no "
                  f"incident that changed {'their' if rest != 1 else 'its'} status in these {model.rules.days} days; "
                  "each service's page shows its days.", ""]
    return b.page(uri, "Service status", "\n".join(lines), in_nav=True)
