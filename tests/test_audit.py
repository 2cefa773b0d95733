"""The trail from git, on real repositories with controlled clocks and identities.

``itsm history``, ``itsm audit`` (list, ``verify``, ``change``), and histories
tampered with by hand that ``audit verify`` must catch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, DAN, EVE, git, head, run, ticket_path
from desk_testing import load_ticket as load
from desk_testing import save_ticket as save

from itsm_cli.core.merge import merge_records

NAMES = {ANN: "Ann Agent", BOB: "Bob Builder", CAROL: "Carol Approver", DAN: "Dan Approver", EVE: "Eve Staff"}


def at(clock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the itsm clock (which also dates the commits itsm makes)."""
    monkeypatch.setenv("ITSM_NOW", clock)


def hand_commit(desk: Path, message: str, author: str, date: str, *paths: str) -> str:
    """Commit the work tree by hand (no itsm, no trailers) as ``author`` at ``date``; returns the commit ID."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": NAMES.get(author, author), "GIT_AUTHOR_EMAIL": author, "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": "Committer", "GIT_COMMITTER_EMAIL": "committer@example.com", "GIT_COMMITTER_DATE": date,
    }
    subprocess.run(["git", "add", "-A", "--", *(paths or ["."])], cwd=desk, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=desk, check=True, env=env)
    return head(desk)


def verify(desk: Path) -> tuple[int, list[dict]]:
    """``audit verify``'s exit code and findings, the same whether the commit index serves the diffs or git walks."""
    r = run("audit", "verify", "--format", "json")
    assert r.exit_code in (0, 1), r.stderr
    previous = os.environ.get("ITSM_NO_CACHE")
    os.environ["ITSM_NO_CACHE"] = "1"
    try:
        walked = run("audit", "verify", "--format", "json")
    finally:
        os.environ.pop("ITSM_NO_CACHE") if previous is None else os.environ.update(ITSM_NO_CACHE=previous)
    assert (walked.exit_code, walked.stdout) == (r.exit_code, r.stdout)
    data = json.loads(r.stdout)
    assert data["ok"] == (r.exit_code == 0)
    return r.exit_code, data["findings"]


