"""Pure rules for merged histories: what ``validate --base`` calls a rewrite, and how the replay walks a settled fork."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

import itsm_cli
from itsm_cli.core.config import Config
from itsm_cli.core.diffrules import history_problems
from itsm_cli.core.merge import fork_states, merge_records, settle_fork
from itsm_cli.core.workflow import replay

AGENT = "ann@example.com"
OTHER = "bob@example.com"


def _e(at: str, note: str, by: str = AGENT) -> dict:
    return {"at": f"2026-03-02T{at}:00Z", "by": by, "action": "comment", "note": note}


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


# --- a settled workflow fork -------------------------------------------------------

CONFIG = Config(yaml.safe_load((Path(itsm_cli.__file__).parent / "data" / "itsm.yaml").read_text()))
CONFIG.data["people"] = [{"email": AGENT, "name": "Ann", "roles": ["agent"], "groups": ["service-desk"]},
                         {"email": OTHER, "name": "Bob", "roles": ["agent"], "groups": ["service-desk"]}]


def _incident() -> dict:
    return {
        "id": "INC-0001", "type": "incident", "title": "t", "status": "in_progress", "assignee": OTHER,
        "created": "2026-03-02T09:00:00Z", "updated": "2026-03-02T09:10:00Z", "requester": "eve@example.com",
        "history": [
            {"at": "2026-03-02T09:00:00Z", "by": "eve@example.com", "action": "create", "to": "new"},
            {"at": "2026-03-02T09:05:00Z", "by": AGENT, "action": "assign", "fields": {"assignee": OTHER}},
            {"at": "2026-03-02T09:10:00Z", "by": OTHER, "action": "transition", "from": "new", "to": "in_progress"},
        ],
    }


def _moved(record: dict, at: str, by: str, to: str, **fields: str) -> dict:
    new = copy.deepcopy(record)
    new["history"].append({"at": f"2026-03-02T{at}:00Z", "by": by, "action": "transition", "from": record["status"], "to": to})
    new.update(status=to, updated=f"2026-03-02T{at}:00Z", **fields)
    return new


def _fork() -> tuple[dict, object]:
    base = _incident()
    ours = _moved(base, "10:00", OTHER, "resolved", resolution="disk swapped")
    theirs = _moved(base, "10:30", AGENT, "on_hold")
    return base, merge_records(base, ours, theirs)


def test_a_fork_is_settled_to_a_state_one_side_reached() -> None:
    _, result = _fork()
    assert fork_states(result) == ["resolved", "on_hold"]
    settled = settle_fork(result, "resolved", AGENT, "2026-03-02T11:00:00Z", "vendor not needed")
    assert settled["status"] == "resolved" and settled["updated"] == "2026-03-02T11:00:00Z"
    last = settled["history"][-1]
    assert last == {"at": "2026-03-02T11:00:00Z", "by": AGENT, "action": "transition", "from": "on_hold",
                    "to": "resolved", "settles": True, "note": "vendor not needed"}
    position, problems = replay(CONFIG, settled, None)
    assert problems == [] and position.state == "resolved" and position.forks == []
    for state in ("closed", "new"):
        try:
            settle_fork(result, state, AGENT, "2026-03-02T11:00:00Z")
        except ValueError as e:
            assert "not a state either side reached" in str(e)
        else:
            raise AssertionError(state)


def test_the_replay_refuses_a_fork_nobody_settled_and_a_bad_settlement() -> None:
    _, result = _fork()
    unsettled = copy.deepcopy(result.merged)
    _, problems = replay(CONFIG, unsettled, None)
    assert problems == [(4, "entry says it moved from 'in_progress' but the record was 'resolved'")]
    settled = settle_fork(result, "on_hold", AGENT, "2026-03-02T11:00:00Z")
    by_requester = copy.deepcopy(settled)
    by_requester["history"][-1]["by"] = "eve@example.com"
    assert any("not a listed agent" in p for _, p in replay(CONFIG, by_requester, None)[1])
    elsewhere = copy.deepcopy(settled)
    elsewhere["history"][-1]["to"] = "closed"
    assert any("a state one side reached" in p for _, p in replay(CONFIG, elsewhere, None)[1])
    no_fork = _moved(_incident(), "10:00", OTHER, "on_hold")
    no_fork["history"].append({**settled["history"][-1], "from": "on_hold"})
    assert any("no workflow fork to settle" in p for _, p in replay(CONFIG, no_fork, None)[1])


def test_each_side_of_a_fork_is_checked_from_its_own_state() -> None:
    _, result = _fork()
    settled = settle_fork(result, "resolved", AGENT, "2026-03-02T11:00:00Z")
    # A move a side could not make from where it was is still refused inside the fork.
    bad = copy.deepcopy(settled)
    bad["history"][4]["to"] = "closed"  # in_progress -> closed is no transition
    bad["history"][-1]["from"] = "closed"
    _, problems = replay(CONFIG, bad, None)
    assert (4, "incident cannot move from 'in_progress' to 'closed'") in problems
