"""Unit tests of store/desk.py: finding a desk, IDs to paths, reading records, refusing what leads outside.

A desk here is a folder with the shipped itsm.yaml (no git needed), made by :func:`bare_desk`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from desk_testing import ticket_path

from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, Refused
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk, Record, kind_of_path, parse_record

DATA = Path(__file__).resolve().parents[2] / "itsm_cli/data"
TICKET = {"id": "INC-0042", "type": "incident", "title": "Printer", "status": "new"}


def bare_desk(root: Path) -> Desk:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "itsm.yaml", root / "itsm.yaml")
    return Desk(root.resolve())


def put(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture()
def d(tmp_path: Path) -> Desk:
    return bare_desk(tmp_path / "desk")


# --- which files are records ------------------------------------------------------------------


@pytest.mark.parametrize(("rel", "kind"), [
    ("tickets/INC/000/INC-0042.yaml", "ticket"),
    ("tickets/INC-0042.yaml", "ticket"),  # the earlier flat layout: still a ticket, reported as misplaced
    ("tickets/INC/INC-0042.yaml", "ticket"),
    ("tickets/a/b/c/INC-0042.yaml", None),  # deeper than any layout
    ("tickets/INC/000/INC-0042.yml", None),
    ("kb/KB-0001.md", "article"),
    ("kb/sub/KB-0001.md", None),
    ("kb/KB-0001.yaml", None),
    ("catalog/email.yaml", "service"),
    ("catalog/x/email.yaml", None),
    ("itsm.yaml", None),
    ("schemas/incident.schema.json", None),
])
def test_kind_of_path(rel: str, kind: str | None) -> None:
    assert kind_of_path(rel) == kind


# --- parsing one file ----------------------------------------------------------------------------


def test_parse_a_ticket_and_write_it_back() -> None:
    raw = yaml_io.dumps(TICKET).encode()
    record = parse_record(raw, "tickets/INC/000/INC-0042.yaml", "ticket")
    assert (record.id, record.type_name, record.kind, record.body) == ("INC-0042", "incident", "ticket", None)
    assert record.serialise().encode() == raw
    assert record.locate(("title",)) == (3, 1)
    assert record.locate(("title", "deeper", 0)) == (3, 1)  # the nearest place that exists
    assert record.locate(("nowhere",)) == (1, 1)


def test_parse_an_article_keeps_the_body_and_file_line_numbers() -> None:
    raw = b"---\nid: KB-0001\ntitle: VPN\n---\n# How to\n\nConnect.\n"
    record = parse_record(raw, "kb/KB-0001.md", "article")
    assert record.data == {"id": "KB-0001", "title": "VPN"}
    assert record.type_name == "article"
    assert (record.body, record.body_line) == ("# How to\n\nConnect.\n", 5)
    assert record.locate(("title",)) == (3, 1)
    assert record.serialise().encode() == raw


def test_front_matter_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(InvalidRecord, match="front matter must be a mapping") as info:
        parse_record(b"---\n- a\n---\nbody\n", "kb/KB-0001.md", "article")
    assert (info.value.line, info.value.col) == (2, 1)


@pytest.mark.parametrize("marker", [b"<<<<<<< ours", b">>>>>>> theirs", b"# itsm merge conflict: title"])
def test_an_unresolved_merge_conflict_is_refused_at_its_line(marker: bytes) -> None:
    raw = b"id: INC-0042\ntitle: a\n" + marker + b"\nstatus: new\n"
    with pytest.raises(InvalidRecord, match="unresolved merge conflict") as info:
        parse_record(raw, "t.yaml", "ticket")
    assert info.value.line == 3


def test_a_record_type_falls_back_to_its_kind() -> None:
    assert Record("catalog/email.yaml", {"id": "email"}, "service").type_name == "service"


# --- finding the desk ------------------------------------------------------------------------------


def test_find_walks_up_to_the_folder_with_itsm_yaml(d: Desk) -> None:
    sub = d.root / "tickets" / "INC"
    sub.mkdir(parents=True)
    assert Desk.find(sub).root == d.root
    with pytest.raises(EnvironmentProblem, match="not an itsm desk") as info:
        Desk.find(d.root.parent)
    assert info.value.exit_code == 3
    with pytest.raises(EnvironmentProblem, match="no such directory"):
        Desk.find(d.root / "missing")


def test_a_config_without_its_sections_is_refused(tmp_path: Path) -> None:
    put(tmp_path, "itsm.yaml", "types: {}\nworkflows: []\n")
    with pytest.raises(InvalidRecord, match="'workflows' is missing or not a mapping"):
        Desk(tmp_path).config  # noqa: B018


def test_schemas_are_read_and_bad_json_is_named(d: Desk) -> None:
    with pytest.raises(EnvironmentProblem, match="no schemas/ folder"):
        d.schemas()
    put(d.root, "schemas/a.schema.json", '{"type": "object"}')
    assert d.schemas() == {"a.schema.json": {"type": "object"}}
    put(d.root, "schemas/b.schema.json", "{oops")
    with pytest.raises(InvalidRecord, match="not valid JSON") as info:
        d.schemas()
    assert info.value.path == "schemas/b.schema.json"


# --- IDs to paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("record_id", "rel"), [
    ("INC-0042", "tickets/INC/000/INC-0042.yaml"),
    ("CHG-12345", "tickets/CHG/012/CHG-12345.yaml"),
    ("KB-0005", "kb/KB-0005.md"),
    ("email", "catalog/email.yaml"),
])
def test_path_for(d: Desk, record_id: str, rel: str) -> None:
    assert d.path_for(record_id) == d.root / rel
    assert d.rel(d.path_for(record_id)) == rel


def test_paths_for_a_ticket_include_its_flat_place(d: Desk) -> None:
    assert d.paths_for("INC-0042") == [d.root / ticket_path("INC-0042"), d.root / "tickets/INC-0042.yaml"]
    assert d.paths_for("email") == [d.root / "catalog/email.yaml"]


def test_ids_that_name_no_type_or_no_id_at_all(d: Desk) -> None:
    with pytest.raises(Refused, match=re.escape("no record type uses the prefix of 'ZZZ-0001' (prefixes: CHG, IMP, INC, KB")):
        d.path_for("ZZZ-0001")
    with pytest.raises(BadArgument):
        d.path_for("../itsm")
    with pytest.raises(BadArgument):
        d.path_for("INC-0042/../../x")


@pytest.mark.parametrize("rel", ["../outside.yaml", "/etc/passwd", "tickets/../../x", "catalog/..", ""])
def test_check_path_refuses_paths_that_climb_out(d: Desk, rel: str) -> None:
    with pytest.raises(InvalidRecord, match="the path leads outside the desk"):
        d.check_path(rel)


def test_check_path_refuses_a_linked_file_or_folder(d: Desk, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (d.root / "tickets").symlink_to(outside)
    with pytest.raises(InvalidRecord, match="tickets/ is a symbolic link"):
        d.check_path(ticket_path("INC-0042"))
    with pytest.raises(InvalidRecord, match="tickets/ is a symbolic link"):
        d.write_text(ticket_path("INC-0042"), "x")
    assert list(outside.iterdir()) == []
    (d.root / "kb").mkdir()
    (d.root / "kb/KB-0001.md").symlink_to(outside / "secret")
    with pytest.raises(InvalidRecord, match="symbolic links are not allowed in a desk") as info:
        d.check_path("kb/KB-0001.md")
    assert str(info.value) == "kb/KB-0001.md: symbolic links are not allowed in a desk"
    d.check_path("catalog/not-yet.yaml")  # a missing file is fine: it may be about to be made


# --- reading ---------------------------------------------------------------------------------------


def test_read_bytes_refuses_what_is_not_a_plain_small_file(d: Desk, tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="no such file"):
        d.read_bytes("catalog/none.yaml")
    put(d.root, "catalog/big.yaml", b"a: " + b"x" * yaml_io.MAX_BYTES)
    with pytest.raises(InvalidRecord, match="the limit is 1,000,000"):
        d.read_bytes("catalog/big.yaml")
    os.mkfifo(d.root / "catalog/fifo.yaml")
    with pytest.raises(InvalidRecord, match="not a regular file"):
        d.read_bytes("catalog/fifo.yaml")  # refused, never opened (it would block)
    put(tmp_path, "secret", "s")
    (d.root / "catalog/link.yaml").symlink_to(tmp_path / "secret")
    with pytest.raises(InvalidRecord, match="symbolic links are not allowed"):
        d.read_bytes("catalog/link.yaml")
    with pytest.raises(InvalidRecord, match="leads outside"):
        d.read_bytes("catalog/..")


def test_get_finds_a_ticket_in_its_bucket_or_its_flat_place(d: Desk) -> None:
    put(d.root, ticket_path("INC-0042"), yaml_io.dumps(TICKET))
    assert d.get("INC-0042").path == ticket_path("INC-0042")
    put(d.root, "tickets/INC-0007.yaml", yaml_io.dumps({**TICKET, "id": "INC-0007"}))
    assert d.get("INC-0007").path == "tickets/INC-0007.yaml"
    with pytest.raises(Refused, match=re.escape("no record INC-0001 (looked for tickets/INC/000/INC-0001.yaml)")):
        d.get("INC-0001")


def test_get_refuses_a_file_whose_id_disagrees_with_its_name(d: Desk) -> None:
    put(d.root, ticket_path("INC-0042"), yaml_io.dumps({**TICKET, "id": "INC-0041"}))
    with pytest.raises(InvalidRecord, match="file name says INC-0042 but its id is 'INC-0041'") as info:
        d.get("INC-0042")
    assert (info.value.line, info.value.col) == (1, 1)


def test_load_refuses_a_file_that_is_no_record(d: Desk) -> None:
    with pytest.raises(InvalidRecord, match="not a record file"):
        d.load("itsm.yaml")


def test_record_paths_are_sorted_and_skip_hidden_temp_and_foreign_files(d: Desk) -> None:
    for rel in (ticket_path("INC-1000"), ticket_path("INC-0002"), "tickets/INC-0001.yaml", "kb/KB-0001.md",
                "catalog/email.yaml", "catalog/.email.yaml.0a1b2c3d.tmp", "kb/notes.txt", "tickets/INC/000/.hidden.yaml",
                "catalog/README.md"):
        put(d.root, rel, "id: x\n")
    assert d.record_paths() == ["catalog/email.yaml", "kb/KB-0001.md", "tickets/INC-0001.yaml",
                                ticket_path("INC-0002"), ticket_path("INC-1000")]
    assert d.record_paths(("kb",)) == ["kb/KB-0001.md"]


def test_iter_records_yields_the_error_of_a_broken_file_in_its_place(d: Desk) -> None:
    put(d.root, "catalog/a.yaml", "id: a\n")
    put(d.root, "catalog/b.yaml", "id: b\nid: again\n")
    put(d.root, "catalog/c.yaml", "id: c\n")
    got = list(d.iter_records(("catalog",)))
    assert [type(x).__name__ for x in got] == ["Record", "InvalidRecord", "Record"]
    assert str(got[1]) == "catalog/b.yaml:2:1: duplicate key 'id'"
    assert [r.id for r in d.records(("catalog",))] == ["a", "c"]
    assert set(d.services()) == {"a", "c"}
    assert d.service("a") == {"id": "a"}
    assert d.service("zz") is None and d.service("../a") is None and d.service(None) is None


def test_taken_ids_answers_membership_without_listing_and_views_add_and_remove(d: Desk) -> None:
    put(d.root, ticket_path("INC-0042"), "id: INC-0042\n")
    put(d.root, "tickets/INC-0007.yaml", "id: INC-0007\n")
    taken = d.taken_ids()
    assert "INC-0042" in taken and "INC-0007" in taken
    assert "INC-0001" not in taken and "not an id!" not in taken and 42 not in taken
    assert set(taken) == {"INC-0042", "INC-0007"} and len(taken) == 2
    view = (taken | {"INC-0050"}) - {"INC-0042"}
    assert "INC-0050" in view and "INC-0042" not in view
    assert set(view) == {"INC-0007", "INC-0050"}


# --- writing ---------------------------------------------------------------------------------------


def test_a_flat_desk_is_refused_the_lock_unless_upgrading(d: Desk) -> None:
    with d.lock():
        pass
    put(d.root, "tickets/INC-0007.yaml", "id: INC-0007\n")
    assert d.flat_tickets() == ["tickets/INC-0007.yaml"]
    with pytest.raises(Refused, match=re.escape("earlier flat layout (tickets/INC-0007.yaml); run 'itsm upgrade'")), d.lock():
        pass
    with d.lock(upgrading=True):
        pass


def test_the_next_lock_holder_removes_temp_files_a_killed_writer_left(d: Desk) -> None:
    # The lock file lives beside the desk's files when there is no .git folder.
    left = put(d.root, "catalog/.email.yaml.0a1b2c3d.tmp", "half")
    not_ours = put(d.root, "catalog/keep.yaml", "x")
    (d.root / "itsm.lock").write_text(f"{left}\n{not_ours}\n/etc/passwd\n")
    with d.lock():
        assert not left.exists()
        assert not_ours.exists()
        d.write_text("catalog/email.yaml", "id: email\n")
    assert (d.root / "itsm.lock").read_bytes() == b""
    assert d.service("email") == {"id": "email"}


def test_write_bytes_writes_exactly(d: Desk) -> None:
    d.write_bytes("attachments/INC-0042/x.bin", b"\x00\x01")
    assert (d.root / "attachments/INC-0042/x.bin").read_bytes() == b"\x00\x01"
    with pytest.raises(InvalidRecord, match="leads outside"):
        d.write_bytes("../x.bin", b"")


# --- the catalog, a file at a time ----------------------------------------------------------------


def _catalog(root: Path) -> Desk:
    desk = bare_desk(root)
    for sid in ("email", "vpn", "wifi"):
        put(root, f"catalog/{sid}.yaml", yaml_io.dumps({"id": sid, "name": sid.upper()}))
    put(root, "catalog/old-name.yaml", yaml_io.dumps({"id": "printing", "name": "Printing"}))  # says another ID
    put(root, "catalog/broken.yaml", "id: broken\nname: [unclosed\n")
    return desk


def _as_a_dict(desk: Desk) -> dict[str, dict]:
    return {r.id: r.data for r in desk.records(("catalog",))}


def test_a_service_asked_for_reads_its_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from desk_testing import record_calls

    desk = _catalog(tmp_path / "d")
    loaded = record_calls(monkeypatch, Desk, "load")
    services = desk.services()
    assert "vpn" in services and services["vpn"]["name"] == "VPN" and services.get("email")["name"] == "EMAIL"
    assert services.get(None) is None and services.get("") is None
    assert loaded == ["catalog/vpn.yaml", "catalog/email.yaml"]


@pytest.mark.parametrize("asked", ["printing", "old-name", "broken", "nothing", "Not A Slug", 7])
def test_the_lazy_catalog_answers_as_the_whole_one_would(tmp_path: Path, asked: object) -> None:
    desk = _catalog(tmp_path / "d")
    whole = _as_a_dict(desk)
    services = desk.services()
    assert (asked in services) == (asked in whole)
    assert services.get(asked) == whole.get(asked)  # type: ignore[call-overload]
    assert dict(services) == whole and sorted(services) == sorted(whole) and len(services) == len(whole)


def test_a_catalog_written_by_itsm_is_read_again(tmp_path: Path) -> None:
    desk = _catalog(tmp_path / "d")
    assert desk.services()["vpn"]["name"] == "VPN"
    desk.write_text("catalog/vpn.yaml", yaml_io.dumps({"id": "vpn", "name": "Remote access"}))
    assert desk.services()["vpn"]["name"] == "Remote access"
