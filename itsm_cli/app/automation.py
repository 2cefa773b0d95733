"""Automation on a desk: the scheduled sweep, notifications, e-mail intake, import and export.

Like :mod:`itsm_cli.app`, this joins the core (:mod:`itsm_cli.core.rules`,
records, validation) to the store (files, git): every change is validated,
written atomically and committed, by the bot identity for what runs on a
schedule (``sweep``, ``notify``) and by the person concerned otherwise (the
sender of an e-mail, the person running an import).
"""

from __future__ import annotations

import contextlib
import csv
import email
import html
import io
import json
import mailbox
import os
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itsm_cli import __version__
from itsm_cli.app import App, collaboration, normalise_time
from itsm_cli.core import attachments, collab, ids, records, rules
from itsm_cli.core.calendar import parse_duration
from itsm_cli.core.config import Config
from itsm_cli.core.query import Query, run_query
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.sla import parse_timestamp
from itsm_cli.core.validate import validate_records
from itsm_cli.core.workflow import approval_policy
from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, ItsmError, Refused
from itsm_cli.store import transaction, yaml_io
from itsm_cli.store.desk import Desk, Record
from itsm_cli.store.gitstore import Git

STATE_FILE = ".itsm/notified.yaml"
PASSWORD_ENV = "ITSM_SMTP_PASSWORD"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_MAIL_LIMIT = 1_000_000
MAX_MIME_PARTS = 64
MAX_MIME_DEPTH = 8
MAX_IMPORT_BYTES = 50_000_000
EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,255}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _record_folders(desk: Desk) -> tuple[str, ...]:
    return tuple(sorted({t.folder for t in desk.config.types.values() if t.kind not in ("service", "supplier")}))


def _is_loopback(host: str | None) -> bool:
    return (host or "").lower() in LOOPBACK


# --- the sweep ------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep did (or, dry, would do), what it could not do, and its commits."""

    steps: list[rules.SweepStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)


def sweep(desk: Desk, now: str, dry_run: bool = False) -> SweepResult:
    """Apply the desk's time rules at ``now``: each action one commit by the bot (``Itsm-Action: sweep``).

    Idempotent: every action leaves its mark in the record's history, and an
    action whose mark is there is not planned again, so a second sweep with
    nothing new to do changes nothing. Actions the workflow or validation
    refuse are reported in ``problems`` and the sweep goes on.
    """
    config = desk.config
    bot = config.bot
    app = App(desk, bot, now)
    result = SweepResult()
    with desk.lock():
        loaded = {r.id: r for r in desk.records(_record_folders(desk))}
        plan = rules.plan_sweep(config, [r.data for r in loaded.values()], desk.services(), now, bot)
        result.problems.extend(plan.problems)
        failed: set[str] = set()
        for step in plan.steps:
            if step.record_id in failed:
                continue  # later steps of a record build on the one that failed
            rec = loaded[step.record_id]
            new = Record(rec.path, step.data, rec.kind, rec.body, rec.body_line)
            try:
                app.check([new])
            except InvalidRecord as e:
                result.problems.append(f"{step.record_id}: {e.message}")
                failed.add(step.record_id)
                continue
            result.steps.append(step)
            if dry_run:
                continue
            message = transaction.commit_message(step.record_id, "sweep", step.summary)
            sha = transaction.save(desk, [(rec.path, new.serialise())], message, config.display_name(bot), bot)
            if sha:
                result.commits.append(sha)
        _remind_supplier_owners(desk, app, result, dry_run)
    return result


