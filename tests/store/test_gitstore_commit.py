"""Git.commit: the plumbing fast path makes the commit ``git commit --only`` would, and leaves the rest alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from desk_testing import ANN, git, head, run, status, ticket_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_cli.store.gitstore import Git
from itsm_cli.store.gittree import TREE_MODE, entry, sort_key, splice_tree


def tree_of(repo: Path, rev: str = "HEAD") -> list[bytes]:
    """Every entry (mode, blob ID, path) in ``rev``'s tree, as git spells it."""
    out = subprocess.run(["git", "ls-tree", "-r", "-z", rev], cwd=repo, check=True, capture_output=True).stdout
    return out.split(b"\0")


def porcelain_commit(repo: Path, paths: list[str], message: str) -> str:
    """The tree ``git commit --only`` makes of ``paths`` (in a throwaway clone, so ``repo`` is untouched)."""
    clone = repo.parent / "porcelain-clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    for p in paths:
        src, dst = repo / p, clone / p
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
        else:
            dst.unlink(missing_ok=True)
    git(clone, "add", "-A", "--", *paths)
    git(clone, "commit", "-q", "-m", message, "--only", "--", *paths)
    return git(clone, "rev-parse", "HEAD^{tree}").strip()


def test_a_record_commit_is_the_one_git_commit_only_makes(desk: Path) -> None:
    assert run("new", "incident", "--title", "First").exit_code == 0
    (desk / ticket_path("INC-0001")).write_text((desk / ticket_path("INC-0001")).read_text() + "# edited\n")
    (desk / "kb").mkdir(exist_ok=True)
    (desk / "deep" / "er").mkdir(parents=True)
    (desk / "deep" / "er" / "note.txt").write_text("a new folder two levels down\n")
    paths = ["tickets/INC/000/INC-0001.yaml", "deep/er/note.txt", "catalog/email.yaml"]
    (desk / "catalog" / "email.yaml").unlink()
    expected = porcelain_commit(desk, paths, "x")
    before = head(desk)
    commit = Git(desk).commit(paths, "INC-0001: edit\n\nItsm-Id: INC-0001\n", "Ann Agent", ANN)
    assert git(desk, "rev-parse", f"{commit}^{{tree}}").strip() == expected
    assert git(desk, "rev-parse", "HEAD").strip() == commit
    assert git(desk, "rev-parse", f"{commit}^").strip() == before
    assert status(desk) == ""  # the index agrees with the new HEAD, stat data included
    assert git(desk, "log", "-1", "--format=%an <%ae>%n%B", commit) == "Ann Agent <ann@example.com>\nINC-0001: edit\n\nItsm-Id: INC-0001\n\n"
    assert git(desk, "reflog", "-1", "--format=%gs").strip() == "commit: INC-0001: edit"
    assert git(desk, "reflog", "-1", "--format=%gs", "main").strip() == "commit: INC-0001: edit"


def test_other_staged_changes_stay_staged_and_out_of_the_commit(desk: Path) -> None:
    (desk / "README.txt").write_text("staged by hand\n")
    git(desk, "add", "README.txt")
    (desk / "itsm.yaml").write_text((desk / "itsm.yaml").read_text() + "# unstaged by hand\n")
    assert run("new", "incident", "--title", "Mine").exit_code == 0
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == ["tickets/INC/000/INC-0001.yaml"]
    assert status(desk).splitlines() == ["A  README.txt", " M itsm.yaml"]


