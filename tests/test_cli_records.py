"""The record commands end to end, on real git desks: life cycles, commits, formats, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import click
import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, DAN, EVE, git, head, make_desk, run, status

from itsm_cli.cli import cli


def test_every_command_has_help_and_a_docstring() -> None:
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None and command.help, f"{name} has no help text"
        r = run(name, "--help")
        assert r.exit_code == 0, (name, r.stderr)
        assert "Usage:" in r.stdout


def test_version() -> None:
    r = run("--version")
    assert r.exit_code == 0
    assert r.stdout.startswith("itsm, version ")


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    from desk_testing import itsm_subprocess

    p = itsm_subprocess("--help", cwd=tmp_path)
    assert p.returncode == 0 and "transition" in p.stdout


def test_init_makes_a_desk_with_one_commit(tmp_path: Path) -> None:
    r = run("init", str(tmp_path / "d"))
    assert r.exit_code == 0, r.stderr
    d = tmp_path / "d"
    for item in ("itsm.yaml", "schemas/config.schema.json", "tickets", "catalog", "kb", "mkdocs.yml",
                 ".github/workflows/validate.yml", ".gitattributes"):
        assert (d / item).exists(), item
    assert git(d, "rev-list", "--count", "HEAD").strip() == "1"
    assert status(d) == ""
    assert run("validate", cwd=d).exit_code == 0
    again = run("init", str(d))
    assert again.exit_code == 1 and "already holds a desk" in again.stderr


def test_not_a_desk_is_an_environment_error(tmp_path: Path) -> None:
    r = run("list", cwd=tmp_path)
    assert r.exit_code == 3
    assert r.stderr.startswith("itsm: error: not an itsm desk")


def test_incident_life_cycle_one_commit_per_change(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = int(git(desk, "rev-list", "--count", "HEAD"))
    r = run("--as", EVE, "new", "incident", "--title", "VPN drops every hour", "--impact", "medium", "--urgency", "high")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "INC-0001\n"
    steps = [
        ("assign", "INC-0001", BOB, "--group", "service-desk"),
        ("transition", "INC-0001", "in_progress"),
        ("transition", "INC-0001", "on_hold", "--note", "waiting for the user"),
        ("transition", "INC-0001", "assigned"),
        ("comment", "INC-0001", "Replaced the client profile"),
        ("transition", "INC-0001", "resolved", "--set", "resolution=New VPN profile"),
        ("transition", "INC-0001", "closed"),
    ]
    for i, step in enumerate(steps):
        monkeypatch.setenv("ITSM_NOW", f"2026-03-02T1{i}:00:00Z")
        r = run(*step)
        assert r.exit_code == 0, (step, r.stderr)
        assert r.stdout == "INC-0001\n"
    assert int(git(desk, "rev-list", "--count", "HEAD")) == base + 1 + len(steps)
    data = yaml.safe_load((desk / "tickets/INC/000/INC-0001.yaml").read_text())
    assert data["status"] == "closed"
    assert data["priority"] == "P2"
    assert data["requester"] == EVE
    assert [e["action"] for e in data["history"]] == ["create", "assign", "transition", "transition", "transition", "comment", "transition", "transition"]
    assert data["updated"] == "2026-03-02T16:00:00Z"
    message = git(desk, "log", "-1", "--format=%an <%ae>%n%B")
    assert message.startswith(f"Ann Agent <{ANN}>\nINC-0001: transition resolved -> closed")
    assert "Itsm-Id: INC-0001" in message and "Itsm-Action: transition" in message
    assert status(desk) == ""
    assert run("validate").exit_code == 0


def test_timestamps_are_quoted_and_a_change_is_a_small_diff(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("new", "incident", "--title", "Printer jam")
    text = (desk / "tickets/INC/000/INC-0001.yaml").read_text()
    assert "created: '2026-03-02T09:00:00Z'" in text
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:30:00Z")
    run("comment", "INC-0001", "Cleared it")
    diff = git(desk, "diff", "HEAD~1", "--numstat").split()
    assert diff[:2] == ["5", "1"]  # four history lines + updated, one old updated line


def test_illegal_transition_names_the_legal_ones(desk: Path) -> None:
    run("new", "incident", "--title", "x")
    before = head(desk)
    r = run("transition", "INC-0001", "closed")
    assert r.exit_code == 1
    assert "cannot move from 'new' to 'closed'" in r.stderr
    assert "legal next states: assigned, in_progress, resolved, cancelled" in r.stderr
    assert head(desk) == before and status(desk) == ""


def test_state_requirements_are_named(desk: Path) -> None:
    run("new", "incident", "--title", "x")
    r = run("transition", "INC-0001", "resolved")
    assert r.exit_code == 1
    assert "'resolved' requires resolution; add --set resolution=..." in r.stderr


def test_only_agents_take_agent_transitions(desk: Path) -> None:
    run("new", "incident", "--title", "x")
    r = run("--as", EVE, "transition", "INC-0001", "in_progress")
    assert r.exit_code == 1 and "needs: agent" in r.stderr
    assert run("--as", EVE, "transition", "INC-0001", "cancelled").exit_code == 0


def test_no_commit_leaves_the_change_in_the_work_tree(desk: Path) -> None:
    before = head(desk)
    r = run("new", "incident", "--title", "draft", "--no-commit")
    assert r.exit_code == 0 and r.stdout == "INC-0001\n"
    assert head(desk) == before
    assert "?? tickets/INC/000/INC-0001.yaml" in status(desk)


def test_new_format_json_prints_the_record(desk: Path) -> None:
    r = run("new", "problem", "--title", "Disk fills up", "--format", "json")
    record = json.loads(r.stdout)
    assert record["id"] == "PRB-0001" and record["status"] == "new" and record["history"][0]["action"] == "create"


def test_description_from_stdin(desk: Path) -> None:
    r = run("new", "incident", "--title", "x", "--description", "-", input="line one\nline two\n")
    assert r.exit_code == 0
    assert run("show", "INC-0001", "--format", "json").stdout.count("line one") == 1
    text = (desk / "tickets/INC/000/INC-0001.yaml").read_text()
    assert "description: |\n  line one\n  line two\n" in text


def test_show_formats(desk: Path) -> None:
    run("new", "incident", "--title", "Laptop slow")
    assert json.loads(run("show", "INC-0001", "--format", "json").stdout)["title"] == "Laptop slow"
    assert yaml.safe_load(run("show", "INC-0001", "--format", "yaml").stdout)["id"] == "INC-0001"
    table = run("show", "INC-0001").stdout
    assert table.startswith("INC-0001  Laptop slow") and "History" in table


def test_unknown_and_malformed_ids(desk: Path) -> None:
    r = run("show", "INC-0099")
    assert r.exit_code == 1 and "no record INC-0099" in r.stderr
    assert run("show", "inc-0001").exit_code == 1  # a valid service id, but no such service
    for bad in ("../../etc/passwd", "INC-1\n", "INC_0001", "/etc/passwd", "INC-0001/../../x"):
        r = run("show", bad)
        assert r.exit_code == 2, bad
        assert r.stderr.startswith("itsm: error:") and "not a valid ID" in r.stderr


def test_usage_errors_exit_2(desk: Path) -> None:
    assert run("list", "--limit", "0").exit_code == 2
    assert run("new", "incident").exit_code == 2  # --title missing
    r = run("frobnicate")
    assert r.exit_code == 2 and r.stderr.startswith("itsm: error:")
    assert run("new", "incident", "--title", "x", "--set", "Bad Field=1").exit_code == 2
    assert run("new", "incident", "--title", "x", "--impact", "huge").exit_code == 2
    assert run("new", "widget", "--title", "x").exit_code == 1


def _seed(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")
    run("new", "incident", "--title", "Mail down for Lisbon", "--service", "email", "--impact", "high", "--urgency", "high")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
    run("new", "incident", "--title", "Printer offline", "--impact", "low", "--urgency", "low")
    run("assign", "INC-0002", BOB)
    run("new", "request", "--title", "New distribution list", "--service", "email", "--offering", "distribution-list")
    run("new", "incident", "--title", "Calendar sync", "--service", "email")
    run("assign", "INC-0003", BOB)
    run("transition", "INC-0003", "resolved", "--set", "resolution=Resynced")
    run("comment", "INC-0001", "The MX record was wrong", "--internal")
    run("comment", "INC-0002", "Toner replaced in the basement")


def test_list_filters_search_sort_limit(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(desk, monkeypatch)

    def ids(*args: str) -> list[str]:
        r = run("list", *args, "--format", "json")
        assert r.exit_code == 0, r.stderr
        return [rec["id"] for rec in json.loads(r.stdout)]

    assert ids() == ["INC-0001", "INC-0002", "INC-0003", "REQ-0001"]
    assert ids("incident") == ["INC-0001", "INC-0002", "INC-0003"]
    assert ids("--service", "email") == ["INC-0001", "INC-0003", "REQ-0001"]
    assert ids("--assignee", BOB) == ["INC-0002", "INC-0003"]
    assert ids("--assignee", "none") == ["INC-0001", "REQ-0001"]
    assert ids("--status", "resolved") == ["INC-0003"]
    assert ids("--open") == ["INC-0001", "INC-0002", "REQ-0001"]
    assert ids("--closed") == ["INC-0003"]
    assert ids("--priority", "P1") == ["INC-0001"]
    assert ids("--search", "TONER") == ["INC-0002"]  # public comment
    assert ids("--search", "mx record") == []  # internal comments are not searched
    assert ids("--search", "mail lisbon") == ["INC-0001"]
    assert ids("--sort", "-priority", "--limit", "2") == ["INC-0002", "INC-0003"]
    assert ids("--sort", "title") == ["INC-0003", "INC-0001", "REQ-0001", "INC-0002"]


def test_list_table_and_csv(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(desk, monkeypatch)
    table = run("list").stdout.splitlines()
    assert table[0].split() == ["ID", "TYPE", "STATUS", "PRIORITY", "ASSIGNEE", "SERVICE", "UPDATED", "TITLE"]
    assert len(table) == 5
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv").stdout)))
    assert rows[1]["id"] == "INC-0002" and rows[1]["assignee"] == BOB
    assert "\x1b[" not in run("list").stdout  # no colour when not a terminal


def test_identity_precedence(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("--as", CAROL, "new", "incident", "--title", "a")
    monkeypatch.setenv("ITSM_USER", DAN)
    run("new", "incident", "--title", "b")
    monkeypatch.delenv("ITSM_USER")
    git(desk, "config", "user.email", BOB)
    run("new", "incident", "--title", "c")
    requesters = [json.loads(run("show", f"INC-000{i}", "--format", "json").stdout)["requester"] for i in (1, 2, 3)]
    assert requesters == [CAROL, DAN, BOB]
    git(desk, "config", "--unset", "user.email")
    r = run("new", "incident", "--title", "d")
    assert r.exit_code == 2 and "who is acting" in r.stderr
    assert run("--as", "not-an-email", "new", "incident", "--title", "e").exit_code == 2


def test_bad_clock_is_a_usage_error(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "yesterday")
    r = run("new", "incident", "--title", "x")
    assert r.exit_code == 2 and "ITSM_NOW" in r.stderr


def test_comment_internal_link_and_edit(desk: Path) -> None:
    run("new", "incident", "--title", "a")
    run("new", "problem", "--title", "root")
    assert run("comment", "INC-0001", "secret", "--internal").exit_code == 0
    assert run("link", "INC-0001", "caused-by", "PRB-0001").exit_code == 0
    assert run("link", "INC-0001", "caused-by", "PRB-0001").exit_code == 1  # already linked
    assert run("link", "INC-0001", "caused-by", "PRB-0042").exit_code == 1  # no such record
    assert run("link", "INC-0001", "blames", "PRB-0001").exit_code == 2
    assert run("edit", "INC-0001", "--set", "impact=high", "--set", "urgency=high").exit_code == 0
    data = json.loads(run("show", "INC-0001", "--format", "json").stdout)
    assert data["links"] == [{"kind": "caused-by", "id": "PRB-0001"}]
    assert data["priority"] == "P1"
    assert data["history"][1] == {"at": "2026-03-02T09:00:00Z", "by": ANN, "action": "comment", "note": "secret", "internal": True}
    for protected in ("status=closed", "id=INC-0009", "requester=x@y.z", "priority=P5"):
        r = run("edit", "INC-0001", "--set", protected)
        assert r.exit_code == 2 and "cannot be set directly" in r.stderr
    assert run("edit", "INC-0001", "--set", "impact=high").exit_code == 1  # nothing changes


def test_closed_records_are_frozen(desk: Path) -> None:
    run("new", "incident", "--title", "a")
    run("transition", "INC-0001", "cancelled")
    for args in (("comment", "INC-0001", "late"), ("edit", "INC-0001", "--set", "title=b"), ("assign", "INC-0001", BOB)):
        r = run(*args)
        assert r.exit_code == 1 and "closed state" in r.stderr


def test_assignment_needs_listed_agents_and_known_groups(desk: Path) -> None:
    run("new", "incident", "--title", "a")
    assert run("assign", "INC-0001", EVE).exit_code == 1
    assert run("assign", "INC-0001", "--group", "nope").exit_code == 1
    assert run("assign", "INC-0001", CAROL).exit_code == 1  # an approver, not an agent
    assert run("assign", "INC-0001", BOB, "--group", "cab").exit_code == 1  # not a member
    assert run("--as", EVE, "assign", "INC-0001", BOB).exit_code == 1  # only agents assign
    assert run("assign", "INC-0001", BOB, "--group", "service-desk").exit_code == 0


def _change_awaiting_approval(change_class: str = "normal") -> None:
    run("--as", BOB, "new", "change", "--title", "Upgrade mail relay", "--set", f"change_class={change_class}")
    run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling upgrade")
    run("assign", "CHG-0001", ANN)


def test_approval_separation_of_duties(desk: Path) -> None:
    _change_awaiting_approval()
    assert run("transition", "CHG-0001", "approved").exit_code == 1  # needs the CAB
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 0
    r = run("--as", BOB, "approve", "CHG-0001")
    assert r.exit_code == 1 and "not a member of the approving group 'cab'" in r.stderr
    r = run("--as", ANN, "approve", "CHG-0001")
    assert r.exit_code == 1 and "is the assignee" in r.stderr
    before = head(desk)
    r = run("--as", CAROL, "approve", "CHG-0001", "--note", "Go")
    assert r.exit_code == 0
    data = json.loads(run("show", "CHG-0001", "--format", "json").stdout)
    assert data["status"] == "approved"
    assert data["history"][-1]["group"] == "cab"
    assert head(desk) != before
    assert run("validate").exit_code == 0


def test_requester_cannot_approve_their_own(desk: Path) -> None:
    run("--as", CAROL, "new", "request", "--title", "Team mailbox", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    run("transition", "REQ-0001", "awaiting_approval")
    r = run("--as", CAROL, "approve", "REQ-0001")
    assert r.exit_code == 1 and "is the requester" in r.stderr
    assert run("--as", DAN, "reject", "REQ-0001").exit_code == 2  # --note is required
    r = run("--as", DAN, "reject", "REQ-0001", "--note", "Use a distribution list")
    assert r.exit_code == 0
    assert json.loads(run("show", "REQ-0001", "--format", "json").stdout)["status"] == "rejected"


def test_standard_changes_are_pre_approved(desk: Path) -> None:
    """Pre-approved by a standard-change model the CAB approved (itsm.yaml); without one the change is refused."""
    r = run("--as", BOB, "new", "change", "--title", "Upgrade mail relay", "--set", "change_class=standard")
    assert r.exit_code == 1 and "a standard change must name its pre-authorised model" in r.stderr
    model = ('standard_changes:\n  - {id: relay-upgrade, title: Mail relay upgrade, risk: low, approved_by: carol@example.com,'
             ' approved_at: "2026-02-10T14:00:00Z"}\n')
    (desk / "itsm.yaml").write_text((desk / "itsm.yaml").read_text().replace("standard_changes: []\n", model, 1))
    git(desk, "commit", "-qam", "CAB: standard-change model")
    run("--as", BOB, "new", "change", "--title", "Upgrade mail relay", "--set", "change_class=standard",
        "--set", "standard_model=relay-upgrade")
    run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling upgrade")
    run("assign", "CHG-0001", ANN)
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 1
    assert run("transition", "CHG-0001", "approved").exit_code == 0


def test_offering_without_approval_skips_to_approved(desk: Path) -> None:
    run("new", "request", "--title", "List", "--service", "email", "--offering", "distribution-list")
    assert run("transition", "REQ-0001", "awaiting_approval").exit_code == 1
    assert run("transition", "REQ-0001", "approved").exit_code == 0


def test_two_approvals_when_configured(desk: Path) -> None:
    config = (desk / "itsm.yaml").read_text().replace("      group: cab\n      count: 1\n", "      group: cab\n      count: 2\n", 1)
    (desk / "itsm.yaml").write_text(config)
    git(desk, "commit", "-qam", "two CAB approvals")
    _change_awaiting_approval()
    run("transition", "CHG-0001", "awaiting_approval")
    assert run("--as", CAROL, "approve", "CHG-0001").exit_code == 0
    assert json.loads(run("show", "CHG-0001", "--format", "json").stdout)["status"] == "awaiting_approval"
    assert run("--as", CAROL, "approve", "CHG-0001").exit_code == 1  # same person twice
    assert run("--as", DAN, "approve", "CHG-0001").exit_code == 0
    assert json.loads(run("show", "CHG-0001", "--format", "json").stdout)["status"] == "approved"
    assert run("validate").exit_code == 0


def test_a_refused_commit_restores_work_tree_and_index(desk: Path) -> None:
    run("new", "incident", "--title", "a")
    hook = desk / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    hook.chmod(0o755)
    before_head, before_status = head(desk), status(desk)
    before_file = (desk / "tickets/INC/000/INC-0001.yaml").read_bytes()
    r = run("comment", "INC-0001", "hello")
    assert r.exit_code == 3
    assert "git commit failed: refused by policy" in r.stderr
    assert head(desk) == before_head and status(desk) == before_status
    assert (desk / "tickets/INC/000/INC-0001.yaml").read_bytes() == before_file
    r = run("new", "incident", "--title", "b")
    assert r.exit_code == 3
    assert not (desk / "tickets/INC/000/INC-0002.yaml").exists()
    assert status(desk) == before_status
    assert not [p for p in (desk / "tickets").iterdir() if p.name.endswith(".tmp")]


def test_held_index_lock_fails_cleanly(desk: Path) -> None:
    run("new", "incident", "--title", "a")
    (desk / ".git/index.lock").write_text("")
    before = (desk / "tickets/INC/000/INC-0001.yaml").read_bytes()
    r = run("comment", "INC-0001", "hello")
    assert r.exit_code == 3 and r.stderr.startswith("itsm: error: git")
    os.unlink(desk / ".git/index.lock")
    assert (desk / "tickets/INC/000/INC-0001.yaml").read_bytes() == before
    assert status(desk) == ""


def test_new_ids_skip_ids_used_on_other_branches(desk: Path) -> None:
    git(desk, "checkout", "-q", "-b", "other")
    run("new", "incident", "--title", "on other")
    run("new", "incident", "--title", "on other too")
    git(desk, "checkout", "-q", "main")
    r = run("new", "incident", "--title", "on main")
    assert r.stdout == "INC-0003\n"


def test_new_ids_step_over_uncommitted_records_and_follow_the_highest_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outer = tmp_path / "repo"
    desk = make_desk(outer / "it" / "desk")  # a desk in a folder of a larger repository
    shutil.rmtree(desk / ".git")
    git(outer, "init", "-q", "-b", "main")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "repository")
    monkeypatch.chdir(desk)
    assert run("new", "incident", "--title", "one").stdout == "INC-0001\n"
    assert run("new", "incident", "--title", "two", "--no-commit").stdout == "INC-0002\n"
    assert run("new", "incident", "--title", "three").stdout == "INC-0003\n"  # INC-0002 is only on disk
    assert run("new", "problem", "--title", "own numbers").stdout == "PRB-0001\n"
    git(outer, "checkout", "-q", "-b", "far")
    (desk / "tickets/INC/000/INC-0041.yaml").write_text((desk / "tickets/INC/000/INC-0001.yaml").read_text().replace("INC-0001", "INC-0041"))
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "a far number on another branch")
    git(outer, "update-ref", "refs/remotes/origin/far", "HEAD")  # and on a remote-tracking ref
    git(outer, "checkout", "-q", "main")
    git(outer, "branch", "-q", "-D", "far")
    assert run("new", "incident", "--title", "after the far one").stdout == "INC-0042\n"


def test_highest_number_in_a_raw_tree_reads_only_whole_names() -> None:
    from itsm_cli.core.ids import BUCKET_PATTERN, highest_bucket, highest_number, number_pattern
    from itsm_cli.store.gitstore import tree_names

    sha = b"\x01" * 20
    tree = b"".join(b"100644 " + name + b"\0" + sha for name in
                    [b"INC-0007.yaml", b"INC-0100.yaml.bak", b"XINC-0900.yaml", b"INC-12.yaml", b"PRB-5000.yaml"])
    assert highest_number(tree_names(tree, number_pattern("INC"))) == 12  # .bak is not a record file; INC-12 is 12
    assert highest_number(tree_names(tree, number_pattern("KB"))) == 0
    folders = b"".join(b"40000 " + name + b"\0" + sha for name in [b"000", b"012", b"12", b"abc"])
    assert highest_bucket(tree_names(folders + tree, BUCKET_PATTERN, subtrees=True)) == "012"
    assert highest_bucket(tree_names(tree, BUCKET_PATTERN, subtrees=True)) is None


def test_init_with_a_name_writes_a_valid_config(tmp_path: Path) -> None:
    r = run("init", str(tmp_path / "d"), "--name", "Acme IT: Service Desk")
    assert r.exit_code == 0, r.stderr
    assert run("validate", cwd=tmp_path / "d").exit_code == 0
    assert yaml.safe_load((tmp_path / "d/itsm.yaml").read_text())["desk"]["name"] == "Acme IT: Service Desk"


def test_list_format_ids_prints_one_id_a_line(desk: Path) -> None:
    """SPEC section 3: `list --format ids`, for xargs and for commands that take `-`."""
    for title in ("One", "Two", "Three"):
        assert run("new", "incident", "--title", title).exit_code == 0
    r = run("list", "--format", "ids")
    assert r.exit_code == 0 and r.stdout == "INC-0001\nINC-0002\nINC-0003\n"
    assert run("list", "--format", "ids", "--search", "Two").stdout == "INC-0002\n"
    assert run("list", "--format", "ids", "--search", "no such words").stdout == ""
