"""Unit tests of app/trail.py: a record's trail, the audit listing, a change's evidence, the trail's check.

Called as a library on real git desks (the records are made with the CLI); the commands' output is tested in
tests/test_audit.py, tests/test_layout.py and tests/test_team_trail.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, EVE, git, head, run, ticket_path

from itsm_cli.app.trail import (
    audit_listing,
    change_evidence,
    path_before,
    record_commits,
    record_trail,
    verify_trail,
)
from itsm_cli.core.audit import ROW_KEYS
from itsm_cli.errors import BadArgument, ItsmError
from itsm_cli.store.commit_index import CommitIndex
from itsm_cli.store.desk import Desk
from itsm_cli.store.gitstore import Git

BUNDLE = Path(__file__).parent.parent / "data" / "flat-desk.bundle"


def _at(clock: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", clock)  # itsm's clock, which also dates its commits


def _incident(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """INC-0001: created by Eve at 09:00 and assigned at 09:20 on 2 March, in progress at 10:00 on 3 March."""
    shas = []
    for clock, args in (("2026-03-02T09:00:00Z", ("--as", EVE, "new", "incident", "--title", "VPN drops")),
                        ("2026-03-02T09:20:00Z", ("assign", "INC-0001", ANN)),
                        ("2026-03-03T10:00:00Z", ("transition", "INC-0001", "in_progress"))):
        _at(clock, monkeypatch)
        r = run(*args)
        assert r.exit_code == 0, r.stderr
        shas.append(head(Path.cwd()))
    return shas


# -- a record's trail --------------------------------------------------------------------------


def test_a_renumbered_records_trail_goes_back_to_its_old_id(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _incident(monkeypatch)
    _at("2026-03-05T09:00:00Z", monkeypatch)
    assert run("renumber", "INC-0001").stdout.strip() == "INC-0002"
    trail = record_trail(Desk(desk), "INC-0002")
    assert trail.record.id == "INC-0002" and trail.record.path == ticket_path("INC-0002")
    assert [c.commit for c in trail.commits] == [*before, head(desk)]
    assert [c.action for c in trail.commits] == ["create", "assign", "transition", "renumber"]
    assert [c.entries for c in trail.commits] == [[0], [1], [2], []]  # the move introduced no entry
    assert trail.entry_commit == before and trail.commits[0].author_email == EVE
    renumber = trail.timeline.commits[-1]
    assert path_before(ticket_path("INC-0002"), renumber) == ticket_path("INC-0001")
    # The commit index and a walk of git agree on the commits and what each touched.
    g = Git(desk)
    walked = record_commits(g, ticket_path("INC-0002"))
    indexed = record_commits(g, ticket_path("INC-0002"), CommitIndex.open(Desk(desk), g))
    assert [c.sha for c in walked] == [c.sha for c in indexed] == [c.commit for c in trail.commits]
    assert sorted(f.path for f in walked[-1].files) == sorted(f.path for f in indexed[-1].files) == sorted(
        [ticket_path("INC-0001"), ticket_path("INC-0002")])


def test_a_first_question_starts_gits_walk_before_counting_the_history(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any commit index, git's walk of the record's path runs while the history is counted.

    On a long history that walk is the answer (the same as the index's); on a short one it is ended unread, and
    the index, built instead, answers. Either way no git process is left behind.
    """
    from itsm_cli.app import trail
    from itsm_cli.store import cache_store, gitprocess

    shas = _incident(monkeypatch)
    started: list[tuple[str, object]] = []
    spawn = gitprocess.spawn

    def noting(args, cwd, **kw):  # type: ignore[no-untyped-def]
        proc = spawn(args, cwd, **kw)
        started.append((" ".join(a for a in args if not a.startswith(("-c", "core.", "log.", "gpg."))), proc))
        return proc

    monkeypatch.setattr(gitprocess, "spawn", noting)
    for long in (True, False):
        cache_store.clear(desk)  # no commit index yet
        started.clear()
        monkeypatch.setattr(trail, "LONG_HISTORY", 1 if long else 10_000)
        got = record_trail(Desk(desk), "INC-0001")
        assert [c.commit for c in got.commits] == shas and got.entry_commit == shas, long
        names = [name for name, _ in started]
        walk = next(i for i, n in enumerate(names) if n.startswith("log ") and "--reverse" in n)
        count = next(i for i, n in enumerate(names) if n.startswith("rev-list --count"))
        assert walk < count, names
        # Every git has ended, the walk ended unread included; only the cat-file reader lives as long as its Git.
        assert all(proc.poll() is not None for name, proc in started if not name.startswith("cat-file")), names
        index = CommitIndex.open(Desk(desk), Git(desk))
        assert index is not None and index.started() is (not long), long


