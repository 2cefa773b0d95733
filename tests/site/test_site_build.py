"""The published site end to end: pages, links, search, and nothing confidential or hostile in the output."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from sitefixtures import SECRETS, BuiltSite, html_files, itsm, read

from itsm_cli.site.build import build_site
from itsm_cli.store.desk import Desk

SERVICES = ("email", "identity", "vpn", "fax", "portal", "printing")
PUBLISHED = ("KB-0001", "KB-0002")
UNPUBLISHED = ("KB-0003", "KB-0004", "KB-0005")


class _Links(HTMLParser):
    """Collects link targets and element IDs of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if value is not None and ((name == "href" and tag in ("a", "link")) or (name == "src" and tag in ("img", "script"))):
                self.links.append(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _target(out: Path, page: Path, link: str, base: str = "/") -> tuple[Path, str] | None:
    """The file a link on ``page`` points at, and its fragment; None for external links.

    ``base``: the path the site is served under (an absolute link starts with it: the 404 page's do).
    """
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or link.startswith("#"):
        return None
    path = unquote(parts.path)
    if path.startswith("/"):
        assert path.startswith(base), (page, link, base)
        target = (out / path.removeprefix(base)).resolve()
    else:
        target = (page.parent / path).resolve()
    if path.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


# -- pages ------------------------------------------------------------------------------


def test_every_page_is_built(built_site: BuiltSite) -> None:
    out = built_site.out
    for page in ("index.html", "status/index.html", "metrics/index.html", "tags/index.html", "kb/index.html",
                 "search/search_index.json", "assets/itsm.css", "assets/itsm.js", "sitemap.xml"):
        assert (out / page).is_file(), page
    for sid in SERVICES:
        assert (out / "services" / sid / "index.html").is_file(), sid
    for kid in PUBLISHED:
        assert (out / "kb" / kid / "index.html").is_file(), kid
    for kid in UNPUBLISHED:
        assert not (out / "kb" / kid).exists(), f"{kid} is not published but has a page"
    assert not (built_site.desk / "site_docs" / "index.md").exists(), "nothing generated is written to the desk"


def test_internal_links_and_anchors_resolve(built_site: BuiltSite) -> None:
    out = built_site.out
    ids: dict[Path, set[str]] = {}
    broken = []
    checked = 0
    for page in html_files(out):
        parsed = _parse(page)
        ids.setdefault(page.resolve(), parsed.ids)
        for link in parsed.links:
            if link.startswith("#") and len(link) > 1 and unquote(link[1:]) not in parsed.ids:
                broken.append(f"{page.relative_to(out)}: {link}")
                continue
            target = _target(out, page, link)
            if target is None:
                continue
            checked += 1
            path, fragment = target
            if not path.is_file():
                broken.append(f"{page.relative_to(out)}: {link}")
            elif fragment and path.suffix == ".html":
                if path not in ids:
                    ids[path] = _parse(path).ids
                if unquote(fragment) not in ids[path]:
                    broken.append(f"{page.relative_to(out)}: {link} (no #{fragment})")
    assert checked > 100
    assert not broken, "\n".join(broken)


def test_search_index_finds_services_offerings_and_articles(built_site: BuiltSite) -> None:
    index = json.loads((built_site.out / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(f"{d.get('title', '')} {d.get('text', '')}" for d in index["docs"]).lower()
    for word in ("remote access", "zebracrossing", "shared mailbox", "quokkatoken", "distribution list change",
                 "connect to the vpn from home", "pangolinclient", "narwhalmailbox", "new starter account"):
        assert word in text, word
    locations = {d["location"].split("#")[0] for d in index["docs"]}
    assert {"services/vpn/", "kb/KB-0001/", "status/", "metrics/"} <= locations


# -- confidentiality and hostile text ------------------------------------------------------------


def test_no_confidential_text_in_any_output_file(built_site: BuiltSite) -> None:
    files = [p for p in built_site.out.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        for what, secret in SECRETS.items():
            assert secret.encode() not in data, f"{what} ({secret}) published in {path.relative_to(built_site.out)}"


def test_secrets_are_really_in_the_fixture(built_site: BuiltSite) -> None:
    """Guards the test above: each secret is planted in the desk, so its absence from the site means something."""
    text = "\n".join(p.read_text(encoding="utf-8") for folder in ("catalog", "kb", "tickets")
                     for p in (built_site.desk / folder).rglob("*") if p.suffix in (".yaml", ".md"))
    for what, secret in SECRETS.items():
        assert secret in text, what


EVENT_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE)


def test_hostile_text_never_becomes_markup(built_site: BuiltSite) -> None:
    for page in html_files(built_site.out):
        html = page.read_text(encoding="utf-8")
        where = page.relative_to(built_site.out)
        assert "javascript:" not in html.lower(), where
        assert not EVENT_HANDLER.search(html), where
        for tag in ("<iframe", "evil.example", "<input name=x", "<svg onload", "<style>body", "<img src=x", "<b>things",
                    "<i onmouse"):
            assert tag not in html.lower(), (where, tag)
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL)
        assert not [s for s in scripts if "alert(" in s], where
    kb = read(built_site.out, "kb/KB-0002/", unescape=False)
    assert "<title>Hostile &lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt; article - " in kb  # escaped once
    assert "narwhalmailbox" in kb and '<div class="admonition note">styled</div>' in kb
    printing = read(built_site.out, "services/printing/")
    assert "Office <b>things</b>" in printing and "Printing <img src=x onerror=alert('svc')> & scanning" in printing


# -- what each page says ---------------------------------------------------------------------


def test_catalog_home_lists_services_by_category_with_status_and_owner(built_site: BuiltSite) -> None:
    html = read(built_site.out, "")
    for category in ("Communication", "Security"):
        assert re.search(rf'<h3 data-search-exclude id="cat-{category.lower()}"', html)
    assert 'href="services/vpn/">Remote access (VPN)</a>' in html
    assert "itsm-badge--open\">Live<" in html and "itsm-badge--closed\">Retired<" in html
    assert "itsm-badge--new\">Pipeline<" in html
    assert "Carol Owner" in html and "carol@example.com" not in html
    assert 'data-itsm-tags="remote accounts"' in html
    assert 'href="tags/"' in html


def test_service_page(built_site: BuiltSite) -> None:
    html = read(built_site.out, "services/email/")
    assert '<a href="https://git.example/desk/edit/main/catalog/email.yaml"' in html
    assert "Shared mailbox" in html and "Distribution list change" in html
    assert "needed by Service owners (1 approver)" in html and "not needed" in html
    assert "2 days" in html and "4 hours" in html
    assert "Address wanted" in html and "Up to 30 characters" in html
    # The Request link fills in the title and the offering's questions (as ### sections intake reads).
    assert ('href="https://github.com/OWNER/REPO/issues/new?template=request.yml&service=email&offering=shared-mailbox'
            '&title=%5BRequest%5D%3A%20') in html
    assert "&details=%23%23%23%20Address%20wanted%0A" in html
    assert "around the clock" in html
    assert "15 minutes" in html  # the standard profile's P1 response
    assert 'href="../identity/">Accounts & sign-on</a>' in html  # depends on
    assert 'href="../portal/">Self-service portal</a>' in html  # needed by
    assert 'href="../../kb/KB-0002/"' in html  # related article
    assert "Mail delivery delayed" in html  # open major incident, title only
    assert 'href="../vpn/"' in html  # a link written in the description, rewritten

    vpn = read(built_site.out, "services/vpn/")
    assert "London office hours" in vpn and "Europe/London" in vpn and "08:30–12:30 and 13:30–17:30" in vpn
    assert "2026-04-03" in vpn and "Monday to Friday" in vpn
    assert "30 minutes" in vpn and "2 business days" in vpn  # its own targets
    assert "1 business day" in vpn
    assert "VPN slow for some users" not in vpn  # not major
    identity = read(built_site.out, "services/identity/")
    assert "needed by Service owners (2 approvers)" in identity
    assert 'href="../email/"' in identity and 'href="../vpn/"' in identity  # needed by both
    assert "md-button" not in read(built_site.out, "services/fax/")  # retired: nothing to request
    assert "not live yet" in read(built_site.out, "services/portal/")


def test_kb_pages(built_site: BuiltSite) -> None:
    kb1 = read(built_site.out, "kb/KB-0001/")
    assert "Due for review" in kb1
    assert '<a href="https://git.example/desk/edit/main/kb/KB-0001.md"' in kb1
    assert 'href="../KB-0002/"' in kb1 and 'href="../../services/email/"' in kb1
    assert 'href="#kb-install-the-client"' in kb1 and 'id="kb-install-the-client"' in kb1
    assert "KB-0003" not in kb1  # the link to a draft is dropped
    assert "Install pangolinclient" in kb1
    assert kb1.count("<h1") == 1
    assert "Due for review" not in read(built_site.out, "kb/KB-0002/")
    index = read(built_site.out, "kb/")
    assert "(due for review)" in index and 'href="KB-0001/"' in index


def test_status_page(built_site: BuiltSite) -> None:
    html = read(built_site.out, "status/")
    rows = {m.group(1): m.group(2)
            for m in re.finditer(r'href="\.\./services/([a-z-]+)/".*?itsm-badge--\w+">(\w+)<', html, re.DOTALL)}
    # A P5 on the VPN leaves it operational (the default rules: P1 or major down, P2 degraded).
    assert rows == {"email": "Down", "vpn": "Operational", "identity": "Operational", "printing": "Operational"}
    assert "Mail delivery delayed" in html
    assert "VPN slow for some users" not in html  # only incidents that change a service's status are named
    assert "1 down</strong> of 4 live services" in html


def test_metrics_page(built_site: BuiltSite) -> None:
    html = read(built_site.out, "metrics/")
    # Each chart drawn for a wide column and for a phone.
    assert html.count('<svg class="itsm-chart__svg itsm-chart__svg--wide"') == 2
    assert html.count('<svg class="itsm-chart__svg itsm-chart__svg--narrow"') == 2
    assert 'role="img"' in html and "<title id=\"chart-volume-wide-title\">" in html
    assert "<figcaption>Tickets opened and closed per month. The table below gives the same figures.</figcaption>" in html
    # The clock is 2 March: March is the month so far, marked as such in the chart and the table, not a fall.
    assert "<td>Mar 2026 (so far, 2 days)</td>" in html
    assert "Mar 2026 (so far): Opened" in html and 'class="s0 partial"' in html
    row = re.search(r"<td>Jan 2026</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>", html)
    assert row and row.groups() == ("1", "1", "1")
    feb = re.search(r"<td>Feb 2026</td>\s*<td>(\d+)</td>", html)
    assert feb and feb.group(1) == "5"  # 3 incidents, the printer jam and the request
    assert "<td>Mar 2025</td>" not in html and "<td>Apr 2025</td>" in html  # twelve months up to the clock
    # The types counted are named: improvements (reports: false) are the desk's own work, not a service's figures.
    counted = re.search(r"Tickets \(([^)]*)\) over the last 12 months", html)
    assert counted and "incident" in counted.group(1) and "improvement" not in counted.group(1)


def test_mkdocs_build_strict_has_no_warnings(built_site: BuiltSite, tmp_path: Path) -> None:
    """Plain ``mkdocs build --strict`` on the desk, as the publish workflow may run it."""
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "out")],
                       cwd=built_site.desk, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    assert (tmp_path / "out" / "services" / "vpn" / "index.html").is_file()


