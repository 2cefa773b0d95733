"""itsm notify against a real SMTP server (aiosmtpd) and a real HTTP server, both on 127.0.0.1."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from desk_testing import ANN, BOB, CAROL, DAN, EVE, git, head, run, status
from test_rules import BOT, configure

PASSWORD = "correct horse battery staple"
SENDER = "desk@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """An aiosmtpd handler that keeps what it receives, and who logged in."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.logins: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        good = isinstance(auth_data, LoginPassword) and auth_data.login == SENDER.encode() and \
            auth_data.password == PASSWORD.encode()
        self.logins.append((auth_data.login, good))
        return AuthResult(success=good)

    def to(self) -> list[tuple[str, str]]:
        return sorted((rcpt[0], str(msg["Subject"])) for _, rcpt, msg in self.messages)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox.authenticate,
                            auth_required=False, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    server.status = 204  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def settings(port: int, hook_url: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": SENDER,
        "lookback": "1d",
        "smtp": {"host": "127.0.0.1", "port": port, "starttls": False, "username": SENDER, "timeout": 5},
    }
    if hook_url:
        out["webhooks"] = [{"url": hook_url, "token_env": "ITSM_HOOK_TOKEN"}]
    out.update(extra)
    return out


def ok(*args: str) -> str:
    r = run(*args)
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("ITSM_NOW", when)


