"""Security incidents: which tickets are one, what of them is confidential, and the shape of its ciphertext.

A desk turns the feature on with a ``security:`` block in ``itsm.yaml``
(``category``, ``group``, ``fields``, ``encrypt``). A ticket whose
``category`` is the configured one is a *security incident*: it never
reaches the site, the status page, availability or a notification outside
the security group (:func:`is_security` is the one test every such place
asks), and its confidential values are kept as ASCII-armored age messages.

An encrypted value is an ordinary YAML string holding the armor
(``-----BEGIN AGE ENCRYPTED FILE-----`` ...), so the record stays valid
against its schema and every tool that compares records (history, merge
driver, ``validate --base``) sees a plain string. What is confidential:

- the configured ``fields`` (default ``description``) of a security incident,
  at the top level and in the ``fields`` of the history entries that set them;
- the ``note`` of every history entry marked ``confidential: true``: on a
  security incident every entry a person adds with a note is marked so (a
  forgotten flag must not leak), and ``itsm comment --confidential`` marks a
  comment on any ticket.

This module is pure: the encryption and decryption themselves are passed in
as functions (see :mod:`itsm_cli.store.crypto`, which uses age via ``pyrage``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from itsm_cli.core.config import Config

ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
AGE_HEADER = b"age-encryption.org/v1\n"
PLACEHOLDER = "(encrypted for the security group)"
BOT_DEFAULT = "itsm-bot@localhost"  # as Config.bot
DEFAULT_CATEGORY = "security"
DEFAULT_FIELDS = ("description",)
# Fields that say what a record is and where it stands: never encrypted (validate, history and the
# site need them; the title is visible by design, see the README's "Security incidents").
NEVER_ENCRYPTED = frozenset({
    "id", "type", "title", "status", "created", "updated", "requester", "history", "category", "service",
    "offering", "impact", "urgency", "priority", "assignee", "group", "tags", "watchers", "links", "due", "major",
})
# SSH key types age accepts as recipients.
SSH_RECIPIENT_TYPES = ("ssh-ed25519", "ssh-rsa")


@dataclass(frozen=True)
class SecuritySettings:
    """The desk's ``security:`` block, with its defaults filled in."""

    category: str
    group: str
    fields: tuple[str, ...]
    encrypt: bool


def _data(config: Config | Mapping[str, Any]) -> Mapping[str, Any]:
    """The configuration mapping, from a :class:`~itsm_cli.core.config.Config` or the mapping itself."""
    data: Mapping[str, Any] | None = getattr(config, "data", None)  # a Config's; a mapping has none
    return (config if data is None else data) or {}


def settings(config: Config | Mapping[str, Any]) -> SecuritySettings | None:
    """The desk's security settings, or None when ``itsm.yaml`` has no ``security:`` block (feature off)."""
    block = _data(config).get("security")
    if not isinstance(block, Mapping):
        return None
    return SecuritySettings(
        category=str(block.get("category") or DEFAULT_CATEGORY),
        group=str(block.get("group") or DEFAULT_CATEGORY),
        fields=tuple(block.get("fields") or DEFAULT_FIELDS),
        encrypt=block.get("encrypt", True) is not False,
    )


def is_security(record: Mapping[str, Any], config: Config | Mapping[str, Any]) -> bool:
    """True when ``record`` is a security incident: a ticket whose ``category`` is ``security.category``.

    The one predicate the site, the status page, availability and
    notifications ask before a ticket leaves the desk.
    """
    block = _data(config).get("security")
    if not isinstance(block, Mapping):
        return False
    category = record.get("category")
    return category is not None and category == (block.get("category") or DEFAULT_CATEGORY)


def is_encrypted(value: Any) -> bool:
    """True when ``value`` is an armored age message (what an encrypted field or note holds)."""
    return isinstance(value, str) and value.lstrip().startswith(ARMOR_BEGIN)


def has_confidential(record: Mapping[str, Any]) -> bool:
    """True when any history entry of ``record`` is marked ``confidential`` (its note is encrypted)."""
    return any(isinstance(e, Mapping) and e.get("confidential") for e in record.get("history") or [])


def _armor_body(value: str) -> bytes:
    """The binary age file inside the armor; ValueError saying what is wrong with it."""
    import base64
    import binascii

    lines = value.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != ARMOR_BEGIN or lines[-1].strip() != ARMOR_END:
        raise ValueError("not an ASCII-armored age message (BEGIN/END AGE ENCRYPTED FILE lines)")
    body = "".join(line.strip() for line in lines[1:-1])
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the age armor is not valid base64") from None
    if not raw.startswith(AGE_HEADER):
        raise ValueError("the age armor does not hold an age v1 file")
    return raw


