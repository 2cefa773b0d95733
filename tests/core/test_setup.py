"""Unit tests of core/setup.py: editing itsm.yaml's lists by text, keeping comments and style."""

from __future__ import annotations

import pytest
import yaml

from itsm_cli.core import setup
from itsm_cli.errors import Refused

CONFIG = """# the desk
desk: {name: Test}
# Listed people: agents work tickets.
people:
  - email: ann@example.com
    name: Ann
    roles: [agent]

  # a comment inside the list stays where it is
# Groups come next
groups:
  - {id: service-desk, name: Service Desk}
rules: []
"""


def test_an_item_is_inserted_after_the_last_one_in_the_list_style() -> None:
    person = {"email": "bo@example.com", "name": "Bo: nights", "roles": ["agent"]}
    text = setup.insert_list_item(CONFIG, "people", person)
    assert text.replace('  - email: bo@example.com\n    name: "Bo: nights"\n    roles: [agent]\n', "") == CONFIG
    assert setup.added_item(yaml.safe_load(CONFIG), yaml.safe_load(text), "people", person)
    group = {"id": "cab", "name": "Change board"}
    text = setup.insert_list_item(CONFIG, "groups", group)
    assert "  - {id: service-desk, name: Service Desk}\n  - {id: cab, name: Change board}\nrules: []\n" in text
    empty = setup.insert_list_item("people: [] # nobody yet\ngroups: []\n", "people", {"email": "a@b.c", "name": "A"})
    assert yaml.safe_load(empty)["people"] == [{"email": "a@b.c", "name": "A"}] and "# nobody yet" in empty


def test_shapes_that_cannot_be_edited_safely_are_refused() -> None:
    with pytest.raises(Refused, match="flow style"):
        setup.insert_list_item("people: [{email: a@b.c, name: A}]\n", "people", {"email": "x@y.z", "name": "X"})
    with pytest.raises(Refused, match="no top-level 'people:'"):
        setup.insert_list_item("desk: {}\n", "people", {"email": "x@y.z", "name": "X"})
    with pytest.raises(Refused, match="not in a shape"):
        setup.insert_list_item("people:\n  ann: {}\n", "people", {"email": "x@y.z", "name": "X"})
    assert not setup.added_item({"a": [1], "b": 2}, {"a": [1, {"x": 1}], "b": 3}, "a", {"x": 1})


def test_scalars_are_plain_only_when_they_cannot_be_misread() -> None:
    assert [setup._scalar(v) for v in ("Ann Agent", "yes", "a@b.example", "Ann: lead", "#1", "Inês")] == [
        "Ann Agent", '"yes"', "a@b.example", '"Ann: lead"', '"#1"', "Inês"]
