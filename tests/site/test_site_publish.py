"""Publishing the site: its name, its address, who may index it, what it loads, and the schemas it carries.

Builds with ``itsm site build`` on copies of the fixture desk; no browser
(tests/site/test_site_reader_browser.py looks at the same site in Chromium).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from desk_testing import ticket_path
from sitefixtures import BuiltSite, html_files, itsm, read

from itsm_cli.store import yaml_io

REPO = Path(__file__).resolve().parents[2]
WARNING = "itsm: warning: site.visibility is internal but .github/workflows/publish.yml deploys the site to GitHub Pages"
MESSAGE = WARNING.removeprefix("itsm: warning: ")


def _set_site(desk: Path, **site: object) -> None:
    config = yaml_io.load_mapping((desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    config["site"] = site
    (desk / "itsm.yaml").write_text(yaml_io.dumps(config), encoding="utf-8")


class _Resources(HTMLParser):
    """The URLs a page makes the browser fetch: scripts, styles, icons, images, frames, preconnects."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"] or "")
        elif tag in ("script", "img", "iframe", "source", "audio", "video", "embed") and a.get("src"):
            self.urls.append(a["src"] or "")
        elif tag == "object" and a.get("data"):
            self.urls.append(a["data"] or "")


# -- nothing leaves the site ---------------------------------------------------------------------


