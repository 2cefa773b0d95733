"""Unit tests of store/skeleton.py: ``init_desk`` lays out a new desk and commits it (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_testing import ANN, git, status

from itsm_cli import __version__
from itsm_cli.errors import Refused
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk
from itsm_cli.store.skeleton import DATA, demo_source, init_desk
from itsm_cli.store.tool_pin import resolve_pin


@pytest.fixture()
def pin() -> object:
    # A pin written as given: no wheel is built, nothing is looked up.
    return resolve_pin(f"itsm=={__version__}")


def test_a_new_desk_is_one_commit_of_a_complete_skeleton(tmp_path: Path, pin: object) -> None:
    path = tmp_path / "helpdesk"
    result = init_desk(path, actor=ANN, name="Ops: Desk #1", pin=pin)
    assert git(path, "rev-parse", "HEAD").strip() == result.commit
    assert git(path, "rev-list", "--count", "HEAD").strip() == "1"
    assert git(path, "log", "-1", "--format=%an <%ae>%n%B").strip() == f"ann <{ANN}>\nitsm: initialise desk\n\nItsm-Action: init"
    assert git(path, "branch", "--show-current").strip() == "main"
    assert status(path) == ""
    for folder in ("tickets", "catalog", "kb"):
        assert (path / folder / ".gitkeep").is_file()
    for schema in (DATA / "schemas").glob("*.schema.json"):
        assert (path / "schemas" / schema.name).read_bytes() == schema.read_bytes()
    assert (path / ".github/ISSUE_TEMPLATE/request.yml").is_file()
    assert git(path, "config", "merge.itsm.driver").strip() == "itsm merge-driver %O %A %B %L %P"
    assert result.pin == pin


def test_the_config_names_the_desk_and_lists_whoever_made_it(tmp_path: Path, pin: object) -> None:
    path = tmp_path / "d"
    init_desk(path, actor=ANN, name="Ops: Desk #1", pin=pin)
    config = Desk(path).config
    assert config.desk["name"] == "Ops: Desk #1"  # a name YAML would misread is quoted
    ann = config.person(ANN)
    assert ann is not None and ann.roles == {"agent", "approver"} and ann.groups == {"service-desk", "cab"}
    # Everything else is the shipped default config, comments and all.
    text = (path / "itsm.yaml").read_text()
    shipped = (DATA / "itsm.yaml").read_text()
    assert text.count("\n#") == shipped.count("\n#")


def test_without_a_name_or_person_the_default_config_is_written_as_shipped(tmp_path: Path, pin: object,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITSM_USER", raising=False)
    path = tmp_path / "d"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "")
    init_desk(path, pin=pin)
    assert (path / "itsm.yaml").read_bytes() == (DATA / "itsm.yaml").read_bytes()
    assert git(path, "log", "-1", "--format=%ae").strip() == "itsm@localhost"


def test_a_desk_is_never_made_over_another(tmp_path: Path, pin: object) -> None:
    path = tmp_path / "d"
    init_desk(path, actor=ANN, pin=pin)
    with pytest.raises(Refused, match="already holds a desk"):
        init_desk(path, actor=ANN, pin=pin)
    assert git(path, "rev-list", "--count", "HEAD").strip() == "1"


def test_the_demo_desk_brings_its_records_and_its_own_request_form(tmp_path: Path, pin: object) -> None:
    path = tmp_path / "demo"
    init_desk(path, demo=True, actor=ANN, pin=pin)
    src = demo_source()
    assert (path / "itsm.yaml").read_bytes() == (src / "itsm.yaml").read_bytes()
    services = sorted(p.name for p in (src / "catalog").glob("*.yaml"))
    assert sorted(p.name for p in (path / "catalog").glob("*.yaml")) == services
    assert git(path, "log", "-1", "--format=%s").strip() == "itsm: initialise desk (demo)"
    form = yaml_io.loads((path / ".github/ISSUE_TEMPLATE/request.yml").read_text())
    options = {item.get("id"): item for item in form["body"]}["service"]["attributes"]["options"]
    assert options and set(options) <= {name.removesuffix(".yaml") for name in services}
