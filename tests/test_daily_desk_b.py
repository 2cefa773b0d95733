"""Issue 19, part B: a small team's daily work at the desk, end to end on real git desks.

Watchers and public comments reaching the customer side (SMTP and a webhook),
canned replies, attachments (also from e-mail), many IDs in one commit (``-``),
time spent and its report, the requester's rating (also by e-mail) and its
report, and setting the desk up by command (people, groups, services).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, EVE, git, head, load_ticket, run, status
from test_intake_mail import mail
from test_notify import Inbox, at, hook, ok, settings, smtp  # noqa: F401 - the fixtures are used by name
from test_rules import configure
from test_sync import _driver_config, team  # noqa: F401 - the fixture is used by name

from itsm_cli.app.mail_intake import intake_mail
from itsm_cli.store.desk import Desk

LENA = "lena@example.org"  # not listed: the requester's manager, watching


def fail(*args: str, input: str | None = None) -> Any:
    r = run(*args, input=input)
    assert r.exit_code != 0, (args, r.stdout)
    return r


def resolved_incident(monkeypatch: pytest.MonkeyPatch, title: str = "Outlook crashes") -> str:
    """EVE reports an incident that BOB resolves; returns its ID."""
    rid = ok("--as", EVE, "new", "incident", "--title", title, "--service", "email").strip()
    ok("assign", rid, BOB)
    ok("--as", BOB, "transition", rid, "resolved", "--set", "resolution=Rebuilt the profile")
    return rid


def subjects(inbox: Inbox) -> list[tuple[str, str]]:
    return inbox.to()


# -- issue bullet: "a public comment notifies no one; there are no watchers or CC" --------------------


def test_a_public_comment_reaches_the_requester_and_watchers_but_not_its_author(
    desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int], hook: Any  # noqa: F811
) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, f"http://127.0.0.1:{hook.server_port}/itsm",
                                           events=["comment"]))
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", "correct horse battery staple")
    ok("--as", EVE, "new", "incident", "--title", "VPN drops every hour", "--service", "email")
    ok("--as", EVE, "watch", "INC-0001", LENA)  # the requester adds her manager as a Cc
    ok("watch", "INC-0001")  # ANN follows it herself
    assert load_ticket(desk, "INC-0001")["watchers"] == [LENA, ANN]
    at(monkeypatch, "2026-03-02T09:10:00Z")
    ok("--as", BOB, "comment", "INC-0001", "Please try the new VPN profile.")
    ok("--as", BOB, "comment", "INC-0001", "Checked the concentrator logs: nothing odd.", "--internal")
    at(monkeypatch, "2026-03-02T09:20:00Z")
    ok("comment", "INC-0001", "It is a known issue with the 6.1 client.")  # by ANN, a watcher: not told of it
    at(monkeypatch, "2026-03-02T10:00:00Z")
    ok("notify")
    assert subjects(inbox) == [
        (ANN, "[INC-0001] New comment: VPN drops every hour"),
        (EVE, "[INC-0001] New comment: VPN drops every hour"),
        (EVE, "[INC-0001] New comment: VPN drops every hour"),
        (LENA, "[INC-0001] New comment: VPN drops every hour"),
        (LENA, "[INC-0001] New comment: VPN drops every hour"),
    ]
    texts = [m.get_content() for _, r, m in inbox.messages if r == [ANN]]
    assert len(texts) == 1 and "Bob Builder wrote:" in texts[0] and "new VPN profile" in texts[0]
    assert not any("concentrator" in m.get_content() for _, _, m in inbox.messages)  # internal: nobody
    assert not any(BOB in r for _, r, _ in inbox.messages)
    assert sorted(p["event"] for _, _, p in hook.received) == ["comment", "comment"]
    assert {p["message"].split(" wrote:")[0] for _, _, p in hook.received} == {"Bob Builder", "Ann Agent"}


def test_watch_and_unwatch_rules(desk: Path) -> None:
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    ok("watch", "INC-0001", "me")
    assert "already watches it" in fail("watch", "INC-0001", ANN.upper()).stderr
    assert "'not-an-address' is not an e-mail address" in fail("watch", "INC-0001", "not-an-address").stderr
    r = fail("--as", "mallory@example.net", "watch", "INC-0001", LENA)
    assert "only an agent or the requester may change who else watches it" in r.stderr
    ok("--as", "mallory@example.net", "watch", "INC-0001")  # anyone may follow it themselves
    assert "does not watch it; watchers: ann@example.com, mallory@example.net" in \
        fail("unwatch", "INC-0001", LENA).stderr
    ok("unwatch", "INC-0001")
    ok("--as", "mallory@example.net", "unwatch", "INC-0001", "me")
    data = load_ticket(desk, "INC-0001")
    assert "watchers" not in data
    assert [e["action"] for e in data["history"]] == ["create", "watch", "watch", "unwatch", "unwatch"]
    assert git(desk, "log", "-1", "--format=%B").endswith("Itsm-Id: INC-0001\nItsm-Action: unwatch\n\n")
    assert run("validate").exit_code == 0


def test_canned_replies_fill_placeholders_and_unknown_names_list_the_replies(desk: Path) -> None:
    configure(desk, bot_agent=False, replies={
        "need-details": "Hello,\n\nTo look into {id} ({title}) we need the exact error.\n\n{agent_name}, {desk_name}\n",
        "fixed": "Fixed.",
    })
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    ok("comment", "INC-0001", "--reply", "need-details")
    ok("comment", "INC-0001", "Also: which floor?", "--reply", "fixed", "--internal")
    notes = [e.get("note") for e in load_ticket(desk, "INC-0001")["history"][1:]]
    assert notes == ["Hello,\n\nTo look into INC-0001 (Printer jams) we need the exact error.\n\nAnn Agent, IT Service Desk",
                     "Fixed.\n\nAlso: which floor?"]
    assert "reply need-details" in git(desk, "log", "-2", "--format=%s")
    before = head(desk)
    r = fail("comment", "INC-0001", "--reply", "thanks")
    assert r.exit_code == 2 and "unknown reply 'thanks'; this desk's replies: fixed, need-details" in r.stderr
    assert "give the comment TEXT, or --reply NAME" in fail("comment", "INC-0001").stderr
    assert head(desk) == before


def test_watchers_added_on_two_branches_merge_and_the_trail_holds(
    team: dict[str, Path], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    ann, bob = team["ann"], team["bob"]
    git(bob, "switch", "-q", "-c", "bob-watch")
    at(monkeypatch, "2026-03-02T10:00:00Z")
    assert run("--as", BOB, "watch", "INC-0001", LENA, cwd=bob).exit_code == 0
    at(monkeypatch, "2026-03-02T10:30:00Z")
    assert run("--as", ANN, "watch", "INC-0001", cwd=ann).exit_code == 0
    git(ann, "push", "-q", "origin", "main")
    git(bob, "fetch", "-q", "origin")
    git(bob, *_driver_config(), "merge", "-q", "--no-edit", "origin/main")
    assert load_ticket(bob, "INC-0001")["watchers"] == [LENA, ANN]
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 0, r.stdout + r.stderr
    verify = run("audit", "verify", cwd=bob)
    assert verify.exit_code == 0, verify.stdout + verify.stderr


# -- attachments --------------------------------------------------------------------------------------


def test_attach_keeps_a_safe_unique_name_its_type_and_size_in_one_commit(desk: Path, tmp_path: Path) -> None:
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    shot = tmp_path / "error screen.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    hidden = tmp_path / ".bashrc"
    hidden.write_bytes(b"secret")
    r = run("attach", "INC-0001", str(shot), str(shot), str(hidden), "--note", "What Eve sees")
    assert r.exit_code == 0, r.stderr
    stored = ["attachments/INC-0001/error_screen.png", "attachments/INC-0001/error_screen-2.png",
              "attachments/INC-0001/bashrc"]
    assert [line.removeprefix("itsm: stored ") for line in r.stderr.splitlines()] == stored
    assert (desk / stored[0]).read_bytes() == shot.read_bytes()
    entries = [e for e in load_ticket(desk, "INC-0001")["history"] if e["action"] == "attach"]
    assert [(e["attachment"]["name"], e["attachment"]["content_type"], e["attachment"]["bytes"]) for e in entries] == [
        ("error_screen.png", "image/png", 108), ("error_screen-2.png", "image/png", 108),
        ("bashrc", "application/octet-stream", 6)]
    assert all(e["note"] == "What Eve sees" for e in entries)
    changed = git(desk, "show", "--name-only", "--format=%s", "HEAD").split("\n")
    assert changed[0] == "INC-0001: attach error screen.png, error screen.png, .bashrc"
    assert sorted(filter(None, changed[1:])) == sorted([*stored, "tickets/INC/000/INC-0001.yaml"])
    shown = ok("show", "INC-0001")
    assert re.search(r"\n  attached +attachments/INC-0001/error_screen\.png \(image/png, 108 bytes\)\n", shown), shown
    assert status(desk) == "" and run("validate").exit_code == 0


def test_attach_refuses_what_is_too_big_or_not_a_file_and_writes_nothing(desk: Path, tmp_path: Path) -> None:
    configure(desk, bot_agent=False, attachments={"max_bytes": 1000})
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    big = tmp_path / "dump.bin"
    big.write_bytes(b"x" * 1001)
    before = head(desk)
    r = fail("attach", "INC-0001", str(big))
    assert "dump.bin is 1,001 bytes; this desk takes attachments up to 1,000 bytes" in r.stderr
    assert "Git LFS" in r.stderr
    assert "is not a regular file" in fail("attach", "INC-0001", str(tmp_path)).stderr
    assert head(desk) == before and status(desk) == "" and not (desk / "attachments").exists()


def test_mail_attachments_take_the_same_path_as_itsm_attach(desk: Path) -> None:
    configure(desk, bot_agent=False, intake_mail={"attachments": "store"})
    before = int(git(desk, "rev-list", "--count", "HEAD"))
    files = [("../../etc/passwd", b"root:x"), ("scan 1.png", b"\x89PNG\x00\xff"), ("scan 1.png", b"again")]
    result = intake_mail(Desk(desk), mail(attachments=files), "2026-03-02T09:00:00Z")
    assert result.stored == ["attachments/INC-0001/passwd", "attachments/INC-0001/scan_1.png",
                             "attachments/INC-0001/scan_1-2.png"]
    history = load_ticket(desk, "INC-0001")["history"]
    assert [e["action"] for e in history] == ["create", "attach", "attach", "attach"]
    assert history[2]["attachment"]["content_type"] == "image/png" and history[2]["by"] == EVE
    assert int(git(desk, "rev-list", "--count", "HEAD")) == before + 1  # the ticket and its files: one commit
    assert status(desk) == "" and run("validate").exit_code == 0


def test_attachments_are_never_published(desk: Path, tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    from itsm_cli.site.build import build_site

    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    secret = tmp_path / "payslip.txt"
    secret.write_text("ATTACHMENT-SECRET-4711")
    ok("attach", "INC-0001", str(secret))
    out = build_site(Desk(desk), out=tmp_path / "site")
    leaked = [p for p in out.rglob("*") if p.is_file() and b"ATTACHMENT-SECRET-4711" in p.read_bytes()]
    assert leaked == [] and not any("payslip" in p.name for p in out.rglob("*"))


# -- many IDs: "-" -------------------------------------------------------------------------------------


def test_list_ids_piped_into_assign_changes_all_in_one_commit(desk: Path) -> None:
    for n in range(5):
        ok("--as", EVE, "new", "incident", "--title", f"Printer {n} jams")
    ok("assign", "INC-0002", ANN)
    before = int(git(desk, "rev-list", "--count", "HEAD"))
    ids = ok("list", "--assignee", "none", "--format", "ids")
    r = run("assign", "-", BOB, input=ids)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split() == ["INC-0001", "INC-0003", "INC-0004", "INC-0005"]
    assert int(git(desk, "rev-list", "--count", "HEAD")) == before + 1
    message = git(desk, "log", "-1", "--format=%B")
    assert message.startswith(f"INC-0001: assign {BOB} (4 records)\n")
    assert [line for line in message.splitlines() if line.startswith("Itsm-")] == [
        "Itsm-Id: INC-0001", "Itsm-Id: INC-0003", "Itsm-Id: INC-0004", "Itsm-Id: INC-0005", "Itsm-Action: assign"]
    assert {load_ticket(desk, f"INC-000{n}")["assignee"] for n in (1, 3, 4, 5)} == {BOB}
    assert status(desk) == "" and run("validate").exit_code == 0


def test_many_ids_are_all_or_nothing_and_each_refusal_is_named(desk: Path) -> None:
    for n in range(3):
        ok("--as", EVE, "new", "incident", "--title", f"Printer {n} jams")
    ok("assign", "INC-0002", BOB)
    ok("--as", BOB, "transition", "INC-0002", "resolved", "--set", "resolution=Cleared the jam")
    ok("transition", "INC-0002", "closed")
    ok("assign", "INC-0001", ANN)
    before = head(desk)
    r = fail("transition", "-", "in_progress", input="INC-0001\nINC-0002\n# a comment\nINC-0009 INC-0003\n")
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0].startswith("itsm: error: INC-0002: ") and "closed" in lines[0]
    assert lines[1].startswith("itsm: error: INC-0009: no record INC-0009")
    assert lines[2] == "itsm: error: INC-0003: 'in_progress' requires assignee; add --set assignee=..."
    assert lines[3] == "itsm: error: 3 of 4 records refused; nothing was changed"
    assert len(lines) == 4 and r.stdout == ""
    assert head(desk) == before and status(desk) == ""
    assert "no IDs on standard input" in fail("assign", "-", BOB, input="\n").stderr
    assert "not both" in fail("comment", "-", "-", input="INC-0001\n").stderr
    assert "one ID at a time" in fail("renumber", "-", input="INC-0001\n").stderr


def test_watch_comment_and_edit_take_many_ids_too(desk: Path) -> None:
    for n in range(3):
        ok("--as", EVE, "new", "incident", "--title", f"Printer {n} jams")
    for args, ids in ((("watch", "-", LENA), "INC-0001\nINC-0003\n"),
                      (("comment", "-", "The print server is being restarted.", "--time", "10m"), "INC-0001 INC-0002"),
                      (("edit", "-", "--set", "urgency=high"), "INC-0002\nINC-0003\n")):
        r = run(*args, input=ids)
        assert r.exit_code == 0 and len(r.stdout.split()) == 2, r.stderr
    assert [load_ticket(desk, f"INC-000{n}").get("watchers") for n in (1, 2, 3)] == [[LENA], None, [LENA]]
    assert load_ticket(desk, "INC-0002")["history"][1]["time_spent"] == 10
    assert git(desk, "log", "-3", "--format=%s").splitlines() == [
        "INC-0002: edit urgency (2 records)", "INC-0001: comment (2 records)", f"INC-0001: watch {LENA} (2 records)"]


# -- time spent and satisfaction -----------------------------------------------------------------------


def test_time_spent_is_recorded_and_reported_by_person_ticket_and_service(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email")
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    ok("comment", "INC-0001", "Looking at it", "--time", "30m")
    at(monkeypatch, "2026-03-03T09:00:00Z")
    ok("assign", "INC-0001", BOB)
    ok("--as", BOB, "transition", "INC-0001", "in_progress", "--time", "1h30m")
    ok("--as", BOB, "edit", "INC-0002", "--set", "urgency=high", "--time", "1.5h")
    assert load_ticket(desk, "INC-0001")["history"][1]["time_spent"] == 30
    assert "[1h 30m]" in ok("show", "INC-0001")
    r = run("report", "time", "--format", "json")
    assert json.loads(r.stdout) == [
        {"key": ANN, "entries": 1, "tickets": 1, "minutes": 30, "hours": 0.5},
        {"key": BOB, "entries": 2, "tickets": 2, "minutes": 180, "hours": 3.0},
    ]
    assert ok("report", "time", "--by", "service", "--format", "csv").splitlines() == [
        "service,entries,tickets,minutes,hours", "email,2,1,120,2.0", "(none),1,1,90,1.5"]
    since = json.loads(ok("report", "time", "--by", "ticket", "--since", "2026-03-03", "--format", "json"))
    assert [(row["key"], row["minutes"]) for row in since] == [("INC-0001", 90), ("INC-0002", 90)]
    assert "--time '2 hours' is not a duration" in fail("comment", "INC-0001", "x", "--time", "2 hours").stderr
    assert fail("report", "sla", "--by", "person").exit_code == 2


def test_only_the_requester_rates_and_only_while_resolved(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    assert "is 'new', not resolved yet" in fail("--as", EVE, "rate", "INC-0001", "5").stderr
    rid = resolved_incident(monkeypatch)
    assert "only its requester (eve@example.com) may rate it" in fail("--as", BOB, "rate", rid, "5").stderr
    assert fail("--as", EVE, "rate", rid, "6").exit_code == 2
    ok("--as", EVE, "rate", rid, "4", "--note", "Quick, but I had to ask twice")
    assert "has already been rated" in fail("--as", EVE, "rate", rid, "5").stderr
    entry = load_ticket(desk, rid)["history"][-1]
    assert (entry["action"], entry["score"], entry["note"], entry["by"]) == ("rate", 4, "Quick, but I had to ask twice", EVE)
    ok("transition", rid, "closed")
    assert "is closed; ratings are taken while it is resolved" in fail("--as", EVE, "rate", rid, "5").stderr
    assert run("validate").exit_code == 0


def test_a_mail_reply_starting_with_a_digit_rates_a_resolved_ticket(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, bot_agent=False, intake_mail={})
    rid = resolved_incident(monkeypatch)
    result = intake_mail(Desk(desk), mail(subject=f"Re: [{rid}] Resolved: Outlook crashes", body="5\nThanks, all good.\n"),
                         "2026-03-02T10:00:00Z")
    assert (result.record_id, result.action) == (rid, "rate")
    entry = load_ticket(desk, rid)["history"][-1]
    assert (entry["action"], entry["score"], entry["note"]) == ("rate", 5, "Thanks, all good.")
    # Not a rating: a reply that is not a lone digit is a comment, as before.
    result = intake_mail(Desk(desk), mail(subject=f"Re: [{rid}]", body="5 minutes later it broke again\n"),
                         "2026-03-02T10:05:00Z")
    assert result.action == "comment"


def test_report_csat_by_service_and_agent(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ratings = [5, 4, 2]
    for n, score in enumerate(ratings):
        rid = resolved_incident(monkeypatch, f"Outlook crash {n}")
        ok("--as", EVE, "rate", rid, str(score))
    rows = json.loads(ok("report", "csat", "--format", "json"))
    assert rows == [{"key": "email", "ratings": 3, "average": 3.67, "satisfied_pct": 66.7,
                     "score_1": 0, "score_2": 1, "score_3": 0, "score_4": 1, "score_5": 1}]
    by_agent = ok("report", "csat", "--by", "person")
    assert by_agent.splitlines()[1].split()[:4] == [BOB, "3", "3.67", "66.7"]


# -- set-up by command ---------------------------------------------------------------------------------


def test_person_and_group_add_keep_itsm_yaml_comments_and_commit_once(desk: Path) -> None:
    before = (desk / "itsm.yaml").read_text()
    n = int(git(desk, "rev-list", "--count", "HEAD"))
    ok("group", "add", "field-support", "--name", "Field support", "--email", "field@example.com")
    ok("person", "add", "ines@example.com", "--name", "Inês Carvalho", "--role", "agent", "--group", "field-support")
    after = (desk / "itsm.yaml").read_text()
    comments = [line for line in before.splitlines() if line.lstrip().startswith("#")]
    assert comments == [line for line in after.splitlines() if line.lstrip().startswith("#")]
    assert len(after.splitlines()) == len(before.splitlines()) + 2  # flow items, one line each, as the file has them
    data = yaml.safe_load(after)
    assert data["people"][-1] == {"email": "ines@example.com", "name": "Inês Carvalho", "roles": ["agent"],
                                  "groups": ["field-support"]}
    assert data["groups"][-1] == {"id": "field-support", "name": "Field support", "email": "field@example.com"}
    assert int(git(desk, "rev-list", "--count", "HEAD")) == n + 2
    assert git(desk, "log", "-1", "--format=%B") == (
        "itsm.yaml: add person ines@example.com (agent; field-support)\n\nItsm-Action: person-add\n\n")
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    ok("assign", "INC-0001", "ines@example.com", "--group", "field-support")
    assert status(desk) == "" and run("validate").exit_code == 0


def test_person_add_refuses_clearly_and_writes_nothing(desk: Path) -> None:
    before = head(desk)
    assert "already listed (as Bob Builder)" in fail("person", "add", BOB.upper(), "--name", "B").stderr
    r = fail("person", "add", "x@example.com", "--name", "X", "--group", "typists")
    assert "unknown group 'typists'" in r.stderr and "itsm group add typists" in r.stderr
    assert fail("person", "add", "x@example.com", "--name", "X", "--role", "boss").exit_code == 2
    text = (desk / "itsm.yaml").read_text()
    flow = "people: [" + ", ".join(f"{{email: {who}, name: {who.split('@')[0]}, roles: [agent]}}" for who in (ANN, BOB)) + "]\n"
    (desk / "itsm.yaml").write_text(text[:text.index("\npeople:") + 1] + flow + text[text.index("\ngroups:") + 1:])
    git(desk, "commit", "-qam", "people as a flow list")
    flow = head(desk)
    r = fail("person", "add", "x@example.com", "--name", "X")
    assert "written in flow style" in r.stderr and "add the entry by hand" in r.stderr
    assert head(desk) == flow and status(desk) == "" and before != flow


def test_block_style_people_get_a_block_item_and_a_fresh_desk_says_who_is_first(tmp_path: Path) -> None:
    r = run("--as", "kim@example.com", "init", str(tmp_path / "fresh"))
    assert r.exit_code == 0
    assert "You (kim@example.com) are its first listed person: agent and approver" in r.stderr
    assert "itsm person add EMAIL --name NAME --role agent --group service-desk" in r.stderr
    git(tmp_path / "fresh", "config", "user.email", "kim@example.com")
    git(tmp_path / "fresh", "config", "user.name", "Kim")
    r = run("-C", str(tmp_path / "fresh"), "--as", "kim@example.com", "person", "add", "lee@example.com",
            "--name", "Lee: night shift", "--role", "agent", "--role", "approver")
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "fresh" / "itsm.yaml").read_text()
    assert '  - email: lee@example.com\n    name: "Lee: night shift"\n    roles: [agent, approver]\n' in text
    assert run("-C", str(tmp_path / "fresh"), "validate").exit_code == 0


def test_assign_to_someone_not_listed_says_how_to_list_them_or_act_as_someone(desk: Path) -> None:
    ok("--as", EVE, "new", "incident", "--title", "Printer jams")
    r = fail("assign", "INC-0001", "newbie@example.com")
    assert "newbie@example.com is not a listed agent of this desk" in r.stderr
    assert "itsm person add newbie@example.com --name NAME --role agent" in r.stderr and "--as EMAIL" in r.stderr


def test_service_new_writes_a_valid_catalog_file_to_fill_in(desk: Path) -> None:
    r = fail("new", "service", "--title", "VPN")
    assert "itsm service new ID --name NAME" in r.stderr and "pull request" not in r.stderr
    n = int(git(desk, "rev-list", "--count", "HEAD"))
    assert ok("service", "new", "vpn", "--name", "Remote access (VPN)", "--owner", CAROL).startswith("catalog/vpn.yaml")
    text = (desk / "catalog/vpn.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/service.schema.json\n")
    data = yaml.safe_load(text)
    assert (data["id"], data["name"], data["owner"], data["group"], data["offerings"]) == (
        "vpn", "Remote access (VPN)", CAROL, "cab", [])
    assert int(git(desk, "rev-list", "--count", "HEAD")) == n + 1
    assert "Itsm-Action: service-new" in git(desk, "log", "-1", "--format=%B")
    assert run("validate").exit_code == 0 and status(desk) == ""
    ok("--as", EVE, "new", "incident", "--title", "VPN drops", "--service", "vpn")
    assert "already exists" in fail("service", "new", "vpn", "--name", "x").stderr
    r = fail("service", "new", "VPN2", "--name", "x")
    assert r.exit_code == 2 and "lower-case letters, digits and hyphens" in r.stderr
    assert "not a listed person" in fail("service", "new", "fax", "--name", "Fax", "--owner", EVE).stderr


def test_new_commands_have_an_example_in_their_help() -> None:
    for args in (["watch"], ["unwatch"], ["attach"], ["rate"], ["person", "add"], ["group", "add"],
                 ["service", "new"], ["comment"], ["report"]):
        r = run(*args, "--help")
        assert r.exit_code == 0 and "Example: itsm " in r.stdout, args


def test_one_id_on_standard_input_fails_as_that_one_change_would(desk: Path) -> None:
    r = fail("assign", "-", BOB, input="INC-0042\n")
    assert r.stderr.splitlines() == [f"itsm: error: no record INC-0042 (looked for {'tickets/INC/000/INC-0042.yaml'})"]
