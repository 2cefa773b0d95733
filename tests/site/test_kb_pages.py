"""Unit tests of site/kb_pages.py: the knowledge base's index, an article's page and the tags page."""

from __future__ import annotations

from itsm_cli.site import kb_pages
from itsm_cli.site.builder import Builder


def test_the_index_lists_published_articles_and_those_due_for_review(site_builder: Builder) -> None:
    page = kb_pages.kb_index_page(site_builder)
    text = page.markdown
    assert page.uri == "kb/index.md" and "exclude: true" in text  # a list of links stays out of the search index
    assert "2 published articles." in text
    assert "[Connect to the VPN from home](KB-0001.md) (due for review)" in text
    assert "KB-0002.md) |" in text  # reviewed in 2027: not due
    assert "DRAFT-SECRET-TITLE" not in text and "REVIEW-SECRET-TITLE" not in text


def test_due_for_review_is_before_the_build_date(site_builder: Builder) -> None:
    assert kb_pages.due_for_review(site_builder, {"review_by": "2026-03-01"})
    assert not kb_pages.due_for_review(site_builder, {"review_by": "2026-03-02"})
    assert not kb_pages.due_for_review(site_builder, {})


def test_an_article_page_drops_its_own_heading_and_resolves_its_links(site_builder: Builder) -> None:
    page = kb_pages.article_page(site_builder, "KB-0001")
    text = page.markdown
    assert page.source == "kb/KB-0001.md" and text.count("# Connect to the VPN from home") == 1
    assert "Due for review" in text and "2026-01-31" in text
    assert 'href="../KB-0002/"' in text and 'href="../../services/email/"' in text
    assert "kb.requester@example.org" not in text
    assert "KB-0003" not in text.split("</div>")[-2]  # a link to a draft is not made a link to a page


def test_the_tags_page_joins_services_and_articles(site_builder: Builder) -> None:
    text = kb_pages.tags_page(site_builder).markdown
    sections = {part.split(" ", 1)[0]: part for part in text.split("\n## ")[1:]}
    assert sorted(sections) == ["accounts", "email", "outlook", "remote"]
    assert "(services/vpn.md) (service)" in sections["remote"] and "(kb/KB-0001.md) (article)" in sections["remote"]
    accounts = sections["accounts"]
    assert accounts.index("identity.md") < accounts.index("vpn.md")  # services in catalog order
