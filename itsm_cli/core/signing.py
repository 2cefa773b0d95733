"""Signing keys as desk data: who owns which key, git's allowed-signers list, and what a signature proves.

Pure: ``itsm.yaml`` (as a mapping) in, answers out. People list their keys as
``signing_keys:`` (an SSH public key line as in a ``.pub`` file, or a GPG
fingerprint); the bot's keys are ``desk.bot_signing_keys`` (or a person entry
for the bot's address). A key identifies its owner by fingerprint: git's
``%GK``/``%GF`` for SSH (``SHA256:...``), ``%GF``/``%GP`` for GPG (40 or 64 hex
digits, upper case here).

:func:`judge` turns git's verdict on one commit (``%G?`` and the key it names)
and the desk's keys into a finding kind: ``unsigned``, ``bad-signature``,
``cannot-check``, ``unknown-key`` or ``wrong-key`` (a key the desk gives to
someone else than the person who acted), or None when the signature is good
and the key is the acting person's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "SSH_KEY_TYPES",
    "Signature",
    "SigningKey",
    "allowed_signers",
    "desk_keys",
    "judge",
    "key_problems",
    "owner_of",
    "parse_key",
    "signer_label",
]

SSH_KEY_TYPES = frozenset({
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
})
_GPG = re.compile(r"(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True)
class SigningKey:
    """One listed key: ``kind`` ``ssh`` or ``gpg``; ``fingerprint`` as git names it (``SHA256:...`` or hex)."""

    kind: str
    fingerprint: str
    key_type: str = ""  # ssh: the algorithm
    blob: str = ""  # ssh: the base64 key


def parse_key(text: str) -> SigningKey:
    """A key line from ``itsm.yaml``; ValueError saying what is wrong with a malformed one."""
    text = text.strip()
    if _GPG.fullmatch(text):
        return SigningKey("gpg", text.upper())
    parts = text.split(None, 2)
    if len(parts) < 2 or parts[0] not in SSH_KEY_TYPES:
        raise ValueError("not an SSH public key line ('ssh-ed25519 AAAA... comment') or a GPG fingerprint "
                         "(40 or 64 hex digits)")
    key_type, blob = parts[0], parts[1]
    if not _B64.fullmatch(blob):
        raise ValueError(f"the {key_type} key is not base64")
    import base64  # here: most commands read the desk's keys, if at all, only to know there are some
    import hashlib

    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:  # binascii.Error is one
        raise ValueError(f"the {key_type} key is not base64") from None
    # The blob starts with its own type as an SSH string: a pasted key cut short or mixed up fails here.
    if len(raw) < 4 or raw[4:4 + int.from_bytes(raw[:4], "big")].decode("ascii", "replace") != key_type:
        raise ValueError(f"the key data is not a {key_type} key (cut short or mixed up?)")
    digest = base64.b64encode(hashlib.sha256(raw).digest()).decode("ascii").rstrip("=")
    return SigningKey("ssh", "SHA256:" + digest, key_type, blob)


def _listed(data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(owner e-mail, key text) of every key ``itsm.yaml`` lists: people's, then the bot's."""
    for person in data.get("people") or []:
        if isinstance(person, dict) and isinstance(person.get("email"), str):
            for key in person.get("signing_keys") or []:
                if isinstance(key, str):
                    yield person["email"], key
    desk = data.get("desk") or {}
    if isinstance(desk, dict):
        bot = desk.get("bot") if isinstance(desk.get("bot"), str) else "itsm-bot@localhost"
        for key in desk.get("bot_signing_keys") or []:
            if isinstance(key, str):
                yield bot, key


def desk_keys(data: Mapping[str, Any]) -> dict[str, str]:
    """Fingerprint -> owner e-mail (lower case) of every well-formed key ``itsm.yaml`` lists."""
    keys: dict[str, str] = {}
    for email, text in _listed(data):
        try:
            keys.setdefault(parse_key(text).fingerprint, email.lower())
        except ValueError:
            continue  # `itsm validate` reports it
    return keys


