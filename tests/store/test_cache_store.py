"""Unit and command tests of store/cache_store.py: the one place caches live, are written, locked and thrown away."""

from __future__ import annotations

import fcntl
import marshal
import os
import re
import struct
import threading
import time
from pathlib import Path

import pytest
from desk_testing import BOB, git, run

from itsm_cli.store import atomic, cache_store

CACHE_MODULES = ("cache.py", "commit_index.py", "audit_cache.py", "cache_store.py", "parse_memo.py")
STORE = Path(cache_store.__file__).resolve().parent


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(atomic.TEMP_SUFFIX))


# --- the framed format and the one writer ----------------------------------------------------------


def test_a_framed_file_round_trips_and_another_environment_or_format_reads_as_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "deep" / "x.bin"
    cache_store.write_framed(path, "env-1", "gen", (["a", "b"], ["k1", "k2"], [1, 2]))
    assert cache_store.read_framed(path, "env-1") == ("gen", (["a", "b"], ["k1", "k2"], [1, 2]))
    assert cache_store.read_framed_header(path, "env-1") == ("gen", 2)
    assert cache_store.read_framed(path, "env-2") is None  # another itsm, config or schema: no cache
    assert cache_store.read_framed_header(path, "env-2") is None
    monkeypatch.setattr(cache_store, "FORMAT", cache_store.FORMAT + 1)  # a file of another format version
    assert cache_store.read_framed(path, "env-1") is None and cache_store.read_framed_header(path, "env-1") is None
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "foreign", "old magic"])
def test_a_damaged_framed_file_reads_as_none(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "x.bin"
    cache_store.write_framed(path, "env", "gen", {"k": list(range(1000))})
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 7]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "empty":
        data = bytearray()
    elif damage == "foreign":
        data = bytearray(os.urandom(len(data)))
    else:
        data[:8] = b"ITSMCCH0"
    path.write_bytes(bytes(data))
    assert cache_store.read_framed(path, "env") is None
    if damage != "flip":  # the header alone is read without the body (whose checksum a load verifies)
        assert cache_store.read_framed_header(path, "env") is None


class Crash(BaseException):
    """A crash mid-write (BaseException: like KeyboardInterrupt, not caught by the code under test)."""


def test_a_crash_while_writing_leaves_the_old_cache_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "summary.bin"
    cache_store.write_framed(path, "env", "old", ["old rows"])
    before = path.read_bytes()
    with pytest.raises(Crash), cache_store.writing(path) as f:
        f.write(b"ITSMCCH1 half a new cache")
        raise Crash
    assert path.read_bytes() == before and leftovers(tmp_path) == []

    def crash_at_rename(*_: object) -> None:
        raise Crash

    monkeypatch.setattr(os, "replace", crash_at_rename)
    with pytest.raises(Crash):
        cache_store.write_framed(path, "env", "new", ["new rows"])
    assert cache_store.read_framed(path, "env") == ("old", ["old rows"]) and leftovers(tmp_path) == []


def test_a_writer_can_name_its_file_at_the_end_or_drop_it(tmp_path: Path) -> None:
    with cache_store.writer(tmp_path / "segment") as out:
        out.file.write(b"kept")
        out.commit(tmp_path / "000001.seg")
    with cache_store.writer(tmp_path / "segment") as out:
        out.file.write(b"dropped")
        out.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000001.seg"]
    assert (tmp_path / "000001.seg").read_bytes() == b"kept"


def test_the_cache_modules_write_only_through_the_one_writer() -> None:
    # No temp-file code of their own: no rename, no pid-named temp file, no file opened for writing.
    for name in CACHE_MODULES:
        text = (STORE / name).read_text(encoding="utf-8")
        assert "os.replace(" not in text and "getpid()" not in text, name
        assert not re.search(r"open\([^)]*[\"']wb[\"']", text), name


# --- the one lock ------------------------------------------------------------------------------


def test_the_lock_excludes_every_other_holder_until_released(tmp_path: Path) -> None:
    folder = tmp_path / "commits"
    order: list[str] = []
    with cache_store.locked(folder):
        with open(folder / "lock", "a+b") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what another process would meet

        def second() -> None:
            with cache_store.locked(folder):
                order.append("second")

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.2)
        order.append("first")
    waiter.join(10)
    assert order == ["first", "second"]


# --- where caches live ------------------------------------------------------------------------------


