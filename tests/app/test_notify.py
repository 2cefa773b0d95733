"""Unit tests of app/notify.py: notifications as a library call (real desk, real git; nothing is sent).

Sending over a real SMTP server and to a real webhook is tested through the command in tests/test_notify.py.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from desk_testing import BOB, EVE, head, run, status
from test_rules import configure

from itsm_cli.app.notify import _post, notify
from itsm_cli.errors import EnvironmentProblem
from itsm_cli.store.desk import Desk

NOW = "2026-03-02T10:00:00Z"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assigned_incident(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EVE reports INC-0001 at 09:00 and it is assigned to BOB at 09:10: BOB is to be told."""
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")
    assert run("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email").exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
    assert run("assign", "INC-0001", BOB, "--group", "service-desk").exit_code == 0


def test_a_desk_without_notifications_is_not_configured(desk: Path) -> None:
    configure(desk, notifications=None)
    result = notify(Desk(desk), NOW)
    assert result.configured is False and result.sent == [] and result.commit is None


def test_a_dry_run_lists_each_delivery_and_neither_sends_nor_commits(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()  # a dry run connects to nothing: a server that is down does not matter
    configure(desk, notifications={"from": "desk@example.com", "smtp": {"host": "127.0.0.1", "port": port},
                                   "webhooks": [{"url": f"http://127.0.0.1:{port}/hook", "events": ["assignment"]}]})
    assigned_incident(desk, monkeypatch)
    before = head(desk)
    result = notify(Desk(desk), NOW, env={}, dry_run=True)
    assert result.sent == [f"INC-0001 assignment -> {BOB}", "INC-0001 assignment -> webhook 127.0.0.1"]
    assert result.failed == [] and result.commit is None and head(desk) == before and status(desk) == ""


def test_a_webhook_that_is_down_fails_and_nothing_is_remembered(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(desk, notifications={"webhooks": [{"url": f"http://127.0.0.1:{closed_port()}/hook", "timeout": 2}]})
    assigned_incident(desk, monkeypatch)
    before = head(desk)
    result = notify(Desk(desk), NOW, env={})
    assert result.sent == [] and result.commit is None and head(desk) == before
    assert [line.split(": ")[0] for line in result.failed] == ["INC-0001 assignment -> webhook 127.0.0.1"]
    assert not (desk / ".itsm/notified.yaml").exists()


def test_webhooks_need_https_except_on_this_machine() -> None:
    with pytest.raises(EnvironmentProblem, match="webhooks must use https://"):
        _post("http://hooks.example.com/x", {}, None, 1)
