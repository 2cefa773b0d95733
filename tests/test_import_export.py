"""itsm import and itsm export: migration from another tool, dry runs, and exact round trips."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, EVE, git, head, make_desk, run, status

from itsm_cli.app import App, now_utc
from itsm_cli.store.desk import Desk


def ok(*args: str, cwd: Path | None = None) -> str:
    r = run(*args, cwd=cwd)
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout


def busy_desk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Records of every kind, in several states, with comments, links, a checklist and a KB body."""
    ok("new", "problem", "--title", "Mail queue fills up", "--service", "email")
    ok("--as", EVE, "new", "incident", "--title", "Mail is slow", "--service", "email", "--description", "Since 9am.\nAll users.")
    ok("--as", EVE, "new", "incident", "--title", "Bounce: \"quota\", café", "--impact", "high", "--set", "major=true")
    monkeypatch.setenv("ITSM_NOW", "2026-03-02T10:00:00Z")
    ok("assign", "INC-0001", BOB, "--group", "service-desk")
    ok("transition", "INC-0001", "in_progress")
    ok("comment", "INC-0001", "Looking, internal", "--internal")
    ok("link", "INC-0001", "caused-by", "PRB-0001")
    ok("link", "INC-0002", "relates", "INC-0001")
    ok("transition", "INC-0002", "resolved", "--set", "resolution=Raised the quota")
    fields = {"title": "Mailbox for sales", "service": "email", "offering": "shared-mailbox", "form": {"name": "sales"},
              "checklist": [{"item": "Create the mailbox", "done": True}, {"item": "Tell the team", "done": False}]}
    App(Desk(Path.cwd()), EVE, now_utc()).new("request", fields)
    ok("transition", "REQ-0001", "awaiting_approval")
    ok("--as", CAROL, "approve", "REQ-0001")
    ok("new", "article", "--title", "Reset your password", "--set", "review_by=2026-09-01",
       "--description", "# Reset your password\n\nGo to **the portal**.\n")


def parsed(raw: bytes) -> tuple[object, str]:
    text = raw.decode()
    if text.startswith("---\n"):
        _, front, body = text.split("---\n", 2)
        return yaml.safe_load(front), body
    return yaml.safe_load(text), ""


