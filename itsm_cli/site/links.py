"""URLs and links between the generated pages, and the small text helpers every kind of page uses.

Pure functions of strings: the page builders (:mod:`itsm_cli.site.pages` and
the modules beside it) and the MkDocs adapter share them, so a page's URL is
worked out one way everywhere.
"""

from __future__ import annotations

import html
import posixpath
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from itsm_cli.site.sanitize import attr, inline, one_line

__all__ = ["URL_OK", "contact_html", "md_link", "natural", "page_url", "prefill", "rel_url", "slug"]

# The links a desk may set (request, incident and contact URLs, a service's or supplier's website).
URL_OK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_SLUG = re.compile(r"[^a-z0-9]+")
_DIGITS = re.compile(r"([0-9]+)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+[0-9][0-9 ().-]{5,}[0-9]|\bext\.? ?[0-9]{3,6}\b", re.IGNORECASE)


def page_url(uri: str, directory_urls: bool) -> str:
    """The site-relative URL of a page source path (``services/vpn.md`` -> ``services/vpn/``)."""
    stem = uri[:-3]
    if not directory_urls:
        return stem + ".html"
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def rel_url(from_uri: str, to_uri: str, directory_urls: bool, anchor: str = "") -> str:
    """A relative URL from one page to another, as raw HTML needs it (Markdown links use ``.md``)."""
    here = page_url(from_uri, directory_urls)
    base = here if here.endswith("/") or here == "" else posixpath.dirname(here) + "/"
    target = page_url(to_uri, directory_urls)
    if directory_urls:
        rel = posixpath.relpath(target or ".", base.rstrip("/") or ".")
        rel = "./" if rel == "." else rel + "/"
    else:
        rel = posixpath.relpath(target, base.rstrip("/") or ".")
    return rel + (f"#{anchor}" if anchor else "")


def md_link(from_uri: str, to_uri: str, text: str, anchor: str = "") -> str:
    """A Markdown link between generated pages (text escaped; MkDocs checks and rewrites the target)."""
    target = posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")
    return f"[{inline(text)}]({target}{'#' + anchor if anchor else ''})"


def slug(text: str) -> str:
    """A URL fragment for a category or heading name."""
    return _SLUG.sub("-", str(text).lower()).strip("-") or "other"


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders the numbers in names by value: "Site 2" before "Site 10"."""
    parts = _DIGITS.split(str(text).lower())
    return tuple((0, int(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)


def contact_html(text: Any) -> str:
    """A contact line as HTML, its e-mail addresses as mailto: links and phone numbers as tel: links."""
    value = one_line(text)
    out, pos = [], 0
    spans = sorted([(m.start(), m.end(), "mailto:" + m.group()) for m in _EMAIL.finditer(value)]
                   + [(m.start(), m.end(), "tel:" + re.sub(r"[^0-9+]", "", m.group())) for m in _PHONE.finditer(value)])
    for start, end, href in spans:
        if start < pos:
            continue
        out.append(html.escape(value[pos:start]))  # not attr(): it would trim the spaces around a link
        out.append(f'<a href="{attr(href)}">{attr(value[start:end])}</a>')
        pos = end
    out.append(html.escape(value[pos:]))
    return "".join(out)


def prefill(url: str, title: str, details: str) -> str:
    """The request URL with the issue title and the offering's questions filled in.

    ``{title}`` and ``{details}`` in the desk's template are replaced; a GitHub
    "new issue" URL without them gets ``title`` and ``details`` query parameters
    (issue forms take a field's value from the parameter named by its id), a
    ``mailto:`` one a subject and body. Parameters the template sets are kept.
    """
    if "{title}" in url or "{details}" in url:
        return url.replace("{title}", quote(title, safe="")).replace("{details}", quote(details, safe=""))
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        names = ("subject", "body")
    elif parts.scheme == "https" and parts.path.rstrip("/").endswith("/issues/new"):
        names = ("title", "details")
    else:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {k for k, _ in query}
    query += [(k, v) for k, v in zip(names, (title, details)) if k not in have and v]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