def stanzas(value: str) -> list[list[str]]:
    """The recipient stanzas of an armored age message: each ``-> TYPE ARGS...`` line split into words.

    Readable without any key: age writes its header in clear. ValueError when
    the armor or the header is malformed.
    """
    raw = _armor_body(value)
    end = raw.find(b"\n---")
    if end < 0:
        raise ValueError("the age header has no MAC line")
    header = raw[len(AGE_HEADER):end + 1].decode("ascii", "replace")
    out = [line[3:].split() for line in header.splitlines() if line.startswith("-> ")]
    if not out:
        raise ValueError("the age message names no recipient")
    return out


def armor_problem(value: Any) -> str | None:
    """What is wrong with an encrypted value (None when it is a well-formed age message)."""
    if not isinstance(value, str):
        return "an encrypted value is a string holding an age message"
    try:
        stanzas(value)
    except ValueError as e:
        return str(e)
    return None


def ssh_tag(key_line: str) -> str | None:
    """The tag age puts in an SSH recipient's stanza (base64 of the first 4 bytes of SHA-256 of the key blob)."""
    import base64
    import binascii
    import hashlib

    parts = key_line.split()
    if len(parts) < 2 or parts[0] not in SSH_RECIPIENT_TYPES:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(hashlib.sha256(blob).digest()[:4]).decode("ascii").rstrip("=")


def recipients(config: Config | Mapping[str, Any]) -> list[str]:
    """The public keys security incidents are encrypted for, in order, each once.

    Every member of the security group: the SSH keys among their
    ``signing_keys`` (``ssh-ed25519``/``ssh-rsa`` lines; GPG fingerprints and
    other key types age cannot use are skipped) and their ``age_keys``; then
    the group's own ``age_keys``.
    """
    s = settings(config)
    if s is None:
        return []
    data = _data(config)
    out: list[str] = []
    for person in data.get("people") or []:
        if s.group not in (person.get("groups") or []):
            continue
        for key in person.get("signing_keys") or []:
            if isinstance(key, str) and key.split(" ", 1)[0] in SSH_RECIPIENT_TYPES:
                out.append(" ".join(key.split()[:2]))
        out.extend(str(k) for k in person.get("age_keys") or [])
    for group in data.get("groups") or []:
        if group.get("id") == s.group:
            out.extend(str(k) for k in group.get("age_keys") or [])
    return list(dict.fromkeys(out))