def _remind_supplier_owners(desk: Desk, app: App, result: SweepResult, dry_run: bool) -> None:
    """Record a reminder to each supplier's owner of a contract date coming up (once per contract and date)."""
    from itsm_cli.core import suppliers
    from itsm_cli.core.sla import parse_timestamp

    stype = desk.config.supplier_type()
    if stype is None:
        return
    loaded = {r.id: r for r in desk.records((stype.folder,))}
    bot = desk.config.bot
    for reminder in suppliers.plan_reminders(desk.config, {i: r.data for i, r in loaded.items()}, parse_timestamp(app.now)):
        rec = loaded[reminder.supplier_id]
        new = Record(rec.path, reminder.data, rec.kind)
        try:
            app.check([new])
        except InvalidRecord as e:
            result.problems.append(f"{reminder.supplier_id}: {e.message}")
            continue
        result.steps.append(rules.SweepStep(reminder.supplier_id, "remind", reminder.summary, reminder.data))
        if dry_run:
            continue
        message = transaction.commit_message(reminder.supplier_id, "sweep", reminder.summary)
        sha = transaction.save(desk, [(rec.path, new.serialise())], message, desk.config.display_name(bot), bot)
        if sha:
            result.commits.append(sha)


# --- notifications --------------------------------------------------------------------


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
    from itsm_cli.core.sla import parse_timestamp

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
        items = [r.data for r in desk.records(_record_folders(desk))]
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
                jobs: list[tuple[str, str, tuple[Any, ...]]] = []
                if settings.get("smtp"):
                    jobs.extend((f"{notice.key}>{r}", r, ("mail", r)) for r in notice.recipients)
                for hook, url in hooks if not notice.confidential else ():  # security incidents: group e-mail only
                    if not hook.get("events") or notice.event in hook["events"]:
                        jobs.append((f"{notice.key}>hook:{rules.url_key(url)}", f"webhook {urlsplit(url).hostname}",
                                     ("hook", url, hook)))
                for key, label, job in jobs:
                    if key in state or key in sent:
                        continue
                    line = f"{notice.record_id} {notice.event} -> {label}"
                    if dry_run:
                        result.sent.append(line)
                        continue
                    try:
                        if job[0] == "mail":
                            mailer.send(_message(notice, sender, job[1], now))
                        else:
                            token = env.get(job[2]["token_env"]) if job[2].get("token_env") else None
                            _post(job[1], notice.payload, token, float(job[2].get("timeout", 10)))
                    except EnvironmentProblem as e:
                        result.failed.append(f"{line}: {e.message}")
                        continue
                    sent[key] = notice.at
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
            message = transaction.commit_message(first, "notify", f"notify: {len(sent)} sent", others)
            result.commit = transaction.save(desk, [(STATE_FILE, _state_text(kept))], message,
                                             config.display_name(bot), bot)
    return result


# --- e-mail intake --------------------------------------------------------------------


@dataclass
class IntakeResult:
    """What an e-mail became: a new record or a comment on one."""

    record_id: str
    action: str  # create | comment | rate
    commit: str | None
    stored: list[str] = field(default_factory=list)


def _parts(msg: EmailMessage) -> Iterator[EmailMessage]:
    """Every MIME part, without recursion, refusing messages nested or split beyond reason."""
    stack = [(msg, 0)]
    count = 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if depth > MAX_MIME_DEPTH or count > MAX_MIME_PARTS:
            raise InvalidRecord(f"the message has more than {MAX_MIME_PARTS} parts or nests deeper than {MAX_MIME_DEPTH}")
        yield part
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend((p, depth + 1) for p in reversed(payload))


def html_to_text(markup: str) -> str:
    """Plain text from HTML: blocks become lines, everything else (scripts, styles, tags) goes, via nh3."""
    markup = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    markup = re.sub(r"(?i)</(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>", "\n", markup)
    return html.unescape(nh3_clean(markup))


def nh3_clean(markup: str) -> str:
    """nh3 with no tags allowed: tag-free text, script and style contents dropped."""
    import nh3

    return nh3.clean(markup, tags=set())


