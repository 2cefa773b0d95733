"""The site's core pieces on their own: escaping, sanitising, charts, URLs, and the pages as Markdown."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import markdown
import pytest
import yaml

from itsm_cli.site import charts, pages
from itsm_cli.site.sanitize import attr, front_matter, inline, render_markdown
from itsm_cli.store.desk import Desk

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](  JaVaScRiPt:alert(1))",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
    "<iframe src=//evil.example></iframe>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>",
    '<p style="background:url(javascript:alert(1))">x</p>',
    "<object data=x></object><embed src=x>",
    "<base href=//evil.example/>",
    "<meta http-equiv=refresh content='0;url=//evil.example'>",
    '<form action="//evil.example"><button formaction=javascript:alert(1)>x</button></form>',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_render_markdown_removes_active_content(text: str) -> None:
    out = render_markdown(f"Before\n\n{text}\n\nAfter").lower()
    for bad in ("<script", "javascript:", "onerror", "onload", "ontoggle", "<iframe", "<style", "<object", "<embed",
                "<base", "<meta", "<form", "data:text", "style=", "evil.example"):
        assert bad not in out, (text, out)
    assert "before" in out


def test_render_markdown_keeps_ordinary_markdown() -> None:
    out = render_markdown(
        "## Steps\n\n1. **Open** the `app`\n2. See [docs](https://example.org/a?b=1&c=2) or [mail](mailto:a@b.example)"
        "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```bash\necho hi\n```\n\n!!! note \"Heads up\"\n    Careful.\n"
    )
    assert '<h2 id="kb-steps">Steps</h2>' in out
    assert "<strong>Open</strong>" in out and "<code>app</code>" in out
    assert 'href="https://example.org/a?b=1&amp;c=2"' in out and 'href="mailto:a@b.example"' in out
    assert "<table>" in out and '<code tabindex="0" class="language-bash">' in out
    assert '<div class="admonition note">' in out and '<p class="admonition-title">Heads up</p>' in out


def test_render_markdown_rewrites_desk_links_and_drops_unknown_relative_ones() -> None:
    seen = []

    def resolve(target: str) -> str | None:
        seen.append(target)
        return "../KB-0002/" if target == "KB-0002.md" else None

    out = render_markdown("[a](KB-0002.md) [b](../secret.yaml) [c](#part) [d](//evil.example/x) ![i](pic.png)", resolve)
    assert 'href="../KB-0002/"' in out and 'href="#kb-part"' in out
    assert "secret.yaml" not in out and "evil.example" not in out and "pic.png" not in out
    assert seen == ["KB-0002.md", "../secret.yaml"]


@pytest.mark.parametrize("value", [
    "<b>bold</b> & <i>x</i>", "*stars* _under_ `tick` [link](x) ![img](y)", "a | b | c", "# not a heading",
    "- not a list", "12. not a list", "> not a quote", "{#id .class}", "~~del~~ ^^ins^^ ==mark== $x$ :smile:",
    "&amp; &#60; &lt;", "back\\slash", "line\nbreak\rand\ttab", "---", "===",
])
def test_inline_shows_exactly_the_text(value: str) -> None:
    expected = " ".join(value.split()) if "\n" in value or "\t" in value else value
    for wrap in ("{}", "| {} |\n|---|", "# {}", "- {}", "[{}](x.md)"):
        html = markdown.markdown(wrap.format(inline(value)), extensions=["tables", "attr_list", "toc"])
        text = "".join(ET.fromstring(f"<r>{html}</r>").itertext()).strip()
        assert text == expected, (wrap, html)


def test_attr_and_front_matter_escape() -> None:
    assert attr('a "b" <c> & d\ne') == "a &quot;b&quot; &lt;c&gt; &amp; d e"
    text = front_matter({"title": '</title><script>x</script> "q" \\ \u0085 \x07 ü 😀'})
    data = yaml.safe_load(text.strip().strip("-"))
    assert data == {"title": "&lt;/title&gt;&lt;script&gt;x&lt;/script&gt; &quot;q&quot; \\ ü 😀"}
    with pytest.raises(ValueError):
        front_matter({"bad key": "x"})


def test_charts_are_well_formed_accessible_svg() -> None:
    bar = charts.bar_chart("c1", "Opened <&>", ["Jan", "Feb"], [("Opened", [3, 0]), ("Closed", [1, 7])])
    line = charts.line_chart("c2", "SLA", ["Jan", "Feb", "Mar"], [("Met", [90.5, None, 100])], y_max=100, unit="%")
    for chart in (bar, line):
        root = ET.fromstring(chart)
        assert root.tag == "figure"
        svg = root.find("svg")
        assert svg is not None and svg.get("role") == "img" and svg.get("aria-labelledby")
    assert "Opened &lt;&amp;&gt;" in bar and "Jan: Opened 3, Closed 1" in bar
    assert "Feb: Met no data" in line and "90.5%" in line
    assert charts.bar_chart("c3", "empty", [], [])  # nothing to draw is not an error


@pytest.mark.parametrize(("frm", "to", "dirs", "expected"), [
    ("index.md", "services/vpn.md", True, "services/vpn/"),
    ("services/vpn.md", "index.md", True, "../../"),
    ("services/vpn.md", "kb/KB-0001.md", True, "../../kb/KB-0001/"),
    ("kb/index.md", "kb/KB-0001.md", True, "KB-0001/"),
    ("services/vpn.md", "services/email.md", True, "../email/"),
    ("services/vpn.md", "kb/KB-0001.md", False, "../kb/KB-0001.html"),
    ("index.md", "status.md", False, "status.html"),
    ("services/vpn.md", "index.md", False, "../index.html"),
])
def test_relative_urls(frm: str, to: str, dirs: bool, expected: str) -> None:
    assert pages.rel_url(frm, to, dirs) == expected


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
    reads: list[str] = []
    original = Desk.read_bytes

    def counting(self: Desk, rel: str) -> bytes:
        reads.append(rel)
        return original(self, rel)

    monkeypatch.setattr(Desk, "read_bytes", counting)
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
    monkeypatch.setattr(pages, "TICKETS_PER_WORKER", 1)
    content = pages.load_content(Desk(built_site.desk))
    here = pages.build_site(content, datetime(2026, 3, 2, 9, tzinfo=UTC))
    forked = pages.build_site(content, datetime(2026, 3, 2, 9, tzinfo=UTC), parallel=True)
    assert len(forked.pages) == len(here.pages) > 5
    assert forked.pages == here.pages
    metrics = next(p.markdown for p in forked.pages if p.uri == "metrics.md")
    assert re.search(r"\| [A-Z][a-z]{2} 20\d\d \| [1-9]", metrics)  # a month with tickets: the shares were combined
    assert not pages._CURRENT  # the builder is not kept once the pages are made


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
