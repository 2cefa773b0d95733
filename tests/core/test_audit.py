"""Unit tests of core/audit.py: what each commit did to the records, and the trail's findings, from hand-made commits."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core.audit import (
    ROW_KEYS,
    CommitInfo,
    FileChange,
    Finding,
    audit_rows,
    commit_deltas,
    file_delta,
    in_period,
    record_timeline,
    verify,
)
from itsm_cli.core.config import Config
from itsm_cli.core.signing import Signature

ANN, BOB, EVE = "ann@example.com", "bob@example.com", "eve@example.com"
CONFIG = Config(yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text()))
CONFIG.data["people"] = [{"email": ANN, "name": "Ann", "roles": ["agent"], "groups": ["service-desk"]},
                         {"email": BOB, "name": "Bob", "roles": ["agent"], "groups": ["service-desk"]}]


@dataclass
class V:
    """A version of a record file: its whole record, parsed already (``broken``: it cannot be parsed)."""

    data: dict[str, Any]
    broken: bool = False

    @property
    def blob(self) -> str:
        return hashlib.sha1(json.dumps(self.data, sort_keys=True).encode()).hexdigest()

    def history(self) -> list[dict[str, Any]]:
        if self.broken:
            raise ValueError("malformed YAML")
        return list(self.data.get("history") or [])

    def record(self) -> dict[str, Any]:
        return self.data

    def appended_to(self, old: V) -> list[dict[str, Any]] | None:
        return None  # the slow path: compare the histories themselves


def e(minute: int, by: str, action: str = "comment", **extra: Any) -> dict[str, Any]:
    return {"at": f"2026-03-02T09:{minute:02d}:00Z", "by": by, "action": action, **extra}


CREATE = e(0, EVE, "create", to="new")


def incident(record_id: str = "INC-0001", *entries: dict[str, Any]) -> V:
    return V({"id": record_id, "type": "incident", "title": "t", "status": "new", "created": CREATE["at"],
              "updated": (entries or (CREATE,))[-1]["at"], "requester": EVE, "history": [CREATE, *entries]})


def change(record_id: str, parents: tuple[V | None, ...], new: V | None, kind: str = "ticket") -> FileChange:
    return FileChange(f"tickets/INC/000/{record_id}.yaml", record_id, kind, parents, new)


def commit(n: int, author: str, *files: FileChange, parents: tuple[str, ...] | None = None, action: str | None = None,
           date: str | None = None) -> CommitInfo:
    return CommitInfo(sha=(str(n) * 40)[:40], author_name=author.split("@")[0], author_email=author,
                      author_date=date or f"2026-03-02T10:{n:02d}:00Z", commit_date=date or f"2026-03-02T10:{n:02d}:00Z",
                      signature=Signature(""), parents=parents or ((str(n - 1) * 40)[:40],), subject=f"commit {n}",
                      action=action, files=list(files))


# --- what a commit did to one file ---------------------------------------------------------------


def test_an_appended_entry_is_introduced() -> None:
    delta = file_delta(change("INC-0001", (incident(),), incident("INC-0001", e(5, ANN))))
    assert delta.added == [e(5, ANN)] and delta.lost == [] and not delta.rewritten


def test_a_new_file_introduces_its_whole_history() -> None:
    assert file_delta(change("INC-0001", (None,), incident())).added == [CREATE]


def test_a_changed_entry_is_lost_and_the_file_rewritten() -> None:
    old = incident("INC-0001", e(5, ANN))
    forged = incident("INC-0001", e(5, BOB))
    delta = file_delta(change("INC-0001", (old,), forged))
    assert delta.rewritten and delta.lost == [e(5, ANN)] and delta.added == [e(5, BOB)]


def test_a_deleted_file_loses_its_history() -> None:
    delta = file_delta(change("INC-0001", (incident(),), None))
    assert delta.lost == [CREATE] and delta.added == []


def test_an_unreadable_version_is_an_error_not_a_crash() -> None:
    delta = file_delta(change("INC-0001", (V({}, broken=True),), incident()))
    assert delta.error == "malformed YAML"


def test_the_config_file_has_no_entries() -> None:
    delta = file_delta(change("itsm.yaml", (V({"a": 1}),), V({"a": 2}), kind="config"))
    assert delta.added == [] and delta.lost == [] and delta.error is None


def test_a_merge_introduces_only_what_no_parent_had() -> None:
    ours = incident("INC-0001", e(5, ANN))
    theirs = incident("INC-0001", e(6, BOB))
    merged = incident("INC-0001", e(5, ANN), e(6, BOB))
    delta = file_delta(change("INC-0001", (ours, theirs), merged), merge=True)
    assert delta.added == [] and not delta.rewritten
    assert delta.brought == [e(6, BOB)]
    sneaky = incident("INC-0001", e(5, ANN), e(6, BOB), e(7, EVE))
    assert file_delta(change("INC-0001", (ours, theirs), sneaky), merge=True).added == [e(7, EVE)]


def test_entries_moved_to_another_file_in_the_same_commit_cancel_out() -> None:
    # itsm renumber: INC-0001's file goes, INC-0002's comes with the same history.
    old = incident("INC-0001", e(5, ANN))
    moved = V({**old.data, "id": "INC-0002"})
    deltas = commit_deltas(commit(1, ANN, change("INC-0001", (old,), None), change("INC-0002", (None,), moved)))
    assert [(d.moved, d.lost, d.added) for d in deltas] == [(True, [], []), (False, [], [])]


# --- audit rows -------------------------------------------------------------------------------------


def _trail() -> list[CommitInfo]:
    v1 = incident()
    v2 = incident("INC-0001", e(5, ANN, "transition", **{"from": "new", "to": "assigned"}))
    return [
        commit(1, EVE, change("INC-0001", (None,), v1)),
        commit(2, ANN, change("INC-0001", (v1,), v2), change("itsm.yaml", (V({}),), V({"x": 1}), kind="config")),
        commit(3, ANN, change("INC-0001", (v2,), None)),
    ]


def test_one_row_per_entry_and_per_change_without_one() -> None:
    rows = list(audit_rows(_trail(), lambda c: "config" if c.kind == "config" else "incident"))
    assert [(r["commit"][-1], r["id"], r["action"], r["by"]) for r in rows] == [
        ("1", "INC-0001", "create", EVE), ("2", "INC-0001", "transition", ANN), ("2", "itsm.yaml", "config", None),
        ("3", "INC-0001", "deleted", None)]
    assert tuple(rows[1]) == ROW_KEYS
    assert (rows[1]["from"], rows[1]["to"], rows[1]["author"], rows[1]["committer"]) == ("new", "assigned", ANN, ANN)


def test_rows_by_period_and_type() -> None:
    rows = list(audit_rows(_trail(), lambda c: "incident", since="2026-03-02T10:02:00Z", until="2026-03-02T10:03:00Z",
                           types=frozenset({"incident"})))
    assert [r["action"] for r in rows] == ["transition", "config"]
    assert list(audit_rows(_trail(), lambda c: "incident", types=frozenset({"change"}))) == []


def test_in_period_is_half_open() -> None:
    assert in_period("2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z")
    assert not in_period("2026-03-02T11:00:00Z", None, "2026-03-02T11:00:00Z")
    assert in_period("1999-01-01T00:00:00Z", None, None)


# --- verification -----------------------------------------------------------------------------------


def _findings(*commits: CommitInfo) -> list[tuple[str, str, str]]:
    return [(f.check, f.commit[-1], f.record) for f in verify(commits, CONFIG, {})]


def test_a_clean_trail_has_no_findings() -> None:
    v1 = incident()
    v2 = incident("INC-0001", e(5, ANN))
    assert _findings(commit(1, EVE, change("INC-0001", (None,), v1)), commit(2, ANN, change("INC-0001", (v1,), v2))) == []


def test_an_entry_committed_by_someone_else_is_unbacked() -> None:
    v1 = incident()
    found = list(verify([commit(1, EVE, change("INC-0001", (None,), v1)),
                         commit(2, BOB, change("INC-0001", (v1,), incident("INC-0001", e(5, ANN))))], CONFIG, {}))
    assert [(f.check, f.record) for f in found] == [("unbacked", "INC-0001")]
    assert ANN in found[0].message and BOB in found[0].message
    assert isinstance(found[0], Finding) and found[0].as_dict()["check"] == "unbacked"


def test_records_added_by_init_or_import_are_a_baseline() -> None:
    baseline = incident("INC-0001", e(5, ANN))  # entries by others, imported
    assert _findings(commit(1, EVE, change("INC-0001", (None,), baseline), action="import")) == []
    assert _findings(commit(1, EVE, change("INC-0001", (None,), baseline))) == [("unbacked", "1", "INC-0001")]


def test_a_rewrite_and_a_deletion_are_found() -> None:
    v1 = incident("INC-0001", e(5, ANN))
    forged = incident("INC-0001", e(5, BOB))
    checks = _findings(commit(1, ANN, change("INC-0001", (None,), v1), action="import"),
                       commit(2, BOB, change("INC-0001", (v1,), forged)),
                       commit(3, BOB, change("INC-0001", (forged,), None)))
    assert ("rewritten", "2", "INC-0001") in checks
    assert ("deleted", "3", "INC-0001") in checks


def test_an_unreadable_version_is_a_finding() -> None:
    checks = _findings(commit(1, ANN, change("INC-0001", (None,), V({}, broken=True))))
    assert checks == [("unreadable", "1", "INC-0001")]


# --- a record's timeline ------------------------------------------------------------------------------


def test_record_timeline_pairs_each_entry_with_the_commit_that_made_it() -> None:
    v1 = incident()
    v2 = incident("INC-0001", e(5, ANN))
    commits = [commit(1, EVE, change("INC-0001", (None,), v1)), commit(2, ANN, change("INC-0001", (v1,), v2))]
    entries = [*v2.history(), e(9, BOB)]  # the last one is not committed yet
    tl = record_timeline(entries, commits)
    assert tl.entry_commit == [commits[0].sha, commits[1].sha, None]
    assert tl.introduced == {commits[0].sha: [0], commits[1].sha: [1]}
    assert tl.rewritten == {} and tl.brought == {}


@pytest.mark.parametrize("merge", [False, True])
def test_commit_info_knows_merges(merge: bool) -> None:
    info = commit(5, ANN, parents=("a" * 40, "b" * 40) if merge else ("a" * 40,))
    assert info.is_merge is merge and info.short == info.sha[:10]
