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
from collections.abc import Callable, Mapping

import markdown
import nh3

__all__ = ["attr", "clean_html", "front_matter", "inline", "one_line", "render_markdown"]

Resolver = Callable[[str], "str | None"]

URL_SCHEMES = frozenset({"http", "https", "mailto"})
TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
    "ol", "p", "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul", "var",
})
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
}
_ADMONITIONS = {"admonition", "note", "abstract", "info", "tip", "success", "question", "warning", "failure",
                "danger", "bug", "example", "quote"}
_LANGUAGES = ("bash", "console", "css", "diff", "dockerfile", "go", "html", "ini", "java", "javascript", "js",
              "json", "markdown", "md", "powershell", "ps1", "python", "py", "ruby", "rust", "sh", "shell", "sql",
              "text", "toml", "ts", "typescript", "xml", "yaml", "yml")
ALLOWED_CLASSES = {
    "div": _ADMONITIONS,
    "p": {"admonition-title"},
    "code": {f"language-{name}" for name in _LANGUAGES},
}
ID_PREFIX = "kb-"
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists", "def_list", "admonition", "abbr", "toc")

_MARKDOWN: markdown.Markdown | None = None
# One line with no character Markdown or HTML gives a meaning to, not starting like a list item.
_PLAIN = re.compile(r"(?![ \t]*(?:[-+*>=]|[0-9]+[.)]))[^\n\r\\`*_\[\]<>&#!|~{}=:$^]*\n?")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Characters Markdown, its common extensions (attr_list, tables, pymdownx) or HTML may read as syntax
# anywhere in a line; and the ones that only matter where a line starts (lists, quotes, headings).
_INLINE_SPECIAL = re.compile(r"[\\`*_{}\[\]<>&|~^=$#!:@]")
_LINE_START = re.compile(r"^(?:[-+>]|[0-9]+(?=[.)]))")
_PRE_ALONE = re.compile(r"<pre>(?!<code)")
_IMG_NO_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_IMG_NO_ALT = re.compile(r"<img(?![^>]*\salt=)")
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


def clean_html(fragment: str, resolve: Resolver | None = None) -> str:
    """Clean an HTML fragment with nh3: allow-listed tags, attributes, classes and URL schemes only."""

    def attribute_filter(tag: str, name: str, value: str) -> str | None:
        if name == "id":
            return value if value.startswith(ID_PREFIX) else ID_PREFIX + value
        if name not in ("href", "src"):
            return value
        target = value.strip()
        if target.startswith("#"):
            rest = target[1:]
            if not rest:
                return None
            return target if rest.startswith(ID_PREFIX) else "#" + ID_PREFIX + rest
        if target.startswith("//"):
            return None
        if _SCHEME.match(target):
            scheme = target.split(":", 1)[0].lower()
            return target if scheme in URL_SCHEMES and (name == "href" or scheme != "mailto") else None
        if name == "src" or resolve is None:
            return None
        return resolve(target)

    cleaned = nh3.clean(
        fragment,
        tags=set(TAGS),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        allowed_classes={k: set(v) for k, v in ALLOWED_CLASSES.items()},
        attribute_filter=attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    # An image whose source was dropped shows nothing: remove it. One without a text alternative is
    # marked decorative rather than read out as a file name.
    cleaned = _IMG_NO_SRC.sub("", cleaned)
    cleaned = _IMG_NO_ALT.sub("<img alt=\"\"", cleaned)
    # A code block wider than the page scrolls; keyboard users must be able to reach it to scroll it.
    # (The theme scrolls the <code> inside a <pre>.)
    cleaned = cleaned.replace("<pre><code", '<pre><code tabindex="0"')
    return _PRE_ALONE.sub('<pre tabindex="0">', cleaned)
