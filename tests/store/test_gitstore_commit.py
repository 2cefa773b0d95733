"""Git.commit: the plumbing fast path makes the commit ``git commit --only`` would, and leaves the rest alone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from desk_testing import ANN, git, head, run, status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_cli.store.gitstore import Git, _without_entry


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
    (desk / "tickets" / "INC-0001.yaml").write_text((desk / "tickets" / "INC-0001.yaml").read_text() + "# edited\n")
    (desk / "kb").mkdir(exist_ok=True)
    (desk / "deep" / "er").mkdir(parents=True)
    (desk / "deep" / "er" / "note.txt").write_text("a new folder two levels down\n")
    paths = ["tickets/INC-0001.yaml", "deep/er/note.txt", "catalog/email.yaml"]
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
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == ["tickets/INC-0001.yaml"]
    assert status(desk).splitlines() == ["A  README.txt", " M itsm.yaml"]


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
    (desk / "tickets" / "INC-0001.yaml").write_text((desk / "tickets" / "INC-0001.yaml").read_text() + "# mine\n")
    theirs_before = head(desk)
    with pytest.raises(Exception, match="update-ref failed"):
        g.commit(["tickets/INC-0001.yaml"], "INC-0001: mine\n", "Ann Agent", ANN)
    assert git(desk, "log", "-1", "--format=%s").strip() == "theirs"
    assert theirs_before != head(desk)


def test_names_git_stores_but_utf8_cannot_spell_survive_a_commit(desk: Path) -> None:
    odd = os.fsencode("tickets/") + b"caf\xe9\tINC-0001.yaml"
    with open(os.path.join(os.fsencode(str(desk)), odd), "w") as f:
        f.write("not a record\n")
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "an odd name")
    before = [line for line in tree_of(desk) if b"caf" in line]
    r = run("new", "incident", "--title", "Beside it")
    assert r.exit_code == 0, r.stderr
    after = [line for line in tree_of(desk) if b"caf" in line]
    assert before == after and len(after) == 1
    assert any(line.endswith(b"\ttickets/INC-0001.yaml") for line in tree_of(desk))


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


MODES = st.sampled_from(["100644 blob", "100755 blob", "040000 tree"])
NAMES = st.text(st.characters(blacklist_characters="\0/", blacklist_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(MODES, NAMES), unique_by=lambda e: e[1], max_size=8), st.data())
def test_without_entry_removes_exactly_the_named_entry(entries: list[tuple[str, str]], data: st.DataObject) -> None:
    sha = "a" * 40
    listing = b"".join(f"{mode} {sha}\t{name}\0".encode() for mode, name in entries)
    names = [name for _, name in entries]
    target = data.draw(st.sampled_from(names) if names else NAMES)
    if names and data.draw(st.booleans()):
        target = data.draw(NAMES)  # maybe absent, maybe the tail of another name
    kept = [(mode, name) for mode, name in entries if name != target]
    expected = b"".join(f"{mode} {sha}\t{name}\0".encode() for mode, name in kept)
    assert _without_entry(listing, target.encode()) == expected


def test_without_entry_is_not_fooled_by_a_name_ending_in_a_tab_and_the_name() -> None:
    sha = "b" * 40
    decoy = f"100644 blob {sha}\tnotes\tINC-0001.yaml\0".encode()
    real = f"100644 blob {sha}\tINC-0001.yaml\0".encode()
    assert _without_entry(decoy + real, b"INC-0001.yaml") == decoy
    assert _without_entry(decoy, b"INC-0001.yaml") == decoy
