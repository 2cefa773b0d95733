"""Unit tests of site/links.py: URLs between pages, links, slugs, natural order, contacts, request links.

(Whole sites built from a desk: test_site_units.py, test_site_build.py, test_site_publish.py.)
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from itsm_cli.site.links import URL_OK, contact_html, md_link, natural, page_url, prefill, rel_url, slug


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
    assert rel_url(frm, to, dirs) == expected


@pytest.mark.parametrize(("uri", "dirs", "url"), [
    ("index.md", True, ""), ("services/vpn.md", True, "services/vpn/"), ("kb/index.md", True, "kb/"),
    ("index.md", False, "index.html"), ("kb/index.md", False, "kb/index.html"), ("status.md", False, "status.html"),
])
def test_page_url(uri: str, dirs: bool, url: str) -> None:
    assert page_url(uri, dirs) == url


def test_rel_url_keeps_an_anchor_and_points_home_as_dot_slash() -> None:
    assert rel_url("index.md", "index.md", True) == "./"
    assert rel_url("kb/index.md", "status.md", True, anchor="email") == "../status/#email"


def test_md_link_escapes_its_text_and_keeps_md_targets() -> None:
    assert md_link("services/vpn.md", "kb/KB-0001.md", "How to *connect*") == "[How to &#42;connect&#42;](../kb/KB-0001.md)"
    assert md_link("index.md", "status.md", "Status", anchor="email") == "[Status](status.md#email)"


@pytest.mark.parametrize(("text", "fragment"), [
    ("Communication", "communication"), ("Hardware & Devices", "hardware-devices"), ("  --  ", "other"),
    ("Café 2", "caf-2"),
])
def test_slug(text: str, fragment: str) -> None:
    assert slug(text) == fragment


def test_natural_order() -> None:
    names = ["Site 100", "Site 10", "Site 2", "site 1", "Site 1000", "Alpha"]
    assert sorted(names, key=natural) == ["Alpha", "site 1", "Site 2", "Site 10", "Site 100", "Site 1000"]


def test_contacts_become_links() -> None:
    html = contact_html("servicedesk@example.com or ext. 4000, or +44 20 7946 0400 <b>")
    assert '<a href="mailto:servicedesk@example.com">servicedesk@example.com</a>' in html
    assert '<a href="tel:4000">ext. 4000</a>' in html
    assert '<a href="tel:+442079460400">+44 20 7946 0400</a>' in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert html.startswith('<a href="mailto:servicedesk@example.com">servicedesk@example.com</a> or <a href="tel:4000">')


def test_request_links_prefill_title_and_questions() -> None:
    details = "### Full name\n\n\n### Start date\n\n\n"
    url = prefill("https://github.com/o/r/issues/new?template=request.yml&service=id&offering=new-starter",
                  "[Request]: New starter (Accounts)", details)
    query = parse_qs(urlsplit(url).query)
    assert query["title"] == ["[Request]: New starter (Accounts)"] and query["details"] == [details]
    assert query["service"] == ["id"] and query["template"] == ["request.yml"]
    # A template that sets its own title keeps it; placeholders are filled; mailto gets a subject and body.
    kept = parse_qs(urlsplit(prefill("https://github.com/o/r/issues/new?title=Mine", "T", "D")).query)
    assert kept["title"] == ["Mine"] and kept["details"] == ["D"]
    assert prefill("https://forms.example/new?t={title}", "A & B", "") == "https://forms.example/new?t=A%20%26%20B"
    mail = parse_qs(urlsplit(prefill("mailto:desk@example.com", "Need a laptop", "Model?")).query)
    assert mail == {"subject": ["Need a laptop"], "body": ["Model?"]}
    assert prefill("https://portal.example/request", "T", "D") == "https://portal.example/request"


@pytest.mark.parametrize(("url", "ok"), [("https://x.example/a", True), ("HTTP://x.example", True),
                                         ("mailto:desk@x.example", True), ("javascript:alert(1)", False),
                                         ("//x.example", False), ("ftp://x.example", False)])
def test_only_web_and_mail_links_are_ok(url: str, ok: bool) -> None:
    assert bool(URL_OK.match(url)) is ok
