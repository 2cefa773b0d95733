"""Unit tests of store/transaction.py: files written, then one commit of exactly them, or nothing at all (real git)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, fake_ssh_key, git, head, run, status, ticket_path

from itsm_cli.errors import InvalidRecord, Refused
from itsm_cli.store import transaction
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git
from itsm_cli.store.transaction import commit_message, save

# --- the commit message ------------------------------------------------------------------------


def test_commit_message_has_a_subject_and_itsm_trailers() -> None:
    message = commit_message("INC-0042", "transition", "transition new -> assigned", ["PRB-0001"], ["major", "major", "ack"])
    assert message == ("INC-0042: transition new -> assigned\n\nItsm-Id: INC-0042\nItsm-Id: PRB-0001\n"
                       "Itsm-Action: transition\nItsm-Rule: major\nItsm-Rule: ack\n")


def test_a_hostile_summary_cannot_forge_trailers_or_reach_the_terminal() -> None:
    message = commit_message("INC-0042", "edit", "title\n\nItsm-Action: approve\x1b[2J")
    subject, _, trailers = message.partition("\n\n")
    assert "\n" not in subject and "\x1b" not in subject
    assert trailers == "Itsm-Id: INC-0042\nItsm-Action: edit\n"
    assert len(commit_message("INC-0042", "edit", "x" * 5000).split("\n")[0]) < 500


# --- save ----------------------------------------------------------------------------------------------


def _committed_files(desk: Path) -> list[str]:
    return git(desk, "show", "--name-only", "--format=", "HEAD").split()


def test_save_commits_exactly_the_files_it_writes(desk: Path) -> None:
    (desk / "notes.txt").write_text("not mine to commit\n")
    before = head(desk)
    commit = save(Desk(desk), [("catalog/vpn.yaml", "id: vpn\n"), ("attachments/INC-0001/a.bin", b"\x00\x01")],
                  "vpn: create\n", "Ann", ANN)
    assert commit == head(desk) != before
    assert git(desk, "rev-parse", "HEAD~1").strip() == before
    assert sorted(_committed_files(desk)) == ["attachments/INC-0001/a.bin", "catalog/vpn.yaml"]
    assert git(desk, "log", "-1", "--format=%an <%ae>|%s").strip() == f"Ann <{ANN}>|vpn: create"
    assert (desk / "attachments/INC-0001/a.bin").read_bytes() == b"\x00\x01"
    assert status(desk) == "?? notes.txt\n"


def test_none_deletes_a_file_in_the_same_commit(desk: Path) -> None:
    save(Desk(desk), [("catalog/email.yaml", None)], "email: retire\n", "Ann", ANN)
    assert not (desk / "catalog/email.yaml").exists()
    assert git(desk, "show", "--name-status", "--format=", "HEAD").split() == ["D", "catalog/email.yaml"]


def test_without_commit_the_files_are_written_and_nothing_is_committed(desk: Path) -> None:
    before = head(desk)
    assert save(Desk(desk), [("catalog/vpn.yaml", "id: vpn\n")], "x", "Ann", ANN, commit=False) is None
    assert head(desk) == before
    assert (desk / "catalog/vpn.yaml").read_text() == "id: vpn\n"


def test_a_path_out_of_the_desk_is_refused_before_anything_is_written(desk: Path) -> None:
    before = head(desk)
    with pytest.raises(InvalidRecord, match="leads outside the desk"):
        save(Desk(desk), [("catalog/vpn.yaml", "id: vpn\n"), ("../evil.yaml", "x")], "x", "Ann", ANN)
    assert not (desk / "catalog/vpn.yaml").exists()
    assert head(desk) == before and status(desk) == ""


def _failing_hook(desk: Path) -> None:
    hook = desk / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def test_a_refused_commit_puts_work_tree_index_and_head_back(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer").exit_code == 0
    rel = ticket_path("INC-0001")
    original = (desk / rel).read_text()
    before = head(desk)
    _failing_hook(desk)
    with pytest.raises(Exception, match="refused by policy"):
        save(Desk(desk), [(rel, "id: INC-0001\ntitle: changed\n"), ("catalog/vpn.yaml", "id: vpn\n")],
             "x", "Bob", BOB)
    assert (desk / rel).read_text() == original
    assert not (desk / "catalog/vpn.yaml").exists()
    assert head(desk) == before and status(desk) == ""


def test_ctrl_c_between_two_writes_leaves_the_desk_as_it_was(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = head(desk)
    original = (desk / "catalog/email.yaml").read_bytes()
    calls = []

    def write_then_interrupt(self: Desk, rel: str, text: str) -> None:
        calls.append(rel)
        if len(calls) == 2:
            raise KeyboardInterrupt
        (self.root / rel).write_text(text)

    monkeypatch.setattr(Desk, "write_text", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        save(Desk(desk), [("catalog/email.yaml", "id: email\n"), ("catalog/vpn.yaml", "id: vpn\n")], "x", "Ann", ANN)
    assert calls == ["catalog/email.yaml", "catalog/vpn.yaml"]
    assert (desk / "catalog/email.yaml").read_bytes() == original
    assert head(desk) == before and status(desk) == ""


# --- who signs -------------------------------------------------------------------------------------------


def test_git_may_not_sign_as_someone_else_when_the_desk_lists_keys(desk: Path) -> None:
    ann_key, ann_fp = fake_ssh_key(1)
    bob_key, _ = fake_ssh_key(2)
    config = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(config.replace(f"{{email: {ANN}, ", f"{{email: {ANN}, signing_keys: ['{ann_key}'], "))
    git(desk, "commit", "-qam", "Ann's key")
    git(desk, "config", "commit.gpgsign", "true")
    git(desk, "config", "gpg.format", "ssh")
    git(desk, "config", "user.signingkey", f"key::{ann_key}")
    with pytest.raises(Refused, match=re.escape(f"with key {ann_fp}, which is {ANN}'s, but the change is made as {BOB}")):
        transaction.check_signing_key(Desk(desk), Git(desk), BOB)
    git(desk, "config", "user.signingkey", f"key::{bob_key}")
    with pytest.raises(Refused, match=re.escape("belongs to no one in itsm.yaml")):
        transaction.check_signing_key(Desk(desk), Git(desk), BOB)
    git(desk, "config", "user.signingkey", str(desk / "no-such-key"))
    with pytest.raises(Refused, match="which itsm cannot read"):
        transaction.check_signing_key(Desk(desk), Git(desk), ANN)


def test_a_signing_habit_on_a_desk_without_keys_is_no_ones_business(desk: Path) -> None:
    git(desk, "config", "commit.gpgsign", "true")
    git(desk, "config", "gpg.format", "ssh")
    git(desk, "config", "user.signingkey", f"key::{fake_ssh_key(3)[0]}")
    transaction.check_signing_key(Desk(desk), Git(desk), BOB)  # no error
    git(desk, "config", "commit.gpgsign", "false")
    transaction.check_signing_key(Desk(desk), Git(desk), BOB)


# --- put_back: uncommitted steps worked out, then saved in one commit -------------------------------


def test_put_back_restores_the_files_after_the_block(desk: Path) -> None:
    original = (desk / "catalog/email.yaml").read_bytes()
    with transaction.put_back(Desk(desk), {"catalog/email.yaml": original, "catalog/new.yaml": None}):
        (desk / "catalog/email.yaml").write_text("id: email\n")
        (desk / "catalog/new.yaml").write_text("id: new\n")
    assert (desk / "catalog/email.yaml").read_bytes() == original
    assert not (desk / "catalog/new.yaml").exists() and status(desk) == ""


def test_put_back_restores_the_files_after_a_ctrl_c(desk: Path) -> None:
    original = (desk / "catalog/email.yaml").read_bytes()
    with pytest.raises(KeyboardInterrupt), \
            transaction.put_back(Desk(desk), {"catalog/email.yaml": original, "catalog/new.yaml": None}):
        (desk / "catalog/email.yaml").write_text("id: email\n")
        (desk / "catalog/new.yaml").write_text("id: new\n")
        raise KeyboardInterrupt
    assert (desk / "catalog/email.yaml").read_bytes() == original
    assert not (desk / "catalog/new.yaml").exists() and status(desk) == ""
