"""Unit tests of app/transfer.py: import and export as library calls (real desk, real git).

The commands (`itsm import`, `itsm export`, round trips, bad files) are tested in tests/test_import_export.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from desk_testing import ANN, EVE, git, head, load_ticket, run, status
from interrupting import ctrl_c_in_commit

from itsm_cli.app.transfer import Rejection, export_records, import_records
from itsm_cli.core.query import Query
from itsm_cli.errors import Refused
from itsm_cli.store.desk import Desk

NOW = "2026-03-02T09:00:00Z"
ROWS = [
    {"title": "VPN drops", "impact": "low", "urgency": "low", "requester": EVE},
    {"impact": "low", "urgency": "low"},
    {"title": "Wi-Fi slow", "impact": "medium", "urgency": "low", "requester": EVE},
]


def rows_file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(ROWS))
    return path


def test_a_dry_import_lists_records_and_rejections_and_changes_nothing(desk: Path, tmp_path: Path) -> None:
    before = head(desk)
    result = import_records(Desk(desk), "json", rows_file(tmp_path), "incident", {}, dry_run=True, actor=ANN, now=NOW)
    assert [d["id"] for d in result.created] == ["INC-0001", "INC-0002"]  # the rejected row leaves no gap
    assert result.rejected == [Rejection(2, "no title (map a column to it with --map COLUMN=title)")]
    assert result.rejected[0].row == 2 and result.commit is None and head(desk) == before


def test_a_real_import_is_refused_with_rejects_unless_skipped(desk: Path, tmp_path: Path) -> None:
    with pytest.raises(Refused, match=r"1 of 3 rows would be rejected \(row 2: no title"):
        import_records(Desk(desk), "json", rows_file(tmp_path), "incident", {}, dry_run=False, actor=ANN, now=NOW)
    result = import_records(Desk(desk), "json", rows_file(tmp_path), "incident", {}, dry_run=False, actor=ANN,
                            now=NOW, skip_rejected=True)
    assert result.commit == head(desk) and status(desk) == ""
    assert load_ticket(desk, "INC-0002")["title"] == "Wi-Fi slow"
    assert "Itsm-Action: import" in git(desk, "log", "-1", "--format=%B")


def test_export_as_csv_puts_lists_and_history_in_json_cells(desk: Path) -> None:
    assert run("new", "incident", "--title", "Printer", "--set", "tags=a,b").exit_code == 0
    text = export_records(Desk(desk), Query(), "csv")
    header, row = text.splitlines()[:2]
    assert header.split(",")[:3] == ["id", "type", "title"] and header.endswith(",history")
    assert row.startswith("INC-0001,incident,Printer,") and '"[""a"", ""b""]"' in row


@pytest.mark.parametrize("when", ["before the commit", "after the commit"])
def test_ctrl_c_in_the_imports_commit_leaves_work_tree_index_and_head_as_before(
        desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    before, index = head(desk), git(desk, "ls-files", "-s")
    ctrl_c_in_commit(monkeypatch, after_the_commit=when == "after the commit")
    with pytest.raises(KeyboardInterrupt):
        import_records(Desk(desk), "json", rows_file(tmp_path), "incident", {}, dry_run=False, actor=ANN, now=NOW,
                       skip_rejected=True)
    assert head(desk) == before and git(desk, "ls-files", "-s") == index and status(desk) == ""
