"""Unit tests of core/html.py: HTML e-mail read as text, and the allow-list cleaner the site uses."""

from __future__ import annotations

from itsm_cli.core.html import clean_html, html_to_text, text_only
from itsm_cli.site import sanitize


def test_html_to_text_keeps_no_markup() -> None:
    assert html_to_text("<p>x</p><iframe src=//evil>y</iframe><svg onload=z>w</svg>") == "x\nyw"


def test_blocks_become_lines_and_entities_are_read() -> None:
    assert html_to_text("a<br>b<BR/>c<div>d</div><li>e</li>&amp;&lt;") == "a\nb\ncd\ne\n&<"  # a closing tag ends a line, an opening one does not


def test_text_only_drops_scripts_and_styles_with_their_content() -> None:
    assert text_only("<style>p{}</style><script>alert(1)</script><b>bold</b>") == "bold"


def test_the_site_cleans_with_the_same_function() -> None:
    assert sanitize.clean_html is clean_html
    assert clean_html('<a href="javascript:alert(1)" onclick="x">y</a><h2 id="top">t</h2>') == \
        '<a rel="noopener noreferrer">y</a><h2 id="kb-top">t</h2>'
