"""The trail as a three-person team makes it: a bare origin, three clones, real SSH signing keys, real merges.

Every clone has its own git identity, its own ``ssh-keygen`` key and
``commit.gpgSign``; itsm.yaml lists each person's key and requires signed
commits. The scenarios are those of issue 16: acting ``--as`` another person
with one's own key, a throwaway key, an auditor's fresh clone, a squash, a
merge commit, a rebase, a forged approval in a pull request, and the merge
driver's interleaving.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, CAROL, DAN, git, load_ticket, make_desk, run, save_ticket, ticket_path

from itsm_cli.store import yaml_io

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen to sign commits")
ITSM_BIN = Path(sys.executable).parent / "itsm"
NAMES = {ANN: "Ann Agent", BOB: "Bob Builder", CAROL: "Carol Approver"}


@dataclass
class Member:
    """One person of the team: their clone, key and address."""

    email: str
    clone: Path
    key: Path

    @property
    def pub(self) -> str:
        return self.key.with_name(self.key.name + ".pub").read_text().strip()


@dataclass
class Team:
    origin: Path
    ann: Member
    bob: Member
    carol: Member
    tmp: Path


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


def sign_as(clone: Path, key: Path) -> None:
    git(clone, "config", "gpg.format", "ssh")
    git(clone, "config", "user.signingkey", str(key))
    git(clone, "config", "commit.gpgsign", "true")


def with_keys(config: str, keys: dict[str, str]) -> str:
    """itsm.yaml's text with each person's signing key listed (the people are flow mappings in the test desk)."""
    for email, pub in keys.items():
        config = config.replace(f"{{email: {email}, ", f"{{email: {email}, signing_keys: ['{pub}'], ")
    return config


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Team:
    """A signed desk on a bare origin, CHG-0001 awaiting CAB approval, cloned by Ann, Bob and Carol."""
    monkeypatch.setenv("PATH", f"{ITSM_BIN.parent}{os.pathsep}{os.environ['PATH']}")  # for the merge driver
    seed = make_desk(tmp_path / "seed")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "ITSM_USER"):
        monkeypatch.delenv(var)  # from here on each clone's own git identity acts
    keys = {email: keygen(tmp_path / f"key-{email.split('@')[0]}", email) for email in NAMES}
    git(seed, "config", "user.email", ANN)
    git(seed, "config", "user.name", NAMES[ANN])
    sign_as(seed, keys[ANN])
    config = (seed / "itsm.yaml").read_text().replace("require_signed_commits: false", "require_signed_commits: true")
    pubs = {e: k.with_name(k.name + ".pub").read_text().strip() for e, k in keys.items()}
    (seed / "itsm.yaml").write_text(with_keys(config, pubs))
    git(seed, "commit", "-qam", "Require signed commits; the team's keys")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")
    assert run("new", "change", "--title", "Upgrade mail relay", "--service", "email",
               "--set", "change_class=normal", cwd=seed).exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling",
               cwd=seed).exit_code == 0
    assert run("assign", "CHG-0001", BOB, cwd=seed).exit_code == 0
    r = run("transition", "CHG-0001", "awaiting_approval", cwd=seed)
    assert r.exit_code == 0, r.stderr
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    members = []
    for email in (ANN, BOB, CAROL):
        clone = tmp_path / email.split("@")[0]
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.email", email)
        git(clone, "config", "user.name", NAMES[email])
        git(clone, "config", "merge.itsm.driver", "itsm merge-driver %O %A %B %L %P")
        sign_as(clone, keys[email])
        members.append(Member(email, clone, keys[email]))
    return Team(origin, *members, tmp_path)


def verify(clone: Path) -> tuple[int, list[dict]]:
    """``audit verify``'s exit code and findings; a second run (signatures from the cache) must agree."""
    r = run("audit", "verify", "--format", "json", cwd=clone)
    assert r.exit_code in (0, 1), r.stderr
    again = run("audit", "verify", "--format", "json", cwd=clone)
    assert (again.exit_code, again.stdout) == (r.exit_code, r.stdout)
    assert list((clone / ".git" / "itsm-cache").glob("signatures-*"))
    return r.exit_code, json.loads(r.stdout)["findings"]


def fresh_clone(team: Team, name: str = "auditor") -> Path:
    """An auditor's clone: no identity, no signing or allowed-signers configuration at all."""
    path = team.tmp / name
    git(team.tmp, "clone", "-q", str(team.origin), str(path))
    return path


def entry_commit(clone: Path, message: str, author: str) -> str:
    """Commit the work tree by hand as ``author`` (the clone's own committer identity and signing key)."""
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", message, "--author", f"{NAMES.get(author, author)} <{author}>")
    return git(clone, "rev-parse", "HEAD").strip()


