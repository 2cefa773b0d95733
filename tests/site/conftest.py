"""Fixtures for the published site: the fixture desk of :mod:`sitefixtures`, built once per session."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The site tests share helpers through this folder's sitefixtures module (pytest imports test modules with
# importlib and only tests/ is on the path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sitefixtures import BuiltSite, isolate, itsm, make_site_desk


@pytest.fixture(scope="session")
def desk_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fixture desk, made once per session (a git repository); tests get copies of it."""
    base = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, base / "home")
        yield make_site_desk(base / "desk")


@pytest.fixture(scope="session")
def built_site(desk_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltSite]:
    """The fixture desk, built once with ``itsm site build`` (strict) into a temporary folder."""
    base = tmp_path_factory.mktemp("built")
    desk = base / "desk"
    shutil.copytree(desk_template, desk, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, base / "home")
        out = base / "out"
        r = itsm("site", "build", "-o", str(out), cwd=desk)
        assert r.exit_code == 0, r.stderr
        yield BuiltSite(desk, out)


@pytest.fixture
def site_desk(desk_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the fixture desk for a test that changes it (the shared conftest isolates the env)."""
    desk = tmp_path / "desk"
    shutil.copytree(desk_template, desk, symlinks=True)
    return desk


@pytest.fixture(scope="session")
def site_content(desk_template: Path) -> object:
    """The fixture desk's content (:func:`itsm_cli.site.content.load_content`), read once; tests must not change it."""
    from itsm_cli.site.content import load_content
    from itsm_cli.store.desk import Desk

    return load_content(Desk(desk_template))


@pytest.fixture(scope="session")
def site_builder(site_content: object) -> object:
    """A :class:`~itsm_cli.site.builder.Builder` of the fixture desk at its clock (2026-03-02 09:00 UTC)."""
    from datetime import UTC, datetime

    from itsm_cli.site.builder import Builder

    return Builder(site_content, datetime(2026, 3, 2, 9, tzinfo=UTC), directory_urls=True)  # type: ignore[arg-type]
