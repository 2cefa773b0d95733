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
