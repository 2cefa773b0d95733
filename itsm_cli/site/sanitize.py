"""Making desk text safe to publish: Markdown rendered then cleaned with nh3, and values escaped.

Three kinds of text reach the site:

- Markdown written by people (KB bodies, service and offering descriptions):
  rendered to HTML here, *then* cleaned with nh3 against an allow-list, so
  ``<script>``, event handlers and ``javascript:`` URLs never survive, whatever
  the Markdown produced. Links to other desk records are rewritten to page URLs
  by a resolver the caller passes in; other relative links are dropped.
- One-line values (names, titles, labels) placed in generated Markdown:
  :func:`inline` turns every character Markdown or HTML could read as syntax
  into a character reference, so a value is always shown as the text it is.
- Values placed in raw HTML or in front matter: :func:`attr` and
  :func:`front_matter`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping

import markdown

# The allow-list and the cleaner live in core, beside the e-mail side's HTML handling.
from itsm_cli.core.html import ID_PREFIX, Resolver, clean_html

__all__ = ["ID_PREFIX", "attr", "clean_html", "front_matter", "inline", "one_line", "render_markdown"]

MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists", "def_list", "admonition", "abbr", "toc")

_MARKDOWN: markdown.Markdown | None = None
# One line with no character Markdown or HTML gives a meaning to, not starting like a list item.
_PLAIN = re.compile(r"(?![ \t]*(?:[-+*>=]|[0-9]+[.)]))[^\n\r\\`*_\[\]<>&#!|~{}=:$^]*\n?")
# Characters Markdown, its common extensions (attr_list, tables, pymdownx) or HTML may read as syntax
# anywhere in a line; and the ones that only matter where a line starts (lists, quotes, headings).
_INLINE_SPECIAL = re.compile(r"[\\`*_{}\[\]<>&|~^=$#!:@]")
_LINE_START = re.compile(r"^(?:[-+>]|[0-9]+(?=[.)]))")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile(r"[\r\n\t\u2028\u2029\x85]+")


def one_line(value: object) -> str:
    """``value`` as one line of printable text (runs of white space become one space, control characters go)."""
    text = "" if value is None else str(value)
    return " ".join(_CONTROL.sub("", _NEWLINES.sub(" ", text)).split())


def inline(value: object) -> str:
    """A one-line value for generated Markdown: every syntax character becomes a character reference.

    The result renders as exactly the original text, in a paragraph, a table cell,
    a heading or a link text, whichever Markdown extensions the site enables.
    """
    text = _INLINE_SPECIAL.sub(lambda m: f"&#{ord(m.group())};", one_line(value))
    match = _LINE_START.match(text)
    if match:
        end = match.end()
        text = text[:end] + f"&#{ord(text[end])};" + text[end + 1:] if text[:1].isdigit() else f"&#{ord(text[0])};" + text[1:]
    return text


def attr(value: object) -> str:
    """A value for a double-quoted HTML attribute or element text in raw HTML we write."""
    return html.escape(one_line(value), quote=True)


def front_matter(meta: Mapping[str, object]) -> str:
    """A YAML front-matter block; each value HTML-escaped (themes print titles unescaped) and JSON-quoted."""
    lines = ["---"]
    for key, value in meta.items():
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"bad front-matter key {key!r}")
        lines.append(f"{key}: {json.dumps(html.escape(one_line(value), quote=True), ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


def render_markdown(text: str, resolve: Resolver | None = None) -> str:
    """Markdown written by people, as sanitised HTML (rendered first, cleaned after).

    ``resolve`` maps a relative link target (``KB-0002.md``, ``../catalog/vpn.yaml``)
    to the URL of the published page, or None to drop the link; without it every
    relative link is dropped. In-page anchors get the :data:`ID_PREFIX` the heading
    IDs get, so they keep working and cannot clash with the theme's own IDs.
    """
    global _MARKDOWN
    text = _CONTROL.sub("", text or "")
    if _PLAIN.fullmatch(text):  # a plain sentence, as most offering descriptions are: nothing to render
        return f"<p>{html.escape(text.strip(), quote=False)}</p>" if text.strip() else ""
    if _MARKDOWN is None:  # one converter, reset per document: building one costs more than converting
        _MARKDOWN = markdown.Markdown(extensions=list(MARKDOWN_EXTENSIONS), output_format="html")
    return clean_html(_MARKDOWN.reset().convert(text), resolve)