def test_caches_live_under_the_git_directory_and_not_at_all_without_git_or_when_disabled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_store.directory(tmp_path) is None  # no git
    git(tmp_path, "init", "-q")
    assert cache_store.directory(tmp_path) == (tmp_path / ".git" / "itsm-cache", tmp_path / ".git")
    inner = tmp_path / "desk"
    inner.mkdir()
    folder, gdir = cache_store.directory(inner)  # type: ignore[misc]
    assert folder.parent == tmp_path.resolve() / ".git" / "itsm-cache" and gdir.resolve() == (tmp_path / ".git").resolve()
    monkeypatch.setenv(cache_store.DISABLE_ENV, "1")
    assert cache_store.directory(tmp_path) is None


def test_keys_are_git_blob_ids_and_fingerprints_depend_on_order() -> None:
    assert cache_store.blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    assert cache_store.fingerprint("a", "b") != cache_store.fingerprint("b", "a")
    assert cache_store.fingerprint("ab", "") != cache_store.fingerprint("a", "b")


# --- the commands: a corrupt cache, or one of the previous formats, is rebuilt silently ------------


def outputs() -> tuple[str, ...]:
    found = []
    for args in (("list",), ("list", "--search", "printer"), ("validate",), ("audit", "--format", "csv"),
                 ("history", "INC-0001"), ("show", "INC-0001")):
        r = run(*args)
        assert r.exit_code == 0, (args, r.stderr)
        found.append(r.stdout)
    return tuple(found)


def busy_desk(desk: Path) -> Path:
    for title in ("Printer jams", "VPN drops", "Mail slow"):
        assert run("new", "incident", "--title", title, "--service", "email").exit_code == 0
    assert run("--as", BOB, "comment", "INC-0001", "Looking").exit_code == 0
    return desk / ".git" / "itsm-cache"


def test_corrupt_caches_are_rebuilt_silently_with_the_same_output(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = busy_desk(desk)
    with monkeypatch.context() as m:
        m.setenv(cache_store.DISABLE_ENV, "1")
        expected = outputs()
    assert outputs() == expected  # cold: the caches are made
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "lock"]
    assert {"summary.bin", "validate.bin"} <= {p.name for p in files} and any(p.suffix == ".seg" for p in files)
    assert any(p.parent.name == "parsed" for p in files)  # show's parsed-file memo is damaged too
    for path in files:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + os.urandom(16))
    assert outputs() == expected
    assert outputs() == expected  # and what replaced them serves the next run
    assert leftovers(folder) == []


def test_caches_of_the_previous_formats_are_rebuilt(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = busy_desk(desk)
    with monkeypatch.context() as m:
        m.setenv(cache_store.DISABLE_ENV, "1")
        expected = outputs()
    # What an older itsm left: a list cache of format 0, a commit index of format 1, an audit segment of format 1.
    header = marshal.dumps((0, "old env", "gen", 4, 0, 1), 4)
    (folder / "commits").mkdir(parents=True)
    (folder / "audit").mkdir()
    for name in ("summary.bin", "text.bin", "validate.bin", "index.bin", "highest.bin"):
        (folder / name).write_bytes(b"ITSMCCH0" + struct.pack("<I", len(header)) + header + b"\0\0\0\0")
    (folder / "commits" / "seen").write_bytes(b"ITSMCIX1" + os.urandom(40))
    for n in range(64):
        (folder / "commits" / f"p{n:02x}").write_bytes(b"ITSMCIX1" + marshal.dumps({}))
    old_segment = marshal.dumps((1, "old env"), 4)
    (folder / "audit" / "000001.seg").write_bytes(b"ITSMAUD1" + struct.pack("<I", len(old_segment)) + old_segment)
    r = run("list")
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == expected[0]
    assert outputs() == expected
    assert (folder / "summary.bin").read_bytes()[:8] == cache_store.MAGIC  # rebuilt in the current format
    assert not (folder / "audit" / "000001.seg").exists() or \
        (folder / "audit" / "000001.seg").read_bytes()[:8] == b"ITSMAUD2"


def test_the_code_fingerprint_follows_pyyaml_by_its_files_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.machinery
    import importlib.util
    import subprocess
    import sys

    code = "import sys\nfrom itsm_cli.store import cache_store\ncache_store.code_fingerprint()\nprint('yaml' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"

    fake = tmp_path / "yaml"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = '6.0.1'\n")
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        if name == "yaml":
            return importlib.machinery.ModuleSpec("yaml", None, origin=str(fake / "__init__.py"))
        return real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    def fingerprint() -> str:
        monkeypatch.setattr(cache_store, "_CODE", None)
        return cache_store.code_fingerprint()

    first = fingerprint()
    (fake / "__init__.py").write_text("__version__ = '6.0.2'\n")  # another release
    upgraded = fingerprint()
    (fake / "_yaml.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")  # libyaml's extension arrives
    with_libyaml = fingerprint()
    assert len({first, upgraded, with_libyaml}) == 3
    assert fingerprint() == with_libyaml
