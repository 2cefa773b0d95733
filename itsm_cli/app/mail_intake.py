"""E-mail intake: a message (or a Maildir or mbox of them) turned into tickets, replies into comments.

The sender is the requester, the subject the title, the text the description;
HTML mail is read as text (:func:`itsm_cli.core.html.html_to_text`). Every
change is committed by the sender, through :class:`itsm_cli.app.App`.
"""

from __future__ import annotations

import contextlib
import email
import mailbox
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple

from itsm_cli.app import App, collaboration
from itsm_cli.core import attachments, collab
from itsm_cli.core.html import html_to_text
from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, ItsmError, Refused
from itsm_cli.store import transaction
from itsm_cli.store.desk import Desk

DEFAULT_MAIL_LIMIT = 1_000_000
MAX_MIME_PARTS = 64
MAX_MIME_DEPTH = 8
EMAIL = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,255}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class MailFile(NamedTuple):
    """An attachment of an e-mail: its safe name, its bytes and the type the sender declared."""

    name: str
    data: bytes
    content_type: str


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


def _attachments(msg: EmailMessage, body_part: EmailMessage | None) -> list[MailFile]:
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
        out.append(MailFile(attachments.safe_name(filename, n), payload if isinstance(payload, bytes) else b"",
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
        names = ", ".join(f.name for f in files[:5])
        raise Refused(f"the message has attachments ({names}); this desk does not take them by e-mail: send a link")
    max_file = int(settings.get("attachment_max_bytes", limit))
    big = [f.name for f in files if len(f.data) > max_file]
    if mode == "store" and big:
        raise Refused(f"attachment {big[0]} is larger than {max_file:,} bytes")
    store = files if mode == "store" else []
    if files and mode == "ignore":
        text += "\n\n(Attachments not kept: " + ", ".join(f.name for f in files) + ")"
    elif store:
        for f in store:
            attachments.check_size(config, f.name, len(f.data))  # the desk's own limit for any attachment
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


def _reply(desk: Desk, record_id: str, sender: str, text: str, now: str, store: list[MailFile]) -> IntakeResult:
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


def _commit_with_files(desk: Desk, record_id: str, before: bytes | None, files: Sequence[MailFile],
                       message: str, sender: str, now: str) -> tuple[str | None, list[str]]:
    """Attach ``files`` to the record just written (uncommitted), as ``itsm attach`` does, and commit both.

    The attachment step works out the final files; they are put back as they
    were (``before``: the record's old file, None for a new one) and then
    written and committed by :func:`transaction.save`, so a failure or a
    Ctrl-C, in the commit too, leaves the work tree and index as before.
    """
    rec_path = desk.path_for(record_id).relative_to(desk.root.resolve()).as_posix()
    planned = collaboration.planned_paths(desk, record_id, [f.name for f in files])
    with transaction.put_back(desk, {rec_path: before, **dict.fromkeys(planned)}):
        app = App(desk, sender, now, commit=False)
        _, paths = collaboration.attach(app, record_id, [(f.name, f.data) for f in files],
                                        declared=[f.content_type for f in files])
        # The record as the attachment step left it; the files byte for byte, in the order attach wrote them.
        writes: list[tuple[str, str | bytes | None]] = [(rec_path, desk.read_bytes(rec_path))]
        writes.extend(zip(paths, (f.data for f in files), strict=True))
    return transaction.save(desk, writes, message, desk.config.display_name(sender), sender), paths


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
