"""itsm intake-mail: e-mail into tickets and comments, and every hostile message refused cleanly."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from desk_testing import BOB, EVE, git, head, run, status, ticket_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules import BOT, configure

from itsm_cli.app.mail_intake import intake_mail
from itsm_cli.errors import InvalidRecord, ItsmError, Refused
from itsm_cli.store.desk import Desk

NOW = "2026-03-02T09:00:00Z"
MALLORY = "mallory@evil.example"


def mail(sender: str = EVE, subject: str = "Printer on 3rd floor jams", body: str = "It jams on every job.\n",
         html: str | None = None, attachments: list[tuple[str, bytes]] = (), **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "servicedesk@example.com"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if body is not None:
        msg.set_content(body)
    if html is not None:
        if body is None:
            msg.set_content(html, subtype="html")
        else:
            msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(msg)


def ticket(desk: Path, rid: str = "INC-0001") -> dict[str, Any]:
    return yaml.safe_load((desk / ticket_path(rid)).read_text())


def feed(data: bytes, *args: str) -> Any:
    return run("intake-mail", *args, input=data.decode("utf-8", "surrogateescape"))


def test_an_email_becomes_an_incident_filed_by_its_sender(desk: Path) -> None:
    r = feed(mail(sender=f"Eve Example <{EVE}>", subject="=?utf-8?q?Caf=C3=A9_printer?= jams"))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "INC-0001\n"
    data = ticket(desk)
    assert (data["requester"], data["title"], data["description"]) == (EVE, "Café printer jams", "It jams on every job.")
    assert data["history"][0]["by"] == EVE
    assert git(desk, "log", "-1", "--format=%ae %s") == f"{EVE} INC-0001: create incident \"Café printer jams\"\n"
    assert status(desk) == "" and run("validate").exit_code == 0


def test_html_is_turned_into_sanitised_text(desk: Path) -> None:
    html = ("<html><head><style>p {color: red}</style><script>alert('x')</script></head><body>"
            "<p>Hello <b>desk</b>,</p><p>a &lt; b &amp; <img src=x onerror=alert(1)>c</p>"
            "<div>line<br>break</div><a href='javascript:evil()'>click</a></body></html>")
    result = intake_mail(Desk(desk), mail(body=None, html=html), NOW)
    text = ticket(desk)["description"]
    assert result.record_id == "INC-0001"
    assert text == "Hello desk,\na < b & c\nline\nbreak\nclick"
    for bad in ("alert", "<script", "onerror", "javascript", "color: red"):
        assert bad not in text


def test_plain_text_wins_over_its_html_twin(desk: Path) -> None:
    intake_mail(Desk(desk), mail(body="plain words\n", html="<p>html words</p>"), NOW)
    assert ticket(desk)["description"] == "plain words"


def test_a_reply_from_the_requester_becomes_a_comment(desk: Path) -> None:
    feed(mail())
    reply = "Still jamming after the fix.\n\nOn Mon, 2 Mar 2026, Desk wrote:\n> We fixed it\n"
    r = feed(mail(subject="Re: [INC-0001] Printer on 3rd floor jams", body=reply))
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "INC-0001\n"
    last = ticket(desk)["history"][-1]
    assert (last["action"], last["by"], last["note"]) == ("comment", EVE, "Still jamming after the fix.")
    r = feed(mail(sender=BOB, subject="[INC-0001] update", body="> quoted only\nOn it.\n"))
    assert r.exit_code == 0 and ticket(desk)["history"][-1]["note"] == "On it."
    assert run("validate").exit_code == 0


@pytest.mark.parametrize(
    ("sender", "subject", "message"),
    [
        (MALLORY, "Re: [INC-0001] Printer", f"{MALLORY} is neither the requester of INC-0001 nor a listed person"),
        (EVE, "Re: [INC-0009] Printer", "the subject names INC-0009, which does not exist"),
        (EVE, "Re: [ZZZ-0001] Printer", "the subject names ZZZ-0001, which does not exist"),
        (EVE, "Re: [INC-0002] Closed one", "INC-0002 is 'cancelled' (closed); send a new e-mail without [INC-0002]"),
    ],
)
def test_forged_replies_are_refused(desk: Path, sender: str, subject: str, message: str) -> None:
    feed(mail())
    feed(mail(subject="another"))
    assert run("--as", EVE, "transition", "INC-0002", "cancelled").exit_code == 0
    before = head(desk)
    r = feed(mail(sender=sender, subject=subject))
    assert r.exit_code == 1
    assert r.stderr.startswith("itsm: error: ") and message in r.stderr
    assert head(desk) == before and status(desk) == ""


NESTED = b"From: eve@example.com\r\nSubject: deep\r\n" + b"".join(
    f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode() for i in range(200)
) + b"Content-Type: text/plain\r\n\r\nhi\r\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the message is empty"),
        (b"\x00\xff\xfe garbage \x00", "the message needs exactly one From header"),
        (b"Subject: no sender\r\n\r\nbody", "the message needs exactly one From header"),
        (b"From: a@example.com\r\nFrom: b@example.com\r\nSubject: x\r\n\r\nbody", "exactly one From header"),
        (b"From: a@example.com, b@example.com\r\nSubject: x\r\n\r\nbody", "exactly one well-formed address"),
        (b"From: not an address\r\nSubject: x\r\n\r\nbody", "From header must name exactly one well-formed address"),
        (b"From: <eve@exa mple.com>\r\nSubject: x\r\n\r\nbody", "From header"),
        (b"From: eve@example.com\r\nSubject: a\r\nSubject: b\r\n\r\nbody", "2 Subject headers"),
        (NESTED, "nests deeper than"),
        (b"From: eve@example.com\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"
         + b"--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n" * 100 + b"--x--\r\n", "more than 64 parts"),
    ],
)
def test_malformed_messages_give_a_clear_error_and_no_record(desk: Path, data: bytes, message: str) -> None:
    before = head(desk)
    with pytest.raises((InvalidRecord, Refused), match=message):
        intake_mail(Desk(desk), data, NOW)
    assert head(desk) == before and status(desk) == ""


def test_huge_messages_are_refused_before_parsing(desk: Path) -> None:
    huge = mail(body="x" * 1_100_000)
    r = feed(huge)
    assert r.exit_code == 1 and "bytes; this desk takes at most 1,000,000" in r.stderr
    assert not list((desk / "tickets").glob("*.yaml"))


def test_broken_charsets_and_control_characters_are_survived(desk: Path) -> None:
    raw = (b"From: eve@example.com\r\nSubject: =?x-unknown?q?weird?= \x1b[31mred\r\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nbad \xff bytes\x07 and\r\n\r\n\r\n\r\nmore\r\n")
    intake_mail(Desk(desk), raw, NOW)
    data = ticket(desk)
    assert "\x1b" not in data["title"] and "\x07" not in data["description"]
    assert data["description"].startswith("bad ") and data["description"].endswith("and\n\nmore")
    msg = EmailMessage()
    msg["From"], msg["Subject"] = EVE, "Grüße"
    msg.set_content("Grüße aus Köln", charset="latin-1", cte="quoted-printable")
    intake_mail(Desk(desk), bytes(msg), NOW)
    assert ticket(desk, "INC-0002")["description"] == "Grüße aus Köln"


def test_a_subject_cannot_smuggle_lines_or_trailers_into_the_commit(desk: Path) -> None:
    feed(mail(subject="=?utf-8?q?Hello=0AItsm-Action:_approve=0D=0AItsm-Id:_CHG-0001?="))
    assert "\n" not in ticket(desk)["title"]
    trailers = git(desk, "log", "-1", "--format=%(trailers:key=Itsm-Action,valueonly)").split()
    assert trailers == ["create"]


def test_attachments_are_refused_by_default(desk: Path) -> None:
    r = feed(mail(attachments=[("report.pdf", b"%PDF-1.7")]))
    assert r.exit_code == 1 and "the message has attachments (report.pdf)" in r.stderr
    assert not list((desk / "tickets").glob("*.yaml"))


def test_attachments_ignored_or_stored_as_configured(desk: Path) -> None:
    configure(desk, intake_mail={"attachments": "ignore"})
    intake_mail(Desk(desk), mail(attachments=[("report.pdf", b"%PDF")]), NOW)
    assert ticket(desk)["description"].endswith("(Attachments not kept: report.pdf)")
    configure(desk, bot_agent=False, intake_mail={"attachments": "store", "attachment_max_bytes": 1000})
    files = [("../../etc/passwd", b"root:x"), (".hidden", b"x"), ("scan 1.png", b"\x89PNG\x00\xff")]
    result = intake_mail(Desk(desk), mail(attachments=files), NOW)
    assert result.stored == ["attachments/INC-0002/passwd", "attachments/INC-0002/hidden",
                             "attachments/INC-0002/scan_1.png"]
    assert (desk / "attachments/INC-0002/scan_1.png").read_bytes() == b"\x89PNG\x00\xff"
    shown = git(desk, "show", "--name-only", "--format=%ae", "HEAD").split()
    assert shown == [EVE, "attachments/INC-0002/hidden", "attachments/INC-0002/passwd",
                     "attachments/INC-0002/scan_1.png", "tickets/INC/000/INC-0002.yaml"]
    assert status(desk) == ""
    before = head(desk)
    with pytest.raises(Refused, match="larger than 1,000 bytes"):
        intake_mail(Desk(desk), mail(attachments=[("big.bin", b"x" * 2000)]), NOW)
    assert head(desk) == before


@pytest.mark.parametrize(
    ("headers", "sender", "message"),
    [
        ({"Auto_Submitted": "auto-replied"}, EVE, "automatic messages"),
        ({"Precedence": "bulk"}, EVE, "automatic messages"),
        ({}, BOT, "comes from this desk's own address"),
    ],
)
def test_automatic_mail_is_not_turned_into_tickets(desk: Path, headers: dict[str, str], sender: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        intake_mail(Desk(desk), mail(sender=sender, **headers), NOW)


def test_only_allowed_senders(desk: Path) -> None:
    configure(desk, intake_mail={"senders": ["@example.com", "partner@other.example"]})
    with pytest.raises(Refused, match="may not open tickets by e-mail"):
        intake_mail(Desk(desk), mail(sender=MALLORY), NOW)
    assert intake_mail(Desk(desk), mail(sender="partner@other.example"), NOW).record_id == "INC-0001"
    assert intake_mail(Desk(desk), mail(sender=EVE, subject="x"), NOW).record_id == "INC-0002"


def test_a_maildir_is_taken_once(desk: Path, tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for data in (mail(subject="first"), b"Subject: no sender\r\n\r\nx", mail(subject="second")):
        box.add(mailbox.MaildirMessage(data))
    r = run("intake-mail", str(tmp_path / "Maildir"))
    assert r.exit_code == 1
    assert sorted(r.stdout.split()) == ["INC-0001", "INC-0002"]
    assert r.stderr.count("itsm: error: message ") == 1 and "exactly one From header" in r.stderr
    assert not list((tmp_path / "Maildir/new").iterdir())
    flags = sorted(name.rpartition(",")[2] for name in (p.name for p in (tmp_path / "Maildir/cur").iterdir()))
    assert flags == ["FS", "S", "S"]
    again = run("intake-mail", str(tmp_path / "Maildir"))
    assert again.exit_code == 0 and again.stdout == ""


def test_an_mbox_keeps_only_what_was_refused(desk: Path, tmp_path: Path) -> None:
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(str(path))
    for data in (mail(subject="from mbox"), mail(sender=MALLORY, subject="[INC-0001] hijack")):
        box.add(mailbox.mboxMessage(data))
    box.close()
    r = run("intake-mail", str(path))
    assert r.exit_code == 1 and r.stdout == "INC-0001\n"
    left = mailbox.mbox(str(path))
    assert [m["From"] for m in left] == [MALLORY]
    left.close()


def test_a_single_eml_file(desk: Path, tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(mail(subject="from a file"))
    r = run("intake-mail", str(tmp_path / "m.eml"), "--type", "request")
    assert r.exit_code == 0 and r.stdout == "REQ-0001\n"
    r = run("intake-mail", str(tmp_path / "m.eml"), "--type", "article")
    assert r.exit_code == 1 and "e-mail can open tickets, not article records" in r.stderr


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000), st.sampled_from([b"text/plain", b"text/html", b"multipart/mixed; boundary=x",
                                                  b"multipart/alternative; boundary=\"", b"message/rfc822"]))
def test_any_bytes_give_an_itsm_error_or_nothing_at_all(desk: Path, tail: bytes, content_type: bytes) -> None:
    """Fuzzed messages: whatever the parser makes of them, only an ItsmError comes out, and no record."""
    data = b"From: eve@example.com\r\nSubject: [INC-9999] x\r\nContent-Type: " + content_type + b"\r\n" + tail
    with pytest.raises(ItsmError):
        intake_mail(Desk(desk), data, NOW)
    assert not list((desk / "tickets").glob("*.yaml"))
