"""Signing keys through `itsm validate` (parsing, fingerprints, allowed signers and verdicts: tests/core/test_signing.py)."""

from __future__ import annotations

from pathlib import Path

from desk_testing import ANN, BOB, GPG_FPR, keygen, needs_keygen, run


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
