"""A Ctrl-C in the middle of a commit, for the tests that check a change is undone whole (tests/app/)."""

from __future__ import annotations

import signal

import pytest

from itsm_cli.store.gitstore import Git


def ctrl_c_in_commit(monkeypatch: pytest.MonkeyPatch, after_the_commit: bool) -> None:
    """Make the next :meth:`Git.commit` get SIGINT: before it runs, or after it completed (HEAD already moved)."""
    real_commit = Git.commit

    def interrupted(self: Git, *args: object, **kwargs: object) -> str:
        sha = real_commit(self, *args, **kwargs) if after_the_commit else ""
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C would: the default handler raises KeyboardInterrupt
        return sha

    monkeypatch.setattr(Git, "commit", interrupted)
