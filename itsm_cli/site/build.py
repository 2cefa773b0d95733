"""``itsm site build`` and ``itsm site serve``: run an engine over the pages of :mod:`itsm_cli.site.pages`.

MkDocs runs in-process with the desk's mkdocs.yml (its ``itsm`` plugin adds the
pages). Zensical does not run MkDocs plugins, so for ``--engine zensical`` the
same pages are written into ``.itsm-build/docs/`` with a derived mkdocs.yml
(no ``itsm`` plugin; navigation and assets spelled out) and ``zensical build``
runs on that: same content, same URLs.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, ItsmError, Refused

if TYPE_CHECKING:
    from itsm_cli.site.pages import Site
    from itsm_cli.store.desk import Desk

__all__ = ["ENGINES", "build_site", "check_addr", "pages_warning_for", "serve_site", "write_pages"]

ENGINES = ("mkdocs", "zensical")
CONFIG = "mkdocs.yml"
BUILD_DIR = ".itsm-build"


def _config_path(desk: Desk) -> Path:
    path = Path(desk.root) / CONFIG
    if not path.is_file():
        raise EnvironmentProblem(f"the desk has no {CONFIG}; copy one from 'itsm init' to publish a site", CONFIG)
    return path


class _MkDocsLog(logging.Handler):
    """Shows MkDocs' warnings on stderr and keeps its errors, so a failed build ends in one clear line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            self.errors.append(message)
        else:
            print(f"itsm: mkdocs: {record.levelname.lower()}: {message}", file=sys.stderr)


@contextlib.contextmanager
def _mkdocs_log() -> Iterator[_MkDocsLog]:
    """Route the ``mkdocs`` logger to :class:`_MkDocsLog` while MkDocs runs (its CLI would set up logging)."""
    logger = logging.getLogger("mkdocs")
    handler = _MkDocsLog()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _mkdocs_error(e: Exception, errors: list[str]) -> ItsmError:
    from mkdocs.exceptions import Abort, ConfigurationError, PluginError

    text = str(e).strip() or type(e).__name__
    if isinstance(e, ConfigurationError):
        return InvalidRecord(text.splitlines()[-1] if text else "invalid configuration", CONFIG)
    first = next((m for m in errors if m.startswith("itsm: ")), errors[0] if errors else None)
    if isinstance(e, PluginError) or (isinstance(e, Abort) and first):
        return InvalidRecord((first or text).removeprefix("itsm: "))
    if isinstance(e, Abort):
        return Refused(f"site build aborted: {text}")
    return Refused(f"site build failed: {text}")


def pages_warning_for(desk: Desk) -> str | None:
    """The warning of :func:`itsm_cli.core.publishing.pages_warning` for this desk's publish workflow."""
    from itsm_cli.core.publishing import PUBLISH_WORKFLOW, pages_warning, site_settings

    workflow = Path(desk.root) / PUBLISH_WORKFLOW
    try:
        text = workflow.read_text(encoding="utf-8") if workflow.is_file() else None
    except (OSError, UnicodeDecodeError):
        text = None
    return pages_warning(site_settings(desk.config.data), text)


