"""``itsm report review``: a service's month for its customers, on a small desk with hand-worked figures.

The desk's email service runs in business hours (Mon-Fri 09:00-17:00 UTC) with
the standard profile (availability target 99.5 %, P1: respond 15m, resolve 4h).
February 2026 has 20 working days: 160 agreed hours.

- INC a (P1, major) opened Tue 10 Feb 10:00, assigned 10:05, resolved 12:00:
  2 h down, response and resolution met; mean time to resolve 2 h; rated 4.
- INC s (P1, category security) opened 12 Feb 10:00, resolved 13:00: never
  reported. Were it counted, availability would be 157/160 = 98.125 %.
- CHG: approved, implemented and reviewed on 17 Feb: one change made.
- PRB opened 15 Feb, still new: one open problem.
- REQ for a distribution list opened 16 Feb: one request opened, none fulfilled.

Availability: (160 - 2) / 160 = 98.75 %, target missed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_testing import CAROL, git, run

CUSTOMERS = """customers:
  - {id: sales, name: Sales and marketing, contact: {name: Sam Seller, email: sam@example.com}, services: [email]}
  - {id: warehouse, name: Warehouse, services: []}
"""


def ok(*args: str, at: str | None = None, **kw) -> str:
    env = {"ITSM_NOW": at} if at else None
    r = run(*args, env=env, **kw)
    assert r.exit_code == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def review_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from desk_testing import make_desk

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    for name, value in {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
                        "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
                        "ITSM_USER": "ann@example.com", "ITSM_NOW": "2026-03-02T09:00:00Z"}.items():
        mp.setenv(name, value)
    try:
        desk = make_desk(tmp_path_factory.mktemp("review") / "desk")
        mp.chdir(desk)
        config = (desk / "itsm.yaml").read_text()
        # Security incidents are the desk's own marking (a security: block); this desk does not encrypt them.
        (desk / "itsm.yaml").write_text(config.replace("\ncustomers: []\n", "\n" + CUSTOMERS)
                                        + "\nsecurity: {category: security, group: service-desk, encrypt: false}\n")
        # This desk marks security incidents with a category field of its own.
        schema_path = desk / "schemas" / "incident.schema.json"
        schema = json.loads(schema_path.read_text())
        schema["properties"]["category"] = {"type": "string"}
        schema_path.write_text(json.dumps(schema, indent=2) + "\n")
        git(desk, "commit", "-q", "-am", "customers; incident category")

        inc = ok("new", "incident", "--title", "Mail down for everyone", "--service", "email", "--impact", "high",
                 "--urgency", "high", "--set", "major=true", at="2026-02-10T10:00:00Z").strip()
        ok("assign", inc, "ann@example.com", at="2026-02-10T10:05:00Z")
        ok("transition", inc, "in_progress", at="2026-02-10T10:06:00Z")
        ok("transition", inc, "resolved", "--set", "resolution=Restarted the connector", at="2026-02-10T12:00:00Z")
        ok("rate", inc, "4", at="2026-02-10T13:00:00Z")

        sec = ok("new", "incident", "--title", "Phishing kit on the mail relay", "--service", "email",
                 "--impact", "high", "--urgency", "high", "--set", "category=security", at="2026-02-12T10:00:00Z").strip()
        ok("assign", sec, "ann@example.com", at="2026-02-12T10:05:00Z")
        ok("transition", sec, "in_progress", at="2026-02-12T10:06:00Z")
        ok("transition", sec, "resolved", "--set", "resolution=Relay rebuilt", at="2026-02-12T13:00:00Z")

        chg = ok("new", "change", "--title", "Enable DKIM signing", "--service", "email",
                 at="2026-02-09T09:00:00Z").strip()
        ok("transition", chg, "assessment", "--set", "risk=low", "--set", "plan=Publish keys, then sign",
           at="2026-02-09T09:10:00Z")
        ok("transition", chg, "awaiting_approval", at="2026-02-09T09:20:00Z")
        ok("--as", CAROL, "approve", chg, at="2026-02-10T14:00:00Z")
        ok("transition", chg, "scheduled", "--set", "planned_start=2026-02-17T18:00:00Z",
           "--set", "planned_end=2026-02-17T19:00:00Z", at="2026-02-11T09:00:00Z")
        ok("assign", chg, "ann@example.com", at="2026-02-17T17:55:00Z")
        ok("transition", chg, "implementing", at="2026-02-17T18:00:00Z")
        ok("transition", chg, "review", "--set", "outcome=Signing since 18:40", at="2026-02-17T18:45:00Z")

        ok("new", "problem", "--title", "Connector restarts needed weekly", "--service", "email",
           at="2026-02-15T10:00:00Z")
        ok("new", "request", "--title", "Add Jo to all-staff", "--service", "email", "--offering",
           "distribution-list", at="2026-02-16T10:00:00Z")
        imp = ok("new", "improvement", "--title", "Restart the connector on its own", "--service", "email",
                 "--set", "expected_benefit=No weekly manual restarts", "--set", "target_date=2026-04-30",
                 at="2026-02-20T10:00:00Z").strip()
        ids = {"inc": inc, "sec": sec, "chg": chg, "imp": imp}
        (desk / ".ids.json").write_text(json.dumps(ids))
        assert run("validate").exit_code == 0
        yield desk
    finally:
        mp.undo()


@pytest.fixture
def at_desk(review_desk: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    monkeypatch.chdir(review_desk)
    return review_desk, json.loads((review_desk / ".ids.json").read_text())


def test_markdown_review_has_the_headings_and_the_hand_worked_figures(at_desk) -> None:
    _desk, ids = at_desk
    text = ok("report", "review", "--service", "email", "--format", "markdown")  # default period: February
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == ["# Service review: E-mail", "## Customers", "## Summary", "## Availability",
                        "## Service levels", "## Incidents", "## Changes made", "## Open problems", "## Requests",
                        "## Satisfaction", "## Improvements planned"]
    assert "Period 2026-02-01 to 2026-03-01" in text
    assert "| Sales and marketing | Sam Seller (sam@example.com) |" in text and "Warehouse" not in text
    assert "| Availability | 98.75 % (target 99.50 %) |" in text
    assert "| Incidents opened / resolved | 1 / 1 |" in text
    assert "| Major incidents | 1 |" in text
    assert "| Mean time to resolve (incidents) | 2 h |" in text
    assert "| Changes made | 1 |" in text
    assert "| Problems open at the end | 1 |" in text
    assert "| Requests opened / fulfilled | 1 / 0 |" in text
    assert "| Satisfaction | 4.00 / 5 average from 1 rating, 100.0 % satisfied (4 or 5) |" in text
    assert "98.75 % of 160 h of agreed service time (calendar business) against a target of 99.50 %: " \
           "2 h down, 0 h degraded. **Target missed.**" in text
    assert f"| {ids['inc']} | **Major:** Mail down for everyone | P1 | 2026-02-10 10:00 | 2026-02-10 12:00 |" in text
    assert f"| {ids['chg']} | Enable DKIM signing | normal | 2026-02-17 | - |" in text
    assert "| Distribution list | 1 | 0 |" in text
    assert "| incidents | 1 of 1 | 100.0 % | 1 of 1 | 100.0 % |" in text
    assert f"| {ids['imp']} | Restart the connector on its own | proposed | 2026-04-30 |" in text
    assert text.endswith("\n") and not text.endswith("\n\n\n")


def test_a_security_incident_is_never_in_a_review(at_desk) -> None:
    _desk, ids = at_desk
    for fmt in ("markdown", "json"):
        text = ok("report", "review", "--service", "email", "--since", "2026-02-01", "--until", "2026-03-01",
                  "--format", fmt)
        assert ids["sec"] not in text and "Phishing" not in text and "mail relay" not in text
    data = json.loads(text)
    assert data["availability"]["availability_pct"] == 98.75  # its 3 hours down not counted either
    assert data["incidents"]["opened"] == 1


def test_json_review_has_the_same_content_under_stable_keys(at_desk) -> None:
    _desk, ids = at_desk
    data = json.loads(ok("report", "review", "--service", "email", "--format", "json"))
    assert set(data) == {"service", "period", "customers", "availability", "sla", "incidents", "changes", "problems",
                         "requests", "satisfaction", "improvements"}
    assert data["period"] == {"since": "2026-02-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"}
    assert data["availability"]["agreed_h"] == 160.0 and data["availability"]["down_h"] == 2.0
    assert data["availability"]["met"] is False and data["availability"]["target_pct"] == 99.5
    assert data["customers"] == [{"id": "sales", "name": "Sales and marketing",
                                  "contact": {"name": "Sam Seller", "email": "sam@example.com"}}]
    assert [i["id"] for i in data["incidents"]["items"]] == [ids["inc"]]
    assert data["incidents"]["mttr_mean_h"] == 2.0
    assert data["changes"]["items"][0]["made_at"] == "2026-02-17T18:45:00Z"
    assert data["problems"]["open"] == 1 and data["requests"]["by_offering"][0]["offering"] == "distribution-list"
    assert data["satisfaction"] == {"ratings": 1, "average": 4.0, "satisfied_pct": 100.0}
    assert data["improvements"]["register"] is True
    assert [(i["id"], i["status"], i["target_date"]) for i in data["improvements"]["items"]] == [
        (ids["imp"], "proposed", "2026-04-30")]


def test_a_quiet_period_says_nothing_this_period(at_desk) -> None:
    text = ok("report", "review", "--service", "email", "--since", "2026-01-01", "--until", "2026-02-01")
    assert text.count("Nothing this period.") == 3  # incidents, changes, requests
    assert "| Availability | 100.00 % (target 99.50 %) |" in text and "Target met." in text
    assert "No rating was given this period." in text


def test_out_writes_the_file_atomically(at_desk, tmp_path: Path) -> None:
    _desk, _ = at_desk
    printed = ok("report", "review", "--service", "email")
    target = tmp_path / "reviews" / "email-2026-02.md"
    r = run("report", "review", "--service", "email", "--out", str(target))
    assert r.exit_code == 0 and r.stdout == "" and f"wrote {target}" in r.stderr
    assert target.read_text() == printed
    assert [p.name for p in target.parent.iterdir()] == ["email-2026-02.md"]  # no temp file left
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    r = run("report", "review", "--service", "email", "--out", str(blocked / "review.md"))
    assert r.exit_code == 3 and r.stderr.startswith("itsm: error: cannot write")


def test_wrong_service_and_options_are_usage_errors(at_desk) -> None:
    r = run("report", "review", "--service", "mail")
    assert r.exit_code == 2 and "email" in r.stderr
    r = run("report", "review")
    assert r.exit_code == 2 and "needs --service" in r.stderr and "email" in r.stderr
    r = run("report", "review", "--service", "email", "--format", "csv")
    assert r.exit_code == 2 and "--format markdown or json" in r.stderr


def test_validate_names_a_customer_service_that_does_not_exist(desk: Path) -> None:
    config = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(config.replace(
        "\ncustomers: []\n", "\ncustomers:\n  - {id: sales, name: Sales, services: [email, vpn]}\n"))
    r = run("validate")
    assert r.exit_code == 1
    line = next(i for i, text in enumerate((desk / "itsm.yaml").read_text().splitlines(), 1) if "id: sales" in text)
    assert f"itsm.yaml:{line}:" in r.stdout and "customer 'sales': unknown service 'vpn'" in r.stdout
