"""Who may read the published site: the ``site:`` settings of itsm.yaml and the warning about public Pages.

``site.visibility`` is ``internal`` (the default: the site is for staff, so it
asks search engines not to index it) or ``public``. An internal site deployed
by a workflow to GitHub Pages is public on most plans (only GitHub Enterprise
Cloud can make a Pages site private), with staff names, addresses and live
incident titles on it: :func:`pages_warning` says so unless the desk states
that its Pages site is private (``site.pages: private``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PUBLISH_WORKFLOW", "SiteSettings", "pages_warning", "site_settings"]

VISIBILITIES = ("internal", "public")
PUBLISH_WORKFLOW = ".github/workflows/publish.yml"
# The steps that put a folder on GitHub Pages: the official deploy action, or a push to gh-pages.
_DEPLOYS_TO_PAGES = re.compile(r"actions/deploy-pages@|gh-deploy|peaceiris/actions-gh-pages@|JamesIves/github-pages-deploy")


@dataclass(frozen=True)
class SiteSettings:
    """The ``site:`` mapping of itsm.yaml with its defaults."""

    visibility: str = "internal"
    url: str | None = None
    pages_private: bool = False

    @property
    def internal(self) -> bool:
        """True when search engines are asked to keep out (noindex, robots.txt)."""
        return self.visibility != "public"


def site_settings(config_data: Mapping[str, Any]) -> SiteSettings:
    """The desk's site settings (the schema has checked their types; unknown values fall back to internal)."""
    site = config_data.get("site") or {}
    if not isinstance(site, Mapping):
        return SiteSettings()
    visibility = site.get("visibility") if site.get("visibility") in VISIBILITIES else "internal"
    url = site.get("url") if isinstance(site.get("url"), str) and site.get("url") else None
    return SiteSettings(str(visibility), url, site.get("pages") == "private")


def pages_warning(settings: SiteSettings, workflow_text: str | None) -> str | None:
    """A one-line warning when an internal site is deployed to (public) GitHub Pages; None otherwise."""
    if not settings.internal or settings.pages_private or not workflow_text:
        return None
    if not _DEPLOYS_TO_PAGES.search(workflow_text):
        return None
    return (f"site.visibility is internal but {PUBLISH_WORKFLOW} deploys the site to GitHub Pages, which anyone can "
            "read unless the repository's Pages site is private (GitHub Enterprise Cloud): staff names, addresses and "
            "incident titles would be public. Make Pages private and set site.pages: private in itsm.yaml, "
            "set site.visibility: public if that is intended, or remove the deploy job")
