"""The MkDocs adapter: hands the pages of :mod:`itsm_cli.site.pages` to MkDocs, and nothing more.

``plugins: [search, itsm]`` in mkdocs.yml. The desk is the folder holding
mkdocs.yml unless ``desk:`` says otherwise. Records are read once per build in
``on_config`` (pages made on every core for ``build``, in-process for ``serve``); ``on_files`` adds every page and asset as a generated file;
``on_pre_page`` points "edit this page" at the record's own file.

It also holds the site to SPEC section 7: named after the desk (``desk.name``)
unless mkdocs.yml names it, no web fonts (Material would load them from
Google; the system's fonts are used), ``site_url`` from ``site.url`` in
itsm.yaml when mkdocs.yml has none (a sub-path deploy, its 404 page and the
sitemap need it), and on an internal site a ``noindex`` on every page.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, InclusionLevel

from itsm_cli.core.publishing import site_settings
from itsm_cli.errors import ItsmError
from itsm_cli.site.pages import add_noindex

log = logging.getLogger("mkdocs.plugins.itsm")


class ItsmConfig(base.Config):
    """Options of the ``itsm`` plugin in mkdocs.yml."""

    enabled = c.Type(bool, default=True)
    desk = c.Optional(c.Type(str))


class ItsmPlugin(BasePlugin[ItsmConfig]):
    """Adds the service catalog, KB, status and metrics pages generated from the desk."""

    def __init__(self) -> None:
        super().__init__()
        self.site: Any = None
        self.root: Path | None = None
        self.edit_base: str | None = None
        self.sources: dict[str, str] = {}
        self.command: str | None = None
        self.noindex = False

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember the MkDocs command: pages are made on every core for a build, not under ``serve``."""
        self.command = command

    def on_config(self, config: Any) -> Any:
        """Read the desk once and build every page; set the navigation and assets the pages need."""
        if not self.config.enabled:
            return config
        from itsm_cli.clock import now_utc
        from itsm_cli.site import pages
        from itsm_cli.store.desk import Desk

        here = Path(config.config_file_path or ".").resolve().parent
        self.root = (here / self.config.desk).resolve() if self.config.desk else here
        if not (self.root / "itsm.yaml").is_file():
            raise PluginError(f"itsm: {self.root} is not a desk (no itsm.yaml); set the plugin's 'desk' option")
        try:
            desk = Desk(self.root)
            now = datetime.fromisoformat(now_utc().replace("Z", "+00:00"))
            parallel = self.command in ("build", "gh-deploy")
            self.site = pages.build_site(pages.load_content(desk, parallel), now, bool(config.use_directory_urls),
                                         parallel=parallel)
            edit = desk.config.desk.get("edit_url")
            settings = site_settings(desk.config.data)
        except ItsmError as e:
            raise PluginError(f"itsm: {e}") from None
        if not config.site_name:
            config.site_name = str(desk.config.desk.get("name") or "IT service desk")
        if not config.site_url and settings.url:
            config.site_url = settings.url if settings.url.endswith("/") else settings.url + "/"
        # No request to any host but the site's own (SPEC section 7): Material's default font comes from Google.
        config.theme["font"] = False
        self.noindex = self.site.noindex
        self.edit_base = edit if isinstance(edit, str) and edit.startswith(("https://", "http://")) else None
        self.sources = {p.uri: p.source for p in self.site.pages if p.source}
        if config.nav is None:
            config.nav = list(self.site.nav)
        for name in ("attr_list", "tables", "toc"):
            if name not in config.markdown_extensions:
                config.markdown_extensions.append(name)
        config.extra_css.extend(u for u in self.site.extra_css if u not in config.extra_css)
        config.extra_javascript.extend(u for u in self.site.extra_javascript if u not in config.extra_javascript)
        return config

    def on_files(self, files: Files, config: Any) -> Files:
        """Add the generated pages (services and articles outside the navigation) and the assets."""
        if not self.config.enabled or self.site is None:
            return files
        for page in self.site.pages:
            self._add(files, File.generated(
                config, page.uri, content=page.markdown,
                inclusion=InclusionLevel.INCLUDED if page.in_nav else InclusionLevel.NOT_IN_NAV,
            ))
        for uri, text in self.site.assets.items():
            self._add(files, File.generated(config, uri, content=text))
        return files

    def _add(self, files: Files, file: File) -> None:
        existing = files.get_file_from_path(file.src_uri)
        if existing is not None:
            raise PluginError(f"itsm: {existing.src_uri} in docs_dir clashes with a page the itsm plugin generates")
        files.append(file)

    def on_pre_page(self, page: Any, config: Any, files: Files) -> Any:
        """Point "edit this page" at the desk file the page is made from (catalog/x.yaml, kb/KB-0001.md)."""
        source = self.sources.get(page.file.src_uri)
        if source is not None:
            page.edit_url = self.edit_base + source if self.edit_base else None
        return page

    def on_page_content(self, html: str, page: Any, config: Any, files: Files) -> str:
        """The outage banner on pages of the docs folder too (the generated pages carry it already)."""
        if not self.config.enabled or self.site is None or "data-itsm-banner" in html:
            return html
        from itsm_cli.site.links import rel_url

        return self.site.banner(rel_url(page.file.src_uri, self.site.status_uri, bool(config.use_directory_urls))) + html

    def on_post_page(self, output: str, page: Any, config: Any) -> str:
        """Announce the status feed in the status page's head (``<link rel=alternate>``)."""
        if not self.config.enabled or self.site is None or page.file.src_uri != self.site.status_uri:
            return output
        from itsm_cli.site.status_model import feed_link

        link = (f'<link rel="alternate" type="application/atom+xml" title="Service status changes" '
                f'href="{feed_link(page.file.src_uri, page.url)}">')
        return output.replace("</head>", link + "</head>", 1)

    def on_post_template(self, output_content: str, template_name: str, config: Any) -> str:
        """The outage banner on the 404 page, where only a link from the site's root works."""
        if not self.config.enabled or self.site is None or template_name != "404.html":
            return output_content
        from urllib.parse import urlsplit

        from itsm_cli.site.links import page_url

        root = (urlsplit(config.site_url or "").path or "/").rstrip("/") + "/"
        banner = self.site.banner(root + page_url(self.site.status_uri, bool(config.use_directory_urls)))
        marker = 'class="md-content__inner md-typeset">'
        at = output_content.find(marker)
        if not banner or at < 0:
            return output_content
        cut = at + len(marker)
        return output_content[:cut] + banner + output_content[cut:]

    def on_post_build(self, config: Any) -> None:
        """On an internal site, ask search engines to keep out of every page (the 404 page included)."""
        if self.config.enabled and self.noindex:
            add_noindex(Path(config.site_dir))

    def on_serve(self, server: Any, config: Any, builder: Any) -> Any:
        """Rebuild when a record or the desk configuration changes."""
        if self.config.enabled and self.root is not None:
            for name in ("catalog", "kb", "tickets", "suppliers", "itsm.yaml"):
                if (self.root / name).exists():
                    server.watch(str(self.root / name))
        return server
