"""HTML with nh3, for both sides that meet it: e-mail read into tickets, and Markdown published on the site.

- :func:`html_to_text`: an HTML e-mail as plain text (blocks become lines,
  every tag, script and style goes), for ``itsm intake-mail``;
- :func:`clean_html`: an HTML fragment cleaned against an allow-list of tags,
  attributes, classes and URL schemes, for the site (:mod:`itsm_cli.site.sanitize`
  renders Markdown and cleans the result with it).

Pure functions of their input: no files, no git.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import nh3

__all__ = ["ALLOWED_CLASSES", "ATTRIBUTES", "ID_PREFIX", "TAGS", "URL_SCHEMES", "Resolver", "clean_html",
           "html_to_text", "text_only"]

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

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PRE_ALONE = re.compile(r"<pre>(?!<code)")
_IMG_NO_SRC = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_IMG_NO_ALT = re.compile(r"<img(?![^>]*\salt=)")


def html_to_text(markup: str) -> str:
    """Plain text from HTML: blocks become lines, everything else (scripts, styles, tags) goes, via nh3."""
    markup = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    markup = re.sub(r"(?i)</(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>", "\n", markup)
    return html.unescape(text_only(markup))


def text_only(markup: str) -> str:
    """nh3 with no tags allowed: tag-free text, script and style contents dropped."""
    return nh3.clean(markup, tags=set())


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