def clean_text(text: str, limit: int = 100_000) -> str:
    """Text safe to store: no control characters, Unix newlines, no trailing spaces, few blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _CONTROL.sub("", text).replace("\u2028", "\n").replace("\u2029", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text[:limit]


def _strip_quoted(text: str) -> str:
    """A reply without the quoted message under it."""
    out = []
    for line in text.split("\n"):
        if re.match(r"^On .{0,300} wrote:$", line.strip()) or line.strip() == "-----Original Message-----":
            break
        if not line.startswith(">"):
            out.append(line)
    return "\n".join(out).strip()


def _header(msg: EmailMessage, name: str) -> str:
    values = msg.get_all(name) or []
    if len(values) > 1:
        raise InvalidRecord(f"the message has {len(values)} {name} headers")
    return str(values[0]) if values else ""


def _sender(msg: EmailMessage) -> str:
    header = msg.get_all("From") or []
    if len(header) != 1:
        raise InvalidRecord("the message needs exactly one From header")
    addresses = getattr(header[0], "addresses", ())
    if len(addresses) != 1 or getattr(header[0], "defects", None):
        raise InvalidRecord("the From header must name exactly one well-formed address")
    address = addresses[0].addr_spec
    if not EMAIL.fullmatch(address) or not address.isascii():
        raise InvalidRecord(f"the sender '{address[:100]}' is not a usable e-mail address")
    return address


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):
        raw = part.get_payload(decode=True) or b""
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = html_to_text(content)
    return clean_text(content)


def _attachments(msg: EmailMessage, body_part: EmailMessage | None) -> list[tuple[str, bytes, str]]:
    """Every part that is not the body nor another rendering of it (the HTML twin of a plain text)."""
    out = []
    for n, part in enumerate(_parts(msg), 1):
        if part.is_multipart() or part is body_part:
            continue
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if part.get_content_type() in ("text/plain", "text/html") and disposition != "attachment" and not filename:
            continue
        payload = part.get_payload(decode=True)
        # The name as `itsm attach` would store it (the same sanitising), and the type the sender declared.
        out.append((attachments.safe_name(filename, n), payload if isinstance(payload, bytes) else b"",
                    part.get_content_type()))
    return out


def _parse(data: bytes) -> EmailMessage:
    try:
        msg = email.message_from_bytes(data, policy=email_policy.default)
    except (RecursionError, MemoryError):
        raise InvalidRecord("the message nests too deeply to read") from None
    except Exception as e:  # the parser on hostile input can fail in many ways; none may escape
        raise InvalidRecord(f"not a readable e-mail: {type(e).__name__}") from None
    if not isinstance(msg, EmailMessage):
        raise InvalidRecord("not a readable e-mail")
    return msg


def intake_mail(desk: Desk, message_bytes: bytes, now: str, type_name: str | None = None) -> IntakeResult:
    """Turn one e-mail into a new ticket, or a reply (``[INC-0042]`` in the subject) into a comment.

    The sender is the requester, the subject the title, the text (HTML turned
    into plain text, sanitised with nh3) the description. Attachments are
    refused, ignored or stored under ``attachments/<ID>/`` as
    ``intake_mail.attachments`` says. A reply becomes a comment only when its
    sender is the ticket's requester or a listed person and the ticket is not
    closed. Anything malformed, oversized, automatic or hostile raises an
    ItsmError and creates nothing.
    """
    config = desk.config
    settings = config.data.get("intake_mail") or {}
    limit = int(settings.get("max_bytes", DEFAULT_MAIL_LIMIT))
    if len(message_bytes) > limit:
        raise Refused(f"the message is {len(message_bytes):,} bytes; this desk takes at most {limit:,}")
    if not message_bytes.strip():
        raise InvalidRecord("the message is empty")
    msg = _parse(message_bytes)
    try:
        list(_parts(msg))
        sender = _sender(msg)
        subject = clean_text(_header(msg, "Subject"), 10_000)
        auto = _header(msg, "Auto-Submitted").strip().lower()
        precedence = _header(msg, "Precedence").strip().lower()
        text = _body(msg)
        body_part = msg.get_body(preferencelist=("plain", "html"))
        files = _attachments(msg, body_part)
    except ItsmError:
        raise
    except Exception as e:  # hostile MIME can break the library's accessors too
        raise InvalidRecord(f"not a readable e-mail: {type(e).__name__}") from None
    if (auto and auto != "no") or precedence in ("bulk", "junk", "list", "auto_reply"):
        raise Refused("automatic messages (auto-replies, lists, bulk) are not turned into tickets")
    notifier = (config.data.get("notifications") or {}).get("from")
    if sender.lower() in {config.bot.lower(), str(notifier or "").lower()}:
        raise Refused("the message comes from this desk's own address")
    allowed = settings.get("senders")
    if allowed and not any(sender.lower() == a.lower() or (a.startswith("@") and sender.lower().endswith(a.lower()))
                           for a in allowed):
        raise Refused(f"{sender} may not open tickets by e-mail (intake_mail.senders)")
    mode = settings.get("attachments", "refuse")
    if files and mode == "refuse":
        names = ", ".join(name for name, _, _ in files[:5])
        raise Refused(f"the message has attachments ({names}); this desk does not take them by e-mail: send a link")
    max_file = int(settings.get("attachment_max_bytes", limit))
    big = [name for name, data, _ in files if len(data) > max_file]
    if mode == "store" and big:
        raise Refused(f"attachment {big[0]} is larger than {max_file:,} bytes")
    store = files if mode == "store" else []
    if files and mode == "ignore":
        text += "\n\n(Attachments not kept: " + ", ".join(name for name, _, _ in files) + ")"
    elif store:
        for name, data, _ in store:
            attachments.check_size(config, name, len(data))  # the desk's own limit for any attachment
    match = re.search(r"\[([A-Z]{2,5}-[0-9]{1,9})\]", subject)
    if match:
        return _reply(desk, match.group(1), sender, _strip_quoted(text), now, store)
    type_name = type_name or settings.get("type", "incident")
    rtype = config.record_type(type_name)
    if rtype.kind != "ticket":
        raise BadArgument(f"e-mail can open tickets, not {type_name} records")
    title = re.sub(r"\s+", " ", subject).strip()[:200] or "(no subject)"
    fields: dict[str, Any] = {"title": title}
    if text.strip():
        fields["description"] = text.strip()
    if settings.get("service"):
        fields["service"] = settings["service"]
    app = App(desk, sender, now, commit=not store)
    change = app.new(type_name, fields)
    record_id = change.record["id"]
    if not store:
        return IntakeResult(record_id, "create", change.commit)
    message = transaction.commit_message(record_id, "create", f"create {type_name} \"{title}\" (by e-mail)")
    sha, paths = _commit_with_files(desk, record_id, None, store, message, sender, now)
    return IntakeResult(record_id, "create", sha, paths)


def _reply(desk: Desk, record_id: str, sender: str, text: str, now: str, store: list[tuple[str, bytes]]) -> IntakeResult:
    config = desk.config
    try:
        rec = desk.get(record_id)
    except ItsmError:
        raise Refused(f"the subject names {record_id}, which does not exist") from None
    if rec.kind != "ticket":
        raise Refused(f"{record_id} is not a ticket; replies can only comment on tickets")
    requester = str(rec.data.get("requester", "")).lower()
    if sender.lower() != requester and config.person(sender) is None:
        raise Refused(f"{sender} is neither the requester of {record_id} nor a listed person of this desk")
    if config.is_closed(rec.type_name, str(rec.data.get("status"))):
        raise Refused(f"{record_id} is '{rec.data.get('status')}' (closed); "
                      f"send a new e-mail without [{record_id}] in the subject to open a new ticket")
    if not text.strip():
        raise Refused("the reply has no text of its own")
    rating = collab.rating_from_reply(text)
    resolved = config.category(rec.type_name, str(rec.data.get("status"))) == "resolved"
    if rating is not None and resolved and sender.lower() == requester and not store:
        # A requester's reply to a resolved ticket that starts with 1-5 is a rating (see the README).
        change = collaboration.rate(App(desk, sender, now), record_id, rating[0], rating[1])
        return IntakeResult(record_id, "rate", change.commit)
    app = App(desk, sender, now, commit=not store)
    change = app.comment(record_id, text, internal=False)
    if not store:
        return IntakeResult(record_id, "comment", change.commit)
    message = transaction.commit_message(record_id, "comment", "comment (by e-mail)")
    sha, paths = _commit_with_files(desk, record_id, rec.raw, store, message, sender, now)
    return IntakeResult(record_id, "comment", sha, paths)


def _commit_with_files(desk: Desk, record_id: str, before: bytes | None, files: Sequence[tuple[str, bytes, str]],
                       message: str, sender: str, now: str) -> tuple[str, list[str]]:
    """Attach ``files`` to the record just written (uncommitted), as ``itsm attach`` does, and commit both.

    On any failure both are put back (``before``: the record's old file, None for a new one).
    """
    rec_path = desk.path_for(record_id).relative_to(desk.root.resolve()).as_posix()
    paths = collaboration.planned_paths(desk, record_id, [name for name, _, _ in files])
    git = Git(desk.root)
    snap = git.snapshot([rec_path, *paths])
    try:
        app = App(desk, sender, now, commit=False)
        _, paths = collaboration.attach(app, record_id, [(n, d) for n, d, _ in files],
                                        declared=[c for _, _, c in files])
        return git.commit([rec_path, *paths], message, desk.config.display_name(sender), sender), paths
    except BaseException:
        git.restore(snap)
        if before is None:
            (desk.root / rec_path).unlink(missing_ok=True)
        else:
            (desk.root / rec_path).write_bytes(before)
        raise


def intake_mailbox(desk: Desk, path: Path, now: str, type_name: str | None = None) -> list[tuple[str, IntakeResult | ItsmError]]:
    """Take every new message of a Maildir (marking each seen) or an mbox (removing those taken).

    A Maildir message is marked seen (``S``) either way, and flagged (``F``)
    when refused, so it is never tried twice; an mbox keeps what was refused.
    Returns (message key, result or error) per message.
    """
    limit = int((desk.config.data.get("intake_mail") or {}).get("max_bytes", DEFAULT_MAIL_LIMIT))
    out: list[tuple[str, IntakeResult | ItsmError]] = []

    def take(key: str, data: bytes) -> IntakeResult | ItsmError:
        try:
            return intake_mail(desk, data, now, type_name)
        except ItsmError as e:
            return e

    if path.is_dir():
        if not all((path / d).is_dir() for d in ("cur", "new", "tmp")):
            raise BadArgument(f"{path} is a folder but not a Maildir (it needs cur/, new/ and tmp/)")
        box = mailbox.Maildir(str(path), factory=None, create=False)
        files = {name.split(box.colon, 1)[0]: (sub, name) for sub in ("new", "cur")
                 for name in os.listdir(path / sub) if not name.startswith(".")}
        for key in sorted(box.keys()):
            sub, name = files[key]
            info = name.split(box.colon + "2,", 1)[1] if box.colon + "2," in name else ""
            if "S" in info:
                continue
            with contextlib.closing(box.get_file(key)) as f:
                data = f.read(limit + 1)
            result = take(key, data)
            out.append((key, result))
            # Seen either way, flagged for a person when refused: never taken twice.
            flags = set(info) | ({"S"} if isinstance(result, IntakeResult) else {"S", "F"})
            os.replace(path / sub / name, path / "cur" / f"{key}{box.colon}2,{''.join(sorted(flags))}")
        return out
    try:
        with open(path, "rb") as f:
            head = f.read(5)
    except OSError as e:
        raise EnvironmentProblem(f"cannot read: {e.strerror}", str(path)) from None
    if head != b"From ":
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        return [(path.name, take(path.name, data))]
    box_mbox = mailbox.mbox(str(path), create=False)
    box_mbox.lock()
    try:
        taken = []
        for key in list(box_mbox.keys()):
            with contextlib.closing(box_mbox.get_file(key)) as f:
                data = f.read(limit + 1)
            result = take(str(key), data)
            out.append((str(key), result))
            if isinstance(result, IntakeResult):
                taken.append(key)
        for key in taken:
            box_mbox.remove(key)
        box_mbox.flush()
    finally:
        box_mbox.unlock()
        box_mbox.close()
    return out


# --- import and export ----------------------------------------------------------------


@dataclass
class ImportResult:
    """An import: the records it creates (or would), the rows it rejects with why, and its commit."""

    created: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    commit: str | None = None


def _property_schema(schemas: Mapping[str, Any], schema_name: str, name: str) -> dict[str, Any]:
    prop = schemas.get(schema_name, {}).get("properties", {}).get(name) or {}
    ref = prop.get("$ref", "")
    if ref.startswith("common.schema.json#/$defs/"):
        return schemas.get("common.schema.json", {}).get("$defs", {}).get(ref.rpartition("/")[2]) or {}
    return prop


def _cell(value: str, prop: Mapping[str, Any], column: str) -> Any:
    """A CSV cell as the value its schema property expects (JSON for lists and objects)."""
    kind = prop.get("type")
    if kind in ("array", "object") or (kind is None and "items" in prop):
        if value.lstrip().startswith(("[", "{")):
            try:
                return json.loads(value)
            except ValueError:
                raise BadArgument(f"column {column}: not valid JSON") from None
        if kind == "array":
            return [v.strip() for v in value.split(",") if v.strip()]
        raise BadArgument(f"column {column}: expected a JSON object")
    if kind == "boolean":
        low = value.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise BadArgument(f"column {column}: '{value}' is not true or false")
    if kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            raise BadArgument(f"column {column}: '{value}' is not a number") from None
    return value


def _read_rows(kind: str, path: Path) -> list[dict[str, Any]]:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise BadArgument(f"{path}: {size:,} bytes; imports are limited to {MAX_IMPORT_BYTES:,}")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise EnvironmentProblem(f"cannot read: {e.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise InvalidRecord("not valid UTF-8", str(path)) from None
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidRecord(f"not valid JSON: {e}", str(path)) from None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise InvalidRecord("expected a JSON list of records", str(path))
        return data
    if kind != "csv":
        raise BadArgument(f"unknown import format '{kind}' (csv or json)")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        rows: list[dict[str, Any]] = []
        for row in reader:
            if None in row:
                raise InvalidRecord(f"line {reader.line_num}: more cells than columns", str(path))
            rows.append(row)
        if not reader.fieldnames:
            raise InvalidRecord("no header line", str(path))
    except csv.Error as e:
        raise InvalidRecord(f"not valid CSV: {e}", str(path)) from None
    return rows


def _workflow_path(config: Config, type_name: str, start: str, goal: str) -> list[str] | None:
    """The shortest chain of states from ``start`` to ``goal`` along the workflow's transitions."""
    if start == goal:
        return []
    transitions = config.workflow(type_name)["transitions"]
    previous: dict[str, str] = {start: start}
    queue = [start]
    while queue:
        state = queue.pop(0)
        for t in transitions:
            if state in t["from"] and t["to"] not in previous:
                previous[t["to"]] = state
                if t["to"] == goal:
                    chain = [goal]
                    while previous[chain[-1]] != start:
                        chain.append(previous[chain[-1]])
                    return chain[::-1]
                queue.append(t["to"])
    return None


class _Importer:
    def __init__(self, app: App, type_name: str, mapping: Mapping[str, str], source: str):
        self.app = app
        self.config = app.config
        self.type_name = type_name
        self.rtype = self.config.record_type(type_name)
        if self.rtype.kind == "service":
            raise BadArgument("services are catalog entries; add catalog/<id>.yaml files instead")
        self.schemas = app.desk.schemas()
        self.properties = set(self.schemas.get(self.rtype.schema, {}).get("properties", {}))
        if self.rtype.kind == "article":
            self.properties.add("body")
        for column, target in mapping.items():
            if target != "-" and target not in self.properties:
                raise BadArgument(f"--map {column}={target}: '{target}' is not a field of {type_name}")
        self.mapping = mapping
        self.source = source
        self.ignored: dict[str, None] = {}
        self.taken = set(app.desk.taken_ids()) | app.ids_on_branches()
        self.services = app.desk.services()

    def fields(self, row: Mapping[str, Any], from_csv: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, value in row.items():
            target = self.mapping.get(column, column)
            if target == "-":
                continue
            if target not in self.properties:
                self.ignored[column] = None
                continue
            if value is None or (from_csv and value == ""):
                continue
            if from_csv:
                value = _cell(value, _property_schema(self.schemas, self.rtype.schema, target), column)
            out[target] = value
        return out

    def record(self, n: int, fields: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The record a row becomes: as given when it has a history, else created now and moved to its status."""
        body = fields.pop("body", None) if self.rtype.kind == "article" else None
        if fields.get("type", self.type_name) != self.type_name:
            raise Refused(f"type is '{fields['type']}', not {self.type_name}")
        record_id = fields.get("id")
        if record_id is not None:
            if not isinstance(record_id, str) or not ids.is_record_id(record_id) or \
                    not record_id.startswith(f"{self.rtype.prefix}-"):
                raise Refused(f"id '{record_id}' is not a {self.type_name} ID ({self.rtype.prefix}-0001); "
                              "map the column elsewhere or drop it with --map COLUMN=-")
            if record_id in self.taken:
                raise Refused(f"{record_id} already exists")
        else:
            record_id = ids.next_id(self.rtype.prefix or "", self.taken)
        if "history" in fields:  # kept as exported, key order included
            data = fields if "id" in fields else {"id": record_id, **fields}
            data.setdefault("type", self.type_name)
            return data, body
        if not fields.get("title"):
            raise Refused("no title (map a column to it with --map COLUMN=title)")
        try:
            return self._create(n, record_id, fields, body)
        except ItsmError as e:
            raise Refused(e.message.removeprefix(f"{record_id}: ")) from None

    def _create(self, n: int, record_id: str, fields: dict[str, Any], body: str | None) -> tuple[dict[str, Any], str | None]:
        actor = self.app.actor
        created = normalise_time(str(fields.pop("created")), "created") if fields.get("created") else self.app.now
        updated = normalise_time(str(fields.pop("updated")), "updated") if fields.get("updated") else created
        updated = max(updated, created)
        status = fields.pop("status", None)
        requester = fields.pop("requester", None)
        if fields.pop("links", None):
            raise Refused("links can only be imported with a history; add them afterwards with 'itsm link'")
        priority = fields.pop("priority", None)
        protected = sorted(set(fields) & (records.PROTECTED - {"id", "type"}))
        if protected:
            raise Refused(f"'{protected[0]}' cannot be imported without a history")
        fields.pop("id", None)
        fields.pop("type", None)
        if requester:
            fields["requester_override"] = requester
        data = records.new_record(self.config, self.type_name, record_id, fields, actor, created)
        data["history"][0]["note"] = f"Imported from {self.source}, row {n}."
        if priority is not None and data.get("priority") != priority:
            raise Refused(f"priority {priority} does not follow from impact {data.get('impact')} and urgency "
                          f"{data.get('urgency')}; import impact and urgency instead")
        if status and status != data["status"]:
            chain = _workflow_path(self.config, self.type_name, data["status"], status)
            if chain is None:
                raise Refused(f"no way in the {self.type_name} workflow from '{data['status']}' to '{status}'")
            service = self.services.get(data.get("service") or "")
            for state in chain:
                policy = approval_policy(self.config, data, service)  # type: ignore[arg-type]
                data = records.transition(self.config, data, state, actor, updated, policy, f"Imported as '{status}'.")
        if self.rtype.kind == "article":
            data.setdefault("owner", actor)
            data.setdefault("services", [])
        return data, body


def import_records(
    desk: Desk,
    kind: str,
    path: Path,
    type_name: str,
    mapping: Mapping[str, str],
    dry_run: bool,
    actor: str | None = None,
    now: str | None = None,
    skip_rejected: bool = False,
) -> ImportResult:
    """Import records from CSV or JSON: a dry run lists what would be created and every rejected row with why.

    ``mapping`` renames columns to fields (``-`` drops a column). Rows carrying
    a ``history`` (an export of a desk) are kept as they are, IDs included;
    other rows become new records created by ``actor`` and moved along the
    workflow to their ``status``. Every record is validated as ``itsm
    validate`` would. A real run writes all records in one commit
    (``Itsm-Action: import``), and refuses if any row would be rejected unless
    ``skip_rejected``.
    """
    from itsm_cli.app import now_utc

    app = App(desk, actor, now or now_utc())
    result = ImportResult()
    rows = _read_rows(kind, path)
    with desk.lock():
        importer = _Importer(app, type_name, mapping, path.name)
        already = set(importer.taken)
        built: list[tuple[int, Record, bool]] = []  # (row, record, numbered by the import)
        for n, row in enumerate(rows, 1):
            try:
                if not isinstance(row, dict):
                    raise Refused("not an object")
                fields = importer.fields(row, kind == "csv")
                numbered = "id" not in fields
                fresh = "history" not in fields
                data, body = importer.record(n, fields)
                if fresh:  # a security incident's confidential text is encrypted as itsm new would
                    data = app.seal(data, None)
            except ItsmError as e:
                result.rejected.append((n, e.message))
                continue
            importer.taken.add(data["id"])
            rel = desk.path_for(data["id"]).relative_to(desk.root.resolve()).as_posix()
            built.append((n, Record(rel, data, importer.rtype.kind, body), numbered))
        problems = validate_records(app.config, SchemaSet(importer.schemas), [r for _, r, _ in built],
                                    importer.taken, importer.services) if built else []
        bad: dict[str, str] = {}
        for p in problems:
            bad.setdefault(p.path, p.message)
        accepted: list[Record] = []
        # Rows numbered here get their final IDs only now, so rejected rows leave no gaps.
        taken = already | {rec.id for _, rec, numbered in built if not numbered and rec.path not in bad}
        for n, rec, numbered in built:
            if rec.path in bad:
                result.rejected.append((n, bad[rec.path]))
                continue
            if numbered:
                new_id = ids.next_id(importer.rtype.prefix or "", taken)
                rec = Record(desk.path_for(new_id).relative_to(desk.root.resolve()).as_posix(),
                             records.ordered({**rec.data, "id": new_id}), rec.kind, rec.body)
            taken.add(rec.id)
            accepted.append(rec)
        result.created = [rec.data for rec in accepted]
        result.rejected.sort()
        result.ignored_columns = list(importer.ignored)
        if dry_run or not accepted:
            return result
        if result.rejected and not skip_rejected:
            n, why = result.rejected[0]
            raise Refused(f"{len(result.rejected)} of {len(rows)} rows would be rejected (row {n}: {why}); "
                          "see them all with --dry-run, or import the rest with --skip-rejected")
        writes = [(rec.path, rec.serialise()) for rec in accepted]
        first, *others = [rec.id for rec in accepted]
        summary = f"import {len(writes)} {type_name} record{'s' if len(writes) != 1 else ''} from {path.name}"
        message = transaction.commit_message(first, "import", summary, others)
        result.commit = transaction.save(desk, writes, message, app.config.display_name(app.actor), app.actor)
    return result


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def export_records(desk: Desk, query: Query, fmt: str) -> str:
    """Records as JSON (full records; articles with their ``body``) or CSV (lists and history as JSON cells).

    Importing the output into an empty desk with the same configuration and
    catalog reproduces the records.
    """
    config = desk.config
    if query.type_name is not None:
        folders: tuple[str, ...] = (config.record_type(query.type_name).folder,)
    else:
        folders = ("tickets",)
    loaded = desk.records(folders)
    bodies = {r.id: r.body for r in loaded if r.kind == "article"}
    found = run_query(config, (r.data for r in loaded), query)
    out = [{**d, "body": bodies[d["id"]]} if d.get("id") in bodies else d for d in found]
    if fmt == "json":
        return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if fmt != "csv":
        raise BadArgument(f"unknown export format '{fmt}' (csv or json)")
    columns: dict[str, None] = {}
    for key in records.FIELD_ORDER:
        if any(key in d for d in out):
            columns[key] = None
    for d in out:
        columns.update((k, None) for k in d if k not in ("history", "body"))
    for key in ("body", "history"):
        if any(key in d for d in out):
            columns[key] = None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns))
    for d in out:
        writer.writerow([_csv_value(d.get(c)) for c in columns])
    return buf.getvalue()
