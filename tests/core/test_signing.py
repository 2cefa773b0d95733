"""Unit tests of core/signing.py: key lines, fingerprints, git's allowed-signers list, and the verdicts on signatures.

Most keys are made by hand (desk_testing.fake_ssh_key), so these need no tools;
the tests marked ``needs_keygen`` check the fingerprints against ssh-keygen itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import ANN, BOB, CAROL, GPG_FPR, fake_ssh_key, keygen, needs_keygen

from itsm_cli.core.signing import (
    Signature,
    allowed_signers,
    desk_keys,
    judge,
    key_problems,
    owner_of,
    parse_key,
    signer_label,
)


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


def test_a_hand_made_key_parses_with_its_fingerprint() -> None:
    line, fingerprint = fake_ssh_key(1)
    key = parse_key(f"  {line}  ")
    assert (key.kind, key.key_type, key.fingerprint) == ("ssh", "ssh-ed25519", fingerprint)
    assert key.blob == line.split()[1]
    assert parse_key(GPG_FPR * 1).kind == "gpg"
    assert parse_key("a" * 64).fingerprint == "A" * 64  # SHA-256 OpenPGP v5 fingerprints too


@pytest.mark.parametrize(("text", "reason"), [
    ("ssh-ed25519 !!!!", "is not base64"),
    ("ssh-ed25519 AAAA=A", "is not base64"),
    ("ssh-rsa " + fake_ssh_key(1)[0].split()[1], "not a ssh-rsa key (cut short or mixed up?)"),
    ("ssh-ed25519 AAA", "is not base64"),
    ("A" * 39, "not an SSH public key line"),
])
def test_the_reason_a_key_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", "\\(").replace(")", "\\)").replace("?", "\\?")):
        parse_key(text)


def test_keys_given_to_two_people_or_malformed_are_named_by_place() -> None:
    line, fingerprint = fake_ssh_key(2)
    long_bad = "ssh-ed25519 " + "A" * 60
    data = {"people": [{"email": ANN, "signing_keys": [line]}, {"email": BOB, "signing_keys": ["nope", long_bad]}],
            "desk": {"bot": "bot@example.com", "bot_signing_keys": [line]}}
    problems = key_problems(data)
    assert [path for path, _ in problems] == [("people", 1, "signing_keys", 0), ("people", 1, "signing_keys", 1),
                                              ("desk", "bot_signing_keys", 0)]
    assert problems[0][1].startswith(f"{BOB}: signing key 'nope': not an SSH public key line")
    assert problems[1][1].startswith(f"{BOB}: signing key {long_bad[:40]!r}...: ")
    assert problems[2][1] == (f"bot@example.com: signing key {fingerprint} is also listed for {ANN}; "
                              "a key must name one person")
    # The first listing wins in the key map; malformed keys are left out.
    assert desk_keys(data) == {fingerprint: ANN}


def test_allowed_signers_skips_gpg_keys_and_principals_git_would_misread() -> None:
    line, _ = fake_ssh_key(3)
    data = {"people": [{"email": "Ann@Example.com", "signing_keys": [line, GPG_FPR]},
                       {"email": 'odd,"x"@example.com', "signing_keys": [fake_ssh_key(4)[0]]}]}
    assert allowed_signers(data) == f'ann@example.com namespaces="git" {" ".join(line.split()[:2])}\n'
    assert allowed_signers({}) == ""


def test_the_bot_defaults_to_itsm_bot() -> None:
    line, fingerprint = fake_ssh_key(5)
    assert desk_keys({"desk": {"bot_signing_keys": [line]}}) == {fingerprint: "itsm-bot@localhost"}


def test_owner_and_signer_label() -> None:
    keys = {"SHA256:aaa": ANN, GPG_FPR: CAROL}
    assert owner_of(Signature("G", "SHA256:aaa", "SHA256:aaa"), keys) == ANN
    assert owner_of(Signature("G", "", "", GPG_FPR.lower()), keys) == CAROL
    assert owner_of(Signature("G", "SHA256:zzz"), keys) is None
    assert signer_label(Signature("N"), keys) == ""
    assert signer_label(Signature("G", "SHA256:aaa", "SHA256:aaa"), keys) == ANN
    assert signer_label(Signature("U", "SHA256:zzz", "SHA256:zzz"), keys) == "unknown key SHA256:zzz"
    assert signer_label(Signature("E", "ABCD"), keys) == "unchecked key ABCD"
    assert signer_label(Signature("B"), keys) == "bad signature"


def test_expired_and_revoked_and_odd_statuses_are_bad_signatures() -> None:
    keys = {"SHA256:aaa": ANN}
    for status, words in (("X", "the signature has expired"), ("R", "was revoked"), ("Q", "status 'Q'")):
        kind, message = judge(Signature(status, "SHA256:aaa", "SHA256:aaa"), keys, [ANN])
        assert kind == "bad-signature" and words in message
    # Acting as several people, the key must belong to all of them: it cannot.
    kind, message = judge(Signature("G", "SHA256:aaa", "SHA256:aaa"), keys, [ANN, BOB.upper()])
    assert kind == "wrong-key" and f"acts as {BOB}" in message
