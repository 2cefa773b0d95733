"""Unit tests of store/atomic.py: the one way itsm writes a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from itsm_cli.store import atomic
from itsm_cli.store.atomic import is_temp_name, remove_temp_file, write_atomic


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(atomic.TEMP_SUFFIX))


def test_writes_text_as_utf8_and_bytes_as_they_are(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.yaml", "café: ✓\n")
    assert (tmp_path / "a.yaml").read_bytes() == "café: ✓\n".encode()
    write_atomic(tmp_path / "b.bin", b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    assert leftovers(tmp_path) == []


def test_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "tickets/INC/000/INC-0001.yaml"
    write_atomic(target, "x")
    assert target.read_text() == "x"


def test_replaces_the_old_file_as_a_new_inode(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old\n")
    before = os.stat(target).st_ino
    # A reader holding the old file open keeps seeing the old content: the file was replaced, not rewritten.
    with open(target) as reader:
        write_atomic(target, "new\n")
        assert reader.read() == "old\n"
    assert target.read_text() == "new\n"
    assert os.stat(target).st_ino != before


def test_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "run.sh"
    target.write_text("old")
    target.chmod(0o750)
    write_atomic(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.yaml", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o640


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_leaves_the_old_file_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        failure: BaseException) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old\n")

    def broken_fsync(fd: int) -> None:
        raise failure

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(type(failure)):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_a_failed_rename_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.yaml"

    def no_replace(src: object, dst: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(atomic.os, "replace", no_replace)
    with pytest.raises(PermissionError):
        write_atomic(target, "new\n")
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_the_journal_hears_of_the_temp_file_before_it_exists(tmp_path: Path) -> None:
    named: list[tuple[Path, bool]] = []
    write_atomic(tmp_path / "a.yaml", "x", journal=lambda p: named.append((p, p.exists())))
    [(tmp, existed)] = named
    assert not existed
    assert tmp.parent == tmp_path
    assert is_temp_name(tmp.name)
    assert tmp.name.startswith(".a.yaml.")
    assert not tmp.exists()  # renamed away


def test_a_symlink_planted_at_the_temp_name_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    names = iter([b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"])
    monkeypatch.setattr(atomic.os, "urandom", lambda n: next(names))
    (tmp_path / ".a.yaml.00000001.tmp").symlink_to(victim)
    write_atomic(tmp_path / "a.yaml", "new")
    assert victim.read_text() == "keep"
    assert (tmp_path / "a.yaml").read_text() == "new"


@pytest.mark.parametrize(("name", "ours"), [
    (".INC-0001.yaml.0a1b2c3d.tmp", True),
    (".INC-0001.yaml.abc_12xy.tmp", True),  # mkstemp's alphabet, from earlier versions
    ("INC-0001.yaml.0a1b2c3d.tmp", False),  # not hidden
    (".INC-0001.yaml.0a1b2c3.tmp", False),  # 7 characters
    (".INC-0001.yaml.0A1B2C3D.tmp", False),
    (".INC-0001.yaml", False),
    ("..0a1b2c3d.tmp", False),
])
def test_is_temp_name(name: str, ours: bool) -> None:
    assert is_temp_name(name) is ours


def test_remove_temp_file_removes_only_our_regular_files(tmp_path: Path) -> None:
    ours = tmp_path / ".a.yaml.0a1b2c3d.tmp"
    ours.write_text("partial")
    assert remove_temp_file(ours) is True
    assert not ours.exists()
    assert remove_temp_file(ours) is False  # already gone

    theirs = tmp_path / "a.yaml"
    theirs.write_text("record")
    assert remove_temp_file(theirs) is False
    assert theirs.exists()

    folder = tmp_path / ".b.yaml.0a1b2c3d.tmp"
    folder.mkdir()
    assert remove_temp_file(folder) is False
    assert folder.is_dir()

    target = tmp_path / "target"
    target.write_text("x")
    link = tmp_path / ".c.yaml.0a1b2c3d.tmp"
    link.symlink_to(target)
    assert remove_temp_file(link) is False
    assert target.exists()
