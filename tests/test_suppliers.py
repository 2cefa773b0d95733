"""Suppliers and underpinning contracts through the CLI: validation, escalation, sweep reminders, report, site."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, CAROL, EVE, git, head, load_ticket, run, status
from test_notify import PASSWORD, Inbox, settings, smtp  # noqa: F401 - the fixture is used by name
from test_rules import configure

SUPPLIER = """id: acme-mail
type: supplier
name: Acme Mail Hosting
status: active
owner: carol@example.com
website: https://acme-mail.example
contacts:
  - {name: Acme NOC, email: noc@acme-mail.example, phone: "+44 20 7946 0999", role: faults}
contracts:
  - id: hosting
    title: Mailbox hosting for 120 users
    reference: ACME-CT-4711
    start: "2025-05-01"
    end: "2026-04-30"
    notice_days: 30
    renewal: auto
    services: [email]
    targets: {response: 1h, resolution: 4h, availability: 99.9}
"""


def ok(*args: str) -> str:
    r = run(*args)
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout


def add_supplier(desk: Path, text: str = SUPPLIER, name: str = "acme-mail", commit: bool = True) -> None:
    (desk / "suppliers" / f"{name}.yaml").write_text(text)
    if commit:
        git(desk, "add", "-A")
        git(desk, "commit", "-q", "-m", f"supplier {name}")


def name_supplier_on_email(desk: Path, supplier: str = "acme-mail") -> None:
    path = desk / "catalog" / "email.yaml"
    path.write_text(path.read_text().replace("depends_on: []\n", f"depends_on: []\nsuppliers: [{supplier}]\n"))
    git(desk, "commit", "-q", "-am", "email names its supplier")


def validate_lines(desk: Path) -> list[str]:
    r = run("validate")
    assert r.exit_code == 1, r.stdout
    return r.stdout.splitlines()


# --- the record kind and validation ------------------------------------------------------------


def test_init_makes_an_empty_suppliers_folder_and_a_supplier_validates(desk: Path) -> None:
    assert (desk / "suppliers" / ".gitkeep").is_file()
    assert "suppliers/.gitkeep" in git(desk, "ls-files")
    add_supplier(desk)
    name_supplier_on_email(desk)
    r = run("validate")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "all valid" in r.stderr


def test_show_list_and_history_find_a_supplier_by_its_id(desk: Path) -> None:
    add_supplier(desk)
    shown = json.loads(ok("show", "acme-mail", "--format", "json"))
    assert shown["name"] == "Acme Mail Hosting" and shown["contracts"][0]["reference"] == "ACME-CT-4711"
    listed = ok("list", "supplier", "--format", "ids")
    assert listed == "acme-mail\n"
    assert "supplier acme-mail" in ok("history", "acme-mail")
    assert json.loads(ok("show", "email", "--format", "json"))["name"] == "E-mail"  # services still come first
    r = run("show", "acme")
    assert r.exit_code == 1 and "no record acme (looked for catalog/acme.yaml)" in r.stderr


def test_contract_errors_are_reported_with_line_and_column(desk: Path) -> None:
    text = (SUPPLIER.replace("owner: carol@example.com", f"owner: {EVE}")
            .replace("services: [email]", "services: [email, fax]")
            .replace('start: "2025-05-01"', 'start: "2026-06-01"')
            + """  - id: hosting
    title: A second contract with the same id
    start: "2026-01-01"
    end: "2026-12-31"
    notice_by: "2027-01-15"
    renewal: manual
    services: [email]
