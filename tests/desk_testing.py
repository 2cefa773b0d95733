"""Shared test helpers: a CLI runner, git helpers, a fresh desk in a real git repository.

Imported by name (``from desk_testing import ...``); ``conftest.py`` exposes the fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm_cli import __version__
from itsm_cli.cli import main

REPO = Path(__file__).resolve().parents[1]

ANN = "ann@example.com"  # agent, service-desk + cab
BOB = "bob@example.com"  # agent, service-desk
CAROL = "carol@example.com"  # approver, cab + service-owners
DAN = "dan@example.com"  # approver, cab + service-owners + ecab
EVE = "eve@example.com"  # not listed: any staff member

PEOPLE_YAML = f"""people:
  - {{email: {ANN}, name: Ann Agent, roles: [agent, approver], groups: [service-desk, cab]}}
  - {{email: {BOB}, name: Bob Builder, roles: [agent], groups: [service-desk]}}
  - {{email: {CAROL}, name: Carol Approver, roles: [approver], groups: [cab, service-owners]}}
  - {{email: {DAN}, name: Dan Approver, roles: [approver, agent], groups: [cab, service-owners, ecab]}}
"""

EMAIL_SERVICE = """id: email
name: E-mail
status: live
owner: carol@example.com
group: service-desk
description: Mailboxes, calendars and shared mailboxes.
category: Communication
support_hours: business
sla: standard
depends_on: []
offerings:
  - id: shared-mailbox
    name: Shared mailbox
    approval: true
    fulfilment: 2d
    form:
      - {id: name, label: Mailbox name, type: text, required: true}
  - id: distribution-list
    name: Distribution list
    approval: false
"""


@dataclass
class Result:
    """What a CLI run produced."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tests away from the real home directory and git identity, and pin the clock."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "ITSM_DEBUG", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("ITSM_USER", ANN)
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")


def run(*args: str, input: str | None = None, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``itsm ARGS`` in-process, as the console script would (exit code and both streams)."""
    runner = CliRunner()
    argv = list(args)
    if cwd is not None:
        argv = ["-C", str(cwd), *argv]
    with pytest.MonkeyPatch.context() as mp:
        for k, v in (env or {}).items():
            mp.setenv(k, v)
        with runner.isolation(input=input) as streams:
            try:
                main(argv)
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            out, err = streams[0].getvalue(), streams[1].getvalue()
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def itsm_subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "itsm_cli", *args], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, input=input,
    )


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return stdout (failing the test on error)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_desk(path: Path) -> Path:
    """A fresh desk with listed people and one service, committed.

    Its workflows pin itsm by ``--package``: carrying a wheel of the running itsm is tests/test_tool_pin.py's business.
    """
    r = run("init", str(path), "--package", f"itsm=={__version__}")
    assert r.exit_code == 0, r.stderr
    config = (path / "itsm.yaml").read_text()
    config = re.sub(r"^people:.*?(?=^groups:)", lambda _: PEOPLE_YAML, config, count=1, flags=re.S | re.M)
    (path / "itsm.yaml").write_text(config)
    (path / "catalog" / "email.yaml").write_text(EMAIL_SERVICE)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "people and email service")
    return path


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh desk; the test's working directory is its root."""
    path = make_desk(tmp_path / "desk")
    monkeypatch.chdir(path)
    return path


def ticket_path(record_id: str) -> str:
    """A ticket's file, relative to the desk root (SPEC section 2's layout); tests never spell it by hand."""
    from itsm_cli.core.ids import ticket_path as place

    return place("tickets", record_id)


def load_ticket(desk: Path, record_id: str) -> dict:
    """A ticket's data as its file holds it (through itsm's own strict loader)."""
    from itsm_cli.store import yaml_io

    return yaml_io.load_mapping((desk / ticket_path(record_id)).read_bytes(), record_id)


def save_ticket(desk: Path, data: dict) -> None:
    """Write a ticket's file by hand, as someone editing it outside itsm would (its bucket folder made if need be)."""
    from itsm_cli.store import yaml_io

    path = desk / ticket_path(data["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml_io.dumps(data), encoding="utf-8")


def head(path: Path) -> str:
    """The commit ID of HEAD."""
    return git(path, "rev-parse", "HEAD").strip()


def status(path: Path) -> str:
    """``git status --porcelain`` including untracked files."""
    return git(path, "status", "--porcelain", "--untracked-files=all")


# --- signing keys (tests/core/test_signing.py, tests/test_signing.py) -------------------------------------------

GPG_FPR = "0123456789ABCDEF0123456789ABCDEF01234567"
needs_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")


def keygen(tmp_path: Path, name: str = "key") -> tuple[str, str]:
    """(public key line, fingerprint as ssh-keygen prints it) of a fresh ed25519 key."""
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", str(key)],
                   check=True)
    pub = (tmp_path / f"{name}.pub").read_text().strip()
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / f"{name}.pub")], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    return pub, fingerprint


def fake_ssh_key(seed: int, key_type: str = "ssh-ed25519") -> tuple[str, str]:
    """(public key line, its SHA256 fingerprint as git and ssh-keygen write it) of a made-up key: no tool needed.

    An SSH key blob is its type and its key bytes, each as an SSH string (4-byte length, then the bytes).
    """
    import base64
    import hashlib

    raw = b"".join(len(part).to_bytes(4, "big") + part for part in (key_type.encode(), bytes([seed]) * 32))
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    return f"{key_type} {base64.b64encode(raw).decode()} key{seed}@example.com", fingerprint


def record_calls(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[str]:
    """Spy on ``owner.name(self, rel)``: the list it returns fills with each ``rel`` asked for, the call still made."""
    calls: list[str] = []
    original = getattr(owner, name)

    def spy(self: object, rel: str, *args: object, **kwargs: object) -> object:
        calls.append(rel)
        return original(self, rel, *args, **kwargs)

    monkeypatch.setattr(owner, name, spy)
    return calls
