"""Unit tests of app/mail_intake.py: e-mail into tickets as a library call (real desk, real git).

The command (`itsm intake-mail`, hostile messages, Maildir and mbox) is tested in tests/test_intake_mail.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import EVE, git, head, load_ticket, status
from interrupting import ctrl_c_in_commit
from test_intake_mail import NOW, mail
from test_rules import configure

from itsm_cli.app.mail_intake import IntakeResult, clean_text, intake_mail, intake_mailbox
from itsm_cli.store.desk import Desk


def test_a_message_becomes_a_ticket_and_a_reply_a_comment(desk: Path) -> None:
    made = intake_mail(Desk(desk), mail(), NOW)
    assert made == IntakeResult("INC-0001", "create", head(desk))
    reply = intake_mail(Desk(desk), mail(subject="Re: [INC-0001] jams", body="Still jams.\n"), NOW)
    assert (reply.record_id, reply.action, reply.commit) == ("INC-0001", "comment", head(desk))
    data = load_ticket(desk, "INC-0001")
    assert data["requester"] == EVE and data["history"][-1]["note"] == "Still jams."


def test_clean_text_keeps_lines_and_drops_control_characters() -> None:
    assert clean_text("a\r\nb\x07\t c  \n\n\n\nd") == "a\nb     c\n\nd"
    assert clean_text("x" * 50, limit=10) == "x" * 10


def test_a_single_file_that_is_not_a_mailbox_is_one_message(desk: Path, tmp_path: Path) -> None:
    path = tmp_path / "one.eml"
    path.write_bytes(mail())
    [(key, result)] = intake_mailbox(Desk(desk), path, NOW)
    assert key == "one.eml" and isinstance(result, IntakeResult) and result.record_id == "INC-0001"


@pytest.mark.parametrize("when", ["before the commit", "after the commit"])
@pytest.mark.parametrize("reply", [False, True], ids=["new ticket", "reply"])
def test_ctrl_c_in_the_commit_of_a_mail_with_attachments_leaves_the_desk_as_before(
        desk: Path, monkeypatch: pytest.MonkeyPatch, when: str, reply: bool) -> None:
    configure(desk, bot_agent=False, intake_mail={"attachments": "store"})
    if reply:
        intake_mail(Desk(desk), mail(), NOW)
    before, index = head(desk), git(desk, "ls-files", "-s")
    files = {p.relative_to(desk).as_posix(): p.read_bytes() for p in desk.rglob("*")
             if p.is_file() and ".git" not in p.parts}
    ctrl_c_in_commit(monkeypatch, after_the_commit=when == "after the commit")
    subject = "Re: [INC-0001] the log" if reply else "Printer log"
    with pytest.raises(KeyboardInterrupt):
        intake_mail(Desk(desk), mail(subject=subject, attachments=[("log.txt", b"jam at 09:00\n")]), NOW)
    assert head(desk) == before and git(desk, "ls-files", "-s") == index and status(desk) == ""
    after = {p.relative_to(desk).as_posix(): p.read_bytes() for p in desk.rglob("*")
             if p.is_file() and ".git" not in p.parts}
    assert after == files
