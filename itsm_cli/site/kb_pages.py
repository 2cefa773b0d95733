"""The knowledge base's pages: its index and one page per published article; and the tags page.

Only published articles reach the site (the :class:`~itsm_cli.site.builder.Builder`
decides which); an article past its ``review_by`` date says so. The tags page
is here because tags are the articles' (and the services') own index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from itsm_cli.site.builder import BOOST, EXCLUDE, SitePage
from itsm_cli.site.links import md_link, natural
from itsm_cli.site.sanitize import attr, inline, render_markdown

if TYPE_CHECKING:
    from itsm_cli.site.builder import Builder

__all__ = ["article_page", "due_for_review", "kb_index_page", "tags_page"]


def kb_index_page(b: Builder) -> SitePage:
    """The knowledge base's index: every published article, its services and when it was updated."""
    uri = "kb/index.md"
    lines = ["# Knowledge base", ""]
    if not b.articles:
        return b.page(uri, "Knowledge base", "\n".join([*lines, "No published articles yet."]), in_nav=True)
    lines += [f"{len(b.articles)} published article{'s' if len(b.articles) != 1 else ''}.", "",
              "| Article | Services | Updated |", "|---|---|---|"]
    for kid in sorted(b.articles, key=lambda k: (natural(b.articles[k]["title"]), k)):
        a = b.articles[kid]
        services = ", ".join(md_link(uri, f"services/{s}.md", b.services[s]["name"])
                             for s in a.get("services") or [] if s in b.services) or "—"
        due = " (due for review)" if due_for_review(b, a) else ""
        lines.append(f"| {md_link(uri, f'kb/{kid}.md', a['title'])}{due} | {services} "
                     f"| {inline(str(a.get('updated') or '')[:10]) or '—'} |")
    return b.page(uri, "Knowledge base", "\n".join(lines), in_nav=True, search=EXCLUDE)


def article_page(b: Builder, kid: str) -> SitePage:
    """One published article's page: its facts, a review warning when it is due, and its rendered body."""
    a = b.articles[kid]
    uri = f"kb/{kid}.md"
    lines = [f"# {inline(a['title'])}", ""]
    facts = [f"**{inline(kid)}**"]
    services = [sid for sid in a.get("services") or [] if sid in b.services]
    if services:
        facts.append("**Services:** " + ", ".join(
            md_link(uri, f"services/{sid}.md", b.services[sid]["name"]) for sid in services))
    facts.append(f"**Owner:** {inline(b.person(a.get('owner')))}")
    if a.get("updated"):
        facts.append(f"**Updated:** {inline(str(a['updated'])[:10])}")
    if a.get("review_by"):
        facts.append(f"**Review by:** {inline(a['review_by'])}")
    lines += [" · ".join(facts), ""]
    if a.get("tags"):
        lines += ["**Tags:** " + ", ".join(md_link(uri, "tags.md", t, f"tag-{t}") for t in a["tags"]), ""]
    if due_for_review(b, a):
        lines += ['<div class="admonition warning">', '<p class="admonition-title">Due for review</p>',
                  f"<p>This article was due for review on {attr(a['review_by'])}; parts of it may be out of date.</p>",
                  "</div>", ""]
    if a.get("summary"):
        lines += [f"*{inline(a['summary'])}*", ""]
    body = b.bodies[kid]
    first = body.lstrip().split("\n", 1)
    if first and first[0].startswith("# "):
        body = first[1] if len(first) > 1 else ""
    if body.strip():
        lines.append(f'<div class="itsm-prose itsm-kb">\n{render_markdown(body, b.resolver(uri))}\n</div>\n')
    return b.page(uri, a["title"], "\n".join(lines), source=b.article_paths[kid], search=BOOST)


def due_for_review(b: Builder, article: Mapping[str, Any]) -> bool:
    """True when the article's ``review_by`` date is before the build date."""
    review = article.get("review_by")
    return bool(review) and date.fromisoformat(str(review)) < b.today


def tags_page(b: Builder) -> SitePage:
    """Every tag, and the services and articles that carry it."""
    uri = "tags.md"
    tagged: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"services": [], "articles": []})
    for sid, s in b.services.items():
        for t in s.get("tags") or []:
            tagged[t]["services"].append(sid)
    for kid, a in b.articles.items():
        for t in a.get("tags") or []:
            tagged[t]["articles"].append(kid)
    lines = ["# Tags", ""]
    if not tagged:
        return b.page(uri, "Tags", "\n".join([*lines, "Nothing is tagged yet."]), in_nav=True)
    lines += [" · ".join(f"[{inline(t)}](#tag-{t})" for t in sorted(tagged)), ""]
    for t in sorted(tagged):
        lines += [f"## {inline(t)} {{#tag-{t}}}", ""]
        for sid in b.service_order(tagged[t]["services"]):
            lines.append(f"- {md_link(uri, f'services/{sid}.md', b.services[sid]['name'])} (service)")
        for kid in sorted(tagged[t]["articles"]):
            lines.append(f"- {md_link(uri, f'kb/{kid}.md', b.articles[kid]['title'])} (article)")
        lines.append("")
    return b.page(uri, "Tags", "\n".join(lines), in_nav=True, search=EXCLUDE)
