"""The metrics page: tickets opened and closed, and service levels met, month by month.

Counts only (no ticket's text), over every ticket type, for the last
:data:`MONTHS` months; computed by :mod:`itsm_cli.core.report`. On a large
desk each forked worker counts a share of the tickets and the shares are
added up (:func:`itsm_cli.parallel.fork_map`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from itsm_cli.site import charts
from itsm_cli.site.builder import SitePage
from itsm_cli.site.content import SiteContentError

if TYPE_CHECKING:
    from itsm_cli.site.builder import Builder

__all__ = ["MONTHS", "TICKETS_PER_WORKER", "metrics_page", "report_share"]

MONTHS = 12
# Below this many tickets per core the metrics are computed in one process.
TICKETS_PER_WORKER = 5000


def metrics_page(b: Builder) -> SitePage:
    """The metrics page (a note in place of the figures when :mod:`itsm_cli.core.report` is not installed)."""
    uri = "metrics.md"
    lines = ["# Metrics", ""]
    months = _last_months(b.today, MONTHS)
    volume, sla = _reports(b, months[0])
    if volume is None:
        return b.page(uri, "Metrics", "\n".join([*lines, "No reports are available."]), in_nav=True)
    counts = {r["key"]: r for r in volume}
    opened = [int(counts.get(m, {}).get("opened", 0)) for m in months]
    resolved = [int(counts.get(m, {}).get("resolved", 0)) for m in months]
    closed = [int(counts.get(m, {}).get("closed", 0)) for m in months]
    labels = [_month_label(m) for m in months]
    # This month has only begun: it is drawn and listed as "so far", not as a finished month that fell.
    rows_labels = [*labels[:-1], f"{labels[-1]} (so far, {b.today.day} day{'s' if b.today.day != 1 else ''})"]
    counted = [name for name, entry in (b.config.data.get("types") or {}).items()
               if isinstance(entry, dict) and entry.get("kind", "ticket") == "ticket" and entry.get("reports", True) is not False]
    kinds = ", ".join(counted[:-1]) + (f" and {counted[-1]}" if len(counted) > 1 else "".join(counted))
    lines += [f"Tickets ({kinds}) over the last {MONTHS} months, up to "
              f"{b.now.strftime('%Y-%m-%d')}; {labels[-1]} is the month so far. "
              "Closed includes cancelled and rejected tickets.", "",
              "## Tickets opened and closed", ""]
    lines.append(charts.bar_chart("chart-volume", "Tickets opened and closed per month", labels,
                                  [("Opened", opened), ("Closed", closed)], partial=True))
    lines += ["", "| Month | Opened | Resolved | Closed |", "|---|---|---|---|"]
    lines += [f"| {rows_labels[i]} | {opened[i]} | {resolved[i]} | {closed[i]} |" for i in range(len(months))]
    lines.append("")
    if sla is not None:
        rows = {r["key"]: r for r in sla}
        response = [rows.get(m, {}).get("response_pct") for m in months]
        resolution = [rows.get(m, {}).get("resolution_pct") for m in months]
        lines += ["## Service-level attainment", "",
                  "Share of response and resolution targets met, by the month each target fell due.", ""]
        lines.append(charts.line_chart("chart-sla", "Service-level targets met per month (%)", labels,
                                       [("Response", response), ("Resolution", resolution)], y_max=100, unit="%",
                                       partial=True))
        lines += ["", "| Month | Response met | Resolution met |", "|---|---|---|"]
        lines += [f"| {rows_labels[i]} | {_pct(response[i])} | {_pct(resolution[i])} |" for i in range(len(months))]
        lines.append("")
    return b.page(uri, "Metrics", "\n".join(lines), in_nav=True)


def _reports(b: Builder, first_month: str) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
    try:
        from itsm_cli.core import report
    except ImportError:  # the reports are optional for the site
        return None, None
    from itsm_cli.parallel import cpu_count, fork_map, shared

    since = datetime.fromisoformat(first_month + "-01T00:00:00+00:00")
    count = len(b.content.tickets)
    # The figures are counts, so each worker can take its share of the tickets (see pages.build_site).
    shares = cpu_count() if b.parallel and count >= TICKETS_PER_WORKER * 2 else 1
    bounds = [(i * count // shares, (i + 1) * count // shares, since) for i in range(shares)]
    try:
        with shared(b):
            parts = fork_map(_report_share, bounds, 1)
    except (ValueError, KeyError, TypeError) as e:
        raise SiteContentError(f"the metrics cannot be computed: {e}", "tickets") from None
    return report.combine_rows(v for v, _ in parts), report.combine_rows(s for _, s in parts)


def report_share(b: Builder, start: int, end: int, since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The metrics page's volume and SLA rows over tickets ``start:end`` (in ``b.content.tickets`` order)."""
    from itsm_cli.core import report

    tickets = [t.data for t in b.content.tickets[start:end]]
    args = (tickets, b.config.data, b.services)
    return (report.volume_report(*args, now=b.now, since=since, group_by="month"),
            report.sla_report(*args, now=b.now, since=since, until=b.now, group_by="month"))


def _report_share(bounds: tuple[int, int, datetime]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One share of the metrics (in a forked worker, from the builder it inherited)."""
    from itsm_cli.parallel import worker_state

    return report_share(worker_state(), *bounds)


def _last_months(today: date, count: int) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%b %Y")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"