def test_a_trail_without_the_move_stops_at_the_file_it_has(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copying a record by hand to a new ID is no renumber: the copy's trail starts with the copy."""
    _incident(monkeypatch)
    (desk / ticket_path("INC-0007")).write_text(
        (desk / ticket_path("INC-0001")).read_text().replace("INC-0001", "INC-0007"))
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", "a copy")
    trail = record_trail(Desk(desk), "INC-0007")
    assert [c.subject for c in trail.commits] == ["a copy"]
    assert trail.commits[0].entries == [0, 1, 2]  # every entry arrived with the copy
    with pytest.raises(ItsmError, match="no record"):
        record_trail(Desk(desk), "INC-0042")


@pytest.fixture
def flat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone of the flat desk an earlier itsm made (tests/test_layout.py describes it)."""
    path = tmp_path / "flat"
    git(tmp_path, "clone", "-q", "-b", "main", str(BUNDLE), str(path))
    git(path, "config", "user.email", ANN)
    git(path, "config", "user.name", "Ann Agent")
    monkeypatch.chdir(path)
    monkeypatch.setenv("ITSM_NOW", "2026-03-03T09:00:00Z")
    return path


def test_the_trail_follows_a_ticket_across_the_upgrade_move(flat: Path) -> None:
    old = [c.commit for c in record_trail(Desk(flat), "INC-0001").commits]
    assert old and record_trail(Desk(flat), "INC-0001").record.path == "tickets/INC-0001.yaml"
    assert run("upgrade").exit_code == 0
    assert run("comment", "INC-0001", "after the upgrade").exit_code == 0
    trail = record_trail(Desk(flat), "INC-0001")
    assert trail.record.path == ticket_path("INC-0001")
    assert [c.commit for c in trail.commits][: len(old)] == old  # the commits from before the move, still listed
    assert [c.action for c in trail.commits][len(old):] == ["upgrade", "comment"]
    assert None not in trail.entry_commit  # every entry backed by its commit
    upgrade = trail.timeline.commits[len(old)]
    assert path_before(ticket_path("INC-0001"), upgrade) == "tickets/INC-0001.yaml"
    assert path_before("tickets/INC-0001.yaml", upgrade) is None  # the flat place came from nowhere


# -- the audit listing -------------------------------------------------------------------------


def test_the_listing_takes_since_inclusive_and_until_exclusive(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _incident(monkeypatch)
    d = Desk(desk)
    every = list(audit_listing(d))
    assert [(r["date"], r["id"], r["action"]) for r in every if r["id"] == "INC-0001"] == [
        ("2026-03-02T09:00:00Z", "INC-0001", "create"),
        ("2026-03-02T09:20:00Z", "INC-0001", "assign"),
        ("2026-03-03T10:00:00Z", "INC-0001", "transition"),
    ]
    assert all(tuple(r) == ROW_KEYS for r in every)
    since, until = datetime(2026, 3, 2, 9, 20, tzinfo=UTC), datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    rows = list(audit_listing(d, since=since, until=until))
    assert [(r["date"], r["action"]) for r in rows] == [("2026-03-02T09:20:00Z", "assign")]
    # A time with an offset is the same moment in UTC.
    cet = timezone(timedelta(hours=1))
    assert list(audit_listing(d, since=datetime(2026, 3, 2, 10, 20, tzinfo=cet),
                              until=datetime(2026, 3, 3, 11, 0, tzinfo=cet))) == rows

    def incident(**period: datetime) -> list[str]:
        return [r["action"] for r in audit_listing(d, **period) if r["id"] == "INC-0001"]

    assert incident(since=until) == ["transition"]
    assert incident(until=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) == []
    assert incident(until=datetime(2026, 3, 2, 9, 0, 1, tzinfo=UTC)) == ["create"]


def test_the_listing_keeps_the_types_asked_and_refuses_an_unknown_one(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _incident(monkeypatch)
    d = Desk(desk)
    assert {r["type"] for r in audit_listing(d, types=["incident"])} == {"incident"}
    assert {r["type"] for r in audit_listing(d, types=["config"])} == {"config"}
    assert list(audit_listing(d, types=["change"])) == []
    with pytest.raises(ItsmError, match="unknown record type 'nosuch'"):
        audit_listing(d, types=["nosuch"])  # refused at once, before any row is asked for


# -- evidence and the check --------------------------------------------------------------------


def test_change_evidence_and_the_check_of_the_trail(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _incident(monkeypatch)
    _at("2026-03-04T09:00:00Z", monkeypatch)
    assert run("--as", BOB, "new", "change", "--title", "Patch the VPN", "--service", "email").exit_code == 0
    d = Desk(desk)
    evidence = change_evidence(d, "CHG-0001")
    assert evidence["id"] == "CHG-0001" and evidence["request"]["requester"] == BOB
    assert [c["commit"] for c in evidence["commits"]] == [head(desk)]
    assert evidence["implemented_by"] == []
    with pytest.raises(BadArgument, match="email is not a ticket"):
        change_evidence(d, "email")
    check = verify_trail(d)
    assert check.ok and check.findings == []
    assert check.commits == int(git(desk, "rev-list", "--count", "HEAD"))