def key_problems(data: Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """Malformed keys, and keys given to two people, as (JSON path, message) for ``itsm validate``."""
    out: list[tuple[tuple, str]] = []
    owners: dict[str, str] = {}

    def check(path: tuple, email: str, text: str) -> None:
        try:
            key = parse_key(text)
        except ValueError as e:
            out.append((path, f"{email}: signing key {text[:40]!r}...: {e}" if len(text) > 40
                        else f"{email}: signing key {text!r}: {e}"))
            return
        other = owners.setdefault(key.fingerprint, email.lower())
        if other != email.lower():
            out.append((path, f"{email}: signing key {key.fingerprint} is also listed for {other}; "
                              "a key must name one person"))

    for i, person in enumerate(data.get("people") or []):
        if isinstance(person, dict):
            for j, text in enumerate(person.get("signing_keys") or []):
                if isinstance(text, str):
                    check(("people", i, "signing_keys", j), str(person.get("email")), text)
    desk = data.get("desk") or {}
    if isinstance(desk, dict):
        bot = str(desk.get("bot") or "itsm-bot@localhost")
        for j, text in enumerate(desk.get("bot_signing_keys") or []):
            if isinstance(text, str):
                check(("desk", "bot_signing_keys", j), bot, text)
    return out


def allowed_signers(data: Mapping[str, Any]) -> str:
    """git's allowed-signers file for the desk's SSH keys (principal: the owner's e-mail, namespace git)."""
    lines = []
    for email, text in _listed(data):
        try:
            key = parse_key(text)
        except ValueError:
            continue
        if key.kind == "ssh" and "," not in email and " " not in email and '"' not in email:
            lines.append(f'{email.lower()} namespaces="git" {key.key_type} {key.blob}\n')
    return "".join(lines)


@dataclass(frozen=True)
class Signature:
    """What git says of one commit's signature: ``%G?``, ``%GK``, ``%GF``, ``%GP``, ``%GS``, and why it could not check."""

    status: str  # G good, U good but not trusted by git, N none, B bad, E cannot check, X/Y expired, R revoked
    key: str = ""
    fingerprint: str = ""
    primary: str = ""
    signer: str = ""
    reason: str = ""  # where git could not check: why (no ssh-keygen or gpg here, key not in the keyring)

    def fingerprints(self) -> list[str]:
        """The key's fingerprints git named (SSH ``SHA256:...`` kept as is; GPG in upper case)."""
        out = []
        for value in (self.fingerprint, self.primary, self.key):
            if value and value not in out:
                out.append(value if value.startswith("SHA256:") else value.upper())
        return out

    @property
    def shown_key(self) -> str:
        """The key as a finding names it."""
        return self.fingerprint or self.key or "(no key named)"


def owner_of(sig: Signature, keys: Mapping[str, str]) -> str | None:
    """The desk person whose key made ``sig`` (a GPG subkey counts for its primary key), or None."""
    for fp in sig.fingerprints():
        if fp in keys:
            return keys[fp]
    return None


_EXPIRED = {"X": "the signature has expired", "Y": "the key that made it has expired", "R": "the key that made it was revoked"}


def judge(sig: Signature, keys: Mapping[str, str], acting: Iterable[str]) -> tuple[str, str] | None:
    """(finding kind, message) for a commit signed as ``sig`` whose entries were made by ``acting``, or None.

    ``keys`` are the desk's keys for this commit (fingerprint -> owner). The
    signature must be cryptographically good (git's G, or U: good, but git's
    own trust store does not vouch for it; the desk's keys do that here) and
    made by a key the desk gives to every acting person.
    """
    status = sig.status
    if status in ("", "N"):
        return "unsigned", "commit is unsigned but the desk requires signed commits"
    if status == "E" or (status == "B" and sig.reason):
        why = sig.reason or "git could not check the signature here"
        which = f"signature by key {sig.shown_key}" if sig.fingerprint or sig.key else "the signature"
        return "cannot-check", f"{which} cannot be checked on this machine: {why}"
    if status == "B":
        return "bad-signature", "the commit's signature does not match its content (bad signature)"
    if status in _EXPIRED:
        return "bad-signature", f"signature by key {sig.shown_key}: {_EXPIRED[status]}"
    if status not in ("G", "U"):
        return "bad-signature", f"git reports signature status {status!r} for key {sig.shown_key}"
    owner = owner_of(sig, keys)
    if owner is None:
        return "unknown-key", f"signed by key {sig.shown_key}, which itsm.yaml gives to no one"
    others = sorted({a.lower() for a in acting} - {owner})
    if others:
        return "wrong-key", (f"signed by key {sig.shown_key} of {owner}, but the commit acts as {', '.join(others)}: "
                             "who acted must be who signed")
    return None


def signer_label(sig: Signature, keys: Mapping[str, str]) -> str:
    """Who signed, for listings: the desk person owning the key, else the key; "" when unsigned or not checked."""
    if sig.status in ("", "N"):
        return ""
    owner = owner_of(sig, keys) if sig.status in ("G", "U") else None
    if owner:
        return owner
    if sig.status in ("G", "U"):
        return f"unknown key {sig.shown_key}"
    if sig.status == "E" or sig.reason:
        return f"unchecked key {sig.shown_key}"
    return "bad signature"
