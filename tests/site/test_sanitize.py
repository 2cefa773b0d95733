"""Unit tests of site/sanitize.py: desk text made safe to publish (hostile HTML stripped, Markdown kept, values escaped)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import markdown
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from itsm_cli.site.sanitize import attr, clean_html, front_matter, inline, one_line, render_markdown

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


def test_a_plain_sentence_is_escaped_without_rendering() -> None:
    assert render_markdown("Just a plain sentence.") == "<p>Just a plain sentence.</p>"
    assert render_markdown("") == "" and render_markdown("  \n") == ""


def test_images_keep_safe_sources_and_always_have_a_text_alternative() -> None:
    out = render_markdown("![x](https://e.example/a.png) ![](https://e.example/b.png) ![m](mailto:a@b.example)")
    assert '<img alt="x" src="https://e.example/a.png">' in out
    assert '<img alt="" src="https://e.example/b.png">' in out
    assert "mailto" not in out  # a mail link is no image source


def test_comments_unknown_classes_and_unlisted_tags_go() -> None:
    out = render_markdown('<!-- secret --> hi\n\n<span class="evil">x</span> <marquee>m</marquee>')
    assert "secret" not in out and "evil" not in out and "marquee" not in out
    assert "<span>x</span>" in out


def test_links_get_rel_noopener_and_code_blocks_can_be_reached_by_keyboard() -> None:
    out = render_markdown("[a](https://example.org)\n\n```\nx\n```\n")
    assert 'rel="noopener noreferrer"' in out
    assert '<pre><code tabindex="0">x\n</code></pre>' in out


def test_clean_html_prefixes_ids_and_anchors_and_drops_empty_ones() -> None:
    out = clean_html('<h2 id="steps">S</h2><a href="#steps">s</a><a href="#">e</a><a href="#kb-x">k</a>')
    assert '<h2 id="kb-steps">' in out and 'href="#kb-steps"' in out and 'href="#kb-x"' in out
    assert '<a rel="noopener noreferrer">e</a>' in out


class _Markup(HTMLParser):
    """Every tag and attribute of an HTML fragment (text is text: "javascript:" written as words is harmless)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((name, value or "") for name, value in attrs)


@given(st.text(alphabet=st.sampled_from(list("<>\"'=/ :&#;()[]!-abcjvscriptonerloadhfm\n")), max_size=80))
def test_no_generated_markup_ever_carries_a_script_url_or_handler(text: str) -> None:
    markup = _Markup()
    markup.feed(render_markdown(text))
    assert not {"script", "style", "iframe", "object", "embed", "svg", "math"} & set(markup.tags)
    for name, value in markup.attrs:
        assert not name.startswith("on"), (text, name)
        assert name != "style"
        if name in ("href", "src"):
            assert value.split(":")[0].strip().lower() in ("https", "http", "mailto") or ":" not in value, (text, value)


def test_words_that_look_like_code_stay_text() -> None:
    assert render_markdown("javascript: onerror= <script") == "<p>javascript: onerror= &lt;script</p>"


@pytest.mark.parametrize(("value", "expected"), [
    ("a\n\tb\x00c  d\u2028e", "a bc d e"), (None, ""), (42, "42"), ("  x  ", "x"), ("\x1b[31mred", "[31mred"),
])
def test_one_line(value: object, expected: str) -> None:
    assert one_line(value) == expected


def test_inline_escapes_what_would_start_a_list_or_quote() -> None:
    assert inline("1. x") == "1&#46; x"
    assert inline("- x") == "&#45; x"
    assert inline("plain words") == "plain words"
