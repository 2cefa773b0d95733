"""The desk layout of SPEC section 2: tickets in ``tickets/<PREFIX>/<NNN>/``, and ``itsm upgrade`` from the flat one.

The flat desk is ``tests/data/flat-desk.bundle``, made by itsm at e479f67 (the
last code of the flat layout), with a branch made before any upgrade.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, git, make_desk, run, status, ticket_path
from hypothesis import given
from hypothesis import strategies as st

from itsm_cli.core import ids

BUNDLE = Path(__file__).parent / "data" / "flat-desk.bundle"
FLAT_IDS = ["CHG-0001", "INC-0001", "INC-0002"]


# -- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("record_id", "path"), [
    ("INC-0042", "tickets/INC/000/INC-0042.yaml"),
    ("INC-0999", "tickets/INC/000/INC-0999.yaml"),
    ("INC-1000", "tickets/INC/001/INC-1000.yaml"),
    ("INC-12345", "tickets/INC/012/INC-12345.yaml"),
    ("CHG-12011", "tickets/CHG/012/CHG-12011.yaml"),
    ("INC-1234567", "tickets/INC/1234/INC-1234567.yaml"),
    ("INC-999999999", "tickets/INC/999999/INC-999999999.yaml"),
])
def test_a_ticket_path_follows_from_its_id_alone(record_id: str, path: str) -> None:
    assert ids.ticket_path("tickets", record_id) == path


@given(st.integers(min_value=1, max_value=999_999_999), st.sampled_from(["INC", "REQ", "PRB", "CHG", "IMP"]))
def test_every_ticket_path_is_three_folders_deep_and_names_its_bucket(number: int, prefix: str) -> None:
    record_id = ids.format_id(prefix, number)
    folder, pre, bucket, name = ids.ticket_path("tickets", record_id).split("/")
    assert (folder, pre, name) == ("tickets", prefix, f"{record_id}.yaml")
    assert int(bucket) * ids.BUCKET_SIZE <= number < (int(bucket) + 1) * ids.BUCKET_SIZE
    assert len(bucket) >= 3


def test_a_million_tickets_never_put_more_than_a_thousand_entries_in_a_folder() -> None:
    """The 1,000,000-record check on paper: every folder of every level, counted."""
    buckets = Counter(ids.bucket_of(ids.format_id("INC", n)) for n in range(1, 1_000_001))
    assert max(buckets.values()) == 1000 and len(buckets) == 1001  # 000 holds 1-999, 1000 holds 1,000,000 alone
    assert len(buckets) - 1 <= 1000  # tickets/INC/ holds 1,001 folders only at the millionth ticket


# -- every command uses it --------------------------------------------------------------------


def test_new_writes_into_the_bucket_and_validate_names_a_misplaced_ticket(desk: Path) -> None:
    assert run("new", "incident", "--title", "One").stdout.strip() == "INC-0001"
    assert (desk / "tickets/INC/000/INC-0001.yaml").is_file()
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == ["tickets/INC/000/INC-0001.yaml"]
    (desk / "tickets/INC/007").mkdir()
    git(desk, "mv", "tickets/INC/000/INC-0001.yaml", "tickets/INC/007/INC-0001.yaml")
    r = run("validate")
    assert r.exit_code == 1
    assert ("tickets/INC/007/INC-0001.yaml:1:1: this ticket belongs at tickets/INC/000/INC-0001.yaml, "
            "the folder its ID gives") in r.stdout


def test_import_of_thousands_of_rows_spreads_over_buckets(desk: Path, tmp_path: Path) -> None:
    source = tmp_path / "old-tool.csv"
    with source.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["title", "impact", "urgency", "requester", "created"])
        for i in range(2500):
            w.writerow([f"Imported {i}", "low", "low", "eve@example.com", "2025-06-01T09:00:00Z"])
    r = run("import", "csv", str(source), "--type", "incident")
    assert r.exit_code == 0, r.stderr
    per_bucket = {p.name: len(list(p.iterdir())) for p in (desk / "tickets/INC").iterdir()}
    assert per_bucket == {"000": 999, "001": 1000, "002": 501}
    assert status(desk) == ""
    assert run("validate").exit_code == 0
    assert run("new", "incident", "--title", "After the import").stdout.strip() == "INC-2501"
    assert (desk / "tickets/INC/002/INC-2501.yaml").is_file()


def test_renumber_moves_a_ticket_across_buckets_and_history_follows(desk: Path) -> None:
    assert run("new", "incident", "--title", "Will move").exit_code == 0
    assert run("comment", "INC-0001", "before the move").exit_code == 0
    other = (desk / ticket_path("INC-0001")).read_text().replace("INC-0001", "INC-1999")
    (desk / ticket_path("INC-1999")).parent.mkdir(parents=True)
    (desk / ticket_path("INC-1999")).write_text(other)
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "a ticket made elsewhere")
    r = run("renumber", "INC-0001")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "INC-2000"
    assert (desk / "tickets/INC/002/INC-2000.yaml").is_file() and not (desk / ticket_path("INC-0001")).exists()
    history = json.loads(run("history", "INC-2000", "--format", "json").stdout)
    assert [c["action"] for c in history["commits"]][:2] == ["create", "comment"]


# -- itsm upgrade -----------------------------------------------------------------------------


@pytest.fixture
def flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone of the flat desk the earlier itsm made, with the merge driver set up as `itsm init` does."""
    path = tmp_path / "flat"
    git(tmp_path, "clone", "-q", "-b", "main", str(BUNDLE), str(path))
    git(path, "branch", "-q", "pr-old", "origin/pr-old")
    git(path, "config", "user.email", ANN)
    git(path, "config", "user.name", "Ann Agent")
    git(path, "config", "merge.itsm.driver", "itsm merge-driver %O %A %B %L %P")
    monkeypatch.chdir(path)
    monkeypatch.setenv("ITSM_NOW", "2026-03-03T09:00:00Z")
    return path


