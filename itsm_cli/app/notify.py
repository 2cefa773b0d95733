"""Notifications: e-mail over SMTP and JSON to webhooks, each sent once, what was sent committed by the bot.

What is due is planned by :func:`itsm_cli.core.rules.plan_notices` (and the
contract reminders the sweep recorded on suppliers); this module sends it and
remembers it in ``.itsm/notified.yaml``.
"""

from __future__ import annotations

import contextlib
import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from itsm_cli import __version__
from itsm_cli.app.bot import record_folders, save_as_bot
from itsm_cli.core import rules
from itsm_cli.core.calendar import parse_duration
from itsm_cli.core.sla import parse_timestamp
from itsm_cli.errors import EnvironmentProblem, InvalidRecord
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk

STATE_FILE = ".itsm/notified.yaml"
PASSWORD_ENV = "ITSM_SMTP_PASSWORD"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def _is_loopback(host: str | None) -> bool:
    return (host or "").lower() in LOOPBACK


class _Delivery(NamedTuple):
    """One notice to one recipient: an e-mail address, or a webhook's URL with its settings."""

    key: str  # what .itsm/notified.yaml remembers, so it is sent once
    label: str  # how it is shown: the address, or "webhook <host>"
    address: str  # the e-mail address or the webhook's URL
    hook: Mapping[str, Any] | None = None  # the webhook's settings; None for an e-mail


