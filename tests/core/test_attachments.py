"""Unit tests of core/attachments.py: safe names, the size limit and the attach entries."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from itsm_cli.core import attachments, records
from itsm_cli.core.config import Config
from itsm_cli.errors import Refused

ANN, EVE = "ann@example.com", "eve@example.com"
T0, T1 = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"


def config_with(**extra: object) -> Config:
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text())
    data["people"] = [{"email": ANN, "name": "Ann", "roles": ["agent"], "groups": ["service-desk"]}]
    data.update(extra)
    return Config(data)


@pytest.mark.parametrize(("name", "safe"), [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\eve\\report.pdf", "report.pdf"), (".bashrc", "bashrc"),
    ("..", "attachment-1"), ("scan 1.png", "scan_1.png"), ("Café menu.pdf", "Cafe_menu.pdf"),
    ("evil\x1b[31m.txt", "evil_31m.txt"), ("con.txt", "_con.txt"), ("a" * 300 + ".pdf", "a" * 96 + ".pdf"),
    (None, "attachment-1"), ("x..pdf", "x.pdf"),
])
def test_attachment_names_are_plain_visible_and_stay_in_their_folder(name: str | None, safe: str) -> None:
    assert attachments.safe_name(name) == safe


def test_a_name_clash_gets_a_suffix_before_the_extension() -> None:
    assert attachments.unique_name("report.pdf", {"REPORT.pdf", "report-2.pdf"}) == "report-3.pdf"
    assert attachments.unique_name("README", {"README"}) == "README-2"
    assert attachments.unique_name("new.txt", {"old.txt"}) == "new.txt"


def test_content_types_by_extension_then_as_declared() -> None:
    assert attachments.content_type("a.png") == "image/png"
    assert attachments.content_type("noext", "application/pdf") == "application/pdf"
    assert attachments.content_type("noext") == "application/octet-stream"


def test_the_size_limit_comes_from_itsm_yaml() -> None:
    assert attachments.max_bytes(config_with()) == attachments.DEFAULT_MAX_BYTES == 10_000_000
    small = config_with(attachments={"max_bytes": 100})
    assert attachments.max_bytes(small) == 100
    attachments.check_size(small, "a.txt", 100)  # the limit itself is allowed
    with pytest.raises(Refused, match=re.escape("a.txt is 101 bytes; this desk takes attachments up to 100 bytes")):
        attachments.check_size(small, "a.txt", 101)


def test_attach_adds_one_entry_per_file_with_its_hash_and_lists_them() -> None:
    config = config_with()
    rec = records.new_record(config, "incident", "INC-0001", {"title": "t"}, EVE, T0)
    files = [("log.txt", b"hello", "text/plain"), ("shot.png", b"\x89PNG", "image/png")]
    new = attachments.attach(config, rec, files, ANN, T1, None, note="from the user")
    entries = new["history"][1:]
    assert [e["action"] for e in entries] == ["attach", "attach"]
    assert entries[0] == {"at": T1, "by": ANN, "action": "attach", "note": "from the user", "attachment": {
        "name": "log.txt", "content_type": "text/plain", "bytes": 5, "sha256": hashlib.sha256(b"hello").hexdigest()}}
    listed = attachments.listed(new)
    assert [(a["name"], a["bytes"], a["by"], a["at"]) for a in listed] == [("log.txt", 5, ANN, T1), ("shot.png", 4, ANN, T1)]
    assert attachments.listed(rec) == []
    assert len(rec["history"]) == 1  # the original is untouched


def test_attach_refuses_an_oversize_file_and_adds_nothing() -> None:
    config = config_with(attachments={"max_bytes": 3})
    rec = records.new_record(config, "incident", "INC-0001", {"title": "t"}, EVE, T0)
    with pytest.raises(Refused, match=re.escape("big.bin is 4 bytes")):
        attachments.attach(config, rec, [("ok.txt", b"ok", "text/plain"), ("big.bin", b"1234", "x/y")], ANN, T1, None)
    assert len(rec["history"]) == 1


def test_listed_ignores_entries_that_are_not_attachments() -> None:
    record = {"history": [{"action": "attach", "attachment": "junk"}, "junk", {"action": "comment"},
                          {"action": "attach", "attachment": {"name": "a"}, "at": T0, "by": ANN}]}
    assert attachments.listed(record) == [{"name": "a", "at": T0, "by": ANN}]
