"""``itsm validate``: each rule with a failing example, the three output formats, and ``--base``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, git, run

GOOD_INCIDENT = {
    "id": "INC-0001", "type": "incident", "title": "Mail is slow", "status": "assigned",
    "created": "2026-03-02T09:00:00Z", "updated": "2026-03-02T09:10:00Z", "requester": "eve@example.com",
    "service": "email", "impact": "medium", "urgency": "medium", "priority": "P3", "assignee": BOB,
    "group": "service-desk",
    "history": [
        {"at": "2026-03-02T09:00:00Z", "by": "eve@example.com", "action": "create", "to": "new"},
        {"at": "2026-03-02T09:05:00Z", "by": ANN, "action": "assign", "fields": {"assignee": BOB, "group": "service-desk"}},
        {"at": "2026-03-02T09:10:00Z", "by": ANN, "action": "transition", "from": "new", "to": "assigned"},
    ],
}


def write(desk: Path, rel: str, data: dict | str) -> None:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    (desk / rel).parent.mkdir(parents=True, exist_ok=True)
    (desk / rel).write_text(text)


def problems(*args: str) -> list[dict]:
    r = run("validate", "--format", "json", *args)
    report = json.loads(r.stdout)
    assert r.exit_code == (0 if report["ok"] else 1)
    return report["problems"]


def messages(*args: str) -> list[str]:
    return [p["message"] for p in problems(*args)]


def with_changes(**changes: object) -> dict:
    data = json.loads(json.dumps(GOOD_INCIDENT))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return data


def test_a_good_record_passes(desk: Path) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", GOOD_INCIDENT)
    assert problems() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": None}, "'title' is required"),
        ({"colour": "red"}, "unknown field ('colour' was unexpected)"),
        ({"created": "2026-03-02"}, "created: '2026-03-02' is not "),
        ({"requester": "not an address"}, "requester"),
        ({"status": "bogus"}, "'bogus' is not a state of incident"),
        ({"status": "in_progress"}, "status is 'in_progress' but the history ends in 'assigned'"),
        ({"priority": "P1"}, "priority should be P3 (impact medium x urgency medium), not P1"),
        ({"impact": "enormous"}, "impact 'enormous' is not one of: high, medium, low"),
        ({"service": "fax"}, "unknown service 'fax'"),
        ({"offering": "shared-mailbox-xl"}, "service 'email' has no offering 'shared-mailbox-xl'"),
        ({"assignee": "eve@example.com"}, "assignee eve@example.com is not a listed agent"),
        ({"group": "night-shift"}, "unknown group 'night-shift'"),
        ({"links": [{"kind": "caused-by", "id": "PRB-0404"}]}, "link target PRB-0404 does not exist"),
        ({"links": [{"kind": "blames", "id": "PRB-0404"}]}, "links"),
        ({"id": "INC-0002"}, "file name must equal the ID: file is INC-0001, id is 'INC-0002'"),
        ({"type": "change"}, "change_class"),
    ],
)
def test_each_record_rule_has_a_failing_example(desk: Path, changes: dict, expected: str) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", with_changes(**changes))
    found = messages()
    assert any(expected in m for m in found), found


@pytest.mark.parametrize(
    ("history_change", "expected"),
    [
        (lambda h: h[2].update({"from": "new", "to": "closed"}), "cannot move from 'new' to 'closed'"),
        (lambda h: h[2].update({"by": "eve@example.com"}), "may not move it from 'new' to 'assigned' (needs: agent)"),
        (lambda h: h[1].update({"at": "2026-03-01T09:00:00Z"}), "is earlier than the entry before it"),
        (lambda h: h[0].update({"action": "comment"}), "the first history entry must be 'create'"),
        (lambda h: h[2].update({"from": "on_hold"}), "moved from 'on_hold' but the record was 'new'"),
        (lambda h: h[1].update({"by": "eve@example.com"}), "is not a listed agent and cannot assign"),
    ],
)
def test_history_is_replayed_step_by_step(desk: Path, history_change, expected: str) -> None:
    data = with_changes()
    history_change(data["history"])
    write(desk, "tickets/INC/000/INC-0001.yaml", data)
    found = messages()
    assert any(expected in m for m in found), found


def test_state_requirements_are_enforced_on_files(desk: Path) -> None:
    data = with_changes(status="resolved")
    data["history"].append({"at": "2026-03-02T10:00:00Z", "by": BOB, "action": "transition", "from": "assigned", "to": "resolved"})
    write(desk, "tickets/INC/000/INC-0001.yaml", data)
    assert any("state 'resolved' requires 'resolution'" in m for m in messages())


def test_hand_written_approval_by_the_requester_is_caught(desk: Path) -> None:
    run("--as", CAROL, "new", "request", "--title", "Mailbox", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    run("transition", "REQ-0001", "awaiting_approval")
    path = desk / "tickets/REQ/000/REQ-0001.yaml"
    data = yaml.safe_load(path.read_text())
    data["history"].append({"at": "2026-03-02T09:30:00Z", "by": CAROL, "action": "approve", "from": "awaiting_approval", "to": "approved"})
    data["status"] = "approved"
    write(desk, "tickets/REQ/000/REQ-0001.yaml", data)
    assert any("is the requester and cannot approve" in m for m in messages())


def test_every_problem_is_reported_with_line_and_column(desk: Path) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", with_changes(priority="P1", group="night-shift"))
    r = run("validate")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    text = (desk / "tickets/INC/000/INC-0001.yaml").read_text().splitlines()
    group_line = next(i for i, t in enumerate(text, 1) if t.startswith("group:"))
    assert f"tickets/INC/000/INC-0001.yaml:{group_line}:1: unknown group 'night-shift'" in lines
    assert "itsm: 3 file(s) checked, 2 problem(s)" in r.stderr


def test_github_annotations(desk: Path) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", with_changes(group="night-shift"))
    r = run("validate", "--format", "github")
    assert r.exit_code == 1
    assert r.stdout.startswith("::error file=tickets/INC/000/INC-0001.yaml,line=")
    assert "::unknown group 'night-shift'" in r.stdout


def test_malformed_yaml_is_located(desk: Path) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", "id: INC-0001\ntitle: [unclosed\n")
    write(desk, "tickets/INC/000/INC-0002.yaml", "id: INC-0002\nid: INC-0002\n")
    found = problems()
    assert {(p["path"], p["line"]) for p in found} >= {("tickets/INC/000/INC-0002.yaml", 2)}
    assert any(p["path"] == "tickets/INC/000/INC-0001.yaml" and "malformed YAML" in p["message"] for p in found)
    assert any("duplicate key 'id'" in p["message"] for p in found)


def test_validate_named_paths_only(desk: Path) -> None:
    write(desk, "tickets/INC/000/INC-0001.yaml", GOOD_INCIDENT)
    write(desk, "tickets/INC/000/INC-0002.yaml", with_changes(id="INC-0002", group="night-shift"))
    assert run("validate", "tickets/INC/000/INC-0001.yaml").exit_code == 0
    assert run("validate", "tickets/INC/000/INC-0002.yaml").exit_code == 1


def test_service_rules(desk: Path) -> None:
    svc = yaml.safe_load((desk / "catalog/email.yaml").read_text())
    write(desk, "catalog/identity.yaml", {**svc, "id": "identity", "name": "Identity", "depends_on": ["email"]})
    write(desk, "catalog/email.yaml", {**svc, "depends_on": ["identity", "ghost"], "support_hours": "lunar"})
    found = messages()
    assert any("dependency cycle: email -> identity -> email" in m for m in found), found
    assert any("unknown service 'ghost'" in m for m in found)
    assert any("unknown calendar 'lunar'" in m for m in found)


def test_config_problems_are_located_in_itsm_yaml(desk: Path) -> None:
    config = (desk / "itsm.yaml").read_text().replace("initial: new\n", "initial: newish\n", 1)
    (desk / "itsm.yaml").write_text(config)
    found = problems()
    assert found[0]["path"] == "itsm.yaml"
    assert "initial state 'newish' is not one of its states" in found[0]["message"]
    assert found[0]["line"] > 1


def test_implicit_types_never_convert(desk: Path) -> None:
    text = yaml.safe_dump(GOOD_INCIDENT, sort_keys=False).replace("'2026-03-02T09:00:00Z'", "2026-03-02T09:00:00Z", 1)
    write(desk, "tickets/INC/000/INC-0001.yaml", text)
    assert problems() == []  # an unquoted timestamp stays the same string


# --- --base: what only a diff can see ------------------------------------------------


@pytest.fixture
def pr(desk: Path) -> Path:
    """A desk with one incident on main and a feature branch checked out."""
    run("new", "incident", "--title", "Base incident")
    git(desk, "checkout", "-q", "-b", "feature")
    return desk


def test_base_accepts_a_normal_change(pr: Path) -> None:
    run("comment", "INC-0001", "More detail")
    run("new", "incident", "--title", "Another")
    r = run("validate", "--base", "main")
    assert r.exit_code == 0, r.stdout
    assert "3 file(s) checked" in r.stderr  # config + the two changed records


def test_base_catches_rewritten_history(pr: Path) -> None:
    path = pr / "tickets/INC/000/INC-0001.yaml"
    path.write_text(path.read_text().replace("action: create", "action: create\n    note: forged", 1))
    found = messages("--base", "main")
    assert any("history[0] was rewritten; history is append-only" in m for m in found), found


def test_base_catches_identity_changes_and_deletion(pr: Path) -> None:
    run("new", "incident", "--title", "Second")
    git(pr, "checkout", "-q", "main")
    git(pr, "merge", "-q", "feature")
    git(pr, "checkout", "-q", "feature")
    path = pr / "tickets/INC/000/INC-0001.yaml"
    path.write_text(path.read_text().replace(f"requester: {ANN}", "requester: mallory@example.com"))
    (pr / "tickets/INC/000/INC-0002.yaml").unlink()
    found = messages("--base", "main")
    assert any("'requester' may never change" in m for m in found), found
    assert any("records are never deleted" in m for m in found), found


def test_base_freezes_records_closed_at_the_base(pr: Path) -> None:
    git(pr, "checkout", "-q", "main")
    run("transition", "INC-0001", "cancelled")
    git(pr, "checkout", "-q", "feature")
    git(pr, "merge", "-q", "main")
    path = pr / "tickets/INC/000/INC-0001.yaml"
    path.write_text(path.read_text().replace("title: Base incident", "title: Rewritten"))
    found = messages("--base", "main")
    assert any("(a closed state) at the base and may not change" in m for m in found), found


def test_base_reports_ids_used_by_another_branch_with_the_fix(pr: Path) -> None:
    git(pr, "checkout", "-q", "-b", "colleague", "main")
    run("new", "incident", "--title", "Colleague's incident", "--no-commit")
    git(pr, "add", "-A")
    git(pr, "commit", "-qm", "colleague")  # a hand-made commit, as from another clone
    git(pr, "checkout", "-q", "feature")
    (pr / "tickets/INC/000/INC-0002.yaml").write_text(
        (pr / "tickets/INC/000/INC-0001.yaml").read_text().replace("INC-0001", "INC-0002").replace("Base incident", "Mine")
    )
    found = messages("--base", "main")
    assert any("INC-0002 is also used by a different record on colleague; run: itsm renumber INC-0002" in m for m in found), found
    r = run("renumber", "INC-0002")
    assert r.exit_code == 0 and r.stdout == "INC-0003\n"


def test_renumber_rewrites_links(pr: Path) -> None:
    run("new", "problem", "--title", "Root cause")
    run("link", "INC-0001", "caused-by", "PRB-0001")
    r = run("renumber", "PRB-0001")
    assert r.stdout == "PRB-0002\n"
    assert not (pr / "tickets/PRB/000/PRB-0001.yaml").exists()
    data = yaml.safe_load((pr / "tickets/INC/000/INC-0001.yaml").read_text())
    assert data["links"] == [{"kind": "caused-by", "id": "PRB-0002"}]
    message = git(pr, "log", "-1", "--format=%B")
    assert "Itsm-Action: renumber" in message and "Itsm-Id: PRB-0001" in message
    assert run("validate").exit_code == 0


def test_base_with_an_unknown_ref_is_a_usage_error(pr: Path) -> None:
    r = run("validate", "--base", "no-such-branch")
    assert r.exit_code == 2 and "unknown revision 'no-such-branch'" in r.stderr
