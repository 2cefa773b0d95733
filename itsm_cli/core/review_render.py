"""A service review (:func:`itsm_cli.core.review.service_review`) as one page of Markdown, to commit or send.

Headings in the order a review meeting walks through them, short tables,
figures with their units, and "nothing this period" where a part is empty.
Text from tickets is put in table cells with pipes and line breaks escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NOTHING = "Nothing this period."


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return lines


def _day(ts: str | None) -> str:
    return ts[:10] if ts else "-"


def _moment(ts: str | None) -> str:
    return f"{ts[:10]} {ts[11:16]}" if ts else "-"


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} %"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:g} h"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def to_markdown(review: Mapping[str, Any]) -> str:
    """The review as Markdown (ends with a newline)."""
    svc = review["service"]
    period = review["period"]
    out: list[str] = [
        f"# Service review: {_cell(svc['name'] or svc['id'])}",
        "",
        f"Period {_day(period['since'])} to {_day(period['until'])} (until exclusive), service `{svc['id']}`, "
        f"owner {_cell(svc.get('owner'))}.",
        "",
    ]

    out += ["## Customers", ""]
    customers = review["customers"]
    if customers:
        out += _table(("Business unit", "Contact"), [
            (c["name"], _contact(c.get("contact"))) for c in customers])
    else:
        out.append("No business unit is listed as using this service (customers: in itsm.yaml).")
    out.append("")

    inc = review["incidents"]
    ch = review["changes"]
    req = review["requests"]
    av = review["availability"]
    out += ["## Summary", ""]
    out += _table(("Measure", "This period"), [
        ("Availability", f"{_pct(av['availability_pct'], 2)} (target {_pct(av['target_pct'], 2)})"
         if av["target_pct"] is not None else _pct(av["availability_pct"], 2)),
        ("Incidents opened / resolved", f"{inc['opened']} / {inc['resolved']}"),
        ("Major incidents", str(inc["major"])),
        ("Mean time to resolve (incidents)", _hours(inc["mttr_mean_h"])),
        ("Changes made", str(ch["made"])),
        ("Problems open at the end", str(review["problems"]["open"])),
        ("Requests opened / fulfilled", f"{req['opened']} / {req['fulfilled']}"),
        ("Satisfaction", _satisfaction(review["satisfaction"])),
    ])
    out.append("")

    out += ["## Availability", ""]
    if av["agreed_h"]:
        verdict = "" if av["met"] is None else (" Target met." if av["met"] else " **Target missed.**")
        target = f"against a target of {_pct(av['target_pct'], 2)}" if av["target_pct"] is not None else "(no target set)"
        out.append(f"{_pct(av['availability_pct'], 2)} of {_hours(av['agreed_h'])} of agreed service time "
                   f"(calendar {av['hours']}) {target}: "
                   f"{_hours(av['down_h'])} down, {_hours(av['degraded_h'])} degraded.{verdict}")
    else:
        out.append("No agreed service hours fell in this period.")
    out.append("")

    out += ["## Service levels", ""]
    sla = [r for r in review["sla"] if r["response_met"] + r["response_breached"] + r["resolution_met"]
           + r["resolution_breached"]]
    if sla:
        out += _table(("Tickets", "Response met", "Response", "Resolution met", "Resolution"), [
            (r["key"] + "s", f"{r['response_met']} of {r['response_met'] + r['response_breached']}",
             _pct(r["response_pct"]), f"{r['resolution_met']} of {r['resolution_met'] + r['resolution_breached']}",
             _pct(r["resolution_pct"])) for r in sla])
        out += ["", "A target counts in the period it fell due in; targets still running are not counted."]
    else:
        out.append("No response or resolution target fell due this period.")
    out.append("")

    out += ["## Incidents", ""]
    if inc["items"]:
        out.append(f"{_plural(inc['opened'], 'incident')} opened, {inc['resolved']} resolved, "
                   f"{_plural(inc['major'], 'major incident')}.")
        out.append("")
        out += _table(("ID", "Title", "Priority", "Opened", "Resolved"), [
            (i["id"], ("**Major:** " if i["major"] else "") + str(i["title"]), i["priority"], _moment(i["opened"]),
             _moment(i["resolved"]) if i["resolved"] else ("withdrawn" if i["withdrawn"] else f"open ({i['status']})"))
            for i in inc["items"]])
    else:
        out.append(NOTHING)
    out.append("")

    out += ["## Changes made", ""]
    if ch["items"]:
        out += _table(("ID", "Title", "Class", "Done", "Implemented by"), [
            (c["id"], c["title"], c["change_class"], _day(c["made_at"]), "; ".join(c["implemented_by"]))
            for c in ch["items"]])
    else:
        out.append(NOTHING)
    out.append("")

    out += ["## Open problems", ""]
    if review["problems"]["items"]:
        out += _table(("ID", "Title", "Status", "Priority", "Opened"), [
            (p["id"], p["title"], p["status"], p["priority"], _day(p["opened"])) for p in review["problems"]["items"]])
    else:
        out.append("No open problem at the end of the period.")
    out.append("")

    out += ["## Requests", ""]
    if req["by_offering"]:
        out += _table(("Offering", "Opened", "Fulfilled"), [
            (r["name"] or r["offering"], r["opened"], r["fulfilled"]) for r in req["by_offering"]])
    else:
        out.append(NOTHING)
    out.append("")

    out += ["## Satisfaction", ""]
    sat = review["satisfaction"]
    out.append(f"{_satisfaction(sat)}." if sat else "No rating was given this period.")
    out.append("")

    out += ["## Improvements planned", ""]
    imp = review["improvements"]
    if imp["items"]:
        out += _table(("ID", "Title", "Status", "Target date"), [
            (i["id"], i["title"], i["status"], i["target_date"]) for i in imp["items"]])
    elif imp["register"]:
        out.append("No improvement is planned for this service.")
    else:
        out.append("This desk keeps no improvement register (no ticket type 'improvement').")
    out.append("")
    return "\n".join(out)


def _contact(contact: Mapping[str, Any] | None) -> str:
    if not contact:
        return "-"
    name, email = contact.get("name"), contact.get("email")
    return f"{name} ({email})" if name else str(email)


def _satisfaction(sat: Mapping[str, Any] | None) -> str:
    if not sat:
        return "no ratings"
    return (f"{sat['average']:.2f} / 5 average from {_plural(sat['ratings'], 'rating')}, "
            f"{_pct(sat['satisfied_pct'])} satisfied (4 or 5)")
