"""Signing keys as desk data: parsing, fingerprints, git's allowed-signers list, the verdicts, and `itsm validate`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, CAROL, run

from itsm_cli.core.signing import Signature, allowed_signers, desk_keys, judge, key_problems, parse_key

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


@needs_keygen
def test_an_ssh_key_has_the_fingerprint_git_and_ssh_keygen_give_it(tmp_path: Path) -> None:
    pub, fingerprint = keygen(tmp_path)
    key = parse_key(pub)
    assert (key.kind, key.fingerprint, key.key_type) == ("ssh", fingerprint, "ssh-ed25519")
    assert parse_key(pub.rsplit(" ", 1)[0]).fingerprint == fingerprint  # the comment is optional


def test_a_gpg_fingerprint_is_upper_case() -> None:
    assert parse_key(GPG_FPR.lower()).fingerprint == GPG_FPR
    assert parse_key(GPG_FPR.lower()).kind == "gpg"


@pytest.mark.parametrize("text", [
    "ssh-ed25519", "ssh-ed25519 not-base64!", "ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB",  # an RSA blob labelled ed25519
    "ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIA", "0123456789ABCDEF", "hello",
])
def test_malformed_keys_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key(text)


@needs_keygen
def test_allowed_signers_and_the_key_map_come_from_itsm_yaml(tmp_path: Path) -> None:
    ann, ann_fp = keygen(tmp_path, "ann")
    bot, bot_fp = keygen(tmp_path, "bot")
    data = {"desk": {"name": "x", "bot": "bot@example.com", "bot_signing_keys": [bot]},
            "people": [{"email": "Ann@Example.com", "name": "Ann", "signing_keys": [ann, GPG_FPR]}]}
    assert desk_keys(data) == {ann_fp: "ann@example.com", GPG_FPR: "ann@example.com", bot_fp: "bot@example.com"}
    lines = allowed_signers(data).splitlines()
    assert lines == [f'ann@example.com namespaces="git" {" ".join(ann.split()[:2])}',
                     f'bot@example.com namespaces="git" {" ".join(bot.split()[:2])}']
    data["people"].append({"email": BOB, "name": "Bob", "signing_keys": [ann]})
    assert key_problems(data) == [(("people", 1, "signing_keys", 0),
                                   f"{BOB}: signing key {ann_fp} is also listed for ann@example.com; "
                                   "a key must name one person")]


def test_the_verdicts() -> None:
    keys = {"SHA256:aaa": ANN, "SHA256:bbb": BOB, GPG_FPR: CAROL}
    assert judge(Signature("G", "SHA256:aaa", "SHA256:aaa"), keys, [ANN]) is None
    assert judge(Signature("U", "SHA256:aaa", "SHA256:aaa"), keys, [ANN]) is None  # retired from git's list, not ours
    assert judge(Signature("N"), keys, [ANN])[0] == "unsigned"
    assert judge(Signature("B"), keys, [ANN])[0] == "bad-signature"
    assert judge(Signature("B", reason="ssh-keygen is not installed"), keys, [ANN])[0] == "cannot-check"
    assert judge(Signature("E", "0123456789ABCDEF"), keys, [CAROL])[0] == "cannot-check"
    assert judge(Signature("U", "SHA256:zzz", "SHA256:zzz"), keys, [ANN])[0] == "unknown-key"
    kind, message = judge(Signature("G", "SHA256:bbb", "SHA256:bbb"), keys, [ANN])
    assert kind == "wrong-key" and f"of {BOB}, but the commit acts as {ANN}" in message
    subkey = Signature("G", "89ABCDEF01234567", "FEDCBA9876543210FEDCBA9876543210FEDCBA98", GPG_FPR.lower())
    assert judge(subkey, keys, [CAROL]) is None  # a subkey counts for its primary key
    assert judge(Signature("Y", "SHA256:aaa", "SHA256:aaa"), keys, [ANN])[0] == "bad-signature"


def test_validate_rejects_a_malformed_key(desk: Path) -> None:
    config = (desk / "itsm.yaml").read_text()
    broken = config.replace(f"{{email: {ANN}, ", f"{{email: {ANN}, signing_keys: ['ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB'], ")
    assert broken != config
    (desk / "itsm.yaml").write_text(broken)
    r = run("validate")
    assert r.exit_code == 1
    assert "signing key 'ssh-ed25519 AAAAC3NzaC1yc2EAAAADAQAB': the key data is not a ssh-ed25519 key" in r.stdout
    (desk / "itsm.yaml").write_text(config.replace(f"{{email: {ANN}, ", f"{{email: {ANN}, signing_keys: ['nope'], "))
    r = run("validate")
    assert r.exit_code == 1 and "itsm.yaml" in r.stdout and "signing_keys" in r.stdout


@needs_keygen
def test_validate_accepts_real_keys(desk: Path, tmp_path: Path) -> None:
    pub, _ = keygen(tmp_path)
    config = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(config.replace(f"{{email: {ANN}, ", f"{{email: {ANN}, signing_keys: ['{pub}', '{GPG_FPR}'], "))
    r = run("validate")
    assert r.exit_code == 0, r.stdout


@needs_keygen
def test_a_desk_without_keys_lets_a_personal_signing_habit_be(desk: Path, tmp_path: Path) -> None:
    """No keys listed and no signing required: git may sign as it likes; with keys listed, another's key is refused."""
    from desk_testing import git

    keygen(tmp_path, "mine")
    git(desk, "config", "gpg.format", "ssh")
    git(desk, "config", "user.signingkey", str(tmp_path / "mine"))
    git(desk, "config", "commit.gpgsign", "true")
    assert run("new", "incident", "--title", "Signed by habit").exit_code == 0
    pub = (tmp_path / "mine.pub").read_text().strip()
    config = (desk / "itsm.yaml").read_text()
    (desk / "itsm.yaml").write_text(config.replace(f"{{email: {BOB}, ", f"{{email: {BOB}, signing_keys: ['{pub}'], "))
    git(desk, "commit", "-qam", "Bob's key")
    r = run("comment", "INC-0001", "as Ann with Bob's key")
    assert r.exit_code == 1 and f"is {BOB}'s, but the change is made as {ANN}" in r.stderr
    assert run("--as", BOB, "comment", "INC-0001", "as Bob with Bob's key").exit_code == 0
    gpg_desk_key = GPG_FPR
    git(desk, "config", "gpg.format", "openpgp")
    git(desk, "config", "user.signingkey", gpg_desk_key[-16:])  # a long key ID of a fingerprint Bob does not have
    r = run("--as", BOB, "comment", "INC-0001", "with a GPG key nobody lists")
    assert r.exit_code == 1 and "belongs to no one in itsm.yaml" in r.stderr