def test_a_flat_desk_can_be_read_but_not_changed_until_upgraded(flat: Path) -> None:
    assert sorted(p.name for p in (flat / "tickets").glob("*.yaml")) == [f"{i}.yaml" for i in FLAT_IDS]
    assert run("show", "INC-0001").exit_code == 0
    assert [r["id"] for r in json.loads(run("list", "--format", "json").stdout)] == FLAT_IDS
    assert run("history", "INC-0001").exit_code == 0
    head_before = git(flat, "rev-parse", "HEAD")
    for args in (["comment", "INC-0001", "x"], ["new", "incident", "--title", "x"], ["assign", "INC-0002", BOB]):
        r = run(*args)
        assert r.exit_code == 1, args
        assert r.stderr.startswith("itsm: error: this desk keeps tickets in the earlier flat layout")
        assert "run 'itsm upgrade'" in r.stderr
    assert git(flat, "rev-parse", "HEAD") == head_before and status(flat) == ""
    r = run("validate")
    assert r.exit_code == 1
    assert "tickets/INC-0001.yaml:1:1: this ticket belongs at tickets/INC/000/INC-0001.yaml" in r.stdout


def test_upgrade_refuses_a_dirty_tree_and_changes_nothing(flat: Path) -> None:
    (flat / "notes.txt").write_text("not committed\n")
    head_before = git(flat, "rev-parse", "HEAD")
    r = run("upgrade")
    assert r.exit_code == 1
    assert "the work tree has changes (notes.txt)" in r.stderr and "commit or stash them" in r.stderr
    assert git(flat, "rev-parse", "HEAD") == head_before
    assert (flat / "tickets/INC-0001.yaml").is_file()


def test_upgrade_moves_every_ticket_in_one_commit_of_renames(flat: Path) -> None:
    r = run("upgrade")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("moved 3 ticket(s) into 2 folder(s) under tickets/ in commit ")
    assert status(flat) == ""
    message = git(flat, "log", "-1", "--format=%B")
    assert "Itsm-Action: upgrade" in message
    moves = git(flat, "show", "-M", "--name-status", "--format=", "HEAD").splitlines()
    assert sorted(m for m in moves if m.startswith("R")) == [
        f"R100\ttickets/{i}.yaml\t{ticket_path(i)}" for i in FLAT_IDS]
    assert "M\t.gitattributes" in moves
    assert "tickets/**/*.yaml merge=itsm" in (flat / ".gitattributes").read_text()
    assert git(flat, "check-attr", "merge", "--", ticket_path("INC-0001")).strip().endswith("merge: itsm")
    again = run("upgrade")
    assert again.exit_code == 0 and again.stdout.startswith("nothing to upgrade")
    assert git(flat, "log", "-1", "--format=%B") == message
    assert run("validate").exit_code == 0


def test_history_and_audit_follow_a_ticket_across_the_upgrade(flat: Path) -> None:
    before = json.loads(run("history", "INC-0001", "--format", "json").stdout)
    assert run("upgrade").exit_code == 0
    assert run("comment", "INC-0001", "after the upgrade").exit_code == 0
    after = json.loads(run("history", "INC-0001", "--format", "json").stdout)
    assert after["path"] == "tickets/INC/000/INC-0001.yaml"
    old = [c["commit"] for c in before["commits"]]
    assert [c["commit"] for c in after["commits"]][: len(old)] == old  # the commits from before the move, still listed
    assert all(e["commit"] for e in after["entries"])  # every entry backed by its commit, none left loose
    verify = run("audit", "verify", "--format", "json")
    assert verify.exit_code == 0, verify.stdout
    assert json.loads(verify.stdout)["findings"] == []
    change = run("audit", "change", "CHG-0001", "--format", "json")
    assert change.exit_code == 0, change.stderr
    assert [a["by"] for a in json.loads(change.stdout)["approvals"]] == ["carol@example.com"]
    rows = list(csv.DictReader(run("audit", "--format", "csv").stdout.splitlines()))
    moved = [r for r in rows if r["itsm_action"] == "upgrade"]
    assert {(r["id"], r["action"]) for r in moved} >= {("INC-0001", "moved"), ("INC-0001", "added")}
    assert not [r for r in rows if r["action"] == "deleted"]


