"""The report command's registry of further reports, and the options only they take."""

from __future__ import annotations

from desk_testing import run


def test_a_table_report_refuses_markdown_and_out(desk) -> None:
    result = run("report", "sla", "--format", "markdown")
    assert result.exit_code == 2
    assert "report sla is a table" in result.stderr
    result = run("report", "volume", "--out", "x.md")
    assert result.exit_code == 2
    assert "--out goes with reports that write a document" in result.stderr
