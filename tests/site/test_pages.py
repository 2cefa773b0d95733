"""Unit tests of site/pages.py: the whole site from the content (pages in order, assets, navigation) and noindex.

(Whole sites built by the CLI: test_site_units.py, test_site_build.py, test_site_publish.py.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from itsm_cli import parallel
from itsm_cli.site import pages
from itsm_cli.site.content import DeskContent

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_the_site_has_the_nav_pages_then_a_page_per_service_and_article(site_content: DeskContent) -> None:
    site = pages.build_site(site_content, NOW)
    uris = [p.uri for p in site.pages]
    assert uris[:5] == ["index.md", "kb/index.md", "status.md", "metrics.md", "tags.md"]
    services = sorted(s.data["id"] for s in site_content.services)
    assert uris[5:] == [f"services/{sid}.md" for sid in services] + ["kb/KB-0001.md", "kb/KB-0002.md"]
    assert [p.uri for p in site.pages if p.in_nav] == uris[:5]
    assert site.nav == [{title: uri} for title, uri in pages.NAV]
    assert not parallel._STATE  # the builder is not kept once the pages are made


def test_the_assets_are_the_style_script_feed_robots_and_schemas(site_content: DeskContent) -> None:
    site = pages.build_site(site_content, NOW, directory_urls=False)
    assert {pages.CSS, pages.JS, "status/feed.xml", "robots.txt"} <= set(site.assets)
    assert 'href="../status.html"' in site.assets["status/feed.xml"]  # from the feed's folder, without directory URLs
    assert set(site_content.schemas) and all(f"schemas/{n}" in site.assets for n in site_content.schemas)
    # The fixture desk is internal: no robot may index it, and every page asks the same.
    assert site.noindex and site.assets["robots.txt"] == pages.ROBOTS_INTERNAL


def test_a_record_page_is_made_from_the_shared_builder(site_content: DeskContent) -> None:
    from itsm_cli.site.builder import Builder

    with parallel.shared(Builder(site_content, NOW, True)):
        page = pages._record_page(pages.RecordPage("article", "KB-0002"))
    assert page.uri == "kb/KB-0002.md"
    with pytest.raises(LookupError):
        pages._record_page(pages.RecordPage("service", "email"))


def test_add_noindex_tags_every_page_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text("<html><head><title>x</title></head></html>")
    (tmp_path / "a/page.html").write_text("<html><head></head></html>")
    (tmp_path / "a/fragment.html").write_text("<p>no head</p>")
    assert pages.add_noindex(tmp_path) == 2
    assert pages.add_noindex(tmp_path) == 0  # already tagged
    assert (tmp_path / "index.html").read_text().count(pages.NOINDEX) == 1
    assert pages.NOINDEX not in (tmp_path / "a/fragment.html").read_text()