def test_a_branch_made_before_the_upgrade_still_merges_after_it(flat: Path) -> None:
    assert run("upgrade").exit_code == 0
    assert run("comment", "INC-0001", "on main after the upgrade").exit_code == 0  # both sides change INC-0001
    git(flat, "merge", "-q", "--no-edit", "pr-old")  # git's rename detection plus the record merge driver
    assert status(flat) == ""
    merged = yaml.safe_load((flat / ticket_path("INC-0001")).read_text())
    notes = [e.get("note") for e in merged["history"] if e["action"] == "comment"]
    assert notes == ["Looking at the gateway logs", "From the old branch", "on main after the upgrade"]
    assert not (flat / "tickets/INC-0001.yaml").exists()
    # The branch's own new ticket arrives flat: the desk says so, and upgrade moves it too.
    assert (flat / "tickets/INC-0003.yaml").is_file()
    assert run("comment", "INC-0002", "x").exit_code == 1
    r = run("upgrade")
    assert r.exit_code == 0 and r.stdout.startswith("moved 1 ticket(s)")
    assert run("validate").exit_code == 0
    verify = run("audit", "verify", "--format", "json")
    assert verify.exit_code == 0 and json.loads(verify.stdout)["findings"] == []
    assert run("new", "incident", "--title", "Next").stdout.strip() == "INC-0004"


def test_new_on_an_upgraded_desk_skips_ids_a_flat_branch_still_holds(flat: Path) -> None:
    """pr-old (not upgraded) holds INC-0003 flat: the next ID on main is INC-0004, not a collision."""
    assert run("upgrade").exit_code == 0
    assert run("new", "incident", "--title", "Fresh").stdout.strip() == "INC-0004"


def test_a_fresh_desk_has_no_flat_tickets_and_upgrade_has_nothing_to_do(tmp_path: Path, monkeypatch) -> None:
    path = make_desk(tmp_path / "fresh")
    monkeypatch.chdir(path)
    r = run("upgrade")
    assert r.exit_code == 0 and r.stdout.startswith("nothing to upgrade")
    assert "tickets/**/*.yaml merge=itsm" in (path / ".gitattributes").read_text()


def test_upgrade_brings_the_schemas_itsm_wrote_up_to_date(flat: Path) -> None:
    """The flat desk's schemas came from its init commit: upgrade replaces them, in the same commit as the moves."""
    shipped = Path(__file__).parents[1] / "itsm_cli" / "data" / "schemas"
    assert (flat / "schemas/common.schema.json").read_bytes() != (shipped / "common.schema.json").read_bytes()
    r = run("upgrade")
    assert r.exit_code == 0, r.stderr
    assert "; updated schemas/" in r.stdout and "schemas/common.schema.json" in r.stdout
    for source in shipped.glob("*.json"):
        assert (flat / "schemas" / source.name).read_bytes() == source.read_bytes(), source.name
    changed = git(flat, "show", "--name-status", "--format=", "HEAD").splitlines()
    assert "M\tschemas/common.schema.json" in changed
    assert run("validate").exit_code == 0


def test_upgrade_keeps_a_schema_the_desk_edited_and_adds_one_it_lacks(tmp_path: Path, monkeypatch) -> None:
    path = make_desk(tmp_path / "fresh")
    monkeypatch.chdir(path)
    edited = json.loads((path / "schemas/incident.schema.json").read_text())
    edited["properties"]["site_code"] = {"type": "string"}  # the desk's own field
    (path / "schemas/incident.schema.json").write_text(json.dumps(edited, indent=2) + "\n")
    git(path, "rm", "-q", "schemas/problem.schema.json")
    git(path, "commit", "-q", "-am", "our own incident field; problem schema removed by mistake")
    r = run("upgrade")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("brought the schemas up to this itsm in commit ")
    assert "added schemas/problem.schema.json" in r.stdout
    assert ("itsm: note: schemas/incident.schema.json was edited on this desk, so it is kept; this itsm's copy is "
            in r.stderr)
    assert json.loads((path / "schemas/incident.schema.json").read_text())["properties"]["site_code"]
    assert (path / "schemas/problem.schema.json").is_file() and status(path) == ""
    assert "Itsm-Action: upgrade" in git(path, "log", "-1", "--format=%B")
    again = run("upgrade")
    assert again.exit_code == 0 and again.stdout.startswith("nothing to upgrade")
    assert "incident.schema.json was edited on this desk" in again.stderr
