"""Unit tests of site/catalog_pages.py: the home page and a service's page, from a builder of the fixture desk."""

from __future__ import annotations

import pytest

from itsm_cli.site import catalog_pages
from itsm_cli.site.builder import Builder

ALWAYS = {"timezone": "UTC", "always": True}
OFFICE = {"timezone": "UTC", "days": ["mon"], "hours": [["09:00", "17:00"]]}


@pytest.mark.parametrize(("text", "calendar", "shown"), [
    ("4h", ALWAYS, "4 hours"), ("1h", ALWAYS, "1 hour"), ("30m", OFFICE, "30 minutes"),
    ("2d", ALWAYS, "2 days"), ("1d", OFFICE, "1 business day"), ("1.5d", OFFICE, "1.5 business days"),
    ("2.0h", ALWAYS, "2 hours"), ("soon", ALWAYS, "soon"), ("<b>", ALWAYS, "&#60;b&#62;"), (None, ALWAYS, "—"),
])
def test_durations_in_words(text: str | None, calendar: dict, shown: str) -> None:
    assert catalog_pages.duration(text, calendar) == shown


def test_summary_falls_back_to_the_first_sentence_and_is_cut() -> None:
    assert catalog_pages.summary_of({"description": "First one. Second one."}) == "First one."
    assert catalog_pages.summary_of({"summary": "x" * 200}, limit=10) == "x" * 9 + "…"


def test_filter_words_are_words_only() -> None:
    words = catalog_pages.filter_words({"name": "Printing <b>& scanning</b>", "id": "printing", "category": "Office",
                                        "tags": ["paper"], "offerings": [{"id": "toner", "name": "Toner!"}]})
    assert words.split() == ["printing", "b", "scanning", "b", "printing", "office", "paper", "toner", "toner"]


def test_the_catalog_lists_every_service_by_category_with_help_first(site_builder: Builder) -> None:
    page = catalog_pages.catalog_page(site_builder)
    assert page.uri == "index.md" and page.in_nav
    text = page.markdown
    assert "6 services (4 live) in 3 categories" in text
    assert text.index("## Get help") < text.index("## Services")
    for sid in site_builder.services:
        assert f'href="services/{sid}/"' in text
    assert "Carol Owner" in text and "carol@example.com" not in text


def test_a_service_page_shows_offerings_hours_levels_and_links_but_no_checklist(site_builder: Builder) -> None:
    page = catalog_pages.service_page(site_builder, "email")
    text = page.markdown
    assert page.uri == "services/email.md" and page.source == "catalog/email.yaml"
    assert "### Shared mailbox" in text and "2 days" in text  # fulfilment on a 24x7 calendar
    assert "CHECKLIST-SECRET" not in text
    assert "- **Depends on:** [Accounts" in text and "](identity.md)" in text
    assert "[Connect to the VPN" not in text and "](../kb/KB-0002.md)" in text  # only the articles about e-mail


def test_hours_of_an_office_calendar_name_the_days_and_holidays(site_builder: Builder) -> None:
    text = catalog_pages.service_page(site_builder, "vpn").markdown
    assert "**London office hours:** Monday to Friday, 08&#58;30–12&#58;30 and 13&#58;30–17&#58;30" in text
    assert "Closed on holidays: 2026-04-03, 2026-12-25." in text
    assert "| P1 | 30 minutes | 4 hours |" in text and "| P3 | 4 hours | 2 business days |" in text
