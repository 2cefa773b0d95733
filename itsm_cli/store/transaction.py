"""One change to the desk: files written atomically, then one commit, or nothing at all."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence

from itsm_cli.errors import one_line
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git, check_identity


def commit_message(
    record_id: str, action: str, summary: str, extra_ids: Sequence[str] = (), rules: Sequence[str] = ()
) -> str:
    """``INC-0042: transition new -> assigned`` plus the ``Itsm-Id``/``Itsm-Action`` (and ``Itsm-Rule``) trailers.

    ``rules`` names the desk rules that acted, as the bot, inside this change, so
    an auditor sees why entries by the bot ride in a person's commit.
    """
    # The summary quotes titles from hostile files: keep it one line with no terminal escapes,
    # so it cannot forge trailers or rewrite the terminal of whoever runs git log.
    lines = [one_line(f"{record_id}: {summary}", 400), "", f"Itsm-Id: {record_id}"]
    lines.extend(f"Itsm-Id: {other}" for other in extra_ids)
    lines.append(f"Itsm-Action: {action}")
    lines.extend(f"Itsm-Rule: {one_line(rule, 80)}" for rule in dict.fromkeys(rules))
    return "\n".join(lines) + "\n"


def check_signing_key(desk: Desk, git: Git, actor: str) -> None:
    """Refuse to commit as ``actor`` when git would sign with a key that ``itsm.yaml`` does not give to ``actor``.

    Who acted must be who signed: ``--as`` names the acting person, and a
    signature by someone else's key would put that person's name on it. Only
    when git is set to sign (``commit.gpgSign``) with a named key
    (``user.signingKey``: an SSH public or private key file, a ``key::`` line,
    or a GPG key ID or fingerprint), and, for a key itsm.yaml gives to no one, only
    on a desk that lists keys or requires signed commits.
    """
    from itsm_cli.core.signing import desk_keys
    from itsm_cli.errors import Refused

    settings = git.config_values("commit.gpgsign", "user.signingkey", "gpg.format")
    if settings.get("commit.gpgsign", "false").lower() not in ("true", "yes", "on", "1"):
        return
    configured = settings.get("user.signingkey", "").strip()
    if not configured:
        return
    keys = desk_keys(desk.config.data)
    rule = "who acts must sign with their own key (itsm.yaml people[].signing_keys)"
    if settings.get("gpg.format", "openpgp").lower() == "ssh":
        fingerprint = _ssh_key_fingerprint(desk, configured)
        if fingerprint is None:
            raise Refused(f"git signs commits with {configured}, which itsm cannot read to check whose key it is; {rule}")
        owner = keys.get(fingerprint)
    else:
        wanted = configured.upper().removeprefix("0X").rstrip("!")
        matches = [fp for fp in keys if not fp.startswith("SHA256:") and fp.endswith(wanted)]
        fingerprint = matches[0] if matches else configured
        owner = keys.get(fingerprint)
    if owner is None and not keys and desk.config.desk.get("require_signed_commits") is not True:
        return  # a desk that lists no keys gives signatures no meaning: a personal gpgSign habit is no one's business
    if owner != actor.lower():
        whose = f"is {owner}'s" if owner else "belongs to no one in itsm.yaml"
        raise Refused(f"git would sign this commit with key {fingerprint}, which {whose}, "
                      f"but the change is made as {actor}: {rule}; act as the key's owner, or sign with "
                      f"{actor}'s key (git -c user.signingKey=...)")


def _ssh_key_fingerprint(desk: Desk, configured: str) -> str | None:
    """The fingerprint of the SSH key ``user.signingKey`` names (a literal ``key::`` line or a key file), or None."""
    import os
    from pathlib import Path

    from itsm_cli.core.signing import parse_key

    texts = []
    if configured.startswith("key::"):
        texts.append(configured[5:])
    elif configured.startswith("ssh-"):
        texts.append(configured)
    else:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute():
            path = desk.root / path
        # A private key's .pub first: the public half is all that is needed, and the private one is left unread.
        for candidate in (path.with_name(path.name + ".pub"), path):
            try:
                texts.append(candidate.read_text(encoding="utf-8", errors="replace").strip())
            except OSError:
                continue
    for text in texts:
        try:
            return parse_key(text).fingerprint
        except ValueError:
            continue
    return None


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold back Ctrl-C while the work tree is being put back; raise it afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
    if pending:
        raise KeyboardInterrupt


@contextlib.contextmanager
def put_back(desk: Desk, before: Mapping[str, bytes | None]) -> Iterator[None]:
    """Let a block write files uncommitted, then put ``before`` back (``None``: no file), however the block ends.

    For a change made of several uncommitted steps (a record written, then
    attachments added to it): the block works out the final files, which are
    then written and committed by :func:`save` from the desk as it was, so the
    commit has save's protection. A Ctrl-C while files are put back waits.
    """
    try:
        yield
    finally:
        with _interrupts_deferred():
            for rel, data in before.items():
                if data is None:
                    (desk.root / rel).unlink(missing_ok=True)
                else:
                    desk.write_bytes(rel, data)


def save(
    desk: Desk,
    writes: Sequence[tuple[str, str | bytes | None]],
    message: str,
    author_name: str,
    author_email: str,
    commit: bool = True,
    git: Git | None = None,
) -> str | None:
    """Write (text as UTF-8, bytes as they are; ``None`` deletes) files and make one commit of exactly them.

    A detached HEAD or unmerged paths are refused before anything is written.
    If anything fails afterwards, including the commit (a hook refuses,
    ``index.lock`` is held) or the user presses Ctrl-C, the work tree, index and
    HEAD are put back as they were (a second Ctrl-C waits until they are).
    Returns the commit ID, or None with ``commit=False``. ``git`` is the
    caller's :class:`Git` when it has one (its config and object reader are reused).
    """
    git = git or Git(desk.root)
    paths = [rel for rel, _ in writes]
    for rel in paths:
        desk.check_path(rel)
    if commit:
        check_identity(author_name, author_email)
        git.check_can_commit()
        check_signing_key(desk, git, author_email)
    snap = git.snapshot(paths, index=commit)
    try:
        for rel, text in writes:
            if text is None:
                (desk.root / rel).unlink(missing_ok=True)
            elif isinstance(text, bytes):  # an attachment, kept byte for byte
                desk.write_bytes(rel, text)
            else:
                desk.write_text(rel, text)
        if not commit:
            return None
        return git.commit(paths, message, author_name, author_email, snap.head)
    except BaseException:
        with _interrupts_deferred():
            git.restore(snap)
        raise
