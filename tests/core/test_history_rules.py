"""Pure rules for merged histories: how the replay walks a settled fork (what ``validate --base`` calls a rewrite: test_diffrules.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

import itsm_cli
from itsm_cli.core.config import Config
from itsm_cli.core.merge import fork_states, merge_records, settle_fork
from itsm_cli.core.workflow import replay

AGENT = "ann@example.com"
OTHER = "bob@example.com"


def _e(at: str, note: str, by: str = AGENT) -> dict:
    return {"at": f"2026-03-02T{at}:00Z", "by": by, "action": "comment", "note": note}


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
