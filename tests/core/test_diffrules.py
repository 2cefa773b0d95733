"""Unit tests of core/diffrules.py: what a pull request may do to a record that already existed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from itsm_cli.core.config import Config
from itsm_cli.core.diffrules import IMMUTABLE_FIELDS, compare_with_base, history_problems

AGENT = "ann@example.com"
CONFIG = Config(yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text()))


def _e(at: str, note: str, by: str = AGENT) -> dict:
    return {"at": f"2026-03-02T{at}:00Z", "by": by, "action": "comment", "note": note}


# --- history is append-only ------------------------------------------------------------------

BASE = [_e("09:00", "a"), _e("10:30", "main's"), _e("11:00", "main's later")]


def test_a_prefix_is_append_only() -> None:
    assert history_problems(BASE, [*BASE, _e("12:00", "new")]) == []


def test_the_drivers_interleaving_is_not_a_rewrite() -> None:
    merged = [BASE[0], _e("10:00", "branch"), BASE[1], _e("10:45", "branch 2"), BASE[2], _e("12:00", "after")]
    assert history_problems(BASE, merged) == []


def test_a_changed_removed_or_reordered_base_entry_is_a_rewrite() -> None:
    changed = copy.deepcopy(BASE)
    changed[1]["note"] = "edited"
    assert history_problems(BASE, changed) == [(("history", 1), "history[1] was rewritten; history is append-only")]
    assert history_problems(BASE, BASE[:2])[0][1].startswith("history entries were removed")
    assert history_problems(BASE, [BASE[0], BASE[2], BASE[1]])[0][0] == ("history", 1)
    assert history_problems(BASE, [BASE[0], BASE[2], _e("12:00", "x")])[0][0] == ("history", 1)  # one lost, one added


def test_an_entry_slipped_in_out_of_time_order_is_a_rewrite() -> None:
    backdated = [BASE[0], _e("08:00", "backdated"), BASE[1], BASE[2]]
    (path, message), = history_problems(BASE, backdated)
    assert path == ("history", 1) and "inserted among the base's entries out of time order" in message
    too_late = [BASE[0], _e("10:45", "late"), BASE[1], BASE[2]]  # after 10:30, yet placed before it
    assert history_problems(BASE, too_late)[0][0] == ("history", 1)
    assert history_problems(BASE, [BASE[0], {"note": "no time"}, BASE[1], BASE[2]])[0][0] == ("history", 1)


def test_a_type_change_of_a_value_is_a_rewrite() -> None:
    base = [{"at": "2026-03-02T09:00:00Z", "by": AGENT, "action": "comment", "note": "1", "internal": True}]
    assert history_problems(base, [{**base[0], "internal": 1}]) != []



def test_an_empty_base_history_allows_anything_appended() -> None:
    assert history_problems([], [_e("09:00", "a")]) == []
    assert history_problems([], []) == []


# --- compare_with_base ---------------------------------------------------------------------------


def _ticket(**changes: object) -> dict:
    record = {"id": "INC-0001", "type": "incident", "title": "t", "status": "new", "created": "2026-03-02T09:00:00Z",
              "requester": "eve@example.com", "history": [_e("09:00", "a")]}
    record.update(changes)
    return record


def test_ordinary_edits_and_appended_history_are_fine() -> None:
    base = _ticket()
    new = _ticket(title="better", status="in_progress", history=[*base["history"], _e("10:00", "b")])
    assert compare_with_base(CONFIG, base, new) == []


def test_change_class_and_model_are_fixed_at_creation() -> None:
    assert {"id", "type", "created", "requester", "change_class", "standard_model"} <= set(IMMUTABLE_FIELDS)


@pytest.mark.parametrize(("field", "value"), [("id", "INC-0002"), ("type", "request"), ("created", "2026-01-01T00:00:00Z"),
                                              ("requester", "mallory@example.com")])
def test_identity_fields_may_never_change(field: str, value: str) -> None:
    base = _ticket()
    [(path, message)] = compare_with_base(CONFIG, base, _ticket(**{field: value}))
    assert path == (field,)
    assert message == f"'{field}' may never change (was {base[field]!r}, now {value!r})"


def test_removing_an_identity_field_is_a_change_but_adding_one_the_base_lacked_is_not() -> None:
    base = _ticket()
    without = copy.deepcopy(base)
    del without["requester"]
    assert compare_with_base(CONFIG, base, without)[0][0] == ("requester",)
    assert compare_with_base(CONFIG, _ticket(), _ticket(change_class="standard")) == []


def test_a_record_closed_at_the_base_is_frozen() -> None:
    base = _ticket(status="closed")
    assert compare_with_base(CONFIG, base, copy.deepcopy(base)) == []
    [(path, message)] = compare_with_base(CONFIG, base, _ticket(status="closed", title="reopened quietly"))
    assert path == ()
    assert message == "the record was 'closed' (a closed state) at the base and may not change"


def test_an_unknown_type_or_state_at_the_base_is_not_called_closed() -> None:
    assert compare_with_base(CONFIG, _ticket(type="bug", status="closed"), _ticket(type="bug", status="x")) == []
    assert compare_with_base(CONFIG, _ticket(status=None), _ticket(title="x", status=None)) == []


def test_a_rewritten_history_is_reported_through_compare() -> None:
    base = _ticket()
    new = _ticket(history=[_e("09:00", "edited")])
    assert compare_with_base(CONFIG, base, new) == [(("history", 0), "history[0] was rewritten; history is append-only")]
    assert compare_with_base(CONFIG, base, _ticket(history="not a list")) == []  # the schema reports that one
