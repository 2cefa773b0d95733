"""The published site as data: every page as a Markdown string, plus the assets they use.

This module knows the desk and nothing of MkDocs or Zensical. :func:`load_content`
(:mod:`itsm_cli.site.content`) reads every record file exactly once;
:func:`build_site` turns that into a :class:`Site` (pages, assets, navigation)
that an engine adapter hands to its engine (:mod:`itsm_cli.site.plugin` for
MkDocs, :mod:`itsm_cli.site.build` writes the same pages to a folder for
Zensical). Same content, same URLs. Each kind of page has its module:
:mod:`~itsm_cli.site.catalog_pages` (the catalog and each service),
:mod:`~itsm_cli.site.kb_pages` (the knowledge base and tags),
:mod:`~itsm_cli.site.status_pages` and :mod:`~itsm_cli.site.metrics_pages`;
all of them work from one :class:`~itsm_cli.site.builder.Builder`.

What may be published is decided by these modules, by allow-list:

- services and their offerings (never an offering's fulfilment checklist);
- knowledge articles whose state is published (the article workflow's
  ``resolved`` category); drafts, articles in review and retired ones never appear;
- of tickets, for the status (:mod:`itsm_cli.site.status_model`): incidents'
  ``id``, ``service``, ``priority`` and ``title`` (the title only when the schema
  does not mark it ``x-internal``), their outage windows and the time of their
  last update (never its text); changes' ``id``, ``title``, ``service`` and
  planned window. Nothing of an incident or change marked ``internal``. Counts
  for the metrics page. No description, requester, assignee or comment is
  published.

Text written by people is rendered and sanitised by :mod:`itsm_cli.site.sanitize`;
every other value is escaped where it is placed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from itsm_cli.core.publishing import site_settings
from itsm_cli.parallel import fork_map, shared, worker_state
from itsm_cli.site import catalog_pages, kb_pages, metrics_pages
from itsm_cli.site.builder import Builder, SitePage
from itsm_cli.site.content import DeskContent, SiteContentError, load_content
from itsm_cli.site.links import page_url
from itsm_cli.site.status_model import FEED
from itsm_cli.site.status_pages import status_page

__all__ = ["DeskContent", "Site", "SiteContentError", "SitePage", "add_noindex", "build_site", "load_content"]

NAV = (("Catalog", "index.md"), ("Knowledge base", "kb/index.md"), ("Status", "status.md"),
       ("Metrics", "metrics.md"), ("Tags", "tags.md"))
CSS = "assets/itsm.css"
JS = "assets/itsm.js"
ROBOTS_INTERNAL = "# An internal site (site.visibility in itsm.yaml): no search engine may index it.\nUser-agent: *\nDisallow: /\n"
ROBOTS_PUBLIC = "User-agent: *\nAllow: /\n"
NOINDEX = '<meta name="robots" content="noindex, nofollow">'
# Service and article pages per worker task: each costs about a millisecond (rendering people's
# Markdown), so a task of this many outweighs handing it to a worker and its pages back.
PAGES_PER_TASK = 100


@dataclass
class Site:
    """Everything an engine needs: pages, asset files, the navigation and the assets to link.

    ``noindex``: the site is internal, so every page asks search engines to keep out.
    """

    pages: list[SitePage]
    assets: dict[str, str]
    nav: list[dict[str, str]]
    noindex: bool = True
    extra_css: list[str] = field(default_factory=lambda: [CSS])
    extra_javascript: list[str] = field(default_factory=lambda: [JS])
    # The outage banner, given the URL of the status page from where it is shown (for the pages the
    # engine has that we did not make); empty while no service is down.
    banner: Callable[[str], str] = field(default=lambda href: "")
    status_uri: str = "status.md"
    feed_uri: str = FEED


class RecordPage(NamedTuple):
    """A page made per record (in a forked worker when the build is parallel): a service's or an article's."""

    kind: str  # "service" or "article"
    id: str


def build_site(content: DeskContent, now: datetime, directory_urls: bool = True, parallel: bool = False) -> Site:
    """Every page of the site, its assets and navigation, from the desk content and the build clock.

    With ``parallel``, the service and article pages and the metrics (most of
    the work) are made by forked workers, one per core, when that is safe (see
    :func:`itsm_cli.parallel.fork_map`); the pages are the same either way.
    """
    b = Builder(content, now, directory_urls, parallel)
    pages = [catalog_pages.catalog_page(b), kb_pages.kb_index_page(b), status_page(b), metrics_pages.metrics_page(b),
             kb_pages.tags_page(b)]
    jobs = [RecordPage("service", sid) for sid in sorted(b.services)] + [RecordPage("article", kid) for kid in sorted(b.articles)]
    with shared(b):
        pages += fork_map(_record_page, jobs, PAGES_PER_TASK) if parallel else [_record_page(job) for job in jobs]
    nav = [{title: uri} for title, uri in NAV]
    return Site(pages, assets(b), nav, noindex=site_settings(b.config.data).internal, banner=b.status.banner)


def _record_page(job: RecordPage) -> SitePage:
    """One service or article page (in a forked worker, from the builder it inherited)."""
    b: Builder = worker_state()
    return catalog_pages.service_page(b, job.id) if job.kind == "service" else kb_pages.article_page(b, job.id)


def assets(b: Builder) -> dict[str, str]:
    """The stylesheet and script, robots.txt, and the desk's schemas (``schemas/<name>.json``)."""
    folder = resources.files("itsm_cli") / "site" / "assets"
    # From status/feed.xml to the status page: "./" (status/) or "../status.html".
    status_href = "./" if b.directory_urls else posixpath.relpath(page_url("status.md", False), "status")
    out = {CSS: (folder / "itsm.css").read_text(encoding="utf-8"), JS: (folder / "itsm.js").read_text(encoding="utf-8"),
           FEED: b.status.feed(status_href),
           "robots.txt": ROBOTS_INTERNAL if site_settings(b.config.data).internal else ROBOTS_PUBLIC}
    out.update({f"schemas/{name}": text for name, text in b.content.schemas.items()})
    return out


def add_noindex(site_dir: Path) -> int:
    """Put the robots ``noindex`` tag in the head of every HTML page under ``site_dir``; returns how many."""
    count = 0
    for path in site_dir.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if NOINDEX in text or "<head>" not in text:
            continue
        path.write_text(text.replace("<head>", "<head>\n    " + NOINDEX, 1), encoding="utf-8")
        count += 1
    return count
