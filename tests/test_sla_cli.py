"""Service levels through the CLI: ``itsm sla``, ``itsm list --breaching/--breached``, ``itsm report``.

Hand-worked examples on the desk fixture: the e-mail service runs in the
``business`` calendar (UTC, Mon-Fri 09:00-17:00, so a working day is 8 h) with
the ``standard`` profile: P1 15m/4h, P3 2h/3d (= 24 business hours), P4 4h/5d.
Tickets without a service run around the clock (``24x7``). 2026-03-06 is a
Friday, 2026-03-09 the Monday after.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from desk_testing import ANN, git, head, run

H = 3600


def at(clock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", clock)


def sla_json(record_id: str, *extra: str) -> dict:
    r = run("sla", record_id, "--format", "json", *extra)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def ids(*args: str) -> list[str]:
    r = run("list", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return [x["id"] for x in json.loads(r.stdout)]


def test_a_clock_across_the_weekend(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-03-06T16:00:00Z", monkeypatch)  # Friday, one business hour left
    assert run("new", "incident", "--title", "Mail bounces", "--service", "email",
               "--impact", "medium", "--urgency", "medium").exit_code == 0
    at("2026-03-09T10:30:00Z", monkeypatch)  # Monday: 1 h on Friday + 1.5 h today
    data = sla_json("INC-0001")
    assert data["priority"] == "P3" and data["calendar"] == "business" and data["now"] == "2026-03-09T10:30:00Z"
    assert data["response"] == {
        "target": 2 * H, "elapsed": 2.5 * H, "paused": 0.0, "remaining": -0.5 * H, "breached": True,
        "due_at": "2026-03-09T10:00:00Z", "breach_at": "2026-03-09T10:00:00Z", "stopped_at": None,
        "state": "breached", "cancelled": False,
    }
    # 21.5 h left: 6.5 h on Monday, 8 h on Tuesday, 7 h on Wednesday -> Wednesday 16:00.
    assert data["resolution"] == {
        "target": 24 * H, "elapsed": 2.5 * H, "paused": 0.0, "remaining": 21.5 * H, "breached": False,
        "due_at": "2026-03-11T16:00:00Z", "breach_at": "2026-03-11T16:00:00Z", "stopped_at": None,
        "state": "running", "cancelled": False,
    }
    table = run("sla", "INC-0001")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "INC-0001  Mail bounces"
    assert lines[1] == "priority P3, calendar business, status new, as of 2026-03-09T10:30:00Z"
    assert lines[3].split() == ["CLOCK", "STATE", "TARGET", "ELAPSED", "PAUSED", "REMAINING", "BREACHED", "BREACHES", "AT"]
    # Targets as itsm.yaml spells them: "3d" (three working days), not the "24h 00m" of business time they count.
    assert lines[4].split() == ["response", "breached", "2h", "2h", "30m", "0s", "-30m", "yes",
                                "2026-03-09T10:00:00Z"]
    assert lines[5].split() == ["resolution", "running", "3d", "2h", "30m", "0s", "21h", "30m", "no",
                                "2026-03-11T16:00:00Z"]


def test_waiting_pauses_the_resolution_clock(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-03-03T09:00:00Z", monkeypatch)  # Tuesday
    run("new", "incident", "--title", "Shared drive slow", "--service", "email", "--impact", "medium", "--urgency", "medium")
    at("2026-03-03T09:30:00Z", monkeypatch)
    assert run("assign", "INC-0001", ANN).exit_code == 0
    at("2026-03-03T10:00:00Z", monkeypatch)
    assert run("transition", "INC-0001", "in_progress").exit_code == 0
    at("2026-03-03T11:00:00Z", monkeypatch)
    assert run("transition", "INC-0001", "on_hold", "--note", "Waiting for the user").exit_code == 0
    at("2026-03-03T12:00:00Z", monkeypatch)
    held = sla_json("INC-0001")
    assert held["resolution"]["state"] == "paused" and held["resolution"]["breach_at"] is None
    assert held["resolution"]["elapsed"] == 2 * H and held["resolution"]["paused"] == 1 * H
    at("2026-03-03T15:00:00Z", monkeypatch)
    assert run("transition", "INC-0001", "in_progress").exit_code == 0
    at("2026-03-03T16:00:00Z", monkeypatch)
    data = sla_json("INC-0001")
    assert data["response"]["state"] == "met" and data["response"]["elapsed"] == 0.5 * H
    assert data["response"]["stopped_at"] == "2026-03-03T09:30:00Z" and data["response"]["breach_at"] is None
    res = data["resolution"]
    assert (res["elapsed"], res["paused"], res["remaining"]) == (3 * H, 4 * H, 21 * H)
    # 21 h left from Tuesday 16:00: 1 h Tuesday, 8 h Wednesday, 8 h Thursday, 4 h Friday -> Friday 13:00.
    assert res["breach_at"] == "2026-03-06T13:00:00Z" and res["state"] == "running"
    rows = run("sla", "INC-0001").stdout.splitlines()
    assert rows[4].split()[:2] == ["response", "met"] and rows[4].split()[-2:] == ["stopped", "2026-03-03T09:30:00Z"]
    assert rows[5].split()[2:7] == ["3d", "3h", "00m", "4h", "00m"]  # target, elapsed, paused


def test_sla_at_a_commit_says_what_it_said_then(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-03-06T16:00:00Z", monkeypatch)
    run("new", "incident", "--title", "Mail bounces", "--service", "email", "--impact", "medium", "--urgency", "medium")
    created = head(desk)
    then = run("sla", "INC-0001", "--format", "json").stdout
    at("2026-03-09T10:45:00Z", monkeypatch)
    run("assign", "INC-0001", ANN)
    assigned = head(desk)
    then2 = run("sla", "INC-0001", "--format", "json").stdout
    assert json.loads(then2)["response"]["stopped_at"] == "2026-03-09T10:45:00Z"
    # Later the targets change and the work goes on; the past answers must not.
    config = (desk / "itsm.yaml").read_text().replace("P3: {response: 2h, resolution: 3d}",
                                                      "P3: {response: 1h, resolution: 2d}")
    assert "P3: {response: 1h" in config
    (desk / "itsm.yaml").write_text(config)
    git(desk, "commit", "-qam", "tighter P3")
    at("2026-03-10T12:00:00Z", monkeypatch)
    run("transition", "INC-0001", "in_progress")
    assert run("sla", "INC-0001", "--at", created, "--format", "json").stdout == then
    assert run("sla", "INC-0001", "--at", assigned, "--format", "json").stdout == then2
    assert sla_json("INC-0001")["resolution"]["target"] == 16 * H  # today's config
    assert "(commit main~3)" in run("sla", "INC-0001", "--at", "main~3").stdout
    assert run("sla", "INC-0001", "--at", "no-such-rev").exit_code == 2
    assert run("sla", "INC-0001", "--at", "--help-me").exit_code == 2
    run("new", "incident", "--title", "Later")
    r = run("sla", "INC-0002", "--at", created)
    assert r.exit_code == 1 and "no record INC-0002 at" in r.stderr


def test_sla_refuses_unknown_ids_and_non_tickets(desk: Path) -> None:
    r = run("sla", "INC-0042")
    assert r.exit_code == 1 and r.stderr.startswith("itsm: error: no record INC-0042")
    assert run("new", "article", "--title", "How to reset a password").exit_code == 0
    r = run("sla", "KB-0001")
    assert r.exit_code == 1 and "not a ticket" in r.stderr
    assert run("sla", "bad id!").exit_code != 0


@pytest.mark.parametrize(("old", "new", "message"), [
    ("timezone: UTC\n    days:", "timezone: Mars/Olympus\n    days:", "unknown time zone 'Mars/Olympus'"),
    ("P3: {response: 2h, resolution: 3d}", "P3: {response: 2 hours, resolution: 3d}", "bad duration '2 hours'"),
])
def test_config_mistakes_name_itsm_yaml(desk: Path, old: str, new: str, message: str) -> None:
    run("new", "incident", "--title", "x", "--service", "email")
    text = (desk / "itsm.yaml").read_text()
    assert old in text
    (desk / "itsm.yaml").write_text(text.replace(old, new))
    for args in (("sla", "INC-0001"), ("list", "--breached"), ("report", "sla")):
        r = run(*args)
        assert r.exit_code == 1, (args, r.stderr)
        assert r.stderr.startswith("itsm: error: itsm.yaml: SLA settings:") and message in r.stderr
        assert "Traceback" not in r.stderr


def four_tickets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Monday 9 March; looked at 10:00.

    INC-0001 P1, no service (24x7), 08:00: response breached at 08:15, resolution due 12:00.
    INC-0002 P1, no service, 09:50: response due 10:05.
    INC-0003 P4, e-mail (business), 09:30: response due 13:30.
    INC-0004 P1, no service, 09:00: responded 09:05, on hold since 09:10 (paused).
    """
    for when, args in (
        ("2026-03-09T08:00:00Z", ("--title", "Site down", "--impact", "high", "--urgency", "high")),
        ("2026-03-09T09:50:00Z", ("--title", "VPN down", "--impact", "high", "--urgency", "high")),
        ("2026-03-09T09:30:00Z", ("--title", "Signature", "--service", "email", "--impact", "low", "--urgency", "medium")),
        ("2026-03-09T09:00:00Z", ("--title", "ERP slow", "--impact", "high", "--urgency", "high")),
    ):
        at(when, monkeypatch)
        assert run("new", "incident", *args).exit_code == 0
    at("2026-03-09T09:05:00Z", monkeypatch)
    run("assign", "INC-0004", ANN)
    run("transition", "INC-0004", "in_progress")
    at("2026-03-09T09:10:00Z", monkeypatch)
    assert run("transition", "INC-0004", "on_hold").exit_code == 0
    at("2026-03-09T10:00:00Z", monkeypatch)