def test_built_pages_and_styles_load_nothing_from_another_host(built_site: BuiltSite) -> None:
    out = built_site.out
    foreign = []
    for page in html_files(out):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        foreign += [(page.relative_to(out).as_posix(), u) for u in parser.urls if re.match(r"(?i)(https?:)?//", u)]
    styles = [p for p in out.rglob("*.css")]
    assert len(styles) >= 3  # the theme's, its palette, ours
    for css in styles:
        for url in re.findall(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", css.read_text(encoding="utf-8")):
            if re.match(r"(?i)(https?:)?//", url):
                foreign.append((css.relative_to(out).as_posix(), url))
    assert not foreign, foreign
    # Our own script names no host at all; the theme's bundle loads fonts only when configured (it is not).
    assert not re.search(r"https?://", (out / "assets" / "itsm.js").read_text(encoding="utf-8"))
    assert "fonts.googleapis.com" not in read(out, "")
    assert "fonts.gstatic.com" not in read(out, "")


# -- name, address, visibility -----------------------------------------------------------------------


def test_site_is_named_after_the_desk_unless_mkdocs_yml_names_it(site_desk: Path, tmp_path: Path) -> None:
    skeleton = (REPO / "itsm_cli" / "data" / "skeleton" / "mkdocs.yml").read_text(encoding="utf-8")
    assert 'site_name: ""' in skeleton and "IT Service Catalog" not in skeleton
    assert "font: false" in skeleton
    r = itsm("site", "build", "-o", str(tmp_path / "a"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    home = read(tmp_path / "a", "")
    assert "<title>Service catalog - IT Service Desk</title>" in home
    assert re.search(r'<span class="md-ellipsis">\s*IT Service Desk\s*</span>', home)
    # A desk without the line at all (MkDocs itself needs one): itsm site build still names it.
    mkdocs = site_desk / "mkdocs.yml"
    mkdocs.write_text(mkdocs.read_text().replace('site_name: ""\n', ""), encoding="utf-8")
    r = itsm("site", "build", "-o", str(tmp_path / "b"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    assert "<title>Service catalog - IT Service Desk</title>" in read(tmp_path / "b", "")
    # A desk that names its site keeps its name.
    mkdocs.write_text("site_name: Our own portal\n" + mkdocs.read_text(), encoding="utf-8")
    r = itsm("site", "build", "-o", str(tmp_path / "c"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    assert "<title>Service catalog - Our own portal</title>" in read(tmp_path / "c", "")


def test_internal_site_asks_search_engines_to_keep_out(built_site: BuiltSite) -> None:
    out = built_site.out
    assert (out / "robots.txt").read_text(encoding="utf-8").endswith("User-agent: *\nDisallow: /\n")
    pages = html_files(out)
    assert len(pages) > 10
    for page in pages:  # 404.html too
        assert '<meta name="robots" content="noindex, nofollow">' in page.read_text(encoding="utf-8"), page


def test_public_site_with_an_address_has_a_sitemap_of_every_page(site_desk: Path, tmp_path: Path) -> None:
    _set_site(site_desk, visibility="public", url="https://acme.github.io/it-desk")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    assert WARNING not in r.stderr
    out = tmp_path / "out"
    assert "noindex" not in read(out, "") and "Disallow" not in (out / "robots.txt").read_text()
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    locs = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    assert {"https://acme.github.io/it-desk/", "https://acme.github.io/it-desk/services/vpn/",
            "https://acme.github.io/it-desk/kb/KB-0001/", "https://acme.github.io/it-desk/status/"} <= locs
    assert len(locs) == len([p for p in html_files(out) if p.name == "index.html"])
    # The 404 page, served for any missing path, links its assets under the sub-path.
    missing = (out / "404.html").read_text(encoding="utf-8")
    assert 'href="/it-desk/assets/itsm.css"' in missing and 'href="/assets/' not in missing
    # --site-url overrides it (the publish workflow can pass the Pages address).
    r = itsm("site", "build", "-o", str(tmp_path / "other"), "--site-url", "https://pages.example/x/", cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    assert 'href="/x/assets/itsm.css"' in (tmp_path / "other" / "404.html").read_text(encoding="utf-8")
    r = itsm("site", "build", "--site-url", "pages.example/x", cwd=site_desk)
    assert r.exit_code == 2 and "--site-url expects an http(s):// address" in r.stderr


def test_validate_and_build_warn_while_an_internal_site_goes_to_public_pages(site_desk: Path, tmp_path: Path) -> None:
    assert (site_desk / ".github" / "workflows" / "publish.yml").is_file()  # every desk gets it from itsm init
    r = itsm("validate", cwd=site_desk)
    # said on stderr (it is about publishing, not a file to fix); JSON and GitHub list it with the other warnings
    assert r.exit_code == 0 and WARNING in r.stderr and r.stdout == "", r.stderr
    assert r.stderr.strip().endswith("all valid, 1 warning(s)")
    r = itsm("validate", "--format", "github", cwd=site_desk)
    assert r.exit_code == 0 and re.search(r"::warning file=\.github/workflows/publish\.yml,line=\d+,col=1,"
                                          r"title=itsm public-pages::", r.stdout), r.stdout
    assert json.loads(itsm("validate", "--format", "json", cwd=site_desk).stdout)["warnings"][0]["rule"] == "public-pages"
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0 and WARNING in r.stderr, r.stderr
    # A private Pages site, a public site, or no deploy job: no warning.
    _set_site(site_desk, visibility="internal", pages="private")
    assert MESSAGE not in itsm("validate", cwd=site_desk).stderr
    _set_site(site_desk, visibility="public")
    assert MESSAGE not in itsm("validate", cwd=site_desk).stderr
    _set_site(site_desk, visibility="internal")
    (site_desk / ".github" / "workflows" / "publish.yml").unlink()
    r = itsm("validate", cwd=site_desk)
    assert r.exit_code == 0 and MESSAGE not in r.stdout + r.stderr
    # The schema knows the setting.
    _set_site(site_desk, visibility="secret")
    r = itsm("validate", cwd=site_desk)
    assert r.exit_code == 1 and "site.visibility" in r.stdout + r.stderr


# -- schemas --------------------------------------------------------------------------------------------


def test_schemas_are_published_and_resolve_offline(built_site: BuiltSite) -> None:
    for schema in (built_site.desk / "schemas").glob("*.json"):
        published = built_site.out / "schemas" / schema.name
        assert published.read_bytes() == schema.read_bytes(), schema.name
        data = json.loads(schema.read_text(encoding="utf-8"))
        # SPEC section 2: no $id on a host the desk does not control.
        assert "itsm.dev" not in schema.read_text(encoding="utf-8")
        assert not str(data.get("$id", "")).startswith(("http:", "https:")), schema.name


def test_check_jsonschema_validates_a_record_with_only_the_schema_file(built_site: BuiltSite) -> None:
    exe = shutil.which("check-jsonschema")
    if exe is None:
        pytest.skip("check-jsonschema is not installed")
    desk = built_site.desk
    record = next((desk / ticket_path("INC-0001")).parent.glob("INC-*.yaml"))
    # A dead proxy: any attempt to fetch a schema from the network fails instead of succeeding quietly.
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "", "no_proxy": ""}
    r = subprocess.run([exe, "--schemafile", "schemas/incident.schema.json", str(record.relative_to(desk))],
                       cwd=desk, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok -- validation done" in r.stdout
    # And it does check: a record missing its title fails.
    broken = desk.parent / "broken.yaml"
    data = yaml_io.load_mapping(record.read_bytes(), record.name)
    del data["title"]
    broken.write_text(yaml_io.dumps(data), encoding="utf-8")
    r = subprocess.run([exe, "--schemafile", "schemas/incident.schema.json", str(broken)],
                       cwd=desk, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and "title" in r.stdout + r.stderr


# -- finding and requesting ------------------------------------------------------------------------------


def test_catalog_lists_numbered_services_in_natural_order(site_desk: Path, tmp_path: Path) -> None:
    template = (site_desk / "catalog" / "printing.yaml").read_text(encoding="utf-8")
    for n in (1, 2, 10, 100):
        text = re.sub(r"(?m)^id: printing$", f"id: site-{n}", template)
        text = re.sub(r"(?m)^name: .*$", f"name: Site {n} printers", text)
        text = re.sub(r"(?m)^category: .*$", "category: Sites", text)
        (site_desk / "catalog" / f"site-{n}.yaml").write_text(text, encoding="utf-8")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    home = read(tmp_path / "out", "")
    shown = re.findall(r">(Site \d+) printers</a>", home)
    assert shown == ["Site 1", "Site 2", "Site 10", "Site 100"]


def test_catalog_rows_carry_the_words_the_filter_matches(built_site: BuiltSite) -> None:
    home = read(built_site.out, "", unescape=False)
    row = re.search(r'<tr data-itsm-tags="[^"]*" data-itsm-status="[^"]*"(?: data-[a-z-]+="[^"]*")* '
                    r'data-itsm-words="([^"]*)"><td><a href="services/email/"', home)
    assert row, "no row for e-mail"
    words = row.group(1)
    # Name, id, category, tags, offerings (names and ids) and summary; lower case, no punctuation.
    for expected in ("e-mail", "email", "communication", "outlook", "shared mailbox", "shared-mailbox",
                     "distribution list change", "mailboxes"):
        assert expected in words, expected
    assert words == words.lower() and "&" not in words and "<" not in words


def test_home_has_a_get_help_route(site_desk: Path, tmp_path: Path) -> None:
    config = yaml_io.load_mapping((site_desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    config["desk"]["contact"] = {"email": "help@example.com", "phone": "+1 555 0100", "hours": "london",
                                 "note": "Call for anything urgent."}
    config["desk"]["incident_url"] = "https://git.example/desk/issues/new?labels=incident"
    (site_desk / "itsm.yaml").write_text(yaml_io.dumps(config), encoding="utf-8")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    home = read(tmp_path / "out", "")
    assert '<h2 id="get-help">Get help' in home
    assert '<a href="https://git.example/desk/issues/new?labels=incident">Report an incident</a>' in home
    assert '<a href="tel:+15550100">+1 555 0100</a>' in home
    assert '<a href="mailto:help@example.com">help@example.com</a> (London office hours)' in home
    assert "Call for anything urgent." in home
    assert '<h2 id="itsm-catalog">Services' in home