@dataclass
class NotifyResult:
    """Notifications sent (or, dry, due), those that failed, and the commit remembering them."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    commit: str | None = None
    configured: bool = True


def _load_state(desk: Desk) -> dict[str, str]:
    path = desk.root / STATE_FILE
    if not path.is_file():
        return {}
    data = yaml_io.load_mapping(desk.read_bytes(STATE_FILE), STATE_FILE)
    sent = data.get("sent") or {}
    if not isinstance(sent, dict):
        raise InvalidRecord("'sent' must be a mapping of notification keys to times", STATE_FILE)
    return {str(k): str(v) for k, v in sent.items()}


def _state_text(sent: Mapping[str, str]) -> str:
    header = (
        "# Notifications 'itsm notify' has sent, so that none is sent twice.\n"
        "# Written and committed by itsm; entries older than the look-back are dropped.\n"
    )
    return header + yaml_io.dumps({"sent": dict(sorted(sent.items()))})


class _Mailer:
    """One SMTP connection, opened on first use, with settings from itsm.yaml and the password from the environment."""

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str]):
        self.settings = settings
        self.env = env
        self.conn: smtplib.SMTP | None = None
        self.error: EnvironmentProblem | None = None

    def connect(self) -> smtplib.SMTP:
        if self.conn is not None:
            return self.conn
        if self.error is not None:  # one failed connection per run, not one per message
            raise self.error
        try:
            self.conn = self._open()
        except EnvironmentProblem as e:
            self.error = e
            raise
        return self.conn

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        host = s.get("host")
        if not host:
            raise EnvironmentProblem("notifications.smtp.host is not set")
        use_ssl, starttls = bool(s.get("ssl", False)), bool(s.get("starttls", True))
        port = int(s.get("port") or (465 if use_ssl else 587 if starttls else 25))
        timeout = float(s.get("timeout", 30))
        context = ssl.create_default_context()
        username = s.get("username")
        password = self.env.get(PASSWORD_ENV)
        if username and not password:
            raise EnvironmentProblem(f"notifications.smtp.username is set but {PASSWORD_ENV} is not")
        if username and not (use_ssl or starttls) and not _is_loopback(host):
            raise EnvironmentProblem(f"refusing to send the SMTP password to {host} without TLS; set starttls or ssl")
        conn: smtplib.SMTP | None = None
        try:
            if use_ssl:
                conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                conn = smtplib.SMTP(host, port, timeout=timeout)
                conn.ehlo()
                if starttls:
                    conn.starttls(context=context)
                    conn.ehlo()
            if username:
                conn.login(username, password or "")
        except (OSError, smtplib.SMTPException) as e:
            if conn is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    conn.close()
            raise EnvironmentProblem(f"SMTP {host}:{port}: {e}") from None
        return conn

    def send(self, message: EmailMessage) -> None:
        conn = self.connect()
        try:
            conn.send_message(message)
        except (OSError, smtplib.SMTPException) as e:
            raise EnvironmentProblem(f"SMTP: {e}") from None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def _message(notice: rules.Notice, sender: str, recipient: str, now: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = notice.subject
    msg["Date"] = format_datetime(parse_timestamp(now))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # RFC 3834: tells auto-responders (and our own intake) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Itsm-Id"] = notice.record_id
    msg["X-Itsm-Event"] = notice.event
    msg.set_content(notice.text)
    return msg


def _post(url: str, payload: Mapping[str, Any], token: str | None, timeout: float) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise EnvironmentProblem("webhooks must use https:// (plain http only to localhost)")
    headers = {"Content-Type": "application/json", "User-Agent": f"itsm/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(65536)
    except urllib.error.HTTPError as e:
        raise EnvironmentProblem(f"webhook {parts.hostname}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError) as e:
        raise EnvironmentProblem(f"webhook {parts.hostname}: {getattr(e, 'reason', e)}") from None


def _supplier_notices(desk: Desk, settings: Mapping[str, Any], now: str) -> list[rules.Notice]:
    """The contract reminders the sweep recorded within the look-back, for the owners (when subscribed)."""
    from itsm_cli.core import suppliers

    stype = desk.config.supplier_type()
    if stype is None or "contract_due" not in (settings.get("events") or rules.NOTICE_EVENTS):
        return []
    end = parse_timestamp(now)
    start = end - timedelta(seconds=parse_duration(settings.get("lookback", "1d")))
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    loaded = {r.id: r.data for r in desk.records((stype.folder,))}
    return suppliers.reminder_notices(desk.config, loaded, start.strftime(stamp), end.strftime(stamp))


def notify(desk: Desk, now: str, env: Mapping[str, str] | None = None, dry_run: bool = False) -> NotifyResult:
    """Send the notifications the desk subscribes to, each once, and commit what was sent.

    E-mail goes over SMTP (``notifications.smtp``: host, port, starttls or ssl,
    username; the password only from ``ITSM_SMTP_PASSWORD``), webhooks get a
    JSON POST. What was sent is remembered in ``.itsm/notified.yaml``,
    committed by the bot (a CI run is a fresh clone, so the memory must travel
    with the desk). Failures are reported in ``failed`` and retried next time.
    """
    env = os.environ if env is None else env
    config = desk.config
    settings = config.data.get("notifications")
    if not settings or settings.get("enabled") is False or not (settings.get("smtp") or settings.get("webhooks")):
        return NotifyResult(configured=False)
    bot = config.bot
    sender = settings.get("from") or bot
    result = NotifyResult()
    with desk.lock():
        state = _load_state(desk)
        items = [r.data for r in desk.records(record_folders(desk))]
        try:
            notices = rules.plan_notices(config, items, desk.services(), now, bot)
            notices += _supplier_notices(desk, settings, now)
        except ValueError as e:
            raise InvalidRecord(f"notifications: {e}", "itsm.yaml") from None
        mailer = _Mailer(settings.get("smtp") or {}, env)
        hooks = []
        for hook in settings.get("webhooks") or []:
            url = hook.get("url") or env.get(hook.get("url_env", ""), "")
            if url:
                hooks.append((hook, url))
            else:
                result.failed.append(f"webhook: the environment variable {hook.get('url_env')} is not set")
        sent: dict[str, str] = {}
        ids_sent: set[str] = set()
        try:
            for notice in notices:
                jobs: list[_Delivery] = []
                if settings.get("smtp"):
                    jobs.extend(_Delivery(f"{notice.key}>{r}", r, r) for r in notice.recipients)
                for hook, url in hooks if not notice.confidential else ():  # security incidents: group e-mail only
                    if not hook.get("events") or notice.event in hook["events"]:
                        jobs.append(_Delivery(f"{notice.key}>hook:{rules.url_key(url)}",
                                              f"webhook {urlsplit(url).hostname}", url, hook))
                for job in jobs:
                    if job.key in state or job.key in sent:
                        continue
                    line = f"{notice.record_id} {notice.event} -> {job.label}"
                    if dry_run:
                        result.sent.append(line)
                        continue
                    try:
                        if job.hook is None:
                            mailer.send(_message(notice, sender, job.address, now))
                        else:
                            token = env.get(job.hook["token_env"]) if job.hook.get("token_env") else None
                            _post(job.address, notice.payload, token, float(job.hook.get("timeout", 10)))
                    except EnvironmentProblem as e:
                        result.failed.append(f"{line}: {e.message}")
                        continue
                    sent[job.key] = notice.at
                    ids_sent.add(notice.record_id)
                    result.sent.append(line)
        finally:
            mailer.close()
        if sent and not dry_run:
            lookback = parse_duration(settings.get("lookback", "1d"))
            horizon = (parse_timestamp(now) - timedelta(seconds=lookback)).strftime("%Y-%m-%dT%H:%M:%SZ")
            kept = {k: v for k, v in state.items() if v >= horizon}
            kept.update(sent)
            first, *others = sorted(ids_sent)
            result.commit = save_as_bot(desk, [(STATE_FILE, _state_text(kept))], first, "notify",
                                        f"notify: {len(sent)} sent", others)
    return result