def test_list_breached_and_breaching(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    four_tickets(monkeypatch)
    assert ids("--breached") == ["INC-0001"]
    assert ids("--breaching") == ["INC-0001", "INC-0002"]  # default: within 2 hours
    assert ids("--breaching", "--within", "10m") == ["INC-0002"]
    assert ids("--breaching", "--within", "4h") == ["INC-0001", "INC-0002", "INC-0003"]
    assert ids("--breaching", "--within", "4h", "--limit", "1") == ["INC-0001"]
    assert ids("--breaching", "--within", "4h", "--service", "email") == ["INC-0003"]
    assert ids("--breaching", "--within", "1d", "--sort", "-id") == ["INC-0003", "INC-0002", "INC-0001"]
    assert ids("article", "--breached") == []
    table = run("list", "--breached")
    assert table.exit_code == 0 and "Site down" in table.stdout and "VPN down" not in table.stdout


def test_list_sla_option_errors(desk: Path) -> None:
    assert run("list", "--within", "2h").exit_code == 2
    assert run("list", "--breaching", "--within", "2 hours").exit_code == 2
    assert run("list", "--breaching", "--breached").exit_code == 2


def test_reports(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    four_tickets(monkeypatch)
    day = ("--since", "2026-03-09", "--until", "2026-03-10")
    sla = json.loads(run("report", "sla", *day, "--by", "priority", "--format", "json").stdout)
    assert sla == [
        {"key": "P1", "response_met": 1, "response_breached": 1, "response_pending": 1, "response_pct": 50.0,
         "resolution_met": 0, "resolution_breached": 0, "resolution_pending": 2, "resolution_pct": None},
        {"key": "P4", "response_met": 0, "response_breached": 0, "response_pending": 1, "response_pct": None,
         "resolution_met": 0, "resolution_breached": 0, "resolution_pending": 0, "resolution_pct": None},
    ]
    table = run("report", "sla", *day, "--by", "priority").stdout.splitlines()
    assert table[0].split()[:3] == ["PRIORITY", "RESP", "MET"]
    assert table[1].split() == ["P1", "1", "1", "1", "50.0", "0", "0", "2"]
    mttr = json.loads(run("report", "mttr", *day, "--format", "json").stdout)
    assert mttr == [{"key": "(none)", "acknowledged": 1, "mtta_mean_h": 0.08, "mtta_median_h": 0.08,
                     "resolved": 0, "mttr_mean_h": None, "mttr_median_h": None}]
    volume = list(csv.reader(io.StringIO(run("report", "volume", *day, "--format", "csv").stdout)))
    assert volume == [["service", "opened", "resolved", "closed"], ["email", "1", "0", "0"], ["(none)", "3", "0", "0"]]
    backlog = json.loads(run("report", "backlog", "--format", "json").stdout)
    assert [(r["key"], r["open"], r["age_lt_1d"]) for r in backlog] == [("email", 1, 1), ("(none)", 3, 3)]
    later = json.loads(run("report", "backlog", "--until", "2026-03-12T10:00:00Z", "--format", "json").stdout)
    assert [(r["key"], r["age_1_3d"], r["age_3_7d"]) for r in later] == [("email", 0, 1), ("(none)", 0, 3)]
    only = json.loads(run("report", "volume", *day, "--service", "email", "--format", "json").stdout)
    assert only == [{"key": "email", "opened": 1, "resolved": 0, "closed": 0}]
    assert json.loads(run("report", "volume", "--group", "cab", "--format", "json").stdout) == []
    assert run("report", "volume", "--group", "cab").stderr.strip() == "nothing to show"
    monthly = json.loads(run("report", "volume", "--by", "month", "--format", "json").stdout)
    assert monthly == [{"key": "2026-03", "opened": 4, "resolved": 0, "closed": 0}]


def test_report_option_errors(desk: Path) -> None:
    assert run("report", "backlog", "--since", "2026-03-01").exit_code == 2
    assert run("report", "sla", "--since", "2026-03-10", "--until", "2026-03-09").exit_code == 2
    assert run("report", "sla", "--since", "yesterday").exit_code == 2
    assert run("report", "uptime").exit_code == 2
    assert run("report", "sla", "--by", "colour").exit_code == 2
