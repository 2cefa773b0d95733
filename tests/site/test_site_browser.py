"""The built site in a real browser: navigation, Material's search, the catalog filter, and axe-core.

Needs Debian's chromium and chromium-driver; skipped without them only outside CI.
axe-core comes from npm (not committed): set ``AXE_JS`` to its ``axe.min.js``, or run
``npm install --prefix . --no-save --no-package-lock axe-core@4.14.1`` at the repository root.
Set ``ITSM_SCREENSHOT=1`` to refresh ``docs/screenshot-catalog.png`` from the demo desk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sitefixtures import CHROMEDRIVER, CHROMIUM, BuiltSite, headless_chromium, http_server, itsm

REPO = Path(__file__).resolve().parents[2]
WAIT = 20

pytestmark = pytest.mark.browser

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not os.environ.get("CI"):
    pytest.skip("chromium and chromium-driver are not installed", allow_module_level=True)


def axe_script() -> Path | None:
    """Where axe.min.js is: ``$AXE_JS``, else ``node_modules/axe-core/axe.min.js`` at the repository root."""
    candidates = [Path(os.environ["AXE_JS"])] if os.environ.get("AXE_JS") else []
    candidates.append(REPO / "node_modules" / "axe-core" / "axe.min.js")
    return next((p for p in candidates if p.is_file()), None)




@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """A headless Chromium driven by selenium (no network beyond localhost, a throw-away profile)."""
    with headless_chromium(tmp_path / "profile") as driver:
        yield driver


def _wait(driver: object, condition: object) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(condition)


def test_browse_filter_and_search(built_site: BuiltSite, browser: object) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    d = browser
    with http_server(built_site.out) as base:
        d.get(base)
        assert "service catalog" in d.find_element(By.TAG_NAME, "h1").text
        # The filter is there only with JavaScript, and it narrows the list.
        form = _wait(d, ec.presence_of_element_located((By.CSS_SELECTOR, "[data-itsm-filter] form")))
        Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("Security")
        visible = [a.text for a in d.find_elements(By.CSS_SELECTOR, "table[data-itsm-category] tbody a") if a.is_displayed()]
        assert sorted(visible) == ["Accounts & sign-on", "Remote access (VPN)"]
        assert not d.find_element(By.ID, "cat-communication").is_displayed()

        d.find_element(By.LINK_TEXT, "Remote access (VPN)").click()
        _wait(d, ec.url_contains("/services/vpn/"))
        assert d.find_element(By.TAG_NAME, "h1").text.startswith("Remote access (VPN)")
        assert "London office hours" in d.find_element(By.TAG_NAME, "article").text

        # Material's search: open it, type a word that is only in a KB article's body, follow the result.
        box = _wait(d, ec.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input")))
        box.click()
        box.send_keys("pangolinclient")
        result = _wait(d, ec.element_to_be_clickable(
            (By.CSS_SELECTOR, ".md-search-result__item a[href*='kb/KB-0001/']")))
        result.click()
        _wait(d, ec.url_contains("/kb/KB-0001/"))
        _wait(d, ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Connect to the VPN from home"))


def _axe(driver: object, script: str) -> list[dict]:
    driver.execute_script(script)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if v.get("impact") in ("serious", "critical")]


def _axe_violations(browser: object, root: Path, paths: list[str]) -> list[str]:
    """Serious and critical axe-core violations on each page, one line each."""
    path = axe_script()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: npm install --prefix . --no-save --no-package-lock axe-core@4.14.1")
        pytest.skip("axe-core is not installed (set AXE_JS or npm install axe-core at the repository root)")
    script = path.read_text(encoding="utf-8")
    found = []
    with http_server(root) as base:
        for page in paths:
            browser.get(base + page)
            for v in _axe(browser, script):
                targets = [n.get("target") for n in v.get("nodes", [])][:3]
                found.append(f"/{page}: {v['id']} ({v['impact']}): {v.get('help')} {targets}")
    return found


def test_no_serious_accessibility_violations(built_site: BuiltSite, browser: object) -> None:
    pages = ["", "services/email/", "services/printing/", "services/portal/", "kb/", "kb/KB-0001/", "kb/KB-0002/",
             "status/", "metrics/", "tags/"]
    found = _axe_violations(browser, built_site.out, pages)
    assert not found, "\n".join(found)


def _demo_site(tmp_path: Path) -> Path:
    if not any((REPO / "catalog").glob("*.yaml")):
        pytest.skip("the demo desk has no catalog yet")
    r = itsm("init", str(tmp_path / "demo"), "--demo")
    assert r.exit_code == 0, r.stderr
    r = itsm("site", "build", "-o", str(tmp_path / "out"), cwd=tmp_path / "demo")
    assert r.exit_code == 0, r.stderr
    return tmp_path / "out"


@pytest.mark.slow
def test_demo_site_has_no_serious_accessibility_violations(tmp_path: Path, browser: object) -> None:
    out = _demo_site(tmp_path)
    pages = ["", "kb/", "status/", "metrics/", "tags/"]
    pages += [p.parent.relative_to(out).as_posix() + "/" for p in sorted(out.glob("services/*/index.html"))]
    pages += [p.parent.relative_to(out).as_posix() + "/" for p in sorted(out.glob("kb/*/index.html"))]
    found = _axe_violations(browser, out, pages)
    assert not found, "\n".join(found)


@pytest.mark.skipif(not os.environ.get("ITSM_SCREENSHOT"), reason="set ITSM_SCREENSHOT=1 to refresh the screenshot")
def test_screenshot_of_the_catalog_home(tmp_path: Path, browser: object) -> None:
    """Writes docs/screenshot-catalog.png (the README shows it) from the demo desk."""
    out = _demo_site(tmp_path)
    target = REPO / "docs" / "screenshot-catalog.png"
    target.parent.mkdir(exist_ok=True)
    with http_server(out) as base:
        browser.set_window_size(1280, 900)
        browser.get(base)
        time.sleep(0.5)  # web fonts and the filter settle
        png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    target.write_bytes(png)