def _check_site_url(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith(("https://", "http://")):
        raise BadArgument(f"--site-url expects an http(s):// address, e.g. https://org.github.io/repo/, got '{url}'")
    return url if url.endswith("/") else url + "/"


def build_site(desk: Desk, engine: str = "mkdocs", strict: bool = True, out: Path | str | None = None,
               site_url: str | None = None) -> Path:
    """Build the desk's site with ``engine``; returns the folder holding it.

    ``site_url`` overrides mkdocs.yml's and itsm.yaml's ``site.url`` (the
    publish workflow passes the Pages address, so a sub-path deploy works).
    """
    if engine not in ENGINES:
        raise BadArgument(f"unknown engine '{engine}': choose one of {', '.join(ENGINES)}")
    site_url = _check_site_url(site_url)
    if engine == "zensical":
        return _build_zensical(desk, strict, Path(out).resolve() if out else None, site_url)
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    path = _config_path(desk)
    overrides: dict[str, Any] = {"strict": strict}
    if out is not None:
        overrides["site_dir"] = str(Path(out).resolve())
    if site_url:
        overrides["site_url"] = site_url
    if "site_name" not in _read_user_config(path, quiet=True):
        # MkDocs needs a name before its plugins run; the itsm plugin would use desk.name all the same.
        overrides["site_name"] = str(desk.config.desk.get("name") or "IT service desk")
    with _mkdocs_log() as log:
        try:
            config = load_config(config_file=str(path), **overrides)
            config.plugins.on_startup(command="build", dirty=False)
            try:
                build(config)
            finally:
                config.plugins.on_shutdown()
        except MkDocsException as e:
            raise _mkdocs_error(e, log.errors) from None
    return Path(config.site_dir)


def check_addr(addr: str) -> str:
    """``addr`` when it is HOST:PORT; BadArgument otherwise."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadArgument(f"--addr expects HOST:PORT, e.g. 127.0.0.1:8000, got '{addr}'")
    return addr


def serve_site(desk: Desk, addr: str = "127.0.0.1:8000") -> None:
    """Serve the site with live reload (MkDocs' development server) until interrupted."""
    from mkdocs.commands.serve import serve
    from mkdocs.exceptions import MkDocsException

    check_addr(addr)
    path = _config_path(desk)
    with _mkdocs_log() as log:
        try:
            serve(config_file=str(path), dev_addr=addr, livereload=True)
        except MkDocsException as e:
            raise _mkdocs_error(e, log.errors) from None


# -- Zensical ---------------------------------------------------------------------------


def _read_user_config(path: Path, quiet: bool = False) -> dict[str, Any]:
    """mkdocs.yml as plain YAML; with ``quiet``, {} when it is not (MkDocs' own tags), for a look at its keys."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        if quiet:
            return {"site_name": None}
        raise InvalidRecord(f"cannot be read for --engine zensical (plain YAML only): {e}", CONFIG) from None
    if not isinstance(data, dict):
        raise InvalidRecord("must be a mapping", CONFIG)
    return data


def write_pages(site: Site, docs: Path) -> None:
    """Write every page and asset of a built :class:`~itsm_cli.site.pages.Site` under ``docs``."""
    root = docs.resolve()
    for uri, text in [*((p.uri, p.markdown) for p in site.pages), *site.assets.items()]:
        target = (root / uri).resolve()
        if root not in target.parents:
            raise Refused(f"refusing to write a page outside the build folder: {uri}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _derived_config(user: dict[str, Any], site: Site, site_dir: Path, site_name: str = "") -> dict[str, Any]:
    """The user's mkdocs.yml for Zensical: our pages folder and site folder, no itsm plugin, nav and assets spelled out."""
    derived = dict(user)
    derived["docs_dir"] = "docs"
    derived["site_dir"] = str(site_dir)
    plugins = []
    for entry in user.get("plugins") or []:
        name = next(iter(entry)) if isinstance(entry, dict) and entry else entry
        if name != "itsm":
            plugins.append(entry)
    derived["plugins"] = plugins
    if not derived.get("site_name"):
        derived["site_name"] = str(site_name)
    # No request to another host (SPEC section 7): no web fonts from Google.
    theme = derived.get("theme")
    derived["theme"] = {**theme, "font": False} if isinstance(theme, dict) else {"name": theme or "material", "font": False}
    derived.setdefault("nav", list(site.nav))
    derived["extra_css"] = [*(user.get("extra_css") or []), *site.extra_css]
    derived["extra_javascript"] = [*(user.get("extra_javascript") or []), *site.extra_javascript]
    extensions = list(user.get("markdown_extensions") or [])
    names = {next(iter(e)) if isinstance(e, dict) else e for e in extensions}
    extensions += [name for name in ("attr_list", "tables", "toc") if name not in names]
    derived["markdown_extensions"] = extensions
    return derived


def _build_zensical(desk: Desk, strict: bool, out: Path | None, site_url: str | None = None) -> Path:
    import yaml

    from itsm_cli.clock import now_utc
    from itsm_cli.site import pages

    path = _config_path(desk)
    exe = shutil.which("zensical")
    if exe is None:
        raise EnvironmentProblem("zensical is not installed: 'pip install zensical', or build with --engine mkdocs")
    user = _read_user_config(path)
    root = Path(desk.root).resolve()
    build_dir = root / BUILD_DIR
    docs = build_dir / "docs"
    if build_dir.is_symlink() or docs.is_symlink():
        raise Refused(f"{BUILD_DIR} must be a folder, not a symbolic link")
    for stale in (docs, build_dir / "site"):
        if stale.exists():
            shutil.rmtree(stale)
    own_docs = root / str(user.get("docs_dir") or "docs")
    if own_docs.is_dir():
        shutil.copytree(own_docs, docs, symlinks=False, ignore=shutil.ignore_patterns(".*"))
    now = datetime.fromisoformat(now_utc().replace("Z", "+00:00"))
    site = pages.build_site(pages.load_content(desk, parallel=True), now, bool(user.get("use_directory_urls", True)),
                            parallel=True)
    clash = [p.uri for p in site.pages if (docs / p.uri).exists()]
    if clash:
        raise Refused(f"{user.get('docs_dir') or 'docs'}/{clash[0]} clashes with a page itsm generates")
    write_pages(site, docs)
    site_dir = out or (root / str(user.get("site_dir") or "site")).resolve()
    if site_dir == root or site_dir in root.parents:
        raise BadArgument(f"refusing to build the site into {site_dir}: it holds the desk")
    derived = _derived_config(user, site, build_dir / "site", str(desk.config.desk.get("name") or "IT service desk"))
    from itsm_cli.core.publishing import site_settings

    url = site_url or user.get("site_url") or site_settings(desk.config.data).url
    if url:
        derived["site_url"] = url
    derived_path = build_dir / CONFIG
    derived_path.write_text("# Derived by 'itsm site build --engine zensical'; do not edit.\n"
                            + yaml.safe_dump(derived, sort_keys=False, allow_unicode=True), encoding="utf-8")
    command = [exe, "build", "--config-file", str(derived_path), *(["--strict"] if strict else [])]
    result = subprocess.run(command, cwd=build_dir, check=False)
    if result.returncode != 0:
        raise Refused(f"zensical build failed (exit {result.returncode}); its output is above")
    # Zensical writes only inside its project folder; move the result where the user asked for it.
    if site_dir.is_dir():
        shutil.rmtree(site_dir)
    shutil.move(str(build_dir / "site"), str(site_dir))
    if site.noindex:
        pages.add_noindex(site_dir)
    return site_dir
