"""Unit tests of core/publishing.py: the site's visibility settings and the public-Pages warning."""

from __future__ import annotations

import pytest

from itsm_cli.core.publishing import PUBLISH_WORKFLOW, SiteSettings, pages_warning, site_settings


def test_pages_warning_rules() -> None:
    deploy = "steps:\n  - uses: actions/deploy-pages@d6db90164ac5ed86f2b6aed7e0febac5b3c0c03e # v4.0.5\n"
    assert pages_warning(site_settings({}), deploy)  # internal by default
    assert pages_warning(site_settings({"site": {"visibility": "internal"}}), "run: mkdocs gh-deploy --force")
    assert pages_warning(SiteSettings("public"), deploy) is None
    assert pages_warning(SiteSettings("internal", pages_private=True), deploy) is None
    assert pages_warning(SiteSettings(), "steps:\n  - run: itsm validate\n") is None
    assert pages_warning(SiteSettings(), None) is None
    assert site_settings({"site": {"visibility": "odd"}}).internal
    assert site_settings({"site": {"url": "https://x.example/y/", "pages": "private"}}) == \
        SiteSettings("internal", "https://x.example/y/", True)


@pytest.mark.parametrize("step", [
    "uses: peaceiris/actions-gh-pages@v4", "uses: JamesIves/github-pages-deploy-action@v4", "run: mkdocs gh-deploy",
])
def test_every_way_to_deploy_to_pages_is_seen(step: str) -> None:
    warning = pages_warning(SiteSettings(), f"steps:\n  - {step}\n")
    assert warning is not None
    assert warning.startswith(f"site.visibility is internal but {PUBLISH_WORKFLOW} deploys the site to GitHub Pages")
    assert "\n" not in warning


def test_settings_defaults_and_odd_values() -> None:
    assert site_settings({}) == SiteSettings("internal", None, False)
    assert site_settings({"site": "public"}) == SiteSettings()  # not a mapping: the defaults
    assert site_settings({"site": {"visibility": "public", "url": ""}}) == SiteSettings("public", None, False)
    assert site_settings({"site": {"url": 42, "pages": "public"}}) == SiteSettings()
    assert not SiteSettings("public").internal and SiteSettings().internal
