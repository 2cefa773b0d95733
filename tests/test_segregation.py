"""One rule for separation of duties (issue 16, item 7).

The approver must differ from the roles the workflow's ``segregation`` names
(requester, assignee, implementer; all three for changes by default). The
commands and the replay (``validate``, ``audit verify``, ``audit change``) ask
the same function, and judge each entry against the record as it was then: a
later assignment of the approver is itself the violation, reported at the
assign entry, never as a bad earlier approval.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, CAROL, DAN, head, run, ticket_path
from desk_testing import load_ticket as load
from desk_testing import save_ticket as save

ASSIGNEE_RULE = "separation of duties (workflow change, segregation: assignee)"


def at(clock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", clock)


def problems(*args: str) -> list[dict]:
    r = run("validate", "--format", "json", *args)
    return json.loads(r.stdout)["problems"]


def hand_commit(desk: Path, author: str, date: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": author, "GIT_AUTHOR_DATE": date,
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": author, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "commit", "-qam", "hand edit"], cwd=desk, check=True, env=env)
    return head(desk)


def approved_change(monkeypatch: pytest.MonkeyPatch, approver: str = DAN) -> None:
    """CHG-0001 requested by Bob, assigned to Ann, approved by ``approver``."""
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", BOB, "new", "change", "--title", "Upgrade mail relay", "--service", "email").exit_code == 0
    at("2026-03-02T10:00:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling").exit_code == 0
    assert run("assign", "CHG-0001", ANN).exit_code == 0
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 0
    at("2026-03-02T11:00:00Z", monkeypatch)
    r = run("--as", approver, "approve", "CHG-0001")
    assert r.exit_code == 0, r.stderr
    at("2026-03-02T12:00:00Z", monkeypatch)


# --- the bullet of issue 16 ---------------------------------------------------------------


def test_assigning_the_approver_is_refused_naming_the_rule(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    approved_change(monkeypatch)
    before = head(desk)
    r = run("assign", "CHG-0001", DAN)
    assert r.exit_code == 1
    assert r.stderr.strip() == (f"itsm: error: CHG-0001: {ASSIGNEE_RULE}: "
                                f"{DAN} approved CHG-0001 and may not be its assignee")
    for args in (("edit", "CHG-0001", "--set", f"assignee={DAN}"),
                 ("transition", "CHG-0001", "scheduled", "--set", f"assignee={DAN}",
                  "--set", "planned_start=2026-03-05T20:00:00Z", "--set", "planned_end=2026-03-05T22:00:00Z")):
        r = run(*args)
        assert r.exit_code == 1 and f"{ASSIGNEE_RULE}: {DAN} approved CHG-0001" in r.stderr, r.stderr
    assert head(desk) == before and load(desk, "CHG-0001")["assignee"] == ANN
    assert run("assign", "CHG-0001", BOB).exit_code == 0  # anyone else may take it
    assert run("validate").exit_code == 0


def test_validate_reports_the_later_assignment_not_the_earlier_approval(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    approved_change(monkeypatch)
    data = load(desk, "CHG-0001")
    approval = len(data["history"]) - 1
    assert data["history"][approval]["action"] == "approve"
    data["history"].append({"at": "2026-03-02T12:00:00Z", "by": ANN, "action": "assign", "fields": {"assignee": DAN}})
    data["assignee"] = DAN
    data["updated"] = "2026-03-02T12:00:00Z"
    save(desk, data)
    found = [(p["path"], p["message"]) for p in problems()]
    assert found == [(ticket_path("CHG-0001"), f"history[{approval + 1}]: {ASSIGNEE_RULE}: "
                                              f"{DAN} approved CHG-0001 and may not be its assignee")], found


def test_audit_verify_and_audit_change_report_the_assignment(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    approved_change(monkeypatch)
    approval_commit = head(desk)
    data = load(desk, "CHG-0001")
    data["history"].append({"at": "2026-03-02T12:00:00Z", "by": ANN, "action": "assign", "fields": {"assignee": DAN}})
    data["assignee"] = DAN
    data["updated"] = "2026-03-02T12:00:00Z"
    save(desk, data)
    sha = hand_commit(desk, ANN, "2026-03-02T12:00:00Z")
    r = run("audit", "verify", "--format", "json")
    assert r.exit_code == 1
    findings = json.loads(r.stdout)["findings"]
    assert [(f["check"], f["commit"]) for f in findings] == [("approval", sha[:10])], findings
    assert f"{ASSIGNEE_RULE}: {DAN} approved CHG-0001 and may not be its assignee" in findings[0]["message"]
    ev = json.loads(run("audit", "change", "CHG-0001", "--format", "json").stdout)
    [approval] = ev["approvals"]
    assert approval["independent"] is True and approval["commit"] == approval_commit
    assert ev["segregation"]["roles"] == ["requester", "assignee", "implementer"]
    assert [(v["action"], v["by"], v["commit"]) for v in ev["segregation"]["violations"]] == [("assign", ANN, sha)]
    assert "assign by Ann Agent: NOT INDEPENDENT: " + ASSIGNEE_RULE in run("audit", "change", "CHG-0001").stdout


# --- the other roles ----------------------------------------------------------------------


def test_the_approver_may_not_implement(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    approved_change(monkeypatch)
    assert run("transition", "CHG-0001", "scheduled", "--set", "planned_start=2026-03-05T20:00:00Z",
               "--set", "planned_end=2026-03-05T22:00:00Z").exit_code == 0
    r = run("--as", DAN, "transition", "CHG-0001", "implementing")
    assert r.exit_code == 1
    assert ("separation of duties (workflow change, segregation: implementer): "
            f"{DAN} approved CHG-0001 and may not implement it") in r.stderr
    assert run("--as", BOB, "transition", "CHG-0001", "implementing").exit_code == 0
    data = load(desk, "CHG-0001")  # the same move, written by hand, is reported at its entry
    data["history"][-1]["by"] = DAN
    save(desk, data)
    found = [p["message"] for p in problems()]
    assert found == [f"history[{len(data['history']) - 1}]: separation of duties (workflow change, segregation: "
                     f"implementer): {DAN} approved CHG-0001 and may not implement it"], found


def test_the_assignee_and_requester_may_not_approve(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", CAROL, "new", "change", "--title", "Relay", "--service", "email").exit_code == 0
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=low", "--set", "plan=x").exit_code == 0
    assert run("assign", "CHG-0001", DAN).exit_code == 0
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 0
    r = run("--as", DAN, "approve", "CHG-0001")
    assert r.exit_code == 1 and (f"{ASSIGNEE_RULE}: {DAN} is the assignee and cannot approve work assigned to them"
                                 in r.stderr), r.stderr
    r = run("--as", CAROL, "reject", "CHG-0001", "--note", "no")
    assert r.exit_code == 1 and ("separation of duties (workflow change, segregation: requester): "
                                 f"{CAROL} is the requester and cannot approve their own change") in r.stderr
    # Reassigned away, Dan is no longer the assignee: judged as the record is now.
    assert run("assign", "CHG-0001", BOB).exit_code == 0
    assert run("--as", DAN, "approve", "CHG-0001").exit_code == 0
    assert run("validate").exit_code == 0


def test_segregation_is_configurable_per_workflow(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = (desk / "itsm.yaml").read_text()
    assert "    segregation: [requester, assignee, implementer]\n" in config
    (desk / "itsm.yaml").write_text(config.replace("    segregation: [requester, assignee, implementer]\n",
                                                   "    segregation: [requester]\n", 1))
    approved_change(monkeypatch)
    assert run("assign", "CHG-0001", DAN).exit_code == 0
    assert run("transition", "CHG-0001", "scheduled", "--set", "planned_start=2026-03-05T20:00:00Z",
               "--set", "planned_end=2026-03-05T22:00:00Z").exit_code == 0
    assert run("--as", DAN, "transition", "CHG-0001", "implementing").exit_code == 0
    assert run("validate").exit_code == 0


def test_implementer_needs_a_marked_state(desk: Path) -> None:
    config = (desk / "itsm.yaml").read_text().replace(", implementation: true}", "}", 1)
    (desk / "itsm.yaml").write_text(config)
    found = [p["message"] for p in problems()]
    assert any("segregation names implementer but no state of this workflow is marked implementation: true" in m
               for m in found), found


def test_requests_keep_requester_and_assignee_by_default(desk: Path) -> None:
    assert run("--as", BOB, "new", "request", "--title", "Mailbox", "--service", "email",
               "--offering", "shared-mailbox", "--set", "form.name=sales").exit_code == 0
    assert run("assign", "REQ-0001", DAN).exit_code == 0
    assert run("transition", "REQ-0001", "awaiting_approval").exit_code == 0
    r = run("--as", DAN, "approve", "REQ-0001")
    assert r.exit_code == 1 and ("separation of duties (workflow request, segregation: assignee): "
                                 f"{DAN} is the assignee") in r.stderr
    assert run("--as", CAROL, "approve", "REQ-0001").exit_code == 0
    r = run("assign", "REQ-0001", CAROL)  # Carol is no agent, so that is refused anyway; Dan again is fine
    assert r.exit_code == 1
    assert run("assign", "REQ-0001", BOB).exit_code == 0