def files(desk: Path) -> dict[str, bytes]:
    return {p.relative_to(desk).as_posix(): p.read_bytes() for folder in ("tickets", "kb")
            for p in sorted((desk / folder).rglob("*")) if p.is_file() and not p.name.startswith(".")}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_then_import_into_an_empty_desk_reproduces_the_records(
    desk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    busy_desk(monkeypatch)
    exports = {}
    for type_name in ("problem", "incident", "request", "article"):
        exports[type_name] = tmp_path / f"{type_name}.{fmt}"
        ok("export", type_name, "--format", fmt, "--output", str(exports[type_name]))
    other = make_desk(tmp_path / "other")
    base = int(git(other, "rev-list", "--count", "HEAD"))
    monkeypatch.setenv("ITSM_NOW", "2026-04-01T00:00:00Z")
    for type_name, path in exports.items():
        ok("import", fmt, str(path), "--type", type_name, cwd=other)
    if fmt == "json":
        assert files(other) == files(desk)  # byte for byte
    else:  # CSV has one column order for all records: the same records, keys perhaps in another order
        assert {k: parsed(v) for k, v in files(other).items()} == {k: parsed(v) for k, v in files(desk).items()}
    assert int(git(other, "rev-list", "--count", "HEAD")) == base + 4
    assert ok("validate", cwd=other) == ""
    message = git(other, "log", "-1", "--format=%ae%n%B", "--skip=2")
    assert message.startswith(f"{ANN}\nINC-0001: import 2 incident records from incident.{fmt}")
    assert "Itsm-Id: INC-0001\nItsm-Id: INC-0002\nItsm-Action: import" in message


def test_export_filters_like_list_and_csv_flattens_with_json(desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_desk(monkeypatch)
    assert [r["id"] for r in json.loads(ok("export", "--open"))] == ["INC-0001", "PRB-0001", "REQ-0001"]
    assert [r["id"] for r in json.loads(ok("export", "incident", "--status", "resolved"))] == ["INC-0002"]
    rows = list(csv.DictReader(io.StringIO(ok("export", "incident", "--format", "csv"))))
    assert list(rows[0])[:4] == ["id", "type", "title", "status"] and list(rows[0])[-1] == "history"
    first = rows[0]
    assert json.loads(first["links"]) == [{"kind": "caused-by", "id": "PRB-0001"}]
    assert json.loads(first["history"])[-1]["action"] == "link"
    assert rows[1]["major"] == "true" and rows[0]["description"] == "Since 9am.\nAll users."
    kb = json.loads(ok("export", "article"))
    assert kb[0]["body"] == "# Reset your password\n\nGo to **the portal**.\n"


FROM_OTHER_TOOL = """Ticket#,Summary,Reporter,Opened,State,Details,Owner,Severity,Colour
1001,VPN drops,eve@example.com,2026-01-05 08:00,new,Drops every hour,,high,red
1002,,eve@example.com,2026-01-05,new,no title,,low,red
1003,Wi-Fi slow,eve@example.com,2026-01-06T10:00:00+01:00,in_progress,Floor 2,bob@example.com,medium,blue
1004,Printer,eve@example.com,2026-01-07,resolved,Jams,bob@example.com,low,blue
1005,Scanner,eve@example.com,yesterday,new,x,,low,blue
1006,Phone,eve@example.com,2026-01-08,limbo,x,,low,blue
1007,Laptop,eve@example.com,2026-01-08,in_progress,x,zed@example.com,low,blue
"""
MAP = ("--map", "Ticket#=-", "--map", "Summary=title", "--map", "Reporter=requester", "--map", "Opened=created",
       "--map", "State=status", "--map", "Details=description", "--map", "Owner=assignee", "--map", "Severity=urgency")


def test_a_dry_run_shows_what_would_be_created_and_every_rejected_row(desk: Path, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text(FROM_OTHER_TOOL)
    before = head(desk)
    r = run("import", "csv", str(path), "--type", "incident", *MAP, "--dry-run")
    assert r.exit_code == 1
    assert r.stdout == "would create INC-0001: VPN drops\nwould create INC-0002: Wi-Fi slow\n"
    lines = r.stderr.splitlines()
    assert lines[0] == "row 2: rejected: no title (map a column to it with --map COLUMN=title)"
    assert lines[1] == "row 4: rejected: 'resolved' requires resolution; add --set resolution=..."
    assert lines[2].startswith("row 5: rejected: created: 'yesterday' is not an ISO 8601 time")
    assert lines[3] == "row 6: rejected: 'limbo' is not a state of incident" or "limbo" in lines[3]
    assert lines[4] == "row 7: rejected: assignee zed@example.com is not a listed agent"
    assert lines[5] == ("itsm: warning: columns ignored (not fields of incident): Colour; "
                        "map them with --map COLUMN=FIELD")
    assert head(desk) == before and status(desk) == ""


def test_a_real_import_is_all_or_nothing_unless_told_otherwise(desk: Path, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text(FROM_OTHER_TOOL)
    before = head(desk)
    r = run("import", "csv", str(path), "--type", "incident", *MAP)
    assert r.exit_code == 1
    assert "5 of 7 rows would be rejected (row 2:" in r.stderr and "--dry-run" in r.stderr
    assert head(desk) == before and status(desk) == ""
    r = run("import", "csv", str(path), "--type", "incident", *MAP, "--skip-rejected")
    assert r.exit_code == 0 and r.stdout == "INC-0001\nINC-0002\n"
    wifi = yaml.safe_load((desk / "tickets/INC/000/INC-0002.yaml").read_text())
    assert wifi["created"] == "2026-01-06T09:00:00Z" and wifi["status"] == "in_progress"
    assert wifi["requester"] == EVE and wifi["assignee"] == BOB and wifi["priority"] == "P3"
    assert [(e["action"], e.get("to"), e["by"]) for e in wifi["history"]] == [
        ("create", "new", ANN), ("transition", "in_progress", ANN),
    ]
    assert wifi["history"][0]["note"] == "Imported from other.csv, row 3."
    assert git(desk, "show", "--name-only", "--format=", "HEAD").split() == ["tickets/INC/000/INC-0001.yaml", "tickets/INC/000/INC-0002.yaml"]
    assert ok("validate") == ""


def test_json_rows_and_id_collisions(desk: Path, tmp_path: Path) -> None:
    ok("new", "incident", "--title", "already here")
    rows = [
        {"title": "from json", "impact": "low", "urgency": "low", "tags": ["imported"], "extra": 1},
        {"id": "INC-0001", "title": "collides"},
        {"id": "REQ-0005", "title": "wrong prefix"},
        {"title": "bad priority", "impact": "low", "urgency": "low", "priority": "P1"},
        {"title": "links need history", "links": [{"kind": "relates", "id": "INC-0001"}]},
        {"title": "other type", "type": "problem"},
        "not an object",
    ]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    r = run("import", "json", str(path), "--type", "incident", "--dry-run", "--format", "json")
    out = json.loads(r.stdout)
    assert out["created"] == ["INC-0002"] and out["ignored_columns"] == ["extra"]
    assert out["rejected"] == [
        {"row": 2, "reason": "INC-0001 already exists"},
        {"row": 3, "reason": "id 'REQ-0005' is not a incident ID (INC-0001); map the column elsewhere or drop it "
                             "with --map COLUMN=-"},
        {"row": 4, "reason": "priority P1 does not follow from impact low and urgency low; import impact and urgency "
                             "instead"},
        {"row": 5, "reason": "links can only be imported with a history; add them afterwards with 'itsm link'"},
        {"row": 6, "reason": "type is 'problem', not incident"},
        {"row": 7, "reason": "not an object"},
    ]


@pytest.mark.parametrize(
    ("kind", "content", "args", "code", "message"),
    [
        ("json", "{not json", (), 1, "not valid JSON"),
        ("json", '{"a": 1}', (), 1, "expected a JSON list of records"),
        ("csv", 'title\n"unterminated\n', (), 1, "not valid CSV"),
        ("csv", "title\nx,y\n", (), 1, "more cells than columns"),
        ("csv", "title\nx\n", ("--map", "title=nonsense"), 2, "'nonsense' is not a field of incident"),
        ("csv", "title\nx\n", ("--map", "title"), 2, "--map expects COLUMN=FIELD"),
        ("csv", "title\nx\n", ("--type", "service"), 2, "services are catalog entries"),
    ],
)
def test_bad_input_files(desk: Path, tmp_path: Path, kind: str, content: str, args: tuple[str, ...], code: int,
                         message: str) -> None:
    path = tmp_path / f"in.{kind}"
    path.write_text(content)
    type_args = () if "--type" in args else ("--type", "incident")
    r = run("import", kind, str(path), *type_args, *args)
    assert r.exit_code == code and message in r.stderr, r.stderr
    assert status(desk) == ""