def config_problems(config: Config | Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """Problems in the ``security:`` block the schema cannot see, as (path in itsm.yaml, message)."""
    s = settings(config)
    if s is None:
        return []
    data = _data(config)
    out: list[tuple[tuple, str]] = []
    if s.group not in {g.get("id") for g in data.get("groups") or []}:
        out.append((("security", "group"), f"unknown group '{s.group}'"))
    for i, name in enumerate(s.fields):
        if name in NEVER_ENCRYPTED:
            out.append((("security", "fields", i), f"'{name}' cannot be encrypted: it says what the record is "
                                                   "or where it stands"))
    if s.encrypt and not recipients(config):
        out.append((("security",), f"no member of group '{s.group}' has an SSH key (signing_keys: ssh-ed25519 or "
                                   "ssh-rsa) or age_keys to encrypt security incidents for"))
    return out


def record_problems(record: Mapping[str, Any], config: Config | Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """What validate can check of a record's encryption without a key, as (JSON path, message).

    On a security incident (with ``encrypt`` on) each confidential field holds
    a well-formed age message; on any record, each note marked
    ``confidential`` does, and each encrypted value is well-formed.
    """
    out: list[tuple[tuple, str]] = []
    s = settings(config)
    if s is not None and s.encrypt and is_security(record, config):
        for name in s.fields:
            value = record.get(name)
            if value is None:
                continue
            if not is_encrypted(value):
                out.append(((name,), f"'{name}' of a security incident must be encrypted (write it with itsm, "
                                     "which encrypts it for the security group)"))
            elif (why := armor_problem(value)) is not None:
                out.append(((name,), f"'{name}': {why}"))
    for i, entry in enumerate(record.get("history") or []):
        if not isinstance(entry, Mapping):
            continue
        note = entry.get("note")
        if entry.get("confidential") and note is not None and not is_encrypted(note):
            out.append((("history", i, "note"), "a confidential note must be encrypted"))
        elif is_encrypted(note) and (why := armor_problem(note)) is not None:
            out.append((("history", i, "note"), why))
    return out


def seal(
    record: dict[str, Any],
    before: Mapping[str, Any] | None,
    config: Config | Mapping[str, Any],
    encrypt: Callable[[str], str],
) -> dict[str, Any]:
    """``record`` about to be written, with its confidential plain text encrypted.

    Only what is new is encrypted: a field whose value is already an age
    message, and every history entry that ``before`` already had, are left
    byte for byte as they are, because age gives a new ciphertext on every
    call and history, the merge driver and ``validate --base`` compare
    entries. On a security incident, each new entry a person adds with a note
    is marked ``confidential``; the bot's notes (reminders, escalations, rule
    comments) are text itsm wrote and stay readable so notifications work.
    The same plain text is encrypted once, so a field and the history entry
    that set it hold the same ciphertext.
    """
    s = settings(config)
    secure = s is not None and s.encrypt and is_security(record, config)
    known = len((before or {}).get("history") or [])
    history = record.get("history") or []
    new_entries = history[known:] if isinstance(history, list) else []
    wanted = secure and (any(isinstance(record.get(f), str) and not is_encrypted(record.get(f)) for f in s.fields)
                         or bool(new_entries))
    if not wanted and not any(isinstance(e, Mapping) and e.get("confidential") and not is_encrypted(e.get("note"))
                              for e in new_entries):
        return record
    bot = str((_data(config).get("desk") or {}).get("bot") or BOT_DEFAULT).lower()
    done: dict[str, str] = {}

    def enc(text: str) -> str:
        if text not in done:
            done[text] = encrypt(text)
        return done[text]

    out = copy.deepcopy(record)
    confidential = s.fields if secure and s is not None else ()
    for name in confidential:
        value = out.get(name)
        if isinstance(value, str) and not is_encrypted(value):
            out[name] = enc(value)
    for entry in out.get("history", [])[known:]:
        if not isinstance(entry, dict):
            continue
        note = entry.get("note")
        if secure and isinstance(note, str) and str(entry.get("by", "")).lower() != bot:
            entry["confidential"] = True
        if entry.get("confidential") and isinstance(note, str) and not is_encrypted(note):
            entry["note"] = enc(note)
        fields = entry.get("fields")
        if isinstance(fields, dict):
            for name in confidential:
                if isinstance(fields.get(name), str) and not is_encrypted(fields[name]):
                    fields[name] = enc(fields[name])
    return out


def unmark_problem(
    before: Mapping[str, Any], after: Mapping[str, Any], config: Config | Mapping[str, Any]
) -> str | None:
    """Why a change may not turn a security incident into an ordinary one (None when it does not).

    Un-marking would publish it (site, status page, notifications to the
    requester and watchers) on the next run, so itsm does not do it on its
    own; a mistaken marking is corrected by hand, in a reviewed change.
    """
    if is_security(before, config) and not is_security(after, config):
        return (f"{before.get('id')} is a security incident: changing its category would publish it; if it was "
                "marked by mistake, change category in its file by hand, in a reviewed pull request")
    return None


def reveal(record: Mapping[str, Any], decrypt: Callable[[str], str | None], placeholder: str | None = PLACEHOLDER) -> dict[str, Any]:
    """A copy of ``record`` with each encrypted value replaced by its plain text.

    ``decrypt`` gives the plain text, or None without a key for it; such a
    value becomes ``placeholder`` (or stays the armor when that is None).
    """
    def walk(value: Any) -> Any:
        if is_encrypted(value):
            text = decrypt(value)
            if text is not None:
                return text
            return value if placeholder is None else placeholder
        if isinstance(value, Mapping):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(record)


def has_encrypted(record: Mapping[str, Any]) -> bool:
    """True when any value of ``record`` (at any depth) is an age message."""
    def walk(value: Any) -> bool:
        if is_encrypted(value):
            return True
        if isinstance(value, Mapping):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return walk(record)


def may_be_told(email: str, config: Config | Mapping[str, Any]) -> bool:
    """True when a notification about a security incident may go to ``email``: a member of the group, or its address."""
    s = settings(config)
    if s is None:
        return True
    data = _data(config)
    low = email.lower()
    for group in data.get("groups") or []:
        if group.get("id") == s.group and str(group.get("email") or "").lower() == low:
            return True
    return any(str(p.get("email", "")).lower() == low and s.group in (p.get("groups") or [])
               for p in data.get("people") or [])