def incident_life(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """INC-0001 created by Eve, assigned, worked and commented by Ann, on 2 and 3 March; the 4 commits."""
    shas = []
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", EVE, "new", "incident", "--title", "VPN drops", "--service", "email").exit_code == 0
    shas.append(head(Path.cwd()))
    at("2026-03-02T09:20:00Z", monkeypatch)
    assert run("assign", "INC-0001", ANN).exit_code == 0
    shas.append(head(Path.cwd()))
    at("2026-03-03T10:00:00Z", monkeypatch)
    assert run("transition", "INC-0001", "in_progress").exit_code == 0
    shas.append(head(Path.cwd()))
    at("2026-03-03T11:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "Replaced the profile").exit_code == 0
    shas.append(head(Path.cwd()))
    return shas


def change_awaiting_approval(monkeypatch: pytest.MonkeyPatch, requester: str = BOB) -> None:
    """CHG-0001 requested by ``requester``, assessed and assigned to Ann, awaiting CAB approval."""
    at("2026-03-02T09:00:00Z", monkeypatch)
    assert run("--as", requester, "new", "change", "--title", "Upgrade mail relay", "--service", "email",
               "--set", "change_class=normal").exit_code == 0
    at("2026-03-02T10:00:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling upgrade").exit_code == 0
    at("2026-03-02T10:05:00Z", monkeypatch)
    assert run("assign", "CHG-0001", ANN).exit_code == 0
    at("2026-03-02T10:10:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 0


# -- itsm history --------------------------------------------------------------------------


def test_history_pairs_each_entry_with_the_commit_that_made_it(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    shas = git(desk, "log", "--reverse", "--format=%H", "--", "tickets/INC/000/INC-0001.yaml").split()
    assert len(shas) == 4
    r = run("history", "INC-0001", "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["id"] == "INC-0001" and data["path"] == "tickets/INC/000/INC-0001.yaml"
    assert [e["commit"] for e in data["entries"]] == shas
    assert [e["action"] for e in data["entries"]] == ["create", "assign", "transition", "comment"]
    assert [c["commit"] for c in data["commits"]] == shas
    assert [c["entries"] for c in data["commits"]] == [[0], [1], [2], [3]]
    assert [c["author_email"] for c in data["commits"]] == [EVE, ANN, ANN, ANN]
    assert data["commits"][2]["date"] == "2026-03-03T10:00:00Z"
    assert data["commits"][0]["subject"] == 'INC-0001: create incident "VPN drops"'
    table = run("history", "INC-0001").stdout
    assert f"{shas[2][:10]}  2026-03-03T10:00:00Z  Ann Agent <{ANN}>  INC-0001: transition new -> in_progress" in table
    assert "    2026-03-03T10:00:00Z  Ann Agent: transition new -> in_progress" in table
    rows = list(csv.DictReader(io.StringIO(run("history", "INC-0001", "--format", "csv").stdout)))
    assert [(r["commit"], r["action"], r["by"]) for r in rows] == [
        (shas[0], "create", EVE), (shas[1], "assign", ANN), (shas[2], "transition", ANN), (shas[3], "comment", ANN)]


def test_history_shows_entries_no_commit_holds(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    at("2026-03-04T09:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "Work in progress", "--no-commit").exit_code == 0
    data = json.loads(run("history", "INC-0001", "--format", "json").stdout)
    assert data["entries"][-1]["note"] == "Work in progress" and data["entries"][-1]["commit"] is None
    assert all(e["commit"] for e in data["entries"][:-1])
    table = run("history", "INC-0001").stdout
    assert "not in any commit" in table.splitlines()[-2]
    assert table.splitlines()[-1].strip().startswith("2026-03-04T09:00:00Z  Ann Agent: comment")


def test_history_and_audit_change_of_unknown_records_exit_1(desk: Path) -> None:
    for args in (("history", "INC-0042"), ("audit", "change", "CHG-0042")):
        r = run(*args)
        assert r.exit_code == 1 and r.stderr.startswith("itsm: error: no record"), r.stderr
    assert run("history", "../etc/passwd").exit_code != 0


def test_history_follows_a_renumbered_record(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    at("2026-03-05T09:00:00Z", monkeypatch)
    r = run("renumber", "INC-0001")
    assert r.exit_code == 0 and r.stdout.strip() == "INC-0002"
    data = json.loads(run("history", "INC-0002", "--format", "json").stdout)
    assert len(data["commits"]) == 5
    assert [c["entries"] for c in data["commits"]] == [[0], [1], [2], [3], []]
    assert data["commits"][-1]["action"] == "renumber"
    code, findings = verify(desk)
    assert (code, findings) == (0, [])  # moving entries to a new file is not a rewrite


# -- itsm audit -----------------------------------------------------------------------------


def test_audit_lists_who_changed_what_in_a_period(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incs = incident_life(monkeypatch)
    change_awaiting_approval(monkeypatch)
    r = run("audit", "--since", "2026-03-02T09:10:00Z", "--until", "2026-03-03", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["date"], x["id"], x["action"], x["author"], x["by"]) for x in rows] == [
        ("2026-03-02T09:20:00Z", "INC-0001", "assign", ANN, ANN),
        ("2026-03-02T10:00:00Z", "CHG-0001", "transition", ANN, ANN),
        ("2026-03-02T10:05:00Z", "CHG-0001", "assign", ANN, ANN),
        ("2026-03-02T10:10:00Z", "CHG-0001", "transition", ANN, ANN),
    ]
    assert rows[1]["from"] == "draft" and rows[1]["to"] == "assessment" and rows[1]["type"] == "change"
    assert rows[0]["commit"] == incs[1]
    assert rows[0]["itsm_action"] == "assign"
    only_changes = json.loads(run("audit", "--type", "change", "--format", "json").stdout)
    assert {x["id"] for x in only_changes} == {"CHG-0001"} and len(only_changes) == 4
    assert only_changes[0]["action"] == "create" and only_changes[0]["by"] == BOB and only_changes[0]["to"] == "draft"
    table = run("audit", "--since", "2026-03-03", "--until", "2026-04-01").stdout.splitlines()
    assert table[0].split() == ["DATE", "COMMIT", "AUTHOR", "BY", "ID", "ACTION", "CHANGE"]
    assert table[1].split() == ["2026-03-03T10:00:00Z", incs[2][:10], ANN, ANN, "INC-0001",
                                "transition", "new", "->", "in_progress"]
    assert len(table) == 3
    assert run("audit", "--since", "2026-03-10", "--until", "2026-04-01").stderr.strip() == "nothing to show"
    assert run("audit", "--since", "2026-03-10", "--until", "2026-04-01", "--format", "json").stdout.strip() == "[]"


def test_audit_option_errors(desk: Path) -> None:
    assert run("audit", "--since", "last tuesday").exit_code == 2
    assert run("audit", "--since", "2026-03-03", "--until", "2026-03-02").exit_code == 2
    assert run("audit", "--type", "widget").exit_code == 1
    assert run("audit", "--since", "2026-03-03", "verify").exit_code == 2
    assert run("audit", "nonsense").exit_code == 2


def test_audit_reads_hand_edits_without_trailers(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    data = load(desk, "INC-0001")
    data["history"].append({"at": "2026-03-04T08:00:00Z", "by": ANN, "action": "comment", "note": "By hand"})
    data["updated"] = "2026-03-04T08:00:00Z"
    save(desk, data)
    sha = hand_commit(desk, "Add a note (PR #3)", ANN, "2026-03-04T08:00:00Z")
    data["title"] = "VPN drops every hour"
    save(desk, data)
    sha2 = hand_commit(desk, "Retitle", ANN, "2026-03-04T08:30:00Z")
    rows = json.loads(run("audit", "--since", "2026-03-04", "--until", "2026-04-01", "--format", "json").stdout)
    assert [(x["commit"], x["action"], x["by"], x["itsm_action"]) for x in rows] == [
        (sha, "comment", ANN, None), (sha2, "changed", None, None)]
    assert rows[0]["subject"] == "Add a note (PR #3)"
    assert verify(desk) == (0, [])


def test_audit_runs_one_git_log_and_one_cat_file_whatever_the_length(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    change_awaiting_approval(monkeypatch)
    spawned: list[list[str]] = []
    real = subprocess.Popen

    def spy(args, *a, **k):  # type: ignore[no-untyped-def]
        spawned.append(list(args))
        return real(args, *a, **k)

    monkeypatch.setattr(subprocess, "Popen", spy)
    assert run("audit", "--format", "csv").exit_code == 0
    # One git log, and the work tree's one cat-file session (which also answers the few other lookups).
    streaming = [a for a in spawned if "log" in a or any(x.startswith("--batch") for x in a)]
    assert len(streaming) == 2, spawned
    assert any(x.startswith("--batch") for a in streaming for x in a)
    assert len(spawned) <= 6  # plus a few constant checks (rev-parse), never one per commit or file


def test_commit_graph_is_written_once_and_refreshed_when_stale(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli.store.gitstore import Git
    from itsm_cli.store.history import ensure_commit_graph

    incident_life(monkeypatch)
    graph = desk / ".git" / "objects" / "info" / "commit-graph"
    assert run("audit").exit_code == 0 and run("audit", "verify").exit_code == 0
    assert not graph.exists()  # a walk over every commit gains nothing from it
    assert run("history", "INC-0001").exit_code == 0
    assert graph.is_file()
    assert (desk / ".git" / "itsm-commit-graph").read_text().strip() == head(desk)
    g = Git(desk)
    assert ensure_commit_graph(g) is False  # nothing new
    at("2026-03-04T09:00:00Z", monkeypatch)
    run("comment", "INC-0001", "one more")
    assert ensure_commit_graph(g) is False  # 1 commit behind: not worth a rewrite
    assert ensure_commit_graph(g, stale_after=1) is True
    monkeypatch.setenv("ITSM_COMMIT_GRAPH", "0")
    run("comment", "INC-0001", "and another")
    assert ensure_commit_graph(g, stale_after=1) is False
    assert git(desk, "commit-graph", "verify").strip() == ""


def test_a_commit_graph_written_by_git_itself_is_added_to_or_replaced(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli.store.gitstore import Git
    from itsm_cli.store.history import _has_changed_paths, ensure_commit_graph

    incident_life(monkeypatch)
    info = desk / ".git" / "objects" / "info"
    git(desk, "commit-graph", "write", "--reachable")  # as git gc writes it: no changed-path filters
    assert not _has_changed_paths(info)
    assert ensure_commit_graph(Git(desk)) is True
    assert _has_changed_paths(info)  # rewritten with them
    (desk / ".git" / "itsm-commit-graph").unlink()  # now as if another tool wrote this one
    at("2026-03-04T09:00:00Z", monkeypatch)
    run("comment", "INC-0001", "one more")
    assert ensure_commit_graph(Git(desk)) is True
    assert (info / "commit-graphs" / "commit-graph-chain").is_file()  # added to, not rewritten
    assert _has_changed_paths(info)
    assert git(desk, "commit-graph", "verify").strip() == ""


# -- itsm audit verify: a clean trail and tampered ones -----------------------------------------


def test_verify_passes_a_trail_made_by_itsm(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    change_awaiting_approval(monkeypatch)
    at("2026-03-02T11:00:00Z", monkeypatch)
    assert run("--as", CAROL, "approve", "CHG-0001", "--note", "Go").exit_code == 0
    r = run("audit", "verify")
    assert r.exit_code == 0, r.stdout
    assert r.stdout == ""
    assert "commit(s) checked, the trail is intact" in r.stderr


def test_verify_catches_an_edited_old_entry(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    data = load(desk, "INC-0001")
    data["history"][1]["at"] = "2026-03-02T09:05:00Z"  # pretend the assignment came sooner
    save(desk, data)
    sha = hand_commit(desk, "fix typo", ANN, "2026-03-05T12:00:00Z")
    code, findings = verify(desk)
    assert code == 1
    rewritten = [f for f in findings if f["check"] == "rewritten"]
    assert len(rewritten) == 1
    assert rewritten[0]["commit"] == sha[:10] and rewritten[0]["record"] == "INC-0001"
    assert "'assign' entry at 2026-03-02T09:20:00Z" in rewritten[0]["message"]
    r = run("audit", "verify")
    assert r.exit_code == 1 and sha[:10] in r.stdout and "INC-0001" in r.stdout and "rewritten" in r.stdout
    assert "finding(s)" in r.stderr
    rows = json.loads(run("audit", "--since", "2026-03-05", "--until", "2026-04-01", "--format", "json").stdout)
    assert "history-rewritten" in [x["action"] for x in rows]
    history = json.loads(run("history", "INC-0001", "--format", "json").stdout)
    assert history["commits"][-1]["rewrote_history"] is True


def test_verify_catches_a_removed_entry_and_a_deleted_record(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    at("2026-03-03T12:00:00Z", monkeypatch)
    run("new", "incident", "--title", "Second")
    data = load(desk, "INC-0001")
    del data["history"][-1]
    save(desk, data)
    sha = hand_commit(desk, "drop comment", ANN, "2026-03-05T12:00:00Z")
    (desk / ticket_path("INC-0002")).unlink()
    sha2 = hand_commit(desk, "remove ticket", ANN, "2026-03-05T13:00:00Z")
    code, findings = verify(desk)
    assert code == 1
    assert [(f["check"], f["commit"], f["record"]) for f in findings] == [
        ("rewritten", sha[:10], "INC-0001"), ("deleted", sha2[:10], "INC-0002")]


def test_verify_catches_a_forged_by(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    data = load(desk, "INC-0001")
    data["history"].append({"at": "2026-03-04T09:00:00Z", "by": CAROL, "action": "comment", "note": "Looks fine to me"})
    save(desk, data)
    sha = hand_commit(desk, "comment", BOB, "2026-03-04T09:00:00Z")
    code, findings = verify(desk)
    assert code == 1
    assert findings == [{
        "check": "unbacked", "commit": sha[:10], "record": "INC-0001", "date": "2026-03-04T09:00:00Z",
        "message": f"'comment' entry at 2026-03-04T09:00:00Z says by {CAROL} but the commit's author is {BOB}",
    }]


def test_verify_compares_e_mails_case_insensitively(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    data = load(desk, "INC-0001")
    data["history"].append({"at": "2026-03-04T09:00:00Z", "by": ANN, "action": "comment", "note": "case"})
    save(desk, data)
    hand_commit(desk, "comment", ANN.upper(), "2026-03-04T09:00:00Z")
    assert verify(desk) == (0, [])


def test_verify_catches_an_approval_by_the_requester(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    change_awaiting_approval(monkeypatch, requester=CAROL)
    assert run("--as", CAROL, "approve", "CHG-0001").exit_code == 1  # the CLI refuses...
    data = load(desk, "CHG-0001")  # ...so Carol writes it by hand and commits it herself
    data["history"].append({"at": "2026-03-02T11:00:00Z", "by": CAROL, "action": "approve",
                            "from": "awaiting_approval", "to": "approved", "group": "cab"})
    data["status"] = "approved"
    save(desk, data)
    sha = hand_commit(desk, "CHG-0001: approve", CAROL, "2026-03-02T11:00:00Z")
    code, findings = verify(desk)
    assert code == 1
    assert [(f["check"], f["commit"], f["record"]) for f in findings] == [("approval", sha[:10], "CHG-0001")]
    assert f"{CAROL} is the requester and cannot approve their own change" in findings[0]["message"]
    evidence = json.loads(run("audit", "change", "CHG-0001", "--format", "json").stdout)
    assert evidence["approvals"][0]["independent"] is False
    assert "NOT INDEPENDENT" in run("audit", "change", "CHG-0001").stdout


def test_verify_catches_an_approval_by_someone_outside_the_group(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    change_awaiting_approval(monkeypatch)
    data = load(desk, "CHG-0001")
    data["history"].append({"at": "2026-03-02T11:00:00Z", "by": EVE, "action": "approve",
                            "from": "awaiting_approval", "to": "approved", "group": "cab"})
    data["status"] = "approved"
    save(desk, data)
    hand_commit(desk, "approve", EVE, "2026-03-02T11:00:00Z")
    _, findings = verify(desk)
    assert [f["check"] for f in findings] == ["approval"]
    assert "not a member of the approving group 'cab'" in findings[0]["message"]


def test_verify_exempts_the_imported_baseline_only(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    imported = {
        "id": "INC-0007", "type": "incident", "title": "Imported", "status": "new",
        "created": "2025-01-01T09:00:00Z", "updated": "2025-01-01T09:00:00Z", "requester": EVE,
        "history": [{"at": "2025-01-01T09:00:00Z", "by": EVE, "action": "create", "to": "new"}],
    }
    save(desk, imported)
    hand_commit(desk, "Import from the old tool\n\nItsm-Id: INC-0007\nItsm-Action: import", ANN, "2026-03-01T00:00:00Z")
    assert verify(desk) == (0, [])
    imported["history"].append({"at": "2025-01-02T09:00:00Z", "by": DAN, "action": "comment", "note": "late"})
    save(desk, imported)
    sha = hand_commit(desk, "Import more\n\nItsm-Action: import", ANN, "2026-03-01T01:00:00Z")
    _, findings = verify(desk)
    assert [(f["check"], f["commit"]) for f in findings] == [("unbacked", sha[:10])]  # only added records are baseline


def test_verify_the_demo_desk_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = run("init", "--demo", str(tmp_path / "demo"))
    if r.exit_code != 0:
        pytest.skip(f"no demo desk in this checkout: {r.stderr.strip()}")
    monkeypatch.chdir(tmp_path / "demo")
    code, findings = verify(tmp_path / "demo")
    assert (code, findings) == (0, [])


def _ssh_signing(desk: Path, email: str) -> None:
    key = desk.parent / "signing_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)], check=True)
    allowed = desk.parent / "allowed_signers"
    allowed.write_text(f"{email} {(desk.parent / 'signing_key.pub').read_text().strip()}\n")
    git(desk, "config", "gpg.format", "ssh")
    git(desk, "config", "user.signingkey", str(key))
    git(desk, "config", "gpg.ssh.allowedSignersFile", str(allowed))


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen to sign commits")
def test_verify_requires_signatures_from_when_the_desk_asks(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)  # unsigned, before signatures were required: fine
    _ssh_signing(desk, ANN)
    git(desk, "config", "commit.gpgsign", "true")
    config = (desk / "itsm.yaml").read_text().replace("require_signed_commits: false", "require_signed_commits: true")
    pub = (desk.parent / "signing_key.pub").read_text().strip()
    config = config.replace(f"{{email: {ANN}, ", f"{{email: {ANN}, signing_keys: ['{pub}'], ")  # keys are desk data
    (desk / "itsm.yaml").write_text(config)
    hand_commit(desk, "Require signed commits", ANN, "2026-03-04T08:00:00Z")
    at("2026-03-04T09:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "signed by itsm's commit").exit_code == 0
    assert git(desk, "log", "-1", "--format=%G?").strip() == "G"
    assert verify(desk) == (0, [])
    git(desk, "config", "commit.gpgsign", "false")
    at("2026-03-04T10:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "unsigned").exit_code == 0
    code, findings = verify(desk)
    assert code == 1
    assert [(f["check"], f["commit"], f["record"]) for f in findings] == [("unsigned", head(desk)[:10], "INC-0001")]
    assert "unsigned" in findings[0]["message"]


# -- merges -----------------------------------------------------------------------------------


def merge_branch(desk: Path, branch: str, message: str, date: str, resolve: dict | None = None) -> str:
    """Merge ``branch`` into main with a merge commit (resolving INC-0001 with ``resolve`` if given)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com",
           "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-c", "merge.itsm.driver=false", "merge", "-q", "--no-ff", "--no-commit", branch],
                   cwd=desk, env=env, capture_output=True)
    if resolve is not None:
        save(desk, resolve)
        subprocess.run(["git", "add", "tickets"], cwd=desk, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=desk, check=True, env=env)
    return head(desk)


def test_merges_bring_entries_in_without_claiming_them(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    base = load(desk, "INC-0001")
    git(desk, "checkout", "-q", "-b", "pr-12")
    at("2026-03-04T09:00:00Z", monkeypatch)
    run("comment", "INC-0001", "On the branch")
    branch_commit = head(desk)
    git(desk, "checkout", "-q", "main")
    at("2026-03-04T10:00:00Z", monkeypatch)
    run("--as", BOB, "comment", "INC-0001", "On main")
    main_commit = head(desk)
    ours, theirs = load(desk, "INC-0001"), yaml.safe_load(git(desk, "show", "pr-12:tickets/INC/000/INC-0001.yaml"))
    merged = merge_records(base, ours, theirs)
    assert merged.clean
    assert [e.get("note") for e in merged.merged["history"][-2:]] == ["On the branch", "On main"]  # interleaved
    sha = merge_branch(desk, "pr-12", "Merge pull request #12 from ann/pr-12", "2026-03-04T11:00:00Z", merged.merged)
    assert verify(desk) == (0, [])
    rows = json.loads(run("audit", "--since", "2026-03-04", "--until", "2026-04-01", "--format", "json").stdout)
    assert [(x["commit"], x["by"]) for x in rows] == [(branch_commit, ANN), (main_commit, BOB)]
    assert sha not in [x["commit"] for x in rows]
    data = json.loads(run("history", "INC-0001", "--format", "json").stdout)
    merge = [c for c in data["commits"] if c["merge"]]
    assert len(merge) == 1 and merge[0]["subject"] == "Merge pull request #12 from ann/pr-12"
    assert merge[0]["entries"] == [] and merge[0]["brought_in"] == [4]
    assert data["entries"][4]["commit"] == branch_commit


def test_a_merge_that_drops_branch_entries_is_caught(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    git(desk, "checkout", "-q", "-b", "pr-13")
    at("2026-03-04T09:00:00Z", monkeypatch)
    run("comment", "INC-0001", "Lost on merge")
    git(desk, "checkout", "-q", "main")
    env = {**os.environ, "GIT_AUTHOR_DATE": "2026-03-04T11:00:00Z", "GIT_COMMITTER_DATE": "2026-03-04T11:00:00Z"}
    subprocess.run(["git", "merge", "-q", "-s", "ours", "-m", "Merge pull request #13", "pr-13"], cwd=desk, check=True,
                   env=env)
    code, findings = verify(desk)
    assert code == 1
    assert [(f["check"], f["commit"]) for f in findings] == [("rewritten", head(desk)[:10])]
    assert "Lost on merge" not in (desk / ticket_path("INC-0001")).read_text()


def test_desk_in_a_folder_of_a_larger_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desk_testing import make_desk

    outer = tmp_path / "monorepo"
    desk = make_desk(outer / "it" / "desk")
    shutil.rmtree(desk / ".git")
    (outer / "README.md").write_text("other things\n")
    git(outer, "init", "-q", "-b", "main")
    git(outer, "add", "-A")
    git(outer, "commit", "-q", "-m", "monorepo")
    monkeypatch.chdir(desk)
    incident_life(monkeypatch)
    (outer / "README.md").write_text("changed\n")
    git(outer, "commit", "-qam", "unrelated")
    rows = json.loads(run("audit", "--type", "incident", "--format", "json").stdout)
    assert [x["action"] for x in rows] == ["create", "assign", "transition", "comment"]
    indexed = run("history", "INC-0001", "--format", "json").stdout
    assert json.loads(indexed)["entries"][0]["commit"]
    assert (desk / ".git").exists() is False and list((outer / ".git" / "itsm-cache").glob("*/commits/seen"))
    monkeypatch.setenv("ITSM_NO_CACHE", "1")
    assert run("history", "INC-0001", "--format", "json").stdout == indexed  # the same as git's walk
    monkeypatch.delenv("ITSM_NO_CACHE")
    assert verify(desk)[0] == 0
    first = git(outer, "log", "--reverse", "--format=%H", "--", "it/desk/tickets/INC/000/INC-0001.yaml").split()[0]
    r = run("sla", "INC-0001", "--at", first, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["now"] == "2026-03-02T09:00:00Z"


def test_history_and_audit_change_are_the_same_with_and_without_the_commit_index(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    change_awaiting_approval(monkeypatch)
    base = load(desk, "INC-0001")
    git(desk, "checkout", "-q", "-b", "pr-7")
    at("2026-03-04T09:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "On the branch").exit_code == 0
    git(desk, "checkout", "-q", "main")
    at("2026-03-04T10:00:00Z", monkeypatch)
    assert run("comment", "INC-0001", "On main").exit_code == 0
    theirs = yaml.safe_load(git(desk, "show", "pr-7:tickets/INC/000/INC-0001.yaml"))
    merged = merge_records(base, load(desk, "INC-0001"), theirs)
    merge_branch(desk, "pr-7", "Merge pull request #7", "2026-03-04T11:00:00Z", merged.merged)
    at("2026-03-05T09:00:00Z", monkeypatch)
    assert run("renumber", "INC-0001").exit_code == 0
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.gitstore import Git

    CommitIndex.open(Desk(desk), Git(desk)).commits(ticket_path("INC-0002"))  # as `itsm audit` builds it on a big desk
    outputs = []
    for cache in ("", "1"):
        monkeypatch.setenv("ITSM_NO_CACHE", cache)
        outputs.append([run(*args).stdout for args in (
            ("history", "INC-0002", "--format", "json"), ("history", "CHG-0001"), ("audit", "change", "CHG-0001"))])
    assert outputs[0] == outputs[1]
    commits = json.loads(outputs[0][0])["commits"]
    assert len(commits) == 8 and sum(c["merge"] for c in commits) == 1  # 6 own, the merge, the renumber
    assert (desk / ".git" / "itsm-cache" / "commits" / "seen").is_file()


# -- itsm audit change -------------------------------------------------------------------------


def test_audit_change_shows_the_whole_evidence_chain(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    change_awaiting_approval(monkeypatch)
    git(desk, "checkout", "-q", "-b", "cab-approval")
    at("2026-03-02T11:00:00Z", monkeypatch)
    assert run("--as", CAROL, "approve", "CHG-0001", "--note", "Go, outside office hours").exit_code == 0
    approval_commit = head(desk)
    git(desk, "checkout", "-q", "main")
    merge = merge_branch(desk, "cab-approval", "Merge pull request #12 from carol/cab-approval", "2026-03-02T11:30:00Z")
    at("2026-03-03T09:00:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "scheduled", "--set", "planned_start=2026-03-05T20:00:00Z",
               "--set", "planned_end=2026-03-05T22:00:00Z").exit_code == 0
    at("2026-03-05T20:00:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "implementing").exit_code == 0
    at("2026-03-05T21:30:00Z", monkeypatch)
    assert run("transition", "CHG-0001", "review", "--set", "outcome=Upgraded, no incidents").exit_code == 0
    at("2026-03-06T09:00:00Z", monkeypatch)
    run("--as", EVE, "new", "incident", "--title", "Mail delayed after upgrade", "--service", "email")
    assert run("link", "INC-0001", "caused-by", "CHG-0001").exit_code == 0
    run("new", "problem", "--title", "Relay queue tuning")
    assert run("link", "CHG-0001", "relates", "PRB-0001").exit_code == 0
    r = run("audit", "change", "CHG-0001", "--format", "json")
    assert r.exit_code == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["request"] == {"requester": BOB, "created": "2026-03-02T09:00:00Z", "by": BOB,
                             "at": "2026-03-02T09:00:00Z", "commit": ev["commits"][0]["commit"], "authored_by": BOB,
                             "committed_by": BOB, "signed_by": ""}
    assert ev["assessment"] == {"risk": "medium", "plan": True}
    assert ev["approval_rule"] == {"group": "cab", "count": 1}
    [approval] = ev["approvals"]
    assert approval["by"] == CAROL and approval["name"] == "Carol Approver"
    assert approval["groups"] == ["cab", "service-owners"] and approval["group"] == "cab"
    assert approval["independent"] is True and approval["problems"] == []
    assert approval["commit"] == approval_commit and approval["committed_by"] == CAROL
    assert approval["at"] == "2026-03-02T11:00:00Z" and approval["note"] == "Go, outside office hours"
    assert ev["schedule"] == {"planned_start": "2026-03-05T20:00:00Z", "planned_end": "2026-03-05T22:00:00Z"}
    assert [(t["from"], t["to"]) for t in ev["transitions"]] == [
        (None, "draft"), ("draft", "assessment"), ("assessment", "awaiting_approval"),
        ("awaiting_approval", "approved"), ("approved", "scheduled"), ("scheduled", "implementing"),
        ("implementing", "review")]
    assert all(t["commit"] for t in ev["transitions"])
    assert ev["links"] == {"outgoing": [{"kind": "relates", "id": "PRB-0001"}],
                           "incoming": [{"kind": "caused-by", "id": "INC-0001"}]}
    merges = [c for c in ev["commits"] if c["merge"]]
    assert [(c["commit"], c["subject"], c["brought_in"]) for c in merges] == [
        (merge, "Merge pull request #12 from carol/cab-approval", [4])]
    assert len(ev["commits"]) == 10 and ev["uncommitted_entries"] == []  # 8 of itsm, 1 on the branch, the merge
    table = run("audit", "change", "CHG-0001").stdout
    for text in ("Request", "Bob Builder (bob@example.com)", "risk medium, plan written", "needs 1 approval(s) from group cab",
                 "approve by Carol Approver <carol@example.com> (groups: cab, service-owners) for cab: independent",
                 f"[{approval_commit[:10]} by {CAROL}]", "2026-03-05T20:00:00Z -> 2026-03-05T22:00:00Z",
                 "scheduled -> implementing", "INC-0001 links here (caused-by)", "relates PRB-0001",
                 f"{merge[:10]}", "Merge pull request #12 from carol/cab-approval  (brought in 1 entries)"):
        assert text in table, text


def test_audit_change_refuses_non_tickets(desk: Path) -> None:
    r = run("audit", "change", "email")
    assert r.exit_code == 2 and "not a ticket" in r.stderr


def test_a_desk_outside_git_has_no_trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desk_testing import make_desk

    desk = make_desk(tmp_path / "desk")
    shutil.rmtree(desk / ".git")
    monkeypatch.chdir(desk)
    for args in (("audit",), ("audit", "verify"), ("history", "INC-0001")):
        r = run(*args)
        assert r.exit_code in (1, 3), (args, r.stderr)
    r = run("audit", "verify")
    assert r.exit_code == 3 and "not in a git repository" in r.stderr


def test_terminal_escapes_in_commits_and_entries_never_reach_the_terminal(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    incident_life(monkeypatch)
    data = load(desk, "INC-0001")
    data["history"].append({"at": "2026-03-04T09:00:00Z", "by": ANN, "action": "comment\x1b]0;pwned\x07"})
    save(desk, data)
    hand_commit(desk, "innocent \x1b[2J subject", ANN, "2026-03-04T09:00:00Z")
    for args in (("history", "INC-0001"), ("audit",), ("audit", "--format", "csv"), ("audit", "verify")):
        r = run(*args)
        assert "\x1b" not in r.stdout + r.stderr, args
    assert "\\x1b[2J" in run("history", "INC-0001").stdout


def test_a_first_history_of_a_long_history_walks_git_and_leaves_the_index_to_audit(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a clone of a long history, `history` does not diff every commit: git walks the path, the graph comes later."""
    import time

    from itsm_cli.app import trail
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.desk import Desk
    from itsm_cli.store.gitstore import Git

    incident_life(monkeypatch)
    monkeypatch.setattr(trail, "LONG_HISTORY", 3)  # this desk's few commits count as a long history
    walked = run("history", "INC-0001", "--format", "json")
    assert walked.exit_code == 0, walked.stderr
    index = CommitIndex.open(Desk(desk), Git(desk))
    assert index is not None and not index.started()  # nothing diffed beyond the one path
    marker = desk / ".git" / "itsm-commit-graph"
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:  # written by git in the background
        time.sleep(0.05)
    assert marker.read_text().strip() == head(desk)
    assert git(desk, "commit-graph", "verify").strip() == ""
    index.commits(ticket_path("INC-0001"))  # as `itsm audit` would build it
    assert index.started()
    assert run("history", "INC-0001", "--format", "json").stdout == walked.stdout  # the index answers the same