def test_the_teams_own_signed_work_verifies_on_a_fresh_clone(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old code: git 2.39 aborted (BUG in gpg-interface.c) on the first SSH signature, or, with a
    # config, reported every signed commit "unsigned" on a clone without gpg.ssh.allowedSignersFile.
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    r = run("approve", "CHG-0001", "--note", "Go", cwd=team.carol.clone)
    assert r.exit_code == 0, r.stderr
    git(team.carol.clone, "push", "-q", "origin", "main")
    auditor = fresh_clone(team)
    unset = subprocess.run(["git", "config", "--get", "gpg.ssh.allowedSignersFile"], cwd=auditor, capture_output=True)
    assert unset.returncode == 1  # nothing set up: the keys come from itsm.yaml
    assert verify(auditor) == (0, [])
    assert git(auditor, "log", "-1", "--format=%G?").strip() != "G"  # git alone cannot tell here; itsm can
    csv = run("audit", "--format", "csv", cwd=auditor).stdout.splitlines()
    assert csv[0].endswith(",committer,signer")
    assert csv[-1].endswith(f",{CAROL},{CAROL}")


def test_acting_as_another_person_with_ones_own_key_is_refused(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old code: the approval was committed as Carol, signed by Bob, and verify called the trail intact.
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    bob = team.bob.clone
    before = git(bob, "rev-parse", "HEAD")
    r = run("--as", CAROL, "approve", "CHG-0001", cwd=bob)
    assert r.exit_code == 1
    assert "is bob@example.com's, but the change is made as carol@example.com" in r.stderr
    assert "who acts must sign with their own key" in r.stderr
    assert git(bob, "rev-parse", "HEAD") == before and git(bob, "status", "--porcelain") == ""


def test_a_hand_made_commit_in_anothers_name_signed_with_ones_own_key_is_wrong_key(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Old code: `G` from git with the clone's allowed signers, so verify said the trail was intact.
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    bob = team.bob.clone
    assert run("--as", CAROL, "approve", "CHG-0001", "--no-commit", cwd=bob).exit_code == 0
    sha = entry_commit(bob, "CHG-0001: approve", CAROL)
    git(bob, "push", "-q", "origin", "main")
    code, findings = verify(fresh_clone(team))
    assert code == 1
    assert [(f["check"], f["commit"], f["record"]) for f in findings] == [("wrong-key", sha[:10], "CHG-0001")]
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(team.bob.key) + ".pub"], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    assert f"signed by key {fingerprint} of {BOB}, but the commit acts as {CAROL}" in findings[0]["message"]
    evidence = json.loads(run("audit", "change", "CHG-0001", "--format", "json", cwd=bob).stdout)
    [approval] = evidence["approvals"]
    assert (approval["authored_by"], approval["committed_by"], approval["signed_by"]) == (CAROL, BOB, BOB)
    table = run("audit", "change", "CHG-0001", cwd=bob).stdout
    assert f"[{sha[:10]} by {CAROL}, committed by {BOB}, signed by {BOB}]" in table
    history = run("history", "CHG-0001", cwd=bob).stdout
    assert f"Carol Approver <{CAROL}> (committed by {BOB}, signed by {BOB})" in history


def test_a_throwaway_key_is_an_unknown_key_and_itsm_refuses_to_sign_with_it(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Old code: %G? = U for a key in no allowed-signers file, which verify accepted (SIGNED_OK = {G, U}).
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    carol = team.carol.clone
    throwaway = keygen(team.tmp / "throwaway", "nobody")
    git(carol, "config", "user.signingkey", str(throwaway))
    r = run("approve", "CHG-0001", cwd=carol)
    assert r.exit_code == 1 and "belongs to no one in itsm.yaml" in r.stderr
    assert run("approve", "CHG-0001", "--no-commit", cwd=carol).exit_code == 0
    sha = entry_commit(carol, "CHG-0001: approve", CAROL)
    code, findings = verify(carol)
    assert code == 1
    assert [(f["check"], f["commit"]) for f in findings] == [("unknown-key", sha[:10])]
    assert "which itsm.yaml gives to no one" in findings[0]["message"] and CAROL in findings[0]["message"]
    assert run("audit", "--format", "json", cwd=carol).stdout.count("unknown key SHA256:") == 1


def test_unsigned_and_bad_signatures_are_findings_of_their_own(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    carol = team.carol.clone
    git(carol, "config", "commit.gpgsign", "false")
    assert run("approve", "CHG-0001", cwd=carol).exit_code == 0
    unsigned = git(carol, "rev-parse", "HEAD").strip()
    # A signed commit whose content was changed afterwards: the signature no longer matches.
    git(carol, "config", "commit.gpgsign", "true")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T12:00:00Z")
    assert run("comment", "CHG-0001", "signed, then tampered with", cwd=carol).exit_code == 0
    raw = git(carol, "cat-file", "commit", "HEAD").replace("CHG-0001: comment", "CHG-0001: comment, edited")
    assert "-----BEGIN SSH SIGNATURE-----" in raw
    forged = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=carol, input=raw,
                            capture_output=True, text=True, check=True).stdout.strip()
    git(carol, "update-ref", "HEAD", forged)
    code, findings = verify(carol)
    assert code == 1
    assert [(f["check"], f["commit"]) for f in findings] == [("unsigned", unsigned[:10]), ("bad-signature", forged[:10])]


def test_a_machine_without_ssh_keygen_cannot_check_and_says_why(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    assert run("approve", "CHG-0001", cwd=team.carol.clone).exit_code == 0
    git(team.carol.clone, "config", "gpg.ssh.program", str(team.tmp / "no-such-ssh-keygen"))
    code, findings = verify(team.carol.clone)
    assert code == 1 and {f["check"] for f in findings} == {"cannot-check"}
    assert "no-such-ssh-keygen is not installed on this machine" in findings[0]["message"]


def cab_pull_request(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pull request `cab`, pushed to origin: Carol approves CHG-0001, then Bob comments on it; Ann has fetched it."""
    ann, bob, carol = team.ann.clone, team.bob.clone, team.carol.clone
    git(carol, "checkout", "-q", "-b", "cab")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    assert run("approve", "CHG-0001", "--note", "Go", cwd=carol).exit_code == 0
    git(carol, "push", "-q", "origin", "cab")
    git(bob, "fetch", "-q")
    git(bob, "checkout", "-q", "-b", "cab", "origin/cab")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T12:00:00Z")
    assert run("comment", "CHG-0001", "Scheduling tonight", cwd=bob).exit_code == 0
    git(bob, "push", "-q", "origin", "cab")
    git(ann, "fetch", "-q")


def test_a_merge_commit_keeps_who_did_what(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    ann = team.ann.clone
    cab_pull_request(team, monkeypatch)
    git(ann, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from cab", "origin/cab")
    git(ann, "push", "-q", "origin", "main")
    assert verify(fresh_clone(team)) == (0, [])


def test_a_squash_merge_is_one_finding_naming_whose_entries_it_carries(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Old code: one `unbacked` finding per entry (here 2), forever.
    ann = team.ann.clone
    cab_pull_request(team, monkeypatch)
    git(ann, "merge", "-q", "--squash", "origin/cab")
    git(ann, "commit", "-q", "-m", "Upgrade mail relay: CAB approval (#1)")
    squash = git(ann, "rev-parse", "HEAD").strip()
    git(ann, "push", "-q", "origin", "main")
    code, findings = verify(fresh_clone(team))
    assert code == 1
    assert [(f["check"], f["commit"], f["record"]) for f in findings] == [("squashed", squash[:10], "CHG-0001")]
    message = findings[0]["message"]
    assert f"{BOB} (1), {CAROL} (1)" in message and "land pull requests with merge commits" in message


def test_a_rebase_that_rewrote_the_authors_is_recognised(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old code: one `unbacked` per entry, and (signed) a `wrong-key`-like "intact" for each.
    ann, carol = team.ann.clone, team.carol.clone
    git(carol, "checkout", "-q", "-b", "cab")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    assert run("approve", "CHG-0001", "--note", "Go", cwd=carol).exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:30:00Z")
    assert run("comment", "CHG-0001", "Outside office hours only", cwd=carol).exit_code == 0
    git(carol, "push", "-q", "origin", "cab")
    git(ann, "fetch", "-q")
    git(ann, "checkout", "-q", "-b", "cab", "origin/cab")
    # A rebase that re-authors every commit (as `git rebase --exec 'git commit --amend --reset-author'` does).
    git(ann, "rebase", "-q", "main", "--force-rebase", "--exec", "git commit -q --amend --no-edit --reset-author")
    rebased = git(ann, "rev-list", "--reverse", "main..cab").split()
    git(ann, "checkout", "-q", "main")
    git(ann, "merge", "-q", "--ff-only", "cab")
    code, findings = verify(ann)
    assert code == 1
    assert [(f["check"], f["commit"]) for f in findings] == [("rebased", sha[:10]) for sha in rebased]
    assert f"carries only entries of {CAROL} (1)" in findings[0]["message"]
    assert "one of 2 in a row" in findings[0]["message"]


def approve_by_hand(desk: Path, approver: str) -> None:
    """An approval of CHG-0001 typed into its file in ``approver``'s name, as a forger would (not committed)."""
    data = load_ticket(desk, "CHG-0001")
    data["history"].append({"at": "2026-03-02T11:00:00Z", "by": approver, "action": "approve",
                            "from": "awaiting_approval", "to": "approved", "group": "cab"})
    data["status"] = "approved"
    data["updated"] = "2026-03-02T11:00:00Z"
    save_ticket(desk, data)


def test_a_forged_approval_in_a_pull_request_fails_validate_base(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    # Old code: `itsm validate --base origin/main` exited 0; only `audit verify` noticed.
    bob = team.bob.clone
    git(bob, "checkout", "-q", "-b", "approve-it")
    approve_by_hand(bob, CAROL)
    sha = entry_commit(bob, "CHG-0001: approved by the CAB", BOB)
    r = run("validate", "--base", "origin/main", cwd=bob)
    assert r.exit_code == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert f"{ticket_path('CHG-0001')}:1:1: commit {sha[:10]}:" in out
    assert f"says by {CAROL} but the commit's author is {BOB}" in out
    gh = run("validate", "--base", "origin/main", "--format", "github", cwd=bob)
    assert gh.exit_code == 1 and f"::error file={ticket_path('CHG-0001')}" in gh.stdout + gh.stderr


def test_a_forged_approval_fails_validate_base_on_an_unsigned_desk(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T09:00:00Z")
    assert run("new", "change", "--title", "Upgrade", "--service", "email", "--set", "change_class=normal").exit_code == 0
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=low", "--set", "plan=x").exit_code == 0
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 0
    git(desk, "checkout", "-q", "-b", "pr")
    approve_by_hand(desk, DAN)
    assert run("validate").exit_code == 0  # the file itself is a valid approval by a CAB member
    env = {**os.environ, "GIT_AUTHOR_EMAIL": CAROL, "GIT_AUTHOR_NAME": "Carol"}
    subprocess.run(["git", "commit", "-qam", "CHG-0001: approve"], cwd=desk, env=env, check=True)
    r = run("validate", "--base", "main")
    assert r.exit_code == 1
    assert f"says by {DAN} but the commit's author is {CAROL}" in r.stdout + r.stderr
    # Work that is its author's own passes.
    git(desk, "checkout", "-q", "main")
    git(desk, "checkout", "-q", "-b", "honest")
    assert run("--as", DAN, "approve", "CHG-0001").exit_code == 0
    assert run("validate", "--base", "main").exit_code == 0


def test_the_merge_drivers_interleaving_verifies(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = team.ann.clone, team.bob.clone
    git(bob, "checkout", "-q", "-b", "note")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T11:00:00Z")
    assert run("comment", "CHG-0001", "Bob: earlier", cwd=bob).exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T13:00:00Z")
    assert run("comment", "CHG-0001", "Bob: later", cwd=bob).exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T12:00:00Z")  # lands first, timestamped between Bob's two
    assert run("comment", "CHG-0001", "Ann: in between", cwd=ann).exit_code == 0
    git(ann, "push", "-q", "origin", "main")
    git(bob, "fetch", "-q")
    git(bob, "merge", "-q", "--no-edit", "origin/main")  # the driver interleaves in time order
    notes = [e.get("note") for e in yaml_io.load_mapping((bob / ticket_path("CHG-0001")).read_bytes(), "x")["history"]]
    assert notes[-3:] == ["Bob: earlier", "Ann: in between", "Bob: later"]
    assert verify(bob) == (0, [])


def test_committed_as_someone_else_without_signing_shows_the_committer(
    desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GIT_COMMITTER_EMAIL")
    monkeypatch.delenv("GIT_COMMITTER_NAME")
    git(desk, "config", "user.email", BOB)
    git(desk, "config", "user.name", "Bob Builder")
    assert run("--as", CAROL, "new", "incident", "--title", "Printer", "--service", "email").exit_code == 0
    assert git(desk, "log", "-1", "--format=%ae %ce").split() == [CAROL, BOB]
    rows = run("audit", "--format", "csv").stdout.splitlines()
    assert rows[-1].endswith(f",{BOB},")  # committer Bob, no signer
    history = run("history", "INC-0001").stdout
    assert f"Carol Approver <{CAROL}> (committed by {BOB})" in history
    evidence = json.loads(run("audit", "change", "INC-0001", "--format", "json").stdout)
    assert (evidence["request"]["authored_by"], evidence["request"]["committed_by"]) == (CAROL, BOB)
