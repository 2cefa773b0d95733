"""age encryption for security incidents, through ``pyrage`` (imported only when something is encrypted or decrypted).

Recipients come from ``itsm.yaml`` (:func:`itsm_cli.core.security.recipients`:
the security group's SSH keys and age keys). The identity that decrypts is
found by one rule: the file named by ``ITSM_AGE_IDENTITY`` (an age identity
file, ``AGE-SECRET-KEY-1...`` lines, or an unencrypted OpenSSH private key),
else ``~/.ssh/id_ed25519``, else ``~/.ssh/id_rsa``, the first that exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_cli.core import security
from itsm_cli.errors import EnvironmentProblem, Refused

if TYPE_CHECKING:
    from itsm_cli.core.config import Config

IDENTITY_ENV = "ITSM_AGE_IDENTITY"
DEFAULT_KEYS = (".ssh/id_ed25519", ".ssh/id_rsa")


def encryptor(config: Config) -> Callable[[str], str]:
    """A function that encrypts text for the security group's keys as an armored age message.

    The keys are read, and pyrage imported, at the first call only: a change
    that encrypts nothing pays for neither.
    """
    loaded: list[Any] = []

    def encrypt(text: str) -> str:
        if not loaded:
            loaded.append(_recipients(config))
        import pyrage

        try:
            out = pyrage.encrypt(text.encode("utf-8"), loaded[0], armored=True)
        except pyrage.EncryptError as e:
            raise EnvironmentProblem(f"age could not encrypt: {e}") from None
        return out.decode("ascii")

    return encrypt


def _recipients(config: Config) -> list[Any]:
    import pyrage

    s = security.settings(config)
    keys = security.recipients(config)
    if s is None:
        raise Refused("this desk has no security: block in itsm.yaml, so there is no one to encrypt for")
    if not keys:
        raise Refused(f"no member of group '{s.group}' has an SSH key (signing_keys) or age_keys "
                      "to encrypt for; add one to itsm.yaml")
    out = []
    for key in keys:
        try:
            if key.startswith("age1"):
                out.append(pyrage.x25519.Recipient.from_str(key))
            else:
                out.append(pyrage.ssh.Recipient.from_str(key))
        except pyrage.RecipientError as e:
            raise Refused(f"itsm.yaml: '{key[:40]}...' is not a key age can encrypt for: {e}") from None
    return out


def identity_path(env: Mapping[str, str] | None = None, home: Path | None = None) -> Path | None:
    """Where the decrypting identity is: ``ITSM_AGE_IDENTITY``, else the first of ``~/.ssh/id_ed25519``, ``~/.ssh/id_rsa``."""
    env = os.environ if env is None else env
    given = env.get(IDENTITY_ENV)
    if given:
        return Path(given).expanduser()
    try:
        base = home if home is not None else Path.home()
    except RuntimeError:  # no home directory to look in
        return None
    for rel in DEFAULT_KEYS:
        if (base / rel).is_file():
            return base / rel
    return None


def load_identities(path: Path, explicit: bool) -> list[Any]:
    """The age identities in ``path`` (age identity lines or an OpenSSH private key).

    A file named by ``ITSM_AGE_IDENTITY`` (``explicit``) that cannot be used
    is an error; a default SSH key that cannot (say, one with a passphrase)
    is passed over, and the record shows as encrypted.
    """
    import pyrage

    try:
        raw = path.read_bytes()
    except OSError as e:
        if explicit:
            raise EnvironmentProblem(f"{IDENTITY_ENV}: cannot read {path}: {e.strerror}") from None
        return []
    try:
        if b"AGE-SECRET-KEY-" in raw:
            lines = [x.strip() for x in raw.decode("ascii").splitlines()]
            return [pyrage.x25519.Identity.from_str(x) for x in lines if x.startswith("AGE-SECRET-KEY-")]
        return [pyrage.ssh.Identity.from_buffer(raw)]
    except (pyrage.IdentityError, UnicodeDecodeError, ValueError) as e:
        if explicit:
            raise EnvironmentProblem(f"{IDENTITY_ENV}: {path} is not an age identity or an unencrypted SSH "
                                     f"private key ({e})") from None
        return []


def decryptor(env: Mapping[str, str] | None = None, home: Path | None = None) -> Callable[[str], str | None]:
    """A function giving an armored age message's plain text, or None when this person holds no key for it."""
    env = os.environ if env is None else env
    found: list[list[Any]] = []

    def decrypt(armored: str) -> str | None:
        if not found:
            path = identity_path(env, home)
            found.append(load_identities(path, bool(env.get(IDENTITY_ENV))) if path else [])
        if not found[0]:
            return None
        import pyrage

        try:
            return pyrage.decrypt(armored.encode("ascii"), found[0]).decode("utf-8")
        except (pyrage.DecryptError, UnicodeError):
            return None

    return decrypt
