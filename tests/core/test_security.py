"""core/security.py without git or files: the predicate, sealing only what is new, revealing, and checking armor."""

from __future__ import annotations

from typing import Any

import pyrage
import pytest

from itsm_cli.core import security

BOT = "bot@example.com"
CONFIG: dict[str, Any] = {
    "desk": {"bot": BOT},
    "security": {"group": "security", "fields": ["description", "resolution"]},
    "groups": [{"id": "security", "name": "Security", "email": "sec@example.com", "age_keys": []}],
    "people": [
        {"email": "sam@example.com", "groups": ["security"],
         "signing_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpgUyTJSVeq35TNhF+Lao5krSUzM571ur05oVbhwKAf sam",
                          "0123456789ABCDEF0123456789ABCDEF01234567"]},
        {"email": "ann@example.com", "groups": ["service-desk"],
         "signing_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake ann"]},
    ],
}


def fake_encrypt(calls: list[str]) -> Any:
    def encrypt(text: str) -> str:
        calls.append(text)
        return f"{security.ARMOR_BEGIN}\n{len(calls)}:{text[::-1]}\n{security.ARMOR_END}\n"
    return encrypt


def record(**extra: Any) -> dict[str, Any]:
    base = {"id": "INC-0001", "type": "incident", "title": "t", "status": "new", "category": "security",
            "description": "secret", "history": [{"at": "x", "by": "eve@example.com", "action": "create", "to": "new"}]}
    base.update(extra)
    return base


def test_is_security_needs_the_block_and_the_category() -> None:
    assert security.is_security(record(), CONFIG)
    assert not security.is_security(record(category="hardware"), CONFIG)
    assert not security.is_security(record(), {})  # no security: block, no security incidents
    assert security.is_security(record(category="infosec"), {"security": {"category": "infosec", "group": "g"}})
    assert not security.is_security({k: v for k, v in record().items() if k != "category"}, CONFIG)


def test_recipients_are_the_groups_ssh_and_age_keys_each_once() -> None:
    age = str(pyrage.x25519.Identity.generate().to_public())
    config = {**CONFIG, "groups": [{"id": "security", "name": "S", "age_keys": [age]}]}
    keys = security.recipients(config)
    assert keys == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINpgUyTJSVeq35TNhF+Lao5krSUzM571ur05oVbhwKAf", age]


def test_seal_encrypts_fields_and_new_notes_once_and_leaves_the_old_alone() -> None:
    calls: list[str] = []
    first = security.seal(record(), None, CONFIG, fake_encrypt(calls))
    assert security.is_encrypted(first["description"]) and calls == ["secret"]
    # A person's comment and an edit of the description: both encrypted; the edit's entry shares the field's text.
    later = {**first, "description": "new text", "history": [
        *first["history"],
        {"at": "y", "by": "sam@example.com", "action": "comment", "note": "found it"},
        {"at": "z", "by": "sam@example.com", "action": "edit", "fields": {"description": "new text"}},
        {"at": "z", "by": BOT, "action": "comment", "note": "Reminder: written by itsm"},
    ]}
    sealed = security.seal(later, first, CONFIG, fake_encrypt(calls))
    assert calls == ["secret", "new text", "found it"]  # "new text" once for both places
    assert sealed["history"][2]["fields"]["description"] == sealed["description"]
    assert sealed["history"][1]["confidential"] is True and security.is_encrypted(sealed["history"][1]["note"])
    assert sealed["history"][3]["note"] == "Reminder: written by itsm" and "confidential" not in sealed["history"][3]
    assert sealed["history"][:1] == first["history"]
    # Nothing new: nothing encrypted again, the same object back.
    assert security.seal(sealed, sealed, CONFIG, fake_encrypt(calls)) is sealed and len(calls) == 3


def test_seal_on_an_ordinary_ticket_only_touches_confidential_notes() -> None:
    calls: list[str] = []
    plain = record(category="hardware")
    assert security.seal(plain, None, CONFIG, fake_encrypt(calls)) is plain and calls == []
    marked = {**plain, "history": [*plain["history"], {"at": "y", "by": "a@b.c", "action": "comment",
                                                        "note": "pw", "confidential": True}]}
    sealed = security.seal(marked, plain, CONFIG, fake_encrypt(calls))
    assert sealed["description"] == "secret" and calls == ["pw"]


def test_reveal_with_and_without_a_key() -> None:
    calls: list[str] = []
    sealed = security.seal(record(), None, CONFIG, fake_encrypt(calls))
    assert security.reveal(sealed, lambda armor: "secret")["description"] == "secret"
    assert security.reveal(sealed, lambda armor: None)["description"] == security.PLACEHOLDER
    assert security.reveal(sealed, lambda armor: None, None)["description"] == sealed["description"]
    assert security.has_encrypted(sealed) and not security.has_encrypted(record())


def test_armor_checks_and_stanzas_without_a_key() -> None:
    ident = pyrage.x25519.Identity.generate()
    armor = pyrage.encrypt(b"hi", [ident.to_public(), pyrage.x25519.Identity.generate().to_public()],
                           armored=True).decode()
    assert security.armor_problem(armor) is None
    assert [s[0] for s in security.stanzas(armor) if s[0] == "X25519"] == ["X25519", "X25519"]
    ssh_line = CONFIG["people"][0]["signing_keys"][0]
    ssh_armor = pyrage.encrypt(b"hi", [pyrage.ssh.Recipient.from_str(ssh_line)], armored=True).decode()
    assert [s[:2] for s in security.stanzas(ssh_armor) if s[0] == "ssh-ed25519"] == [["ssh-ed25519", security.ssh_tag(ssh_line)]]
    for bad, why in (("plain", "not an ASCII-armored"),
                     (f"{security.ARMOR_BEGIN}\n!!!\n{security.ARMOR_END}", "not valid base64"),
                     (f"{security.ARMOR_BEGIN}\naGVsbG8=\n{security.ARMOR_END}", "age v1")):
        assert why in (security.armor_problem(bad) or "")


@pytest.mark.parametrize("block, expected", [
    ({"group": "nobody"}, "unknown group 'nobody'"),
    ({"group": "security", "fields": ["title"]}, "'title' cannot be encrypted"),
])
def test_config_problems(block: dict[str, Any], expected: str) -> None:
    problems = security.config_problems({**CONFIG, "security": block})
    assert any(expected in message for _, message in problems)


def test_a_group_without_keys_is_a_config_problem() -> None:
    config = {**CONFIG, "people": [{"email": "x@example.com", "groups": ["security"]}]}
    assert any("to encrypt security incidents for" in m for _, m in security.config_problems(config))
    assert security.config_problems({**config, "security": {"group": "security", "encrypt": False}}) == []


def test_record_problems() -> None:
    assert security.record_problems(record(), CONFIG)[0][0] == ("description",)
    calls: list[str] = []
    sealed = security.seal(record(), None, CONFIG, fake_encrypt(calls))
    # The fake armor is not an age file: validate says so.
    assert "base64" in security.record_problems(sealed, CONFIG)[0][1]
    entry = {"at": "y", "by": "a@b.c", "action": "comment", "note": "plain", "confidential": True}
    problems = security.record_problems(record(category="x", history=[entry]), CONFIG)
    assert problems == [(("history", 0, "note"), "a confidential note must be encrypted")]


def test_may_be_told() -> None:
    assert security.may_be_told("SAM@example.com", CONFIG) and security.may_be_told("sec@example.com", CONFIG)
    assert not security.may_be_told("ann@example.com", CONFIG)
