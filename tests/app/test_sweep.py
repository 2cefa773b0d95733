"""Unit tests of app/sweep.py: the time rules applied as a library call (real desk, real git).

The command (`itsm sweep`, every rule with controlled clocks) is tested in tests/test_sweep.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import BOB, EVE, git, head, load_ticket, run, status, ticket_path
from interrupting import ctrl_c_in_commit
from test_rules import BOT, configure

from itsm_cli.app.sweep import sweep
from itsm_cli.store.desk import Desk

DUE = "2026-03-11T16:00:00Z"  # 24 support hours after the resolution below


def resolved_incident(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """INC-0001 resolved on Friday 2026-03-06 16:00; auto-close after 3 support days."""
    configure(desk, sweep={"auto_close": [{"types": ["incident"], "after": "3d"}]})
    monkeypatch.setenv("ITSM_NOW", "2026-03-06T10:00:00Z")
    for args in (("--as", EVE, "new", "incident", "--title", "Outlook crashes", "--service", "email"),
                 ("assign", "INC-0001", BOB)):
        assert run(*args).exit_code == 0
    monkeypatch.setenv("ITSM_NOW", "2026-03-06T16:00:00Z")
    assert run("transition", "INC-0001", "resolved", "--set", "resolution=Repaired the profile").exit_code == 0


def test_a_dry_sweep_plans_and_changes_nothing_then_a_real_one_commits_as_the_bot(
        desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved_incident(desk, monkeypatch)
    before = head(desk)
    dry = sweep(Desk(desk), DUE, dry_run=True)
    assert [(s.record_id, s.action) for s in dry.steps] == [("INC-0001", "close")]
    assert dry.commits == [] and dry.problems == [] and head(desk) == before
    done = sweep(Desk(desk), DUE)
    assert [s.summary for s in done.steps] == ["close: resolved -> closed after 3d"]
    assert done.commits == [head(desk)] and load_ticket(desk, "INC-0001")["status"] == "closed"
    assert git(desk, "log", "-1", "--format=%ae").strip() == BOT
    assert sweep(Desk(desk), DUE).steps == []  # idempotent


def test_nothing_is_due_before_its_time(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved_incident(desk, monkeypatch)
    assert sweep(Desk(desk), "2026-03-11T15:59:00Z").steps == []


@pytest.mark.parametrize("when", ["before the commit", "after the commit"])
def test_ctrl_c_in_the_sweeps_commit_leaves_work_tree_index_and_head_as_before(
        desk: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    resolved_incident(desk, monkeypatch)
    before, index = head(desk), git(desk, "ls-files", "-s")
    original = (desk / ticket_path("INC-0001")).read_bytes()
    ctrl_c_in_commit(monkeypatch, after_the_commit=when == "after the commit")
    with pytest.raises(KeyboardInterrupt):
        sweep(Desk(desk), DUE)
    assert head(desk) == before and git(desk, "ls-files", "-s") == index and status(desk) == ""
    assert (desk / ticket_path("INC-0001")).read_bytes() == original
