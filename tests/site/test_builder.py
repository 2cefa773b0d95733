"""Unit tests of site/builder.py: what every page is made from (checked content, indexes, shared helpers)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from itsm_cli.site.builder import BOOST, Builder
from itsm_cli.site.content import ArticleFile, DeskContent, ServiceFile, SiteContentError

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_only_published_articles_are_kept_and_indexed_by_service(site_builder: Builder) -> None:
    assert sorted(site_builder.articles) == ["KB-0001", "KB-0002"]  # not the draft, the retired one or one in review
    assert site_builder.kb_by_service["vpn"] == ["KB-0001", "KB-0002"]
    assert site_builder.kb_by_service["email"] == ["KB-0002"]
    assert sorted(site_builder.needed_by["identity"]) == ["email", "vpn"]


def test_service_categories_and_order(site_builder: Builder) -> None:
    assert [site_builder.service_category(s) for s in ("live", "pipeline", "retired")] == ["open", "new", "closed"]
    order = site_builder.service_order(site_builder.services)
    # Live services first (by name), then those not live yet, then the retired ones.
    assert order[-2:] == ["portal", "fax"]
    assert order[0] == "identity"


def test_a_page_has_front_matter_search_settings_and_the_banner(site_builder: Builder) -> None:
    page = site_builder.page("services/x.md", "X & Y", "# X\n\nbody\n\n", source="catalog/x.yaml", search=BOOST)
    assert page.markdown.startswith("---\n") and "boost: 2" in page.markdown.split("---\n")[1]
    assert page.markdown.endswith("body\n") and page.source == "catalog/x.yaml"
    # E-mail is down at the fixture's clock: every page carries the banner, linking the status page from here.
    assert 'href="../../status/"' in page.markdown and "itsm-banner--down" in page.markdown


def test_people_see_names_not_addresses(site_builder: Builder) -> None:
    assert site_builder.person("carol@example.com") == "Carol Owner"
    assert site_builder.person(None) == "—"


def test_links_people_write_resolve_to_published_pages_only(site_builder: Builder) -> None:
    resolve = site_builder.resolver("kb/KB-0001.md")
    assert resolve("KB-0002.md") == "../KB-0002/"
    assert resolve("../catalog/email.yaml") == "../../services/email/"
    assert resolve("KB-0003.md") is None  # a draft has no page


@pytest.mark.parametrize(("service", "message"), [
    (ServiceFile("catalog/other.yaml", {"id": "vpn", "name": "V", "status": "live", "category": "C"}), "file name"),
    (ServiceFile("catalog/vpn.yaml", {"id": "vpn", "name": "V", "status": "live", "category": "C",
                                      "depends_on": ["nowhere"]}), "no service 'nowhere'"),
    (ServiceFile("catalog/vpn.yaml", {"id": "vpn", "status": "live", "category": "C"}), "needs a name"),
])
def test_a_service_the_site_cannot_publish_stops_the_build_named(site_content: DeskContent, service: ServiceFile,
                                                                 message: str) -> None:
    content = dataclasses.replace(site_content, services=[service], articles=[])
    with pytest.raises(SiteContentError, match=message) as caught:
        Builder(content, NOW, True)
    assert caught.value.path == service.path


def test_a_published_article_with_a_bad_review_date_is_named(site_content: DeskContent) -> None:
    article = ArticleFile("kb/KB-0009.md", {"id": "KB-0009", "title": "T", "status": "published",
                                            "review_by": "soon"}, "")
    content = dataclasses.replace(site_content, articles=[article])
    with pytest.raises(SiteContentError, match="review_by") as caught:
        Builder(content, NOW, True)
    assert caught.value.path == "kb/KB-0009.md"