def some_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVE reports an incident that BOB fixes, and asks for a shared mailbox that needs approval."""
    ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email")
    at(monkeypatch, "2026-03-02T09:10:00Z")
    ok("assign", "INC-0001", BOB, "--group", "service-desk")
    at(monkeypatch, "2026-03-02T09:30:00Z")
    ok("--as", BOB, "transition", "INC-0001", "resolved", "--set", "resolution=Rebuilt the profile")
    ok("--as", EVE, "new", "request", "--title", "Mailbox for sales", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    ok("transition", "REQ-0001", "awaiting_approval")
    ok("assign", "REQ-0001", ANN)  # to oneself: nobody is told


def test_mail_and_webhooks_are_sent_once_and_remembered_in_a_commit(
    desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int], hook: Any
) -> None:
    inbox, port = smtp
    url = f"http://127.0.0.1:{hook.server_port}/itsm"
    configure(desk, notifications=settings(port, url))
    some_work(monkeypatch)
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("ITSM_HOOK_TOKEN", "t0ken")
    at(monkeypatch, "2026-03-02T10:00:00Z")
    out = ok("notify")
    assert inbox.to() == [
        (BOB, "[INC-0001] Assigned to you: Outlook crashes"),
        (CAROL, "[REQ-0001] Approval needed: Mailbox for sales"),
        (DAN, "[REQ-0001] Approval needed: Mailbox for sales"),
        (EVE, "[INC-0001] Resolved: Outlook crashes"),
    ]
    assert inbox.logins == [(SENDER.encode(), True)]
    sender, _, msg = inbox.messages[0]
    assert sender == SENDER and msg["From"] == SENDER and msg["Auto-Submitted"] == "auto-generated"
    resolved = next(m for _, r, m in inbox.messages if r == [EVE])
    assert "Rebuilt the profile" in resolved.get_content()
    assert "Reply to this e-mail, keeping [INC-0001] in the subject" in resolved.get_content()
    assert sorted((p["event"], p["id"]) for _, _, p in hook.received) == [
        ("approval_needed", "REQ-0001"), ("assignment", "INC-0001"), ("resolution", "INC-0001"),
    ]
    assert {(path, auth) for path, auth, _ in hook.received} == {("/itsm", "Bearer t0ken")}
    assert out.count("sent: ") == 7
    message = git(desk, "log", "-1", "--format=%ae%n%B")
    assert message.startswith(f"{BOT}\nINC-0001: notify: 7 sent")
    assert "Itsm-Id: REQ-0001" in message and "Itsm-Action: notify" in message
    state = yaml.safe_load((desk / ".itsm/notified.yaml").read_text())["sent"]
    assert len(state) == 7 and all(v.startswith("2026-03-02T09:") for v in state.values())
    remembered = git(desk, "show", "HEAD:.itsm/notified.yaml")
    assert url not in remembered  # a webhook URL may hold a token: only its hash is kept
    for text in (remembered, (desk / "itsm.yaml").read_text()):
        assert PASSWORD not in text and "t0ken" not in text
    assert status(desk) == ""
    # A second run, later the same morning: nothing new, nothing sent, no commit.
    settled = head(desk)
    at(monkeypatch, "2026-03-02T10:15:00Z")
    r = run("notify")
    assert r.exit_code == 0 and r.stdout == "" and "nothing to send" in r.stderr
    assert len(inbox.messages) == 4 and len(hook.received) == 3 and head(desk) == settled


def test_a_fresh_clone_remembers_what_was_sent(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port))
    some_work(monkeypatch)
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    ok("notify")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(desk), str(clone))
    at(monkeypatch, "2026-03-02T11:00:00Z")
    r = run("notify", cwd=clone)
    assert r.exit_code == 0 and "nothing to send" in r.stderr
    assert len(inbox.messages) == 4


def test_the_password_comes_only_from_the_environment(desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port))
    some_work(monkeypatch)
    before = head(desk)
    monkeypatch.delenv("ITSM_SMTP_PASSWORD", raising=False)
    r = run("notify")
    assert r.exit_code == 3
    assert "notifications.smtp.username is set but ITSM_SMTP_PASSWORD is not" in r.stderr
    assert inbox.messages == [] and head(desk) == before and not (desk / ".itsm").exists()


def test_failures_are_retried_and_successes_not_repeated(
    desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int], hook: Any
) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, f"http://127.0.0.1:{hook.server_port}/h", events=["assignment"]))
    some_work(monkeypatch)
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", "wrong")
    r = run("notify")
    assert r.exit_code == 3
    assert "itsm: error: INC-0001 assignment -> bob@example.com: SMTP 127.0.0.1" in r.stderr
    assert r.stdout == "sent: INC-0001 assignment -> webhook 127.0.0.1\n"
    assert len(hook.received) == 1 and inbox.messages == []
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    assert ok("notify") == "sent: INC-0001 assignment -> bob@example.com\n"
    assert len(hook.received) == 1 and len(inbox.messages) == 1


def test_a_webhook_that_fails_is_reported(desk: Path, monkeypatch: pytest.MonkeyPatch, hook: Any) -> None:
    configure(desk, notifications={"webhooks": [{"url": f"http://127.0.0.1:{hook.server_port}/x"}], "events": ["assignment"]})
    some_work(monkeypatch)
    hook.status = 500
    r = run("notify")
    assert r.exit_code == 3 and "webhook 127.0.0.1: HTTP 500" in r.stderr
    assert not (desk / ".itsm").exists()
    hook.status = 200
    assert ok("notify") == "sent: INC-0001 assignment -> webhook 127.0.0.1\n"


def test_breach_warnings_from_the_clocks_and_from_sweep_escalations(
    desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, events=["breach_warning"], breach_warning={"within": "10m"}),
              sweep={"escalate": [{"id": "near", "within": "30m", "clock": "resolution"}]})
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    ok("--as", EVE, "new", "incident", "--title", "Everything is down", "--service", "email", "--impact", "high",
       "--urgency", "high")  # P1: respond in 15 minutes, resolve in 4 hours
    at(monkeypatch, "2026-03-02T09:04:00Z")
    assert ok("notify", "--dry-run") == ""
    at(monkeypatch, "2026-03-02T09:06:00Z")
    assert ok("notify", "--dry-run") == f"due: INC-0001 breach_warning -> {ANN}\ndue: INC-0001 breach_warning -> {BOB}\n"
    ok("notify")
    assert inbox.to() == [(ANN, "[INC-0001] SLA breach warning: Everything is down"),
                          (BOB, "[INC-0001] SLA breach warning: Everything is down")]
    assert "The response target is due at 2026-03-02T09:15:00Z." in inbox.messages[0][2].get_content()
    ok("assign", "INC-0001", BOB)
    at(monkeypatch, "2026-03-02T12:40:00Z")
    assert ok("sweep") == "INC-0001: escalate (near): resolution due 2026-03-02T13:00:00Z\n"
    at(monkeypatch, "2026-03-02T12:41:00Z")
    assert ok("notify") == f"sent: INC-0001 breach_warning -> {BOB}\n"  # the clock's own warning is due at 12:50
    assert "Escalated by sweep rule 'near'" in inbox.messages[-1][2].get_content()


def test_approvers_who_have_not_approved_are_reminded(desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, events=["approval_needed"]), sweep={"approval_reminders": {"after": "1d"}})
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    some_work(monkeypatch)
    ok("notify")
    assert len(inbox.messages) == 2
    at(monkeypatch, "2026-03-03T10:00:00Z")
    ok("sweep")
    ok("notify")
    reminders = inbox.messages[2:]
    assert sorted(r[0] for _, r, _ in reminders) == [CAROL, DAN]
    assert "Reminder: waiting since 2026-03-02T09:30:00Z" in reminders[0][2].get_content()


def test_events_older_than_the_look_back_are_not_sent(desk: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure(desk, notifications=settings(port, lookback="2h"))
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    some_work(monkeypatch)
    at(monkeypatch, "2026-03-02T11:20:00Z")  # the assignment at 09:10 is older than two hours
    ok("notify")
    assert [r[0] for _, r, _ in inbox.messages] == [EVE, CAROL, DAN]


def test_not_configured_and_plain_http_elsewhere(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, notifications=None)
    r = run("notify")
    assert r.exit_code == 0 and "notifications are not configured" in r.stderr
    configure(desk, bot_agent=False, notifications={"webhooks": [{"url_env": "ITSM_NO_SUCH_HOOK"}]})
    monkeypatch.delenv("ITSM_NO_SUCH_HOOK", raising=False)
    r = run("notify")
    assert r.exit_code == 3 and "the environment variable ITSM_NO_SUCH_HOOK is not set" in r.stderr


def test_an_smtp_server_that_is_down(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, notifications=settings(free_port(), events=["assignment"]))
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    some_work(monkeypatch)
    r = run("notify")
    assert r.exit_code == 3 and "SMTP 127.0.0.1" in r.stderr
    assert not (desk / ".itsm").exists()
