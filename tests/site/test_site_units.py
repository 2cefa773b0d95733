"""The site's pages on their own: URLs and the pages as Markdown (sanitising: test_sanitize.py; charts: test_charts.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from desk_testing import record_calls

from itsm_cli.site import metrics_pages, pages
from itsm_cli.store.desk import Desk


def test_pages_are_markdown_with_sources_and_nav(built_site: object) -> None:
    desk = Desk(built_site.desk)
    site = pages.build_site(pages.load_content(desk), datetime(2026, 3, 2, 9, tzinfo=UTC))
    by_uri = {p.uri: p for p in site.pages}
    assert by_uri["services/vpn.md"].source == "catalog/vpn.yaml"
    assert by_uri["kb/KB-0001.md"].source == "kb/KB-0001.md"
    assert by_uri["index.md"].in_nav and not by_uri["services/vpn.md"].in_nav
    assert [next(iter(n.values())) for n in site.nav] == ["index.md", "kb/index.md", "status.md", "metrics.md", "tags.md"]
    schemas = {f"schemas/{p.name}" for p in (built_site.desk / "schemas").glob("*.json")}
    assert "schemas/incident.schema.json" in schemas
    assert set(site.assets) == {"assets/itsm.css", "assets/itsm.js", "robots.txt", "status/feed.xml", *schemas}
    assert site.noindex and site.assets["robots.txt"].endswith("Disallow: /\n")
    assert by_uri["services/vpn.md"].markdown.startswith('---\ntitle: "Remote access (VPN)"\nsearch:\n  boost: 2\n---\n')
    assert "search:\n  exclude: true\n---" in by_uri["tags.md"].markdown
    # Same desk and clock, same pages: the output is reproducible.
    again = pages.build_site(pages.load_content(desk), datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert [p.markdown for p in again.pages] == [p.markdown for p in site.pages]


def test_each_record_file_is_read_once(built_site: object, monkeypatch: pytest.MonkeyPatch) -> None:
    desk = Desk(built_site.desk)
    reads = record_calls(monkeypatch, Desk, "read_bytes")
    pages.build_site(pages.load_content(desk), datetime(2026, 3, 2, 9, tzinfo=UTC))
    records = [r for r in reads if r.split("/")[0] in ("catalog", "kb", "tickets")]
    assert records and len(records) == len(set(records))
    assert len(records) == len(list(Path(built_site.desk).glob("catalog/*.yaml"))) + len(
        list(Path(built_site.desk).glob("kb/*.md"))) + len(list(Path(built_site.desk).glob("tickets/*/*/*.yaml")))


def test_review_clock_follows_itsm_now(site_desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "2025-06-01T00:00:00Z")
    site = pages.build_site(pages.load_content(Desk(site_desk)), datetime(2025, 6, 1, tzinfo=UTC))
    kb1 = next(p for p in site.pages if p.uri == "kb/KB-0001.md")
    assert "Due for review" not in kb1.markdown
    later = pages.build_site(pages.load_content(Desk(site_desk)), datetime(2026, 2, 1, tzinfo=UTC))
    assert "Due for review" in next(p for p in later.pages if p.uri == "kb/KB-0001.md").markdown


GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("uri", ["services/vpn.md", "kb/KB-0001.md", "status.md"])
def test_pages_match_golden_files(built_site: object, uri: str) -> None:
    """The generated Markdown of a few pages, byte for byte (``ITSM_UPDATE_GOLDEN=1`` rewrites the files)."""
    import os

    site = pages.build_site(pages.load_content(Desk(built_site.desk)), datetime(2026, 3, 2, 9, tzinfo=UTC))
    text = next(p.markdown for p in site.pages if p.uri == uri)
    golden = GOLDEN / uri.replace("/", "__")
    if os.environ.get("ITSM_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"{uri} changed; ITSM_UPDATE_GOLDEN=1 rewrites {golden.name}"


def test_pages_made_by_forked_workers_are_the_same(built_site: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli import parallel

    if parallel.cpu_count() < 2 or not parallel.can_fork():
        pytest.skip("one core or no fork: pages are made in-process")
    monkeypatch.setattr(pages, "PAGES_PER_TASK", 1)  # this small desk would otherwise stay in one process
    monkeypatch.setattr(metrics_pages, "TICKETS_PER_WORKER", 1)
    content = pages.load_content(Desk(built_site.desk))
    here = pages.build_site(content, datetime(2026, 3, 2, 9, tzinfo=UTC))
    forked = pages.build_site(content, datetime(2026, 3, 2, 9, tzinfo=UTC), parallel=True)
    assert len(forked.pages) == len(here.pages) > 5
    assert forked.pages == here.pages
    metrics = next(p.markdown for p in forked.pages if p.uri == "metrics.md")
    assert re.search(r"\| [A-Z][a-z]{2} 20\d\d \| [1-9]", metrics)  # a month with tickets: the shares were combined
    assert not parallel._STATE  # the builder is not kept once the pages are made


def test_a_page_error_in_a_forked_worker_names_the_file(site_desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGES_PER_TASK", 1)
    config = site_desk / "itsm.yaml"
    data = yaml.safe_load(config.read_text())
    data["desk"]["request_url"] = "javascript:alert(1)"
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(pages.SiteContentError, match="request_url") as caught:
        pages.build_site(pages.load_content(Desk(site_desk)), datetime(2026, 3, 2, 9, tzinfo=UTC), parallel=True)
    assert caught.value.path == "itsm.yaml"


@pytest.mark.parametrize(("command", "parallel"), [("build", True), ("gh-deploy", True), ("serve", False)])
def test_the_plugin_makes_pages_on_every_core_only_for_a_build(site_desk: Path, monkeypatch: pytest.MonkeyPatch,
                                                                command: str, parallel: bool) -> None:
    from mkdocs.config import load_config

    from itsm_cli.site.plugin import ItsmPlugin

    seen: list[bool] = []
    original = pages.build_site

    def spy(*args: object, **kwargs: object) -> pages.Site:
        seen.append(bool(kwargs.get("parallel")))
        return original(*args, **kwargs)

    monkeypatch.setattr(pages, "build_site", spy)
    plugin = ItsmPlugin()
    plugin.load_config({})
    plugin.on_startup(command=command, dirty=False)
    plugin.on_config(load_config(config_file=str(site_desk / "mkdocs.yml")))
    assert seen == [parallel]


def test_tickets_loaded_by_workers_are_the_same(site_desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)  # this small desk would otherwise be read in-process
    monkeypatch.setattr(parallel, "CHUNK", 2)
    here = pages.load_content(Desk(site_desk))
    spread = pages.load_content(Desk(site_desk), parallel=True)
    assert len(spread.tickets) == len(here.tickets) > 4
    assert (spread.tickets, spread.services, spread.articles) == (here.tickets, here.services, here.articles)


def test_a_broken_ticket_read_by_a_worker_stops_the_build_named(site_desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)
    broken = sorted((site_desk / "tickets").glob("*/*/*.yaml"))[-1]
    broken.write_text("id: [unclosed\n")
    with pytest.raises(pages.SiteContentError) as caught:
        pages.load_content(Desk(site_desk), parallel=True)
    assert caught.value.path == broken.relative_to(site_desk).as_posix()
    assert caught.value.line is not None
