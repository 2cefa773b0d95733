"""itsm sweep: every time rule with controlled clocks, one commit per action by the bot, idempotence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import BOB, CAROL, EVE, git, head, run, status, ticket_path
from test_rules import BOT, configure

# 2026-03-02 is a Monday; the e-mail service's support hours are the business
# calendar: Monday to Friday, 09:00-17:00 UTC, so "1d" is 8 hours of it.


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("ITSM_NOW", when)


def ok(*args: str) -> str:
    r = run(*args)
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout


def record(desk: Path, rid: str) -> dict[str, Any]:
    folder = "kb" if rid.startswith("KB-") else "tickets"
    text = (desk / (f"kb/{rid}.md" if folder == "kb" else ticket_path(rid))).read_text()
    if folder == "kb":
        text = text.split("---\n")[1]
    return yaml.safe_load(text)


def commits(desk: Path) -> int:
    return int(git(desk, "rev-list", "--count", "HEAD"))


def test_resolved_tickets_close_after_n_business_days(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"auto_close": [{"types": ["incident"], "after": "3d"}]})
    at(monkeypatch, "2026-03-06T10:00:00Z")  # a Friday
    ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email")
    ok("assign", "INC-0001", BOB)
    at(monkeypatch, "2026-03-06T16:00:00Z")
    ok("transition", "INC-0001", "resolved", "--set", "resolution=Repaired the profile")
    # Friday 16-17, Monday, Tuesday, and Wednesday until 16:00 make 24 support hours.
    at(monkeypatch, "2026-03-11T15:59:00Z")
    before = head(desk)
    r = run("sweep")
    assert r.exit_code == 0 and r.stdout == "" and "nothing to do" in r.stderr
    assert head(desk) == before
    at(monkeypatch, "2026-03-11T16:00:00Z")
    assert ok("sweep") == "INC-0001: close: resolved -> closed after 3d\n"
    data = record(desk, "INC-0001")
    assert data["status"] == "closed"
    last = data["history"][-1]
    assert (last["by"], last["action"], last["from"], last["to"]) == (BOT, "transition", "resolved", "closed")
    assert last["note"].startswith("Closed automatically: 'resolved' for 3d of support time")
    message = git(desk, "log", "-1", "--format=%an <%ae>%n%B")
    assert message.startswith(f"itsm bot <{BOT}>\nINC-0001: close: resolved -> closed after 3d")
    assert "Itsm-Id: INC-0001\nItsm-Action: sweep" in message
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == ["tickets/INC/000/INC-0001.yaml"]
    assert status(desk) == "" and run("validate").exit_code == 0
    after = head(desk)
    assert run("sweep").exit_code == 0 and head(desk) == after


def test_activity_after_resolution_restarts_the_wait(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"auto_close": [{"after": "1d", "note": "Closed {id} for {requester_name}."}]})
    ok("--as", EVE, "new", "incident", "--title", "x", "--service", "email")
    ok("transition", "INC-0001", "resolved", "--set", "resolution=done")
    at(monkeypatch, "2026-03-02T16:00:00Z")
    ok("--as", EVE, "comment", "INC-0001", "Still broken?")
    at(monkeypatch, "2026-03-03T09:30:00Z")  # 8 h after the resolution, 1.5 h after the comment
    assert ok("sweep", "--dry-run") == ""
    at(monkeypatch, "2026-03-03T16:00:00Z")
    assert ok("sweep") == "INC-0001: close: resolved -> closed after 1d\n"
    assert record(desk, "INC-0001")["history"][-1]["note"] == f"Closed INC-0001 for {EVE}."


ESCALATE = {"id": "near-breach", "types": ["incident"], "within": "1h", "raise_priority": True,
            "assign": {"group": "service-desk"}}


def test_tickets_about_to_breach_are_escalated_once(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"escalate": [ESCALATE]})
    ok("--as", EVE, "new", "incident", "--title", "Shared mailbox missing", "--service", "email")  # P3: respond in 2h
    at(monkeypatch, "2026-03-02T09:30:00Z")
    assert ok("sweep") == ""
    at(monkeypatch, "2026-03-02T10:15:00Z")
    out = ok("sweep")
    assert out == ("INC-0001: escalate (near-breach): response due 2026-03-02T11:00:00Z; "
                   "priority P3 -> P2; assigned to group service-desk\n")
    data = record(desk, "INC-0001")
    assert (data["urgency"], data["priority"], data["group"]) == ("high", "P2", "service-desk")
    assert [(e["action"], e["by"]) for e in data["history"][1:]] == [("edit", BOT), ("assign", BOT), ("comment", BOT)]
    note = data["history"][-1]
    assert note["internal"] is True
    assert note["note"] == ("Escalated by sweep rule 'near-breach': the response target is due at 2026-03-02T11:00:00Z. "
                            "Priority P3 -> P2; assigned to group service-desk.")
    assert commits(desk) == 5  # init, people, configure, new, one sweep commit
    assert run("validate").exit_code == 0
    # The response clock is now breached at P2, but the escalation is remembered.
    at(monkeypatch, "2026-03-02T16:30:00Z")
    before = head(desk)
    assert ok("sweep") == "" and head(desk) == before


def test_a_breached_clock_is_escalated_and_stopped_ones_are_not(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"escalate": [{"id": "late", "within": "15m", "clock": "resolution", "priority": ["P3"]}]})
    ok("new", "incident", "--title", "late one", "--service", "email")
    ok("new", "incident", "--title", "done one", "--service", "email")
    ok("new", "incident", "--title", "urgent one", "--service", "email", "--impact", "high", "--urgency", "high")
    ok("transition", "INC-0002", "resolved", "--set", "resolution=ok")
    at(monkeypatch, "2026-03-06T09:00:00Z")  # 32 support hours later: the 3d (24 h) target has passed
    assert ok("sweep") == "INC-0001: escalate (late): resolution due 2026-03-04T17:00:00Z\n"
    assert record(desk, "INC-0001")["history"][-1]["note"] == (
        "Escalated by sweep rule 'late': the resolution target was due at 2026-03-04T17:00:00Z.")


def test_approvers_are_reminded_of_waiting_requests(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"approval_reminders": {"after": "1d", "every": "1d"}})
    ok("--as", EVE, "new", "request", "--title", "Mailbox for sales", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    ok("transition", "REQ-0001", "awaiting_approval")
    at(monkeypatch, "2026-03-02T16:59:00Z")
    assert ok("sweep") == ""
    at(monkeypatch, "2026-03-03T09:00:00Z")
    assert ok("sweep") == "REQ-0001: remind group service-owners (waiting since 2026-03-02T09:00:00Z)\n"
    note = record(desk, "REQ-0001")["history"][-1]
    assert (note["by"], note["action"], note["internal"]) == (BOT, "comment", True)
    assert note["note"] == "Approval reminder: waiting since 2026-03-02T09:00:00Z for approval by group 'service-owners'."
    assert ok("sweep") == ""
    at(monkeypatch, "2026-03-03T16:00:00Z")
    assert ok("sweep") == ""
    at(monkeypatch, "2026-03-04T09:00:00Z")
    assert ok("sweep").startswith("REQ-0001: remind")
    ok("--as", CAROL, "approve", "REQ-0001")
    at(monkeypatch, "2026-03-09T09:00:00Z")
    assert ok("sweep") == ""
    assert run("validate").exit_code == 0


def test_kb_articles_past_review_by_are_flagged_once(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"kb_review": {"tag": "review-due"}})
    for title, review_by in (("Reset your password", "2026-03-01"), ("Use the VPN", "2026-06-01")):
        ok("new", "article", "--title", title, "--set", f"review_by={review_by}", "--description", f"# {title}\n")
    for rid in ("KB-0001", "KB-0002"):
        ok("transition", rid, "review")
        ok("transition", rid, "published")
    at(monkeypatch, "2026-03-02T10:00:00Z")
    assert ok("sweep") == "KB-0001: flag overdue review (review_by 2026-03-01)\n"
    data = record(desk, "KB-0001")
    assert data["tags"] == ["review-due"]
    assert data["history"][-1]["note"] == "Review overdue: review_by 2026-03-01 has passed."
    assert data["history"][-1]["by"] == BOT
    assert (desk / "kb/KB-0001.md").read_text().endswith("# Reset your password\n")
    assert ok("sweep") == ""
    assert run("validate").exit_code == 0
    # Moved on and overdue again: flagged again, with a note (the tag is still there).
    ok("edit", "KB-0001", "--set", "review_by=2026-03-05")
    at(monkeypatch, "2026-03-06T10:00:00Z")
    assert ok("sweep") == "KB-0001: flag overdue review (review_by 2026-03-05)\n"
    data = record(desk, "KB-0001")
    assert data["tags"] == ["review-due"] and data["history"][-1]["action"] == "comment"


def test_what_the_workflow_refuses_is_reported_and_the_sweep_goes_on(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, bot_agent=False, sweep={"escalate": [ESCALATE], "auto_close": [{"after": "1h"}]})
    ok("new", "incident", "--title", "escalate me", "--service", "email")
    ok("new", "incident", "--title", "close me", "--service", "email")
    ok("transition", "INC-0002", "resolved", "--set", "resolution=ok")
    at(monkeypatch, "2026-03-02T10:30:00Z")
    before = commits(desk)
    r = run("sweep")
    assert r.exit_code == 0
    assert r.stdout == "INC-0002: close: resolved -> closed after 1h\n"  # anyone may close a resolved incident
    assert f"itsm: warning: INC-0001: {BOT} is neither an agent nor the requester and cannot edit" in r.stderr
    assert commits(desk) == before + 1


def test_dry_run_and_json(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={"auto_close": [{"after": "1h"}]})
    ok("new", "incident", "--title", "x", "--service", "email")
    ok("transition", "INC-0001", "resolved", "--set", "resolution=ok")
    at(monkeypatch, "2026-03-02T11:00:00Z")
    before = head(desk)
    out = json.loads(ok("sweep", "--dry-run", "--format", "json"))
    assert out == {"steps": [{"id": "INC-0001", "action": "close", "summary": "close: resolved -> closed after 1h"}],
                   "problems": [], "commits": []}
    assert head(desk) == before and status(desk) == ""
    out = json.loads(ok("sweep", "--format", "json"))
    assert len(out["commits"]) == 1 and out["commits"][0] == head(desk)


def test_a_sweep_with_every_rule_is_idempotent(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, sweep={
        "auto_close": [{"after": "1d"}],
        "escalate": [ESCALATE, {"id": "again", "within": "2h"}],
        "approval_reminders": {"after": "2h"},
        "kb_review": {},
    })
    ok("new", "incident", "--title", "a", "--service", "email")
    ok("new", "incident", "--title", "b", "--service", "email")
    ok("transition", "INC-0002", "resolved", "--set", "resolution=ok")
    ok("--as", EVE, "new", "request", "--title", "c", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    ok("transition", "REQ-0001", "awaiting_approval")
    ok("new", "article", "--title", "d", "--set", "review_by=2026-01-01")
    ok("transition", "KB-0001", "review")
    ok("transition", "KB-0001", "published")
    at(monkeypatch, "2026-03-03T12:00:00Z")
    first = ok("sweep").splitlines()
    assert [line.split(":")[0] for line in first] == ["INC-0001", "INC-0001", "INC-0002", "KB-0001", "REQ-0001"]
    settled = head(desk)
    for _ in range(2):
        assert ok("sweep") == ""
    assert head(desk) == settled and status(desk) == "" and run("validate").exit_code == 0