""")
    add_supplier(desk, text)
    lines = validate_lines(desk)
    # Each problem at the line of the value at fault (a mapping value: at its key, as for every record).
    assert lines == [
        f"suppliers/acme-mail.yaml:5:1: owner {EVE} is not a listed person of itsm.yaml",
        "suppliers/acme-mail.yaml:14:5: contract 'hosting': end 2026-04-30 is not after start 2026-06-01",
        "suppliers/acme-mail.yaml:15:5: contract 'hosting': the notice date 2026-03-31 is before the start 2026-06-01",
        "suppliers/acme-mail.yaml:17:23: contract 'hosting': unknown service 'fax'",
        "suppliers/acme-mail.yaml:19:5: duplicate contract id 'hosting'",
        "suppliers/acme-mail.yaml:23:5: contract 'hosting': the notice date 2027-01-15 is after the end 2026-12-31",
    ]


def test_schema_refuses_an_unknown_field_and_both_notice_forms(desk: Path) -> None:
    text = SUPPLIER.replace("    notice_days: 30\n", '    notice_days: 30\n    notice_by: "2026-03-01"\n    price: 100\n')
    add_supplier(desk, text)
    lines = validate_lines(desk)
    assert all(line.startswith("suppliers/acme-mail.yaml:10:5: ") for line in lines), lines
    assert any("price" in line for line in lines)


def test_a_service_naming_an_unknown_supplier_and_a_supplier_shadowing_a_service(desk: Path) -> None:
    name_supplier_on_email(desk, "ghost")
    add_supplier(desk, SUPPLIER.replace("id: acme-mail", "id: email"), name="email")
    lines = validate_lines(desk)
    assert "catalog/email.yaml:11:13: unknown supplier 'ghost' (no suppliers/ghost.yaml)" in lines
    # A supplier and a service share the slug IDs: one name, one record.
    assert any(line.startswith("suppliers/email.yaml:1:1: ID email is also used by catalog/email.yaml") for line in lines), lines


def test_a_service_of_the_same_name_does_not_stand_in_for_a_supplier(desk: Path) -> None:
    """The catalog's 'email' exists, but it is a service: naming it as a supplier is an unknown supplier."""
    name_supplier_on_email(desk, "email")
    assert "catalog/email.yaml:11:13: unknown supplier 'email' (no suppliers/email.yaml)" in validate_lines(desk)


# --- escalation ----------------------------------------------------------------------------------


def new_incident(title: str = "Mail delivery delayed by two hours") -> str:
    return ok("--as", EVE, "new", "incident", "--title", title, "--service", "email").strip()


