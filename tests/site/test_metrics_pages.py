"""Unit tests of site/metrics_pages.py: the months shown, the page, and figures added up from shares."""

from __future__ import annotations

from datetime import UTC, date, datetime

from itsm_cli.core import report
from itsm_cli.site import metrics_pages
from itsm_cli.site.builder import Builder


def test_the_last_months_run_over_a_year_end() -> None:
    assert metrics_pages._last_months(date(2026, 2, 15), 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert metrics_pages._month_label("2025-11") == "Nov 2025"


def test_the_page_has_a_row_a_month_and_calls_this_month_so_far(site_builder: Builder) -> None:
    page = metrics_pages.metrics_page(site_builder)
    assert page.uri == "metrics.md" and page.in_nav
    rows = [line for line in page.markdown.splitlines() if line.startswith("| Apr 2025") or line.startswith("| Mar 2026")]
    assert [r.split(" |")[0] for r in rows] == ["| Apr 2025", "| Mar 2026 (so far, 2 days)", "| Apr 2025",
                                                 "| Mar 2026 (so far, 2 days)"]
    assert 'id="chart-volume"' in page.markdown and 'id="chart-sla"' in page.markdown


def test_shares_of_the_tickets_add_up_to_the_whole(site_builder: Builder) -> None:
    since = datetime(2025, 4, 1, tzinfo=UTC)
    count = len(site_builder.content.tickets)
    whole = metrics_pages.report_share(site_builder, 0, count, since)
    halves = [metrics_pages.report_share(site_builder, 0, count // 2, since),
              metrics_pages.report_share(site_builder, count // 2, count, since)]
    assert report.combine_rows(v for v, _ in halves) == report.combine_rows([whole[0]])
    assert report.combine_rows(s for _, s in halves) == report.combine_rows([whole[1]])
    assert any(row.get("opened") for row in whole[0])
