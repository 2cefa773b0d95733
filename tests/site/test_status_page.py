"""The status page, the outage banner, availability and the status feed: built HTML, the CLI and a real browser.

The fixture desk (:mod:`sitefixtures`, clock 2026-03-02 09:00 UTC, a Monday) has a major incident open on
e-mail since 2026-02-20 08:00. :func:`status_desk` adds, through the CLI:

- a P1 on printing (office hours: UTC, Monday to Friday 09:00-17:00) from Thursday 26 February 16:30 to
  Friday 27 February 10:15: 30 min on the Thursday and 1 h 15 min on the Friday count, 6,300 s in all;
- an open P2 on the VPN since 08:30 today: degraded;
- an open P3 on printing: it changes nothing, printing stays operational;
- a scheduled change on e-mail with a planned window on 5 March.

Hand-worked availability of printing over the 90 days from Wednesday 3 December 2025: 63 weekdays
(12 whole weeks and Wednesday to Friday) of 8 hours = 504 h = 1,814,400 s agreed (today has no office hours
before 09:00); (1,814,400 - 6,300) / 1,814,400 = 99.6528 %. Thursday: (28,800 - 1,800) / 28,800 = 93.75 %;
Friday: (28,800 - 4,500) / 28,800 = 84.375 %.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from desk_testing import save_ticket
from sitefixtures import ASSIGNEE, CHROMEDRIVER, CHROMIUM, NOW, headless_chromium, html_files, http_server, itsm, read

ATOM = "{http://www.w3.org/2005/Atom}"
PRINTING_PCT = 100 * (1_814_400 - 6_300) / 1_814_400


def _ok(*args: str, cwd: Path, at: str) -> str:
    r = itsm(*args, cwd=cwd, env={"ITSM_NOW": at})
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout.strip()


def add_status_incidents(desk: Path) -> dict[str, str]:
    """The incidents and change of the module docstring; returns their IDs by name."""
    p1 = _ok("new", "incident", "--title", "Print server not answering", "--service", "printing", "--impact", "high",
             "--urgency", "high", cwd=desk, at="2026-02-26T16:30:00Z")
    _ok("transition", p1, "in_progress", "--set", f"assignee={ASSIGNEE}", cwd=desk, at="2026-02-26T16:40:00Z")
    _ok("comment", p1, "Spooler restarted, watching it.", cwd=desk, at="2026-02-27T09:30:00Z")
    _ok("transition", p1, "resolved", "--set", "resolution=Spooler queue cleared", cwd=desk, at="2026-02-27T10:15:00Z")
    p2 = _ok("new", "incident", "--title", "VPN gateway slow in London", "--service", "vpn", "--impact", "high",
             "--urgency", "medium", cwd=desk, at="2026-03-02T08:30:00Z")
    p3 = _ok("new", "incident", "--title", "Printer on floor 2 offline", "--service", "printing", cwd=desk,
             at="2026-03-02T08:45:00Z")
    change = {"id": "CHG-0001", "type": "change", "title": "Move mailboxes to the new tenant", "status": "scheduled",
              "created": "2026-02-27T09:00:00Z", "updated": "2026-02-27T09:00:00Z", "requester": ASSIGNEE,
              "service": "email", "planned_start": "2026-03-05T20:00:00Z", "planned_end": "2026-03-05T22:00:00Z",
              "history": [{"at": "2026-02-27T09:00:00Z", "by": ASSIGNEE, "action": "create", "to": "scheduled"}]}
    save_ticket(desk, change)
    return {"p1": p1, "p2": p2, "p3": p3}


@pytest.fixture(scope="module")
def status_site(desk_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict]]:
    """A copy of the fixture desk with :func:`add_status_incidents`, built once: (desk, site, ids)."""
    from sitefixtures import isolate

    base = tmp_path_factory.mktemp("status")
    desk = base / "desk"
    shutil.copytree(desk_template, desk, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, base / "home")
        ids = add_status_incidents(desk)
        out = base / "out"
        r = itsm("site", "build", "-o", str(out), cwd=desk, env={"ITSM_NOW": NOW})
        assert r.exit_code == 0, r.stderr
        yield desk, out, ids


def _rows(html: str) -> dict[str, str]:
    """Service ID -> the text of its row on the status page."""
    rows = re.findall(r'<tr id="svc-([a-z-]+)" data-itsm-level="(\w+)">(.*?)</tr>', html, re.DOTALL)
    return {sid: f"{level}|" + re.sub(r"<[^>]+>", "", cells) for sid, level, cells in rows}


def test_status_rules_and_reasons(status_site: tuple[Path, Path, dict]) -> None:
    _, out, ids = status_site
    html = read(out, "status/")
    rows = _rows(html)
    assert set(rows) == {"email", "identity", "printing", "vpn"}  # live services only
    assert rows["email"].startswith("down|") and "Down since 2026-02-20 08:00 UTC" in rows["email"]
    assert "INC-0001 Mail delivery delayed (down since 2026-02-20 08:00 UTC; last update 2026-02-20 08:12 UTC)" \
        in rows["email"]
    assert rows["vpn"].startswith("degraded|") and "Degraded since 08:30 UTC" in rows["vpn"]
    assert f"{ids['p2']} VPN gateway slow in London (degraded since 08:30 UTC" in rows["vpn"]
    # A P3 open and a P1 resolved: printing is operational, and says no reason.
    assert rows["printing"].startswith("operational|") and "Operational" in rows["printing"]
    assert "Printer on floor 2 offline" not in html
    # Each reason links to the incident's own entry on the page.
    assert '<a href="#inc-0001">INC-0001</a>' in html and 'id="inc-0001"' in html
    assert "1 down and 1 degraded</strong> of 4 live services" in html
    assert "Down: an open incident with priority P1, or major." in html


def test_banner_on_every_page_while_a_service_is_down(status_site: tuple[Path, Path, dict]) -> None:
    _, out, _ = status_site
    pages = html_files(out)
    assert {"index.html", "404.html", "status/index.html", "kb/KB-0001/index.html", "services/vpn/index.html",
            "metrics/index.html"} <= {p.relative_to(out).as_posix() for p in pages}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count("data-itsm-banner") == 1, page
        banner = re.search(r"<aside class=\"itsm-banner[^>]*>(.*?)</aside>", text, re.DOTALL).group(1)
        assert "E-mail &amp; calendars is down since 2026-02-20 08:00 UTC" in banner, page
    # The link reaches the status page from wherever the banner is.
    assert '<a href="../../status/">Service status</a>' in read(out, "kb/KB-0001/", unescape=False)
    assert '<a href="/status/">Service status</a>' in (out / "404.html").read_text(encoding="utf-8")


def test_no_banner_when_nothing_is_down(site_desk: Path, tmp_path: Path) -> None:
    _ok("transition", "INC-0001", "resolved", "--set", "resolution=Queue drained", cwd=site_desk,
        at="2026-03-01T12:00:00Z")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    assert not [p for p in html_files(tmp_path / "out") if "data-itsm-banner" in p.read_text(encoding="utf-8")]
    html = read(tmp_path / "out", "status/")
    assert "All 4 live services are operating normally." in html
    # The outage is over but not forgotten: 20 Feb 08:00 to 1 Mar 12:00 is 8 days 4 hours down.
    assert "INC-0001" in html and "down from 2026-02-20 08:00 UTC to 2026-03-01 12:00 UTC" in html


def test_catalog_and_service_pages_show_the_same_status(status_site: tuple[Path, Path, dict]) -> None:
    _, out, _ = status_site
    home = read(out, "")
    email = re.search(r'<tr[^>]*data-itsm-health="down"[^>]*>(.*?)</tr>', home, re.DOTALL).group(1)
    assert re.sub(r"<[^>]+>", "", email).count("Live · Down since 2026-02-20 08:00 UTC") == 1
    for row in re.findall(r'<tr[^>]*data-itsm-status="live"[^>]*>.*?</tr>', home, re.DOTALL):
        assert re.search(r">(Operational|Degraded|Down)<", row), row  # never a bare "Live"
    page = read(out, "services/email/")
    assert "Live</span> · <span class=\"itsm-badge itsm-badge--down\">Down</span> since 2026-02-20 08:00 UTC" in page
    box = re.search(r'<div class="admonition danger" role="status">(.*?)</div>', page, re.DOTALL).group(1)
    assert "Service down since 2026-02-20 08:00 UTC" in box
    assert '<a href="../../status/#inc-0001">INC-0001</a> Mail delivery delayed' in box
    assert "last update 2026-02-20 08:12 UTC" in box
    assert "Live</span> · <span class=\"itsm-badge itsm-badge--open\">Operational</span>" in read(out, "services/printing/")
    assert "Retired" in read(out, "services/fax/") and "Operational" not in read(out, "services/fax/").split("<h1")[1][:400]


def test_availability_strip_and_figures(status_site: tuple[Path, Path, dict]) -> None:
    _, out, ids = status_site
    page = read(out, "services/printing/")
    assert f"{PRINTING_PCT:.2f}%" == "99.65%"
    assert "**" not in page and "<strong>99.65%</strong> available over the last 90 days (counted in business)" in page
    assert "(target 99.5%: met); down 1 h 45 min." in page
    strip = re.search(r'<div class="itsm-strip" data-itsm-strip="printing"[^>]*>(.*?)</div>', page, re.DOTALL).group(1)
    titles = re.findall(r"<title>(.*?)</title>", strip)
    assert len(titles) == 90 and titles[0].startswith("2025-12-03:") and titles[-1].startswith("2026-03-02:")
    assert "2026-02-26: down, 93.75% available, down 30 min" in titles
    assert "2026-02-27: down, 84.38% available, down 1 h 15 min" in titles
    assert "2026-02-28: no service hours" in titles
    assert sum(t.endswith("operational, 100% available") for t in titles) == 61
    # The same days in a table, for anyone who cannot see the bars.
    table = re.search(r'<div class="itsm-strip__days"[^>]*>(.*?)</div>', page, re.DOTALL).group(1)
    assert re.findall(r'<th scope="row">([0-9-]+)</th>', table) == ["2026-02-26", "2026-02-27"]
    assert "<td>84.38%</td><td>1 h 15 min</td>" in table
    # Past incidents: the resolved P1, not the P3.
    past = re.search(r'<div class="itsm-past">(.*?)</div>', page, re.DOTALL).group(1)
    assert ids["p1"] in past and ids["p3"] not in past
    assert "<td>2026-02-26 16:30 UTC</td><td>2026-02-27 10:15 UTC</td>" in past
    # The status page shows the strip of each service something happened to, and every figure.
    status = read(out, "status/")
    assert 'data-itsm-strip="printing"' in status and 'data-itsm-strip="identity"' not in status
    assert "99.65% (target 99.5%, met)" in _rows(status)["printing"]
    assert "88.76% (target 99.5%, missed)" in _rows(status)["email"]


def test_scheduled_maintenance(status_site: tuple[Path, Path, dict]) -> None:
    _, out, _ = status_site
    html = read(out, "status/")
    section = html.split('id="scheduled-maintenance"')[1].split("<h2")[0]
    assert "CHG-0001: Move mailboxes to the new tenant" in section
    assert "2026-03-05 20:00 UTC" in section and "2026-03-05 22:00 UTC" in section


def test_atom_feed_of_status_changes(status_site: tuple[Path, Path, dict]) -> None:
    _, out, _ = status_site
    feed = ET.parse(out / "status" / "feed.xml").getroot()
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{tag}") is not None, tag
    entries = [(e.findtext(f"{ATOM}updated"), e.findtext(f"{ATOM}title")) for e in feed.findall(f"{ATOM}entry")]
    for e in feed.findall(f"{ATOM}entry"):
        assert e.findtext(f"{ATOM}id").startswith("urn:uuid:") and e.find(f"{ATOM}link").get("href").startswith("./#svc-")
    assert entries[0] == ("2026-03-02T08:30:00Z", "Remote access (VPN): degraded")  # newest first
    assert ("2026-02-27T10:15:00Z", "Printing <img src=x onerror=alert('svc')> & scanning: operational") in entries
    assert ("2026-02-26T16:30:00Z", "Printing <img src=x onerror=alert('svc')> & scanning: down") in entries
    assert ("2026-02-20T08:00:00Z", "E-mail & calendars: down") in entries
    assert len({e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")}) == len(entries)
    head = read(out, "status/").split("</head>")[0]
    assert '<link rel="alternate" type="application/atom+xml" title="Service status changes" href="feed.xml">' in head


# -- the CLI -------------------------------------------------------------------------------------


def test_report_availability_matches_the_site(status_site: tuple[Path, Path, dict]) -> None:
    desk, _, _ = status_site
    r = itsm("report", "availability", "--format", "json", cwd=desk, env={"ITSM_NOW": NOW})
    assert r.exit_code == 0, r.stderr
    rows = {row["service"]: row for row in json.loads(r.stdout)}
    assert set(rows) == {"email", "identity", "printing", "vpn"}
    printing = rows["printing"]
    assert printing["availability_pct"] == round(PRINTING_PCT, 4) == 99.6528
    assert (printing["agreed_h"], printing["down_h"], printing["target_pct"], printing["met"]) == (504.0, 1.75, 99.5, True)
    assert printing["since"] == "2025-12-03T00:00:00Z" and printing["until"] == NOW
    assert rows["vpn"]["target_pct"] is None and rows["vpn"]["met"] is None  # its own targets set none
    assert rows["vpn"]["degraded_h"] == 0.5  # London office hours open at 08:30 (GMT in March): half an hour so far
    assert rows["email"]["met"] is False and rows["email"]["incidents"] == ["INC-0001"]


def test_report_availability_over_a_period_and_formats(status_site: tuple[Path, Path, dict]) -> None:
    desk, _, ids = status_site
    env = {"ITSM_NOW": NOW}
    # Thursday and Friday: 16 office hours, 1 h 45 min down: (57,600 - 6,300) / 57,600 = 89.0625 %.
    r = itsm("report", "availability", "--service", "printing", "--since", "2026-02-26", "--until", "2026-02-28",
             "--format", "csv", cwd=desk, env=env)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("service,name,target_pct,availability_pct,met,agreed_h,down_h")
    assert lines[1].split(",")[:8] == ["printing", "Printing <img src=x onerror=alert('svc')> & scanning", "99.5",
                                        "89.0625", "no", "16.0", "1.75", "0.0"]
    r = itsm("report", "availability", "--service", "printing", cwd=desk, env=env)
    assert r.exit_code == 0 and "99.6528" in r.stdout and "SERVICE" in r.stdout and ids["p1"] in r.stdout
    # --until alone: the 90 days that end there, Monday 1 December to Saturday 28 February: 13 whole weeks,
    # 65 weekdays, 520 office hours: (520 - 1.75) / 520 = 99.6635 %.
    r = itsm("report", "availability", "--service", "printing", "--until", "2026-02-28T23:59:59Z", "--format", "json",
             cwd=desk, env=env)
    (row,) = json.loads(r.stdout)
    assert (row["since"], row["agreed_h"], row["availability_pct"]) == ("2025-12-01T00:00:00Z", 520.0, 99.6635)


def test_report_availability_refuses_what_it_cannot_do(status_site: tuple[Path, Path, dict]) -> None:
    desk, _, _ = status_site
    r = itsm("report", "availability", "--service", "nope", cwd=desk)
    assert r.exit_code == 2
    # (checked as every report's --service is: the valid ones named, as for list)
    assert r.stderr.strip() == "itsm: error: unknown service 'nope' (valid: email, fax, identity, portal, printing, vpn)"
    r = itsm("report", "availability", "--group", "service-desk", cwd=desk)
    assert r.exit_code == 2 and "per service" in r.stderr
    assert "itsm report availability --service email" in itsm("report", "--help").stdout


# -- a real browser ----------------------------------------------------------------------------------


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium through selenium (as tests/site/test_site_browser.py starts it)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"):
        pytest.skip("chromium and chromium-driver are not installed")
    with headless_chromium(tmp_path / "profile") as driver:
        yield driver


@pytest.mark.browser
def test_status_in_the_browser(status_site: tuple[Path, Path, dict], chromium: object) -> None:
    from selenium.webdriver.common.by import By

    _, out, ids = status_site
    d = chromium
    with http_server(out) as base:
        for page in ("", "kb/KB-0001/", "services/vpn/"):
            d.get(base + page)
            banner = d.find_element(By.CSS_SELECTOR, "aside.itsm-banner")
            assert banner.is_displayed()
            assert "E-mail & calendars is down since 2026-02-20 08:00 UTC" in banner.text
        banner.find_element(By.LINK_TEXT, "Service status").click()
        assert d.current_url == base + "status/"
        rows = {r.get_attribute("id"): (r.get_attribute("data-itsm-level"), r.text)
                for r in d.find_elements(By.CSS_SELECTOR, ".itsm-status tbody tr")}
        assert rows["svc-email"][0] == "down" and "Down since 2026-02-20 08:00 UTC" in rows["svc-email"][1]
        assert "INC-0001 Mail delivery delayed" in rows["svc-email"][1]
        assert rows["svc-vpn"][0] == "degraded" and "VPN gateway slow in London" in rows["svc-vpn"][1]
        assert rows["svc-printing"][0] == "operational" and "99.65% (target 99.5%, met)" in rows["svc-printing"][1]
        # The reason's link goes to the incident on the same page.
        d.find_element(By.CSS_SELECTOR, "#svc-email a[href='#inc-0001']").click()
        assert d.current_url.endswith("#inc-0001")
        assert d.find_element(By.ID, "inc-0001").text.startswith("INC-0001: Mail delivery delayed")
        assert d.find_element(By.CSS_SELECTOR, "link[rel=alternate][type='application/atom+xml']") \
            .get_attribute("href") == base + "status/feed.xml"

        d.get(base + "services/printing/")
        strip = d.find_element(By.CSS_SELECTOR, "[data-itsm-strip=printing]")
        bars = strip.find_elements(By.CSS_SELECTOR, "rect")
        assert len(bars) == 90
        titles = [d.execute_script("return arguments[0].querySelector('title').textContent", b) for b in bars]
        by_day = {t.split(":")[0]: t for t in titles}
        assert by_day["2026-02-26"] == "2026-02-26: down, 93.75% available, down 30 min"
        assert by_day["2026-02-27"] == "2026-02-27: down, 84.38% available, down 1 h 15 min"
        # The bars fill the content width (not shrunk to a figure's content), one per day, left to right.
        width = d.execute_script("return arguments[0].getBoundingClientRect().width", strip)
        assert width > 500
        xs = [d.execute_script("return arguments[0].getBoundingClientRect().x", b) for b in bars]
        assert xs == sorted(xs)
        assert "Down: 2 days" in strip.text and "No service hours: 27 days" in strip.text
        article = d.find_element(By.TAG_NAME, "article").text
        assert "99.65% available over the last 90 days" in article
        assert f"{ids['p1']}\nPrint server not answering" in article or f"{ids['p1']} Print server not answering" in article


def test_banner_on_the_desks_own_pages_and_bad_status_settings_are_named(site_desk: Path, tmp_path: Path) -> None:
    # A page the desk writes itself (docs_dir of mkdocs.yml) gets the banner from the plugin.
    from itsm_cli.store import yaml_io

    docs = site_desk / yaml_io.loads((site_desk / "mkdocs.yml").read_text()).get("docs_dir", "docs")
    docs.mkdir(exist_ok=True)
    (docs / "about.md").write_text("# About us\n\nWe run IT.\n", encoding="utf-8")
    r = itsm("site", "build", "-o", str(tmp_path / "out"), "--no-strict", cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    about = read(tmp_path / "out", "about/", unescape=False)
    assert about.count("data-itsm-banner") == 1 and '<a href="../status/">Service status</a>' in about

    config = yaml_io.load_mapping((site_desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    config["sla"]["profiles"]["standard"]["availability"]["hours"] = "nights"
    config["status"]["maintenance"]["states"] = ["sheduled"]
    (site_desk / "itsm.yaml").write_text(yaml_io.dumps(config), encoding="utf-8")
    r = itsm("validate", cwd=site_desk)
    assert r.exit_code == 1
    assert "unknown calendar 'nights'" in r.stdout + r.stderr
    assert "'sheduled' is not a state of the change workflow" in r.stdout + r.stderr


def test_the_status_page_from_a_builder_puts_what_is_down_first(site_builder: object) -> None:
    from itsm_cli.site.status_pages import status_page

    page = status_page(site_builder)  # type: ignore[arg-type]
    text = page.markdown
    assert page.uri == "status.md" and page.in_nav
    assert "**1 down** of 4 live services." in text
    assert text.index('id="svc-email"') < text.index('id="svc-identity"')  # down before operational
    assert '<a href="feed.xml" type="application/atom+xml">' in text  # from status/ with directory URLs