def test_escalate_records_the_supplier_their_reference_and_one_commit(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_supplier(desk)
    rid = new_incident()
    before = head(desk)
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:30:00Z")
    assert ok("escalate", rid, "acme-mail", "--ref", "ACME-CASE-881", "--note", "Queue stuck on their relay") == f"{rid}\n"
    assert git(desk, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    message = git(desk, "log", "-1", "--format=%an <%ae>%n%B")
    assert message.splitlines()[0].endswith(f"<{ANN}>")  # the acting agent is the commit's author
    assert f"{rid}: escalate to acme-mail (their ref ACME-CASE-881)" in message
    assert f"Itsm-Id: {rid}" in message and "Itsm-Action: escalate" in message
    data = load_ticket(desk, rid)
    assert data["escalations"] == [
        {"supplier": "acme-mail", "reference": "ACME-CASE-881", "at": "2026-03-02T09:30:00Z", "by": ANN}]
    last = data["history"][-1]
    assert (last["action"], last["by"], last["fields"], last["note"]) == (
        "escalate", ANN, {"supplier": "acme-mail", "reference": "ACME-CASE-881"}, "Queue stuck on their relay")
    assert data["updated"] == "2026-03-02T09:30:00Z"
    assert status(desk) == ""
    assert run("validate").exit_code == 0
    history = ok("history", rid)
    assert "escalate" in history
    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert "escalate" in ok("audit", "--format", "csv")


def test_escalate_refuses_an_unknown_supplier_naming_the_valid_ones(desk: Path) -> None:
    add_supplier(desk)
    rid = new_incident()
    before = head(desk)
    r = run("escalate", rid, "acme")
    assert r.exit_code == 2
    assert r.stderr == "itsm: error: unknown supplier 'acme' (suppliers: acme-mail)\n"
    assert head(desk) == before and status(desk) == ""


def test_escalate_is_for_agents_and_incidents(desk: Path) -> None:
    add_supplier(desk)
    rid = new_incident()
    r = run("--as", EVE, "escalate", rid, "acme-mail")
    assert r.exit_code == 1 and "not a listed agent and cannot escalate" in r.stderr
    req = ok("--as", EVE, "new", "request", "--title", "A list", "--service", "email", "--offering",
             "distribution-list").strip()
    r = run("escalate", req, "acme-mail")
    assert r.exit_code == 1 and "only incidents are escalated" in r.stderr
    ended = SUPPLIER.replace("status: active", "status: ended")
    add_supplier(desk, ended)
    r = run("escalate", rid, "acme-mail")
    assert r.exit_code == 1 and "relationship has ended" in r.stderr


def test_an_escalation_to_a_supplier_that_is_gone_fails_validation(desk: Path) -> None:
    add_supplier(desk)
    rid = new_incident()
    ok("escalate", rid, "acme-mail")
    git(desk, "rm", "-q", "suppliers/acme-mail.yaml")
    lines = validate_lines(desk)
    assert any(line.endswith("unknown supplier 'acme-mail' (no suppliers/acme-mail.yaml)") and rid in line for line in lines), lines


# --- sweep reminders -------------------------------------------------------------------------------


def test_sweep_reminds_the_owner_once_per_contract_date(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_supplier(desk)
    # 2026-03-02: the notice date (30 days before the 2026-04-30 end) is 2026-03-31, within the default 30 days.
    out = ok("sweep")
    assert out == f"acme-mail: remind {CAROL}: hosting notice 2026-03-31\n"
    data = yaml.safe_load((desk / "suppliers" / "acme-mail.yaml").read_text())
    assert data["reminders"] == [{"contract": "hosting", "kind": "notice", "date": "2026-03-31",
                                  "at": "2026-03-02T09:00:00Z", "to": CAROL}]
    message = git(desk, "log", "-1", "--format=%B")
    assert "Itsm-Id: acme-mail" in message and "Itsm-Action: sweep" in message
    before = head(desk)
    r = run("sweep")
    assert r.exit_code == 0 and r.stdout == "" and "nothing to do" in r.stderr
    assert head(desk) == before
    # Later the end date comes into range: reminded of that, once.
    monkeypatch.setenv("ITSM_NOW", "2026-04-02T09:00:00Z")
    assert ok("sweep") == f"acme-mail: remind {CAROL}: hosting end 2026-04-30\n"
    assert ok("sweep") == ""
    assert run("validate").exit_code == 0
    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_a_supplier_merges_field_by_field_with_the_record_merge_driver(desk: Path) -> None:
    """The sweep's reminder on main and a new owner on a branch: both survive the merge, with no conflict."""
    add_supplier(desk)
    assert "suppliers/*.yaml merge=itsm" in (desk / ".gitattributes").read_text()
    git(desk, "checkout", "-q", "-b", "new-owner")
    path = desk / "suppliers" / "acme-mail.yaml"
    # A note at the end of the file, where the sweep adds its reminders: a plain text merge would conflict.
    path.write_text(path.read_text().replace(f"owner: {CAROL}", f"owner: {ANN}") + "notes: Renegotiate in March.\n")
    git(desk, "commit", "-q", "-am", "Ann manages Acme now")
    git(desk, "checkout", "-q", "main")
    assert ok("sweep").startswith("acme-mail: remind")
    git(desk, "merge", "-q", "--no-edit", "new-owner")
    data = yaml.safe_load(path.read_text())
    assert data["owner"] == ANN and [r["kind"] for r in data["reminders"]] == ["notice"]
    assert data["notes"] == "Renegotiate in March."
    assert run("validate").exit_code == 0


def test_sweep_reminder_lead_time_is_configurable_and_can_be_off(desk: Path) -> None:
    add_supplier(desk)
    config = desk / "itsm.yaml"
    config.write_text(config.read_text().replace("supplier_reminders: {days: 30}", "supplier_reminders: {days: 10}"))
    git(desk, "commit", "-q", "-am", "10 days")
    assert "supplier_reminders: {days: 10}" in config.read_text()
    assert ok("sweep", "--dry-run") == ""
    config.write_text(config.read_text().replace("{days: 10}", "{days: 60}"))
    git(desk, "commit", "-q", "-am", "60 days")
    assert ok("sweep", "--dry-run").splitlines() == [f"acme-mail: remind {CAROL}: hosting notice 2026-03-31, hosting end 2026-04-30"]
    config.write_text(config.read_text().replace("{days: 60}", "{enabled: false}"))
    git(desk, "commit", "-q", "-am", "off")
    assert ok("sweep") == ""


def test_notify_mails_the_owner_each_recorded_reminder_once(
    desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]  # noqa: F811
) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, events=["contract_due"]), sweep={"supplier_reminders": {"days": 30}})
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    add_supplier(desk)
    ok("sweep")
    assert ok("notify") == f"sent: acme-mail contract_due -> {CAROL}\n"
    assert inbox.to() == [(CAROL, "[acme-mail] Contract notice date 2026-03-31: Acme Mail Hosting")]
    body = inbox.messages[0][2].get_content()
    assert "Acme Mail Hosting: Mailbox hosting for 120 users: last day to give notice" in body
    assert ok("notify") == ""
    assert len(inbox.messages) == 1


