"""The continual improvement register: ``improvement`` tickets (IMP) through the CLI, in real git desks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from desk_testing import ANN, BOB, CAROL, EVE, git, head, load_ticket, run, ticket_path

from itsm_cli.site import pages
from itsm_cli.store.desk import Desk

BENEFIT = "Half the VPN tickets gone: users reconnect on their own"


def propose(*extra: str, by: str = ANN, title: str = "Self-service VPN reconnect") -> str:
    """Propose an improvement; return its ID."""
    r = run("--as", by, "new", "improvement", "--title", title, "--set", f"expected_benefit={BENEFIT}", *extra)
    assert r.exit_code == 0, r.stderr
    return r.stdout.strip()


def test_an_improvement_is_filed_under_imp_and_starts_proposed(desk: Path) -> None:
    rid = propose("--service", "email", "--set", "owner=me", "--set", "target_date=2026-06-30",
                  "--set", "measure=VPN tickets per month in itsm report trends")
    assert rid == "IMP-0001"
    assert (desk / ticket_path(rid)).is_file()
    assert ticket_path(rid).startswith("tickets/IMP/000/")
    data = load_ticket(desk, rid)
    assert data["status"] == "proposed"
    assert data["owner"] == ANN  # "me" is the acting person
    assert data["expected_benefit"] == BENEFIT
    assert data["target_date"] == "2026-06-30"
    assert "priority" not in data  # improvements have no SLA clocks
    message = git(desk, "log", "-1", "--format=%B")
    assert "Itsm-Id: IMP-0001" in message and "Itsm-Action: create" in message
    shown = json.loads(run("show", rid, "--format", "json").stdout)
    assert shown["type"] == "improvement" and shown["service"] == "email"
    assert run("validate").exit_code == 0


def test_the_expected_benefit_is_required_at_proposal(desk: Path) -> None:
    before = head(desk)
    r = run("new", "improvement", "--title", "Something better")
    assert r.exit_code == 2
    assert "expected_benefit" in r.stderr and "--set expected_benefit=" in r.stderr
    assert r.stderr.startswith("itsm: error:")
    assert head(desk) == before
    assert not (desk / "tickets" / "IMP").exists()


def test_the_owner_must_be_a_listed_person(desk: Path) -> None:
    r = run("new", "improvement", "--title", "T", "--set", f"expected_benefit={BENEFIT}", "--set", f"owner={EVE}")
    assert r.exit_code == 1
    assert f"owner {EVE} is not a listed person" in r.stderr


def test_approved_by_a_service_owner_worked_and_done_with_an_outcome(desk: Path) -> None:
    rid = propose()
    # Not by whoever proposed it, nor by someone outside the approving group.
    r = run("--as", ANN, "approve", rid)
    assert r.exit_code == 1 and "service-owners" in r.stderr
    r = run("--as", BOB, "transition", rid, "approved")
    assert r.exit_code == 1 and "needs approval" in r.stderr
    assert run("--as", CAROL, "approve", rid, "--note", "Agreed at the monthly review").exit_code == 0
    assert load_ticket(desk, rid)["status"] == "approved"

    r = run("--as", BOB, "transition", rid, "in_progress")
    assert r.exit_code == 1
    assert "requires owner" in r.stderr and "--set owner=..." in r.stderr
    assert run("--as", BOB, "transition", rid, "in_progress", "--set", "owner=me").exit_code == 0
    assert load_ticket(desk, rid)["owner"] == BOB

    r = run("--as", BOB, "transition", rid, "done")
    assert r.exit_code == 1 and "'done' requires outcome" in r.stderr
    r = run("--as", EVE, "transition", rid, "done", "--set", "outcome=x")
    assert r.exit_code == 1 and "needs: agent" in r.stderr
    outcome = "VPN tickets fell from 14 to 5 a month (Jul-Sep)"
    assert run("--as", BOB, "transition", rid, "done", "--set", f"outcome={outcome}").exit_code == 0
    data = load_ticket(desk, rid)
    assert data["status"] == "done" and data["outcome"] == outcome
    assert [e["to"] for e in data["history"] if "to" in e] == ["proposed", "approved", "in_progress", "done"]
    # done is final: the register keeps it as it was closed.
    r = run("--as", BOB, "edit", rid, "--set", "outcome=rewritten")
    assert r.exit_code == 1 and "closed state" in r.stderr
    r = run("--as", BOB, "transition", rid, "in_progress")
    assert r.exit_code == 1
    assert run("validate").exit_code == 0


def test_rejected_at_proposal_or_after_approval_and_withdrawn_by_the_proposer(desk: Path) -> None:
    first = propose(title="Replace the coffee machine")
    r = run("--as", CAROL, "reject", first)
    assert r.exit_code == 2  # a rejection says why
    assert run("--as", CAROL, "reject", first, "--note", "Not an IT service").exit_code == 0
    assert load_ticket(desk, first)["status"] == "rejected"

    second = propose(title="Nightly restore test")
    assert run("--as", CAROL, "approve", second).exit_code == 0
    assert run("--as", BOB, "transition", second, "rejected", "--note", "Covered by the backup contract").exit_code == 0
    assert load_ticket(desk, second)["status"] == "rejected"

    third = propose(title="A wiki for the warehouse", by=EVE)  # anyone may propose
    r = run("--as", BOB, "transition", third, "done", "--set", "outcome=x")
    assert r.exit_code == 1 and "legal next states: cancelled" in r.stderr
    assert run("--as", EVE, "transition", third, "cancelled", "--note", "Found one already").exit_code == 0
    assert load_ticket(desk, third)["status"] == "cancelled"
    assert run("validate").exit_code == 0


def test_list_filters_and_an_unknown_state_names_the_valid_ones(desk: Path) -> None:
    a = propose("--service", "email", title="Shared mailbox self-service")
    b = propose(title="Fewer password resets")
    assert run("--as", CAROL, "reject", b, "--note", "Duplicate of the SSPR project").exit_code == 0
    assert run("new", "incident", "--title", "Printer jam").exit_code == 0

    def ids(*args: str) -> list[str]:
        r = run("list", *args, "--format", "ids")
        assert r.exit_code == 0, r.stderr
        return r.stdout.split()

    assert ids("improvement") == [a, b]
    assert ids("improvement", "--status", "proposed") == [a]
    assert ids("improvement", "--open") == [a]
    assert ids("improvement", "--closed") == [b]
    assert ids("improvement", "--service", "email") == [a]
    assert ids("--view", "improvements") == [a]  # the register's saved list: open improvements only
    r = run("list", "improvement", "--status", "finished")
    assert r.exit_code == 2
    assert "unknown status 'finished'" in r.stderr
    for state in ("proposed", "approved", "in_progress", "done", "rejected", "cancelled"):
        assert state in r.stderr


def test_an_improvement_links_to_the_records_that_motivated_it(desk: Path) -> None:
    assert run("new", "incident", "--title", "VPN drops every 30 minutes").exit_code == 0
    rid = propose()
    assert run("link", rid, "relates", "INC-0001").exit_code == 0
    assert load_ticket(desk, rid)["links"] == [{"kind": "relates", "id": "INC-0001"}]
    r = run("link", rid, "relates", "PRB-0099")
    assert r.exit_code == 1 and "PRB-0099" in r.stderr
    assert run("validate").exit_code == 0


def test_improvements_are_never_published(desk: Path) -> None:
    secret_title = "IMPROVEMENT-TITLE-SECRET"
    secret_outcome = "IMPROVEMENT-OUTCOME-SECRET"
    rid = propose("--service", "email", "--set", "measure=IMPROVEMENT-MEASURE-SECRET", title=secret_title)
    assert run("--as", CAROL, "approve", rid).exit_code == 0
    assert run("--as", BOB, "transition", rid, "in_progress", "--set", "owner=me").exit_code == 0
    assert run("--as", BOB, "transition", rid, "done", "--set", f"outcome={secret_outcome}").exit_code == 0
    other = propose("--service", "email", title="IMPROVEMENT-OPEN-SECRET")
    site = pages.build_site(pages.load_content(Desk(desk)), datetime(2026, 3, 2, 9, tzinfo=UTC))
    text = "\n".join([*(p.markdown for p in site.pages), *site.assets.values()])
    assert "email" in {p.uri.split("/")[-1].removesuffix(".md") for p in site.pages}  # the service page is built
    for secret in (rid, other, secret_title, secret_outcome, BENEFIT, "IMPROVEMENT-MEASURE-SECRET",
                   "IMPROVEMENT-OPEN-SECRET"):
        assert secret not in text, secret


def test_report_trends_month_over_month_through_the_cli(desk: Path) -> None:
    """On the email service's business hours (UTC, Mon-Fri 09-17), P3 incidents: 2h to resolve in January, 1h in February."""

    def at(when: str, *args: str) -> None:
        r = run(*args, env={"ITSM_NOW": when})
        assert r.exit_code == 0, r.stderr

    for number, (day, worked, resolved) in enumerate(
            [("2026-01-12", "09:30", "11:00"), ("2026-02-02", "09:15", "10:00")], start=1):
        rid = f"INC-000{number}"
        at(f"{day}T09:00:00Z", "new", "incident", "--title", f"Outlook hangs {number}", "--service", "email")
        at(f"{day}T{worked}:00Z", "assign", rid, "me")
        at(f"{day}T{worked}:00Z", "transition", rid, "in_progress")
        at(f"{day}T{resolved}:00Z", "transition", rid, "resolved", "--set", "resolution=Profile rebuilt")
    at("2026-02-03T09:00:00Z", "new", "improvement", "--title", "Outlook profile self-repair", "--service", "email",
       "--set", f"expected_benefit={BENEFIT}")  # the desk's own work: not a ticket the trend counts

    period = ("--since", "2026-01-01", "--until", "2026-03-01")
    r = run("report", "trends", *period, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["service"], x["month"], x["opened"], x["resolved"], x["mttr_h"], x["sla_pct"]) for x in rows] == [
        ("email", "2026-01", 1, 1, 2.0, 100.0), ("email", "2026-02", 1, 1, 1.0, 100.0),
        ("(all)", "2026-01", 1, 1, 2.0, 100.0), ("(all)", "2026-02", 1, 1, 1.0, 100.0)]
    feb = rows[1]
    assert (feb["opened_delta"], feb["opened_delta_pct"], feb["mttr_h_delta"], feb["mttr_h_delta_pct"],
            feb["sla_pct_delta"]) == (0, 0.0, -1.0, -50.0, 0.0)
    assert rows[0]["mttr_h_delta"] is None  # the first month: blank

    r = run("report", "trends", *period, "--service", "email", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("service,month,opened,opened_delta,opened_delta_pct,resolved,")
    assert lines[2].startswith("email,2026-02,1,0,0.0,1,0,0.0,1.0,-1.0,-50.0,100.0,0.0")
    assert len(lines) == 3  # one service: no total

    table = run("report", "trends", *period).stdout
    assert "MTTR H" in table and "-1 (-50%)" in table and "incidents and requests" in table

    # With ITSM_NOW on 2026-03-02, the default is the six full months before March.
    months = [x["month"] for x in json.loads(run("report", "trends", "--format", "json").stdout) if
              x["service"] == "email"]
    assert months == ["2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]

    # From --since within this month (ITSM_NOW 2026-03-02): the month so far.
    r = run("report", "trends", "--since", "2026-03-01", "--service", "email", "--format", "json")
    assert [(x["month"], x["opened"]) for x in json.loads(r.stdout)] == [("2026-03", 0)]

    for bad in (("--since", "2026-04-01"), ("--by", "month"), ("--format", "markdown"), ("--out", "t.md"), ("--service", "nope"),
                ("--since", "2026-03-01", "--until", "2026-01-01")):
        r = run("report", "trends", *bad)
        assert r.exit_code == 2, bad
        assert r.stderr.startswith("itsm: error:"), bad


def test_improvements_stay_out_of_the_service_level_figures(desk: Path) -> None:
    """The type says reports: false: the desk's own work neither opens tickets nor adds hours to a service's MTTA."""
    assert run("new", "incident", "--title", "Printer jam", "--service", "email").exit_code == 0
    rid = propose("--service", "email")
    assert run("--as", CAROL, "approve", rid).exit_code == 0
    for kind in ("volume", "mttr", "backlog"):
        r = run("report", kind, "--by", "type", "--format", "json")
        assert r.exit_code == 0, r.stderr
        keys = [row["key"] for row in json.loads(r.stdout)]
        assert "improvement" not in keys, kind
    assert [row["key"] for row in json.loads(run("report", "backlog", "--by", "type", "--format", "json").stdout)] \
        == ["incident"]
