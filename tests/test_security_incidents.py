"""Security incidents through the CLI: encrypted at rest with age for the security group, kept off the site and
out of notifications to anyone outside the group; validate, history and audit still work without a key.

Real git repositories, real ``ssh-keygen`` keys, a real SMTP server and a real site build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from desk_testing import ANN, BOB, EVE, git, head, load_ticket, run, save_ticket, ticket_path
from test_notify import PASSWORD, Inbox, settings, smtp  # noqa: F401  (smtp is a fixture)
from test_rules import configure

from itsm_cli.core import security
from itsm_cli.store import yaml_io

SAM = "sam@example.com"  # security group member (agent)
TESS = "tess@example.com"  # security group member, added with her own key
PLACEHOLDER = "(encrypted for the security group)"

DESCRIPTION = "Attacker 203.0.113.66 used the leaked token ghp_SECRETxyzzy to read payroll"
NOTE = "Revoked ghp_SECRETxyzzy; SIEM case 4471-PLUGH"
COMMENT = "Confidential: forensic image on share QUUX-17"
EDITED = "Updated: also exfiltrated the FROBNITZ customer list"
SECRETS = (DESCRIPTION, NOTE, COMMENT, EDITED, "ghp_SECRETxyzzy", "PLUGH", "QUUX-17", "FROBNITZ")
TITLE = "Security investigation 7"


def ssh_key(folder: Path, name: str) -> tuple[Path, str]:
    """A fresh ed25519 key pair made by ssh-keygen: the private key's path and the public key line."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return path, path.with_suffix(".pub").read_text().strip()