# --- the report ------------------------------------------------------------------------------------


def test_report_suppliers_rows_formats_and_refusals(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    second = SUPPLIER.replace("acme-mail", "bolt-backup").replace("Acme Mail Hosting", "Bolt Backup").replace(
        'end: "2026-04-30"', 'end: "2027-09-30"').replace("ACME-CT-4711", "BOLT-1")
    add_supplier(desk)
    add_supplier(desk, second, name="bolt-backup")
    rid = new_incident()
    ok("escalate", rid, "acme-mail", "--ref", "A-1")
    rows = json.loads(ok("report", "suppliers", "--format", "json"))
    assert [(r["supplier"], r["contract"], r["end"], r["notice"], r["days_left"], r["due"], r["escalated"]) for r in rows] == [
        ("acme-mail", "hosting", "2026-04-30", "2026-03-31", 29, True, 1),
        ("bolt-backup", "hosting", "2027-09-30", "2027-08-31", 547, False, 0),
    ]
    assert rows[0]["services"] == ["email"] and rows[0]["renewal"] == "auto"
    table = ok("report", "suppliers").splitlines()
    assert table[0].split() == ["SUPPLIER", "CONTRACT", "SERVICES", "END", "NOTICE", "DAYS", "LEFT", "DUE", "RENEWAL",
                                "ESCALATED"]
    assert table[1].split() == ["acme-mail", "hosting", "email", "2026-04-30", "2026-03-31", "29", "yes", "auto", "1"]
    parsed = list(csv.DictReader(io.StringIO(ok("report", "suppliers", "--format", "csv"))))
    assert [(r["supplier"], r["due"], r["escalated"]) for r in parsed] == [("acme-mail", "yes", "1"), ("bolt-backup", "", "0")]
    # A period before the escalation counts none; --until widens what is due.
    rows = json.loads(ok("report", "suppliers", "--format", "json", "--since", "2026-01-01", "--until", "2026-03-01"))
    assert [r["escalated"] for r in rows] == [0, 0]
    rows = json.loads(ok("report", "suppliers", "--format", "json", "--until", "2027-12-31"))
    assert [r["due"] for r in rows] == [True, True]
    r = run("report", "suppliers", "--format", "markdown")
    assert r.exit_code == 2 and "--format table, json or csv" in r.stderr
    r = run("report", "suppliers", "--by", "month")
    assert r.exit_code == 2
    assert json.loads(ok("report", "suppliers", "--format", "json", "--service", "email"))[0]["supplier"] == "acme-mail"


# --- the published site ----------------------------------------------------------------------------


def _site_text(out: Path) -> str:
    """Every text file of the built site, HTML entities decoded (an address is written noc&#64;...)."""
    return html.unescape("\n".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*") if p.is_file()
                                   and p.suffix in (".html", ".json", ".xml", ".txt", ".js", ".md", ".yaml")))


def test_the_site_shows_supplier_names_and_never_a_contract_field(desk: Path, tmp_path: Path) -> None:
    add_supplier(desk)
    name_supplier_on_email(desk)
    rid = new_incident()
    ok("escalate", rid, "acme-mail", "--ref", "ACME-CASE-881")
    out = tmp_path / "site"
    r = run("site", "build", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    text = _site_text(out)
    page = html.unescape((out / "services" / "email" / "index.html").read_text())
    assert "Acme Mail Hosting" in page
    for secret in ("ACME-CT-4711", "noc@acme-mail.example", "+44 20 7946 0999", "2026-04-30", "ACME-CASE-881",
                   "Mailbox hosting for 120 users"):
        assert secret not in text, secret
    assert not list(out.rglob("*acme-mail*"))
    # What the supplier marks public appears, and still nothing of the contract itself.
    add_supplier(desk, SUPPLIER.replace("contracts:\n", "public: [website, contacts, targets]\ncontracts:\n"))
    r = run("site", "build", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    page = html.unescape((out / "services" / "email" / "index.html").read_text())
    assert "noc@acme-mail.example" in page and "https://acme-mail.example" in page and "responds within 1h" in page
    text = _site_text(out)
    assert "ACME-CT-4711" not in text and "2026-04-30" not in text