def test_the_repository_and_skeleton_mkdocs_yml_are_identical() -> None:
    repo = Path(__file__).resolve().parents[2]
    assert (repo / "mkdocs.yml").read_text() == (repo / "itsm_cli" / "data" / "skeleton" / "mkdocs.yml").read_text()


# -- errors --------------------------------------------------------------------------------------


def test_bad_content_stops_the_build_naming_the_file(site_desk: Path, tmp_path: Path) -> None:
    path = site_desk / "catalog" / "vpn.yaml"
    path.write_text(path.read_text().replace("depends_on: [identity]", "depends_on: [nowhere]"))
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 1
    assert r.stderr.startswith("itsm: error: catalog/vpn.yaml: depends_on: no service 'nowhere'"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unparsable_record_stops_the_build_naming_the_file(site_desk: Path, tmp_path: Path) -> None:
    (site_desk / "kb" / "KB-0009.md").write_text("---\nid: KB-0009\ntitle: [unclosed\n---\nbody\n")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 1
    assert r.stderr.startswith("itsm: error: kb/KB-0009.md"), r.stderr


def test_no_strict_and_unknown_engine(site_desk: Path, tmp_path: Path) -> None:
    r = itsm("site", "build", "--no-strict", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    r = itsm("site", "build", "--engine", "hugo", cwd=site_desk)
    assert r.exit_code == 2


def test_zensical_missing_is_a_clear_error(site_desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    r = itsm("site", "build", "--engine", "zensical", cwd=site_desk)
    assert r.exit_code == 3
    assert "zensical is not installed" in r.stderr


@pytest.mark.skipif(shutil.which("zensical") is None, reason="zensical is not installed")
def test_zensical_gets_the_same_pages_at_the_same_urls(site_desk: Path, tmp_path: Path) -> None:
    mk = build_site(Desk(site_desk), out=tmp_path / "mk")
    zen = build_site(Desk(site_desk), engine="zensical", out=tmp_path / "zen")
    pages = {p.relative_to(mk).as_posix() for p in mk.rglob("index.html")}
    assert pages <= {p.relative_to(zen).as_posix() for p in zen.rglob("index.html")}
    derived = (site_desk / ".itsm-build" / "mkdocs.yml").read_text()
    assert "- itsm" not in derived and "docs_dir: docs" in derived
    assert (site_desk / ".itsm-build" / "docs" / "services" / "vpn.md").is_file()


def test_demo_desk_builds_strict(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    if not any((repo / "catalog").glob("*.yaml")):
        pytest.skip("the demo desk has no catalog yet")
    r = itsm("init", str(tmp_path / "demo"), "--demo")
    assert r.exit_code == 0, r.stderr
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=tmp_path / "demo")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "out"
    services = sorted(p.stem for p in (repo / "catalog").glob("*.yaml"))
    for sid in services:
        assert (out / "services" / sid / "index.html").is_file(), sid
    for page in html_files(out):
        for link in _parse(page).links:
            # The demo is served under a sub-path (site.url in its itsm.yaml), which the 404 page's links start with.
            target = _target(out, page, link, base="/it-desk/")
            assert target is None or target[0].is_file(), (page, link)