def secure_desk(desk: Path, keys: Path, **extra: Any) -> Path:
    """Give ``desk`` a security group whose member SAM has a real SSH key, and a security: block; commit it."""
    private, public = ssh_key(keys, "sam")
    data = yaml_io.load_mapping((desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    data["people"].append({"email": SAM, "name": "Sam Secure", "roles": ["agent"], "groups": ["security"],
                           "signing_keys": [public]})
    (desk / "itsm.yaml").write_text(yaml_io.dumps(data))  # configure() adds the bot and commits
    groups = [*data["groups"], {"id": "security", "name": "Security", "email": "security@example.com"}]
    configure(desk, groups=groups,
              security={"category": "security", "group": "security", "fields": ["description", "resolution"]},
              **extra)
    return private


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    r = run(*args, env=env)
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout


def security_incident(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVE reports, SAM works it: a transition note, a --confidential comment, an edit of the description."""
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION)
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
    ok("--as", SAM, "assign", "INC-0001", SAM, "--group", "security")
    ok("--as", SAM, "transition", "INC-0001", "in_progress", "--note", NOTE)
    ok("--as", SAM, "comment", "INC-0001", "--confidential", COMMENT)
    ok("--as", SAM, "edit", "INC-0001", "--set", f"description={EDITED}")


def every_git_object(desk: Path) -> bytes:
    """Every object of the repository, uncompressed (blobs, trees, commits), as ``git cat-file`` gives them."""
    return subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=desk, check=True,
                          capture_output=True).stdout


def test_a_reader_without_the_key_cannot_recover_the_text_and_a_member_with_it_can(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = secure_desk(desk, tmp_path / "keys")
    security_incident(monkeypatch)
    data = load_ticket(desk, "INC-0001")
    # What anyone reading the repository sees: ID, title, state, people, timestamps; the content is age armor.
    assert (data["id"], data["title"], data["status"], data["category"]) == ("INC-0001", TITLE, "in_progress", "security")
    assert security.is_encrypted(data["description"])
    notes = [e for e in data["history"] if e.get("note")]
    assert len(notes) == 2 and all(security.is_encrypted(e["note"]) and e["confidential"] is True for e in notes)
    edit = data["history"][-1]
    assert edit["action"] == "edit" and edit["fields"]["description"] == data["description"]  # encrypted once
    raw = (desk / ticket_path("INC-0001")).read_bytes()
    log = subprocess.run(["git", "log", "-p", "--all"], cwd=desk, check=True, capture_output=True).stdout
    objects = every_git_object(desk)
    assert TITLE.encode() in raw and TITLE.encode() in log  # guards the searches below: they do find text
    for secret in SECRETS:
        for where, text in (("the file", raw), ("git log -p", log), ("git cat-file", objects)):
            assert secret.encode() not in text, f"{secret!r} in {where}"
    # Without a key (HOME has no ~/.ssh): show says so and exits 0, and prints none of the text.
    r = run("show", "INC-0001")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count(PLACEHOLDER) >= 4 and TITLE in r.stdout
    assert not any(s in r.stdout + r.stderr for s in SECRETS)
    as_json = run("show", "INC-0001", "--format", "json")
    assert as_json.exit_code == 0 and "BEGIN AGE ENCRYPTED FILE" in as_json.stdout
    assert not any(s in as_json.stdout for s in SECRETS)
    # A member with the key reads all of it, from ITSM_AGE_IDENTITY...
    shown = ok("show", "INC-0001", env={"ITSM_AGE_IDENTITY": str(private)})
    for text in (EDITED, NOTE, COMMENT):  # the first description was replaced by the edit
        assert text in shown
    assert PLACEHOLDER not in shown
    # ...or from ~/.ssh/id_ed25519 when it is not set.
    home = Path(str(tmp_path / "home-sam"))
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_bytes(private.read_bytes())
    assert EDITED in ok("show", "INC-0001", env={"HOME": str(home)})
    # Someone else's key does not open it.
    other, _ = ssh_key(tmp_path / "keys", "mallory")
    r = run("show", "INC-0001", env={"ITSM_AGE_IDENTITY": str(other)})
    assert r.exit_code == 0 and PLACEHOLDER in r.stdout and EDITED not in r.stdout
    # An ITSM_AGE_IDENTITY that is not a key is an error, not silence.
    (tmp_path / "junk").write_text("not a key\n")
    r = run("show", "INC-0001", env={"ITSM_AGE_IDENTITY": str(tmp_path / "junk")})
    assert r.exit_code != 0 and r.stderr.startswith("itsm: error: ITSM_AGE_IDENTITY")


def test_unchanged_ciphertext_is_never_rewritten(desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secure_desk(desk, tmp_path / "keys")
    security_incident(monkeypatch)
    before = load_ticket(desk, "INC-0001")
    ok("--as", SAM, "edit", "INC-0001", "--set", "urgency=high")
    ok("--as", SAM, "transition", "INC-0001", "resolved", "--set", "resolution=Token rotated")
    after = load_ticket(desk, "INC-0001")
    assert after["description"] == before["description"]
    assert after["history"][:len(before["history"])] == before["history"]
    assert security.is_encrypted(after["resolution"]) and "Token rotated" not in git(desk, "log", "-p")
    diff = git(desk, "diff", "HEAD~2", "HEAD", "--", ticket_path("INC-0001")).splitlines()
    removed = [line for line in diff if line.startswith("-") and not line.startswith("---")]
    assert removed and all(line.startswith(("-updated:", "-status:", "-urgency:", "-priority:")) for line in removed)


def test_validate_without_a_key_and_what_it_catches(desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secure_desk(desk, tmp_path / "keys")
    security_incident(monkeypatch)
    r = run("validate")
    assert r.exit_code == 0, r.stdout + r.stderr
    good = load_ticket(desk, "INC-0001")
    # Plain text written by hand into a security incident is refused...
    save_ticket(desk, {**good, "description": "typed in by hand"})
    r = run("validate")
    assert r.exit_code == 1 and "'description' of a security incident must be encrypted" in r.stdout + r.stderr
    # ...and so is armor that is not an age message.
    broken = "-----BEGIN AGE ENCRYPTED FILE-----\nbm90IGFnZQ==\n-----END AGE ENCRYPTED FILE-----\n"
    history = [dict(e) for e in good["history"]]
    history[-2]["note"] = broken
    save_ticket(desk, {**good, "history": history})
    r = run("validate")
    assert r.exit_code == 1 and "does not hold an age v1 file" in r.stdout + r.stderr
    save_ticket(desk, good)
    assert run("validate").exit_code == 0


def test_history_and_audit_work_on_an_encrypted_incident(desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secure_desk(desk, tmp_path / "keys")
    security_incident(monkeypatch)
    r = run("history", "INC-0001")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.count("\n") >= 5 and not any(s in r.stdout for s in SECRETS)
    r = run("audit", "verify")
    assert r.exit_code == 0, r.stdout + r.stderr
    r = run("audit", "--id", "INC-0001") if "--id" in run("audit", "--help").stdout else run("audit")
    assert r.exit_code == 0 and "INC-0001" in r.stdout
    # validate --base checks the branch's new entries against main: encrypted notes compare as text.
    git(desk, "branch", "-q", "base", "HEAD~2")
    r = run("validate", "--base", "base")
    assert r.exit_code == 0, r.stdout + r.stderr


def test_a_confidential_comment_on_an_ordinary_ticket(desk: Path, tmp_path: Path) -> None:
    private = secure_desk(desk, tmp_path / "keys")
    ok("--as", EVE, "new", "incident", "--title", "Printer jam", "--service", "email")
    ok("comment", "INC-0001", "--confidential", COMMENT)
    entry = load_ticket(desk, "INC-0001")["history"][-1]
    assert entry["confidential"] is True and entry["internal"] is True and security.is_encrypted(entry["note"])
    assert COMMENT.encode() not in every_git_object(desk)
    assert COMMENT in ok("show", "INC-0001", env={"ITSM_AGE_IDENTITY": str(private)})
    assert git(desk, "log", "-1", "--format=%s").strip() == "INC-0001: confidential comment"


def test_without_a_security_block_or_without_keys(desk: Path) -> None:
    r = run("comment", "INC-0001", "--confidential", "x")
    assert r.exit_code == 2 and "no security: block" in r.stderr
    data = yaml_io.load_mapping((desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    data["groups"].append({"id": "security", "name": "Security"})
    configure(desk, groups=data["groups"], security={"group": "security"})
    r = run("validate")
    assert r.exit_code == 1 and "no member of group 'security' has an SSH key" in r.stdout + r.stderr
    before = head(desk)
    r = run("new", "incident", "--title", "x", "--set", "category=security", "--description", "secret")
    assert r.exit_code != 0 and "to encrypt for" in r.stderr and head(desk) == before


def test_notify_tells_the_security_group_only(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]  # noqa: F811
) -> None:
    inbox, port = smtp
    secure_desk(desk, tmp_path / "keys", notifications=settings(port))
    monkeypatch.setenv("ITSM_SMTP_PASSWORD", PASSWORD)
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION, "--set", f"watchers={BOB}")
    ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
    ok("assign", "INC-0001", SAM, "--group", "security")  # ANN assigns SAM: SAM is told
    ok("assign", "INC-0002", BOB)
    ok("--as", SAM, "comment", "INC-0001", NOTE)  # a public comment: normally to the requester and watchers
    ok("--as", SAM, "transition", "INC-0001", "in_progress")
    ok("--as", SAM, "transition", "INC-0001", "resolved", "--set", "resolution=Token rotated")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
    out = ok("notify")
    sent = inbox.to()
    assert (BOB, "[INC-0002] Assigned to you: Outlook crashes") in sent  # ordinary tickets as before
    about = [(to, subject) for to, subject in sent if "INC-0001" in subject]
    assert about == [(SAM, f"[INC-0001] Assigned to you: {TITLE}")]  # not EVE (requester), not BOB (watcher)
    body = next(m for _, r, m in inbox.messages if r == [SAM]).get_content()
    assert "itsm show INC-0001" in body and "BEGIN AGE" not in body
    assert not any(s in body for s in (*SECRETS, "Token rotated"))
    told = [line for line in out.splitlines() if "INC-0001" in line]
    assert len(told) == 1 and told[0].endswith(f"INC-0001 assignment -> {SAM}")
    assert ANN not in [to for to, _ in sent]


def test_notify_sends_no_webhook_for_a_security_incident(desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        hooks = {"lookback": "1d", "webhooks": [{"url": f"http://127.0.0.1:{server.server_port}/h"}]}
        secure_desk(desk, tmp_path / "keys", notifications=hooks)
        ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security")
        ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email")
        monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
        ok("assign", "INC-0001", SAM)
        ok("assign", "INC-0002", BOB)
        monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
        ok("notify")
    finally:
        server.shutdown()
        server.server_close()
    assert [p["id"] for p in received] == ["INC-0002"]


def test_no_security_incident_reaches_the_site(desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secure_desk(desk, tmp_path / "keys")
    # Both are P1 on a live service: each would put the service down on the status page and in the feed.
    ok("--as", EVE, "new", "incident", "--title", "Outage GLORPTITLE", "--service", "email", "--impact", "high",
       "--urgency", "high", "--set", "category=security", "--description", DESCRIPTION)
    ok("--as", EVE, "new", "incident", "--title", "Mail delayed WIBBLETITLE", "--service", "email", "--impact",
       "high", "--urgency", "high")
    out = tmp_path / "site"
    r = run("site", "build", "-o", str(out))
    assert r.exit_code == 0, r.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.relative_to(out).as_posix() for p in files}
    assert any(n.endswith("search_index.json") for n in names) and any(n.endswith("feed.xml") for n in names)
    everything = b"\n".join(p.read_bytes() for p in files)
    # Guard: the ordinary incident is published (status page, feed), so the search below can find a ticket.
    assert b"WIBBLETITLE" in everything and b"INC-0002" in everything
    for secret in ("INC-0001", "GLORPTITLE", *SECRETS):
        leaks = [p.relative_to(out).as_posix() for p in files if secret.encode() in p.read_bytes()]
        assert not leaks, f"{secret!r} published in {leaks}"
    # The availability report leaves it out too (two hours on, both outages still open).
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    r = run("report", "availability", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "INC-0002" in r.stdout and "INC-0001" not in r.stdout


def test_the_demo_incident_opens_with_the_demo_key_only(tmp_path: Path) -> None:
    from desk_testing import REPO

    key = REPO / "demo-keys" / "security-demo.key"
    demo_ids = [p.stem for p in (REPO / "tickets").rglob("INC-*.yaml")
                if security.is_security(yaml_io.load_mapping(p.read_bytes(), p.name), {"security": {}})]
    assert len(demo_ids) == 1
    shown = run("show", demo_ids[0], cwd=REPO, env={"ITSM_AGE_IDENTITY": str(key)})
    assert shown.exit_code == 0 and "MFA" in shown.stdout and PLACEHOLDER not in shown.stdout
    hidden = run("show", demo_ids[0], cwd=REPO)
    assert hidden.exit_code == 0 and "MFA" not in hidden.stdout and PLACEHOLDER in hidden.stdout


def test_import_encrypts_and_rules_cannot_copy_the_text_into_a_note(desk: Path, tmp_path: Path) -> None:
    rule = {"id": "echo", "on": ["create"], "when": {"type": "incident"},
            "actions": [{"comment": {"text": "Logged: {title} / {description}", "internal": True}}]}
    secure_desk(desk, tmp_path / "keys", rules=[rule])
    rows = tmp_path / "rows.csv"
    rows.write_text(f"title,service,category,description\n{TITLE},email,security,{DESCRIPTION}\n"
                    "Printer jam,email,,paper everywhere\n")
    r = run("import", "csv", str(rows), "--type", "incident")
    assert r.exit_code == 0, r.stderr
    imported = load_ticket(desk, "INC-0001")
    assert security.is_encrypted(imported["description"]) and DESCRIPTION.encode() not in every_git_object(desk)
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION)
    ok("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email", "--description", "boom")
    bot_note = load_ticket(desk, "INC-0003")["history"][-1]["note"]
    assert bot_note == f"Logged: {TITLE} / {{description}}"  # the placeholder is left as written
    assert load_ticket(desk, "INC-0004")["history"][-1]["note"] == "Logged: Outlook crashes / boom"
    assert DESCRIPTION.encode() not in every_git_object(desk)


def test_pyrage_is_imported_only_to_encrypt_or_decrypt(desk: Path, tmp_path: Path) -> None:
    import os
    import sys

    private = secure_desk(desk, tmp_path / "keys")
    ok("--as", EVE, "new", "incident", "--title", "Printer jam", "--service", "email", "--description", "jam")
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION)
    probe = ("import sys\nfrom itsm_cli.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print('PYRAGE' if 'pyrage' in sys.modules else 'NO-PYRAGE')\n")

    def loaded(*args: str, **env: str) -> str:
        done = subprocess.run([sys.executable, "-c", probe, *args], cwd=desk, capture_output=True, text=True,
                              env={**os.environ, **env}, check=True)
        return done.stdout.strip().splitlines()[-1]

    assert loaded("show", "INC-0001") == "NO-PYRAGE"
    assert loaded("--as", ANN, "comment", "INC-0001", "plain") == "NO-PYRAGE"
    assert loaded("show", "INC-0002", ITSM_AGE_IDENTITY=str(private)) == "PYRAGE"  # guards the probe


def test_a_member_added_later_reads_what_is_written_after_only(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secure_desk(desk, tmp_path / "keys")
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION)
    tess_key, tess_public = ssh_key(tmp_path / "keys", "tess")
    data = yaml_io.load_mapping((desk / "itsm.yaml").read_bytes(), "itsm.yaml")
    data["people"].append({"email": TESS, "name": "Tess New", "roles": ["agent"], "groups": ["security"],
                           "signing_keys": [tess_public]})
    (desk / "itsm.yaml").write_text(yaml_io.dumps(data))
    git(desk, "commit", "-q", "-am", "Tess joins the security group")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:10:00Z")
    ok("--as", SAM, "comment", "INC-0001", NOTE)
    note = load_ticket(desk, "INC-0001")["history"][-1]["note"]
    def ssh_stanzas(armor: str) -> int:  # age may add a random "grease" stanza: count the SSH ones
        return sum(1 for stanza in security.stanzas(armor) if stanza[0] == "ssh-ed25519")

    assert (ssh_stanzas(note), ssh_stanzas(load_ticket(desk, "INC-0001")["description"])) == (2, 1)
    shown = ok("show", "INC-0001", env={"ITSM_AGE_IDENTITY": str(tess_key)})
    assert NOTE in shown and DESCRIPTION not in shown and PLACEHOLDER in shown


def test_itsm_does_not_unmark_a_security_incident(desk: Path, tmp_path: Path) -> None:
    secure_desk(desk, tmp_path / "keys")
    ok("--as", EVE, "new", "incident", "--title", TITLE, "--service", "email", "--set", "category=security",
       "--description", DESCRIPTION)
    before = head(desk)
    for change in (("edit", "INC-0001", "--set", "category=hardware"), ("edit", "INC-0001", "--set", "category=")):
        r = run("--as", SAM, *change)
        assert r.exit_code == 1 and "is a security incident: changing its category would publish it" in r.stderr
    assert head(desk) == before and load_ticket(desk, "INC-0001")["category"] == "security"