def test_new_reads_only_the_highest_bucket_of_its_prefix(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`itsm new` numbers from the highest bucket folder (tickets/INC/001/ above tickets/INC/000/), reading no other.

    A commit made with plain git in between is seen: its ticket's number is taken.
    """
    asked: list[str] = []
    real = Git.cat_trees

    def counting(self: Git, specs: list[str]) -> list[tuple[str, bytes] | None]:
        asked.extend(specs)
        return real(self, specs)

    assert run("new", "incident", "--title", "One").exit_code == 0
    theirs = (desk / ticket_path("INC-0001")).read_text().replace("INC-0001", "INC-1500")
    (desk / ticket_path("INC-1500")).parent.mkdir(parents=True)
    (desk / ticket_path("INC-1500")).write_text(theirs)
    git(desk, "add", ticket_path("INC-1500"))
    git(desk, "commit", "-q", "-m", "theirs, by hand")
    low_bucket = git(desk, "rev-parse", "HEAD:tickets/INC/000").strip()
    monkeypatch.setattr(Git, "cat_trees", counting)
    r = run("new", "incident", "--title", "Two")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "INC-1501"
    assert not [s for s in asked if low_bucket in s or s.endswith(":tickets/INC/000")]
    assert git(desk, "ls-tree", "--name-only", "HEAD:tickets/INC/001").split() == ["INC-1500.yaml", "INC-1501.yaml"]
    assert status(desk) == ""
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == [ticket_path("INC-1501")]
    git(desk, "fsck", "--strict", "--no-dangling")


def test_a_hook_means_git_commit_commits(desk: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    (hooks / "commit-msg").write_text(f"#!/bin/sh\necho \"$(head -1 \"$1\")\" > '{marker}'\n")
    (hooks / "commit-msg").chmod(0o755)
    git(desk, "config", "core.hooksPath", str(hooks))
    assert run("new", "incident", "--title", "Hooked").exit_code == 0
    assert marker.read_text().startswith("INC-0001: create incident")
    (hooks / "commit-msg").chmod(0o644)  # not executable: git would not run it, so neither path does
    marker.unlink()
    assert run("comment", "INC-0001", "no hook now").exit_code == 0
    assert not marker.exists()


def test_the_branch_moves_only_from_the_head_the_change_started_on(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("new", "incident", "--title", "Raced").exit_code == 0
    g = Git(desk)
    real_run = g.run

    def racing_run(*args: str, **kwargs: object) -> str:
        if args[0] == "commit-tree":  # someone else commits while this change is being made
            (desk / "other.txt").write_text("theirs\n")
            git(desk, "add", "other.txt")
            git(desk, "commit", "-q", "-m", "theirs")
        return real_run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(g, "run", racing_run)
    (desk / ticket_path("INC-0001")).write_text((desk / ticket_path("INC-0001")).read_text() + "# mine\n")
    theirs_before = head(desk)
    with pytest.raises(Exception, match="update-ref failed"):
        g.commit(["tickets/INC/000/INC-0001.yaml"], "INC-0001: mine\n", "Ann Agent", ANN)
    assert git(desk, "log", "-1", "--format=%s").strip() == "theirs"
    assert theirs_before != head(desk)


def test_names_git_stores_but_utf8_cannot_spell_survive_a_commit(desk: Path) -> None:
    os.makedirs(desk / "tickets" / "INC" / "000")
    odd = os.fsencode("tickets/INC/000/") + b"caf\xe9\tINC-0001.yaml"
    with open(os.path.join(os.fsencode(str(desk)), odd), "w") as f:
        f.write("not a record\n")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "an odd name")
    before = [line for line in tree_of(desk) if b"caf" in line]
    r = run("new", "incident", "--title", "Beside it")
    assert r.exit_code == 0, r.stderr
    after = [line for line in tree_of(desk) if b"caf" in line]
    assert before == after and len(after) == 1
    assert any(line.endswith(b"\ttickets/INC/000/INC-0001.yaml") for line in tree_of(desk))


def test_a_signed_desk_gets_signed_commits(desk: Path, tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("needs ssh-keygen")
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    git(desk, "config", "gpg.format", "ssh")
    git(desk, "config", "user.signingkey", str(key))
    with open(desk / ".git" / "config", "a") as f:
        f.write("[commit]\n\tgpgsign\n")  # a bare key: true
    assert run("new", "incident", "--title", "Signed").exit_code == 0
    assert "-----BEGIN SSH SIGNATURE-----" in git(desk, "cat-file", "commit", "HEAD")


def model_tree(entries: dict[bytes, tuple[bytes, bytes]]) -> bytes:
    """A raw tree the slow, obvious way: every entry, sorted as git sorts them."""
    ordered = sorted(entries.items(), key=lambda item: sort_key(item[0], item[1][0]))
    return b"".join(entry(mode, name, oid) for name, (mode, oid) in ordered)


MODES = st.sampled_from([b"100644", b"100755", b"120000", TREE_MODE])
NAMES = st.binary(min_size=1, max_size=6).filter(lambda n: b"\0" not in n and b"/" not in n) | st.sampled_from(
    [b"a", b"a.b", b"a-b", b"a0", b"INC-0001.yaml", b"INC-0001.yaml.bak", b"INC-00010.yaml"])
ENTRIES = st.dictionaries(NAMES, st.tuples(MODES, st.binary(min_size=20, max_size=20)), max_size=12)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(ENTRIES, st.dictionaries(NAMES, st.none() | st.tuples(MODES, st.binary(min_size=20, max_size=20)), max_size=5))
def test_splice_tree_matches_rebuilding_the_whole_tree(
    entries: dict[bytes, tuple[bytes, bytes]], edits: dict[bytes, tuple[bytes, bytes] | None]
) -> None:
    expected = dict(entries)
    for name, value in edits.items():
        if value is None:
            expected.pop(name, None)
        else:
            expected[name] = value
    assert splice_tree(model_tree(entries), edits) == model_tree(expected)


def test_splice_tree_agrees_with_git_on_a_real_tree(desk: Path) -> None:
    names = ["a.yaml", "a", "a-b", "a0", "b.yaml"]
    for name in names:
        (desk / "tickets" / name).write_text(name + "\n")
    (desk / "tickets" / "a.b").mkdir()
    (desk / "tickets" / "a.b" / "x").write_text("x\n")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "names git sorts in its own way")
    raw = subprocess.run(["git", "cat-file", "tree", "HEAD:tickets"], cwd=desk, capture_output=True, check=True).stdout
    blob = bytes.fromhex(git(desk, "rev-parse", "HEAD:tickets/a").strip())
    edited = splice_tree(raw, {b"a.c": (b"100644", blob), b"a.b": None, b"a": None})
    oid = subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--stdin"], cwd=desk, input=edited,
                         capture_output=True, check=True).stdout.decode().strip()
    listing = git(desk, "ls-tree", "--name-only", oid).split()
    assert listing == [".gitkeep", "a-b", "a.c", "a.yaml", "a0", "b.yaml"]
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")  # a well-formed, well-sorted tree
    assert splice_tree(raw, {}) == raw
    with pytest.raises(ValueError):
        splice_tree(raw[:-3], {b"zzz": None})


def test_tree_ids_name_trees_only_and_nothing_for_a_name_git_would_read_as_two(desk: Path) -> None:
    g = Git(desk)
    tickets = git(desk, "rev-parse", "HEAD:tickets").strip()
    root = git(desk, "rev-parse", "HEAD^{tree}").strip()
    assert g.tree_ids(["HEAD:tickets", "HEAD:nowhere", "HEAD^{tree}", "HEAD:itsm.yaml"]) == [tickets, None, root, None]
    # git reads names a line each: a name with a line break is never asked, and the others keep their answers
    assert g.tree_ids(["HEAD:tickets", "HEAD:a\nHEAD:tickets", "HEAD:b\rc", "HEAD^{tree}"]) == [tickets, None, None, root]
    assert g.show("HEAD", "itsm.yaml") == (desk / "itsm.yaml").read_bytes()
    assert g.show("HEAD", "tickets") is None and g.show("HEAD", "nowhere.yaml") is None


def test_one_object_reader_serves_a_git_and_ends_with_it(desk: Path) -> None:
    g = Git(desk)
    assert g.head() == git(desk, "rev-parse", "HEAD").strip()
    g.cat_trees(["HEAD:tickets", "HEAD^{tree}"])
    proc = g.objects._proc
    assert proc is not None and proc.poll() is None
    assert g.tree_ids(["HEAD:tickets"])[0] and g.objects._proc is proc  # the same process answers again
    del g
    import gc

    gc.collect()
    assert proc.wait(timeout=5) == 0  # dropping the Git ended its session


def test_the_object_reader_starts_again_after_an_interrupted_read(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g = Git(desk)
    assert g.head()
    first = g.objects._proc
    assert first is not None

    def interrupted(*_args: object) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(first.stdout, "readline", interrupted)
    with pytest.raises(KeyboardInterrupt):
        g.head()
    assert first.poll() is not None  # the half-read session is gone, not reused out of step
    monkeypatch.undo()
    assert g.head() == git(desk, "rev-parse", "HEAD").strip() and g.objects._proc is not first


def test_trees_on_refs_skip_a_branch_without_the_folder(desk: Path) -> None:
    """One branch has no notes/ at all (the folder is missing there): the others' trees are still found."""
    (desk / "notes").mkdir()
    (desk / "notes" / "note.md").write_text("a note\n")
    git(desk, "add", "notes/note.md")
    git(desk, "commit", "-q", "-m", "notes on main")
    git(desk, "branch", "bare", "HEAD~1")  # before notes/ existed
    git(desk, "branch", "copy")
    notes = git(desk, "rev-parse", "HEAD:notes").strip()
    assert git(desk, "ls-tree", "bare", "notes") == ""
    assert Git(desk).trees_on_refs("notes") == [notes]
    assert Git(desk).names_on_refs(["notes"]) == {"refs/heads/copy": {"note.md"}, "refs/heads/main": {"note.md"}}


def _index_is_split(desk: Path) -> bool:
    return b"link" in (desk / ".git" / "index").read_bytes()[-4096:] and any((desk / ".git").glob("sharedindex.*"))


def test_a_big_index_is_written_split_and_stays_right(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("itsm_cli.store.gitstore.SPLIT_INDEX_FROM", 1)  # every index counts as big
    assert not _index_is_split(desk)
    r = run("new", "incident", "--title", "Printer jam", "--service", "email", cwd=desk)
    assert r.exit_code == 0, r.stderr
    assert _index_is_split(desk)
    assert status(desk) == ""  # the index agrees with the new commit and the work tree
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")
    new_id = r.stdout.strip()
    assert git(desk, "ls-files", "--", ticket_path(new_id)).strip() == ticket_path(new_id)
    # plain git keeps working on it: an ordinary commit of another file
    (desk / "notes.txt").write_text("x\n")
    git(desk, "add", "notes.txt")
    git(desk, "commit", "-q", "-m", "notes")
    assert status(desk) == "" and _index_is_split(desk)


def test_a_desk_that_says_no_split_index_gets_none(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("itsm_cli.store.gitstore.SPLIT_INDEX_FROM", 1)
    git(desk, "config", "core.splitIndex", "false")
    r = run("new", "incident", "--title", "Printer jam", "--service", "email", cwd=desk)
    assert r.exit_code == 0, r.stderr
    assert not _index_is_split(desk) and status(desk) == ""


def test_a_small_index_is_left_whole(desk: Path) -> None:
    r = run("new", "incident", "--title", "Printer jam", "--service", "email", cwd=desk)
    assert r.exit_code == 0, r.stderr
    assert not _index_is_split(desk)


def test_a_killed_object_reader_is_replaced_on_the_next_read(desk: Path) -> None:
    import signal as signals

    g = Git(desk)
    assert g.head()
    first = g.objects._proc
    assert first is not None
    assert os.getpgid(first.pid) == first.pid  # a group of its own: a terminal's Ctrl-C does not reach it
    first.send_signal(signals.SIGINT)  # as a Ctrl-C sent to it would
    first.wait(timeout=5)
    assert g.head() == git(desk, "rev-parse", "HEAD").strip()
    assert g.objects._proc is not first


def _loose_trees(desk: Path, commit: str) -> list[Path]:
    """The loose object files of the trees on the path from ``commit``'s root to its ticket bucket."""
    found = []
    for spec in (f"{commit}^{{tree}}", f"{commit}:tickets", f"{commit}:tickets/INC", f"{commit}:tickets/INC/000"):
        oid = git(desk, "rev-parse", spec).strip()
        found.append(desk / ".git" / "objects" / oid[:2] / oid[2:])
    return found


def test_the_trees_of_a_commit_are_written_as_git_writes_loose_objects(desk: Path) -> None:
    import zlib

    assert run("new", "incident", "--title", "First").exit_code == 0
    commit = head(desk)
    blob = git(desk, "rev-parse", f"{commit}:{ticket_path('INC-0001')}").strip()  # stored by git hash-object
    gits_mode = (desk / ".git" / "objects" / blob[:2] / blob[2:]).stat().st_mode & 0o777
    assert not gits_mode & 0o222
    for path in _loose_trees(desk, commit):
        assert path.is_file(), path
        assert path.stat().st_mode & 0o777 == gits_mode  # read-only, as git leaves its objects
        content = zlib.decompress(path.read_bytes())
        kind, _, rest = content.partition(b"\0")
        assert kind == b"tree %d" % len(rest)
        assert rest == subprocess.run(["git", "cat-file", "tree", path.parent.name + path.name], cwd=desk,
                                      check=True, capture_output=True).stdout
    assert not list((desk / ".git" / "objects").glob("*/tmp_obj_*"))
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")


def test_loose_compression_follows_git_config(desk: Path) -> None:
    git(desk, "config", "core.looseCompression", "0")  # stored, not deflated: the file is as long as the content
    assert run("new", "incident", "--title", "First").exit_code == 0
    bucket = _loose_trees(desk, head(desk))[-1]
    size = len(subprocess.run(["git", "cat-file", "tree", bucket.parent.name + bucket.name], cwd=desk, check=True,
                              capture_output=True).stdout)
    assert bucket.stat().st_size > size
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")


def test_a_shared_repository_leaves_writing_trees_to_git(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """core.sharedRepository decides the permissions of objects: git mktree writes them, with git's modes."""
    from desk_testing import record_calls

    git(desk, "config", "core.sharedRepository", "group")
    asked = record_calls(monkeypatch, Git, "run")
    assert run("new", "incident", "--title", "First").exit_code == 0
    assert "mktree" in asked
    for path in _loose_trees(desk, head(desk))[1:]:
        assert path.stat().st_mode & 0o040  # group-readable, as git makes a shared repository's objects
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")


def test_a_private_repository_starts_no_git_mktree(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desk_testing import record_calls

    asked = record_calls(monkeypatch, Git, "run")
    assert run("new", "incident", "--title", "First").exit_code == 0
    assert "mktree" not in asked and "commit-tree" in asked


def _loose_in_17(desk: Path, count: int) -> None:
    """Store ``count`` loose blobs whose IDs start with 17, the folder git counts to decide on an automatic gc."""
    import hashlib

    made, n = 0, 0
    while made < count:
        content = b"filler %d\n" % n
        n += 1
        if hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest().startswith("17"):
            subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=desk, input=content, check=True,
                           capture_output=True)
            made += 1


def test_a_commit_runs_gits_automatic_maintenance_when_git_would(desk: Path) -> None:
    git(desk, "config", "gc.auto", "256")  # more than one loose object in objects/17 asks for a gc
    git(desk, "config", "gc.autoDetach", "false")  # so the gc has finished when itsm has
    _loose_in_17(desk, 2)
    assert not list((desk / ".git" / "objects" / "pack").glob("*.pack"))
    assert run("new", "incident", "--title", "First").exit_code == 0
    commit = head(desk)
    assert list((desk / ".git" / "objects" / "pack").glob("*.pack"))  # gc packed what is reachable...
    assert not (desk / ".git" / "objects" / commit[:2] / commit[2:]).exists()  # ...the new commit too
    git(desk, "fsck", "--strict", "--no-dangling", "--no-progress")


@pytest.mark.parametrize("setting", [None, ("maintenance.auto", "false"), ("gc.auto", "0")])
def test_no_maintenance_is_started_when_none_is_due(
    desk: Path, monkeypatch: pytest.MonkeyPatch, setting: tuple[str, str] | None
) -> None:
    from desk_testing import record_calls

    if setting is not None:  # maintenance would be due, but the setting says git would not run it
        git(desk, "config", "gc.auto", "256")
        git(desk, "config", *setting)
        _loose_in_17(desk, 2)
    asked = record_calls(monkeypatch, Git, "run")
    assert run("new", "incident", "--title", "First").exit_code == 0
    assert "maintenance" not in asked


def test_any_maintenance_setting_leaves_the_decision_to_git(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desk_testing import record_calls

    git(desk, "config", "maintenance.strategy", "incremental")
    asked = record_calls(monkeypatch, Git, "run")
    assert run("new", "incident", "--title", "First").exit_code == 0
    assert "maintenance" in asked


def test_a_change_asks_git_its_config_and_locations_once_side_by_side(
    desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desk_testing import record_calls

    from itsm_cli.store import gitprocess

    started: list[list[str]] = []
    real_start = gitprocess.start

    def spy(args: list[str], *rest: object, **kwargs: object) -> object:
        started.append(list(args))
        return real_start(args, *rest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gitprocess, "start", spy)
    ran = record_calls(monkeypatch, Git, "run_status")
    assert run("new", "incident", "--title", "First").exit_code == 0
    assert [a[0] for a in started] == ["config", "rev-parse"]
    assert "config" not in ran and "rev-parse" not in ran  # both answers came from the early ones
    assert status(desk) == ""


def test_questions_started_early_and_never_asked_leave_no_process_behind(desk: Path) -> None:
    import gc

    g = Git(desk)
    g.prepare_commit()
    early = list(g._early.values())
    assert len(early) == 2
    del g
    gc.collect()
    assert all(s.returncode is not None for s in early)  # waited for, not left running or as zombies


# --- the index update started early -----------------------------------------------------------------


def _spied_fed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    from itsm_cli.store import gitprocess

    fed: list[list[str]] = []
    real = gitprocess.fed_later

    def spy(args: list[str], cwd: object) -> object:
        fed.append(list(args))
        return real(args, cwd)  # type: ignore[arg-type]

    monkeypatch.setattr(gitprocess, "fed_later", spy)
    return fed


def test_a_change_starts_its_index_update_under_the_lock_and_feeds_it_last(
    desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git reads the index while itsm works; the index learns the commit with stat data, as `git add` gives it."""
    fed = _spied_fed(monkeypatch)
    for args in (("new", "incident", "--title", "First"), ("comment", "INC-0001", "more")):
        r = run(*args)
        assert r.exit_code == 0, r.stderr
    assert [a[-5:] for a in fed] == [["update-index", "--add", "--remove", "-z", "--stdin"]] * 2
    assert status(desk) == "" and not (desk / ".git" / "index.lock").exists()
    assert subprocess.run(["git", "diff-files", "--quiet"], cwd=desk).returncode == 0  # stat-clean, not only equal
    debug = git(desk, "ls-files", "--debug", "--", ticket_path("INC-0001"))
    assert "mtime: 0:0" not in debug and "size: 0" not in debug
    assert git(desk, "ls-files", "-s", "--", ticket_path("INC-0001")).split()[1] == \
        git(desk, "rev-parse", f"HEAD:{ticket_path('INC-0001')}").strip()


def test_a_refused_change_leaves_the_index_byte_for_byte_and_unlocked(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fed = _spied_fed(monkeypatch)
    assert run("new", "incident", "--title", "First").exit_code == 0
    index = (desk / ".git" / "index").read_bytes()
    r = run("transition", "INC-0001", "closed")  # not allowed from new: refused after the lock was taken
    assert r.exit_code != 0 and r.stderr.startswith("itsm: error:")
    assert len(fed) == 2  # the refused change had started its update too
    assert (desk / ".git" / "index").read_bytes() == index and not (desk / ".git" / "index.lock").exists()
    git(desk, "add", "--", ticket_path("INC-0001"))  # git itself can lock the index again at once


def test_a_command_that_writes_the_index_ends_a_waiting_update_first(desk: Path) -> None:
    g = Git(desk)
    with desk_lock(desk):
        g.start_index_update()
        lock = desk / ".git" / "index.lock"
        deadline = time.monotonic() + 10
        while not lock.exists() and time.monotonic() < deadline:  # git takes it as it starts
            time.sleep(0.005)
        assert g._index_update is not None and lock.exists()
        (desk / "note.txt").write_text("x\n")
        g.run("add", "--", "note.txt")  # would fail on index.lock if the update still waited
        assert g._index_update is None
        g.run("rev-parse", "HEAD")
    assert "A  note.txt" in status(desk)


def test_no_early_index_update_with_commit_hooks_or_before_the_first_commit(desk: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-commit").chmod(0o755)
    git(desk, "config", "core.hooksPath", str(hooks))
    g = Git(desk)
    g.start_index_update()
    assert g._index_update is None
    fresh = tmp_path / "fresh"
    git(tmp_path, "init", "-q", str(fresh))
    g = Git(fresh)
    g.start_index_update()
    assert g._index_update is None


def test_an_update_never_fed_leaves_no_process_when_its_git_is_dropped(desk: Path) -> None:
    import gc

    g = Git(desk)
    g.start_index_update()
    updater = g._index_update
    assert updater is not None
    del g
    gc.collect()
    assert updater._proc.returncode is not None and not (desk / ".git" / "index.lock").exists()


def desk_lock(desk: Path):  # type: ignore[no-untyped-def]
    from itsm_cli.store.desk import Desk

    return Desk(desk).lock()
