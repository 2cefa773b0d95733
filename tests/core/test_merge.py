"""Tests for the three-way record merge behind ``itsm merge-driver``."""

from __future__ import annotations

import copy

from hypothesis import example, given, settings
from hypothesis import strategies as st

from itsm_cli.core.merge import ABSENT, Conflict, conflict_summary, merge_records

ALICE = "alice@example.com"
BOB = "bob@example.com"


def ticket(**overrides: object) -> dict:
    """An incident in progress, as the loader would hand it over."""
    record = {
        "id": "INC-0042",
        "type": "incident",
        "title": "VPN drops every 10 minutes",
        "status": "in_progress",
        "created": "2026-03-01T08:00:00Z",
        "updated": "2026-03-01T09:00:00Z",
        "requester": "carol@example.com",
        "service": "vpn",
        "impact": "medium",
        "urgency": "high",
        "priority": "P2",
        "assignee": ALICE,
        "group": "network",
        "tags": ["vpn", "remote"],
        "links": [{"kind": "relates", "id": "INC-0040"}],
        "description": "Since Monday the VPN client disconnects.",
        "history": [
            {"at": "2026-03-01T08:00:00Z", "by": "carol@example.com", "action": "create", "to": "new"},
            {"at": "2026-03-01T08:30:00Z", "by": ALICE, "action": "transition", "from": "new", "to": "assigned"},
            {
                "at": "2026-03-01T09:00:00Z",
                "by": ALICE,
                "action": "transition",
                "from": "assigned",
                "to": "in_progress",
            },
        ],
    }
    record.update(overrides)
    return record


def comment(at: str, by: str, note: str) -> dict:
    return {"at": at, "by": by, "action": "comment", "note": note}


def transition(at: str, by: str, frm: str, to: str) -> dict:
    return {"at": at, "by": by, "action": "transition", "from": frm, "to": to}


def with_entries(record: dict, *entries: dict, **fields: object) -> dict:
    """A copy of ``record`` with history entries appended and fields set."""
    new = copy.deepcopy(record)
    new["history"] = [*new["history"], *entries]
    if entries:
        new["updated"] = max(e["at"] for e in entries)
    new.update(fields)
    return new


# --- scenarios ------------------------------------------------------------------


def test_two_comments_merge_cleanly_in_time_order() -> None:
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:00:00Z", ALICE, "Asked for logs"))
    theirs = with_entries(base, comment("2026-03-02T09:15:00Z", BOB, "Same on my laptop"))
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.clean
    new = result.merged["history"][3:]
    assert [e["note"] for e in new] == ["Same on my laptop", "Asked for logs"]
    assert result.merged["updated"] == "2026-03-02T10:00:00Z"
    assert result.merged["history"][:3] == base["history"]


def test_inputs_are_not_modified() -> None:
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:00:00Z", ALICE, "a"))
    theirs = with_entries(base, comment("2026-03-02T09:00:00Z", BOB, "b"), tags=["vpn"])
    snapshot = copy.deepcopy((base, ours, theirs))
    result = merge_records(base, ours, theirs)
    assert (base, ours, theirs) == snapshot
    result.merged["history"][0]["by"] = "x@example.com"
    assert base["history"][0]["by"] == "carol@example.com"


def test_same_time_entries_keep_ours_first() -> None:
    base = ticket()
    at = "2026-03-02T10:00:00Z"
    ours = with_entries(base, comment(at, ALICE, "ours"))
    theirs = with_entries(base, comment(at, BOB, "theirs"))
    notes = [e["note"] for e in merge_records(base, ours, theirs).merged["history"][3:]]
    assert notes == ["ours", "theirs"]
    notes = [e["note"] for e in merge_records(base, theirs, ours).merged["history"][3:]]
    assert notes == ["theirs", "ours"]


def test_assign_on_one_side_comment_on_the_other() -> None:
    base = ticket()
    ours = with_entries(
        base,
        {"at": "2026-03-02T11:00:00Z", "by": ALICE, "action": "assign", "to": BOB, "group": "network"},
        assignee=BOB,
    )
    theirs = with_entries(base, comment("2026-03-02T10:00:00Z", "carol@example.com", "Still broken"))
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["assignee"] == BOB
    assert result.merged["status"] == "in_progress"
    assert [e["action"] for e in result.merged["history"][3:]] == ["comment", "assign"]


def test_different_transitions_conflict_on_status() -> None:
    base = ticket()
    ours = with_entries(base, transition("2026-03-02T10:00:00Z", ALICE, "in_progress", "resolved"), status="resolved")
    theirs = with_entries(base, transition("2026-03-02T09:00:00Z", BOB, "in_progress", "on_hold"), status="on_hold")
    result = merge_records(base, ours, theirs)
    assert [c.field for c in result.conflicts] == ["status"]
    conflict = result.conflicts[0]
    assert (conflict.base, conflict.ours, conflict.theirs) == ("in_progress", "resolved", "on_hold")
    assert result.merged["status"] == "resolved"  # ours kept
    assert len(result.merged["history"]) == 5  # history itself merged cleanly
    summary = conflict_summary(result.conflicts)
    assert summary.startswith("status: ours 'resolved', theirs 'on_hold' (base 'in_progress')")
    assert "\n" not in summary


def test_same_transition_on_both_sides_is_clean() -> None:
    base = ticket()
    entry = transition("2026-03-02T10:00:00Z", ALICE, "in_progress", "resolved")
    ours = with_entries(base, entry, status="resolved")
    theirs = with_entries(base, dict(entry), status="resolved")
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["status"] == "resolved"
    assert len(result.merged["history"]) == 4  # identical entry once


def test_transition_on_one_side_round_trip_on_the_other_after_it_is_a_fork() -> None:
    # Ours resolved; theirs paused and resumed later, so the merged history
    # ends in in_progress while ours says resolved: humans must decide.
    base = ticket()
    ours = with_entries(base, transition("2026-03-02T10:00:00Z", ALICE, "in_progress", "resolved"), status="resolved")
    theirs = with_entries(
        base,
        transition("2026-03-02T10:30:00Z", BOB, "in_progress", "on_hold"),
        transition("2026-03-02T11:00:00Z", BOB, "on_hold", "in_progress"),
    )
    result = merge_records(base, ours, theirs)
    assert [c.field for c in result.conflicts] == ["status"]
    assert "workflow fork" in result.conflicts[0].reason
    assert result.merged["status"] == "resolved"


def test_transition_on_one_side_earlier_round_trip_on_the_other_is_clean() -> None:
    base = ticket()
    ours = with_entries(base, transition("2026-03-02T12:00:00Z", ALICE, "in_progress", "resolved"), status="resolved")
    theirs = with_entries(
        base,
        transition("2026-03-02T10:30:00Z", BOB, "in_progress", "on_hold"),
        transition("2026-03-02T11:00:00Z", BOB, "on_hold", "in_progress"),
    )
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["status"] == "resolved"


def test_status_follows_merged_history_when_one_side_moved() -> None:
    base = ticket()
    theirs = with_entries(base, transition("2026-03-02T10:00:00Z", BOB, "in_progress", "on_hold"), status="on_hold")
    ours = with_entries(base, comment("2026-03-02T09:00:00Z", ALICE, "looking"))
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["status"] == "on_hold"
    assert result.merged["history"][-1]["to"] == "on_hold"


def test_links_and_tags_added_on_both_sides() -> None:
    base = ticket()
    ours = with_entries(base, links=[*base["links"], {"kind": "caused-by", "id": "CHG-0011"}], tags=["vpn", "p2"])
    theirs = with_entries(
        base,
        links=[*base["links"], {"kind": "duplicate-of", "id": "INC-0041"}, {"kind": "caused-by", "id": "CHG-0011"}],
        tags=["vpn", "remote", "client"],
    )
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["links"] == [
        {"kind": "relates", "id": "INC-0040"},
        {"kind": "caused-by", "id": "CHG-0011"},
        {"kind": "duplicate-of", "id": "INC-0041"},
    ]
    # "remote" removed by ours, untouched by theirs: removed.
    assert result.merged["tags"] == ["vpn", "p2", "client"]


def test_link_removed_on_one_side_added_on_other() -> None:
    base = ticket()
    ours = with_entries(base, links=[])
    theirs = with_entries(base, links=[*base["links"], {"kind": "parent", "id": "PRB-0003"}])
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["links"] == [{"kind": "parent", "id": "PRB-0003"}]


def test_rewritten_base_history_conflicts() -> None:
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:00:00Z", ALICE, "fine"))
    theirs = with_entries(base, comment("2026-03-02T11:00:00Z", BOB, "also fine"))
    theirs["history"][1] = {**theirs["history"][1], "by": "mallory@example.com"}
    result = merge_records(base, ours, theirs)
    assert [c.field for c in result.conflicts] == ["history"]
    assert result.conflicts[0].reason == "history rewritten by theirs"
    assert result.merged["history"] == ours["history"]
    line = conflict_summary(result.conflicts)
    assert line == "history: ours 4 entries, theirs 4 entries (base 3 entries): history rewritten by theirs"


def test_truncated_history_is_a_rewrite() -> None:
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:00:00Z", ALICE, "x"))
    ours["history"] = ours["history"][1:]
    theirs = with_entries(base, assignee=BOB)
    result = merge_records(base, ours, theirs)
    assert [c.field for c in result.conflicts] == ["history"]
    assert "ours" in result.conflicts[0].reason


def test_identical_entries_added_on_both_sides_appear_once() -> None:
    base = ticket()
    shared = comment("2026-03-02T10:00:00Z", ALICE, "cherry-picked")
    ours = with_entries(base, shared, comment("2026-03-02T12:00:00Z", ALICE, "ours only"))
    theirs = with_entries(base, dict(shared), comment("2026-03-02T11:00:00Z", BOB, "theirs only"))
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert [e["note"] for e in result.merged["history"][3:]] == ["cherry-picked", "theirs only", "ours only"]


def test_a_side_out_of_time_order_keeps_its_order() -> None:
    # Sorting would reorder theirs' entries, which validate --base and audit verify report as a rewrite.
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:30:00Z", ALICE, "ours"))
    theirs = with_entries(base, comment("2026-03-02T11:00:00Z", BOB, "late"), comment("2026-03-02T10:00:00Z", BOB, "early"))
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert [e["note"] for e in result.merged["history"][3:]] == ["ours", "late", "early"]


def test_repeated_identical_entries_within_one_side_are_kept() -> None:
    base = ticket()
    same = comment("2026-03-02T10:00:00Z", ALICE, "+1")
    ours = with_entries(base, same, dict(same))
    theirs = with_entries(base, dict(same), comment("2026-03-02T11:00:00Z", BOB, "b"))
    notes = [e["note"] for e in merge_records(base, ours, theirs).merged["history"][3:]]
    assert notes == ["+1", "+1", "b"]


def test_key_order_is_ours_then_theirs_only_keys() -> None:
    base = ticket()
    ours = with_entries(base, comment("2026-03-02T10:00:00Z", ALICE, "x"))
    ours = {"workaround": "Use the web portal", **ours}
    theirs = with_entries(base, due="2026-03-09T17:00:00Z", major=True)
    theirs = {"resolution": "n/a", **theirs}
    del theirs["description"]
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    expected = ["workaround", *(k for k in base if k != "description"), "resolution", "due", "major"]
    assert list(result.merged) == expected


def test_field_changes_three_way() -> None:
    base = ticket()
    ours = with_entries(base, title="VPN drops", urgency="medium", priority="P3")
    theirs = with_entries(base, description="Since Monday, every 10 minutes.", urgency="medium", priority="P3")
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    merged = result.merged
    assert (merged["title"], merged["description"], merged["priority"]) == (
        "VPN drops",
        "Since Monday, every 10 minutes.",
        "P3",
    )


def test_both_change_field_differently_conflicts_and_keeps_ours() -> None:
    base = ticket()
    ours = with_entries(base, assignee=BOB)
    theirs = with_entries(base, assignee="dave@example.com")
    result = merge_records(base, ours, theirs)
    assert result.conflicts == [Conflict("assignee", ALICE, BOB, "dave@example.com")]
    assert result.merged["assignee"] == BOB
    assert conflict_summary(result.conflicts) == (
        "assignee: ours 'bob@example.com', theirs 'dave@example.com' (base 'alice@example.com')"
    )


def test_delete_versus_unchanged_deletes_and_delete_versus_change_conflicts() -> None:
    base = ticket()
    ours = with_entries(base)
    del ours["group"]
    del ours["description"]
    theirs = with_entries(base, description="changed")
    result = merge_records(base, ours, theirs)
    assert "group" not in result.merged
    assert [c.field for c in result.conflicts] == ["description"]
    assert result.conflicts[0].ours is ABSENT
    assert "description" not in result.merged
    assert conflict_summary(result.conflicts).startswith("description: ours absent, theirs 'changed'")


def test_type_strict_comparison() -> None:
    base = {"id": "X-1", "n": 1}
    result = merge_records(base, {"id": "X-1", "n": True}, {"id": "X-1", "n": 1.0})
    assert [c.field for c in result.conflicts] == ["n"]


def test_nested_mappings_merge_key_by_key() -> None:
    base = {"id": "vpn", "support_hours": {"tz": "UTC", "days": "mon-fri", "hours": "08-18"}}
    ours = {"id": "vpn", "support_hours": {"tz": "Europe/Berlin", "days": "mon-fri", "hours": "08-18"}}
    theirs = {"id": "vpn", "support_hours": {"tz": "UTC", "days": "mon-sat", "hours": "07-18"}}
    result = merge_records(base, ours, theirs)
    assert result.conflicts == []
    assert result.merged["support_hours"] == {"tz": "Europe/Berlin", "days": "mon-sat", "hours": "07-18"}
    theirs["support_hours"]["tz"] = "Asia/Tokyo"
    result = merge_records(base, ours, theirs)
    assert [c.field for c in result.conflicts] == ["support_hours.tz"]


def test_updated_takes_the_later_timestamp_never_conflicts() -> None:
    base = ticket()
    ours = with_entries(base, updated="2026-03-05T00:00:00Z", title="a")
    theirs = with_entries(base, updated="2026-03-04T00:00:00Z", service="email")
    for o, t in ((ours, theirs), (theirs, ours)):
        result = merge_records(base, o, t)
        assert result.conflicts == []
        assert result.merged["updated"] == "2026-03-05T00:00:00Z"


def test_no_base_identical_fields_merge_and_differing_conflict() -> None:
    ours = ticket()
    theirs = ticket(title="Another ticket with the same ID", created="2026-03-01T08:05:00Z")
    result = merge_records(None, ours, theirs)
    assert [c.field for c in result.conflicts] == ["title", "created"]
    assert result.conflicts[0].base is ABSENT
    assert "(base absent)" in conflict_summary(result.conflicts)
    assert merge_records(None, ours, copy.deepcopy(ours)) == merge_records(ours, ours, ours)


def test_no_base_both_added_same_record_with_extra_comment() -> None:
    ours = ticket()
    theirs = with_entries(ours, comment("2026-03-02T10:00:00Z", BOB, "hi"))
    result = merge_records(None, ours, theirs)
    assert result.conflicts == []
    assert result.merged == theirs


def test_conflict_summary_is_one_line_each_and_truncates() -> None:
    conflicts = [
        Conflict("description", "a", "line one\nline two", "x" * 500),
        Conflict("status", "in_progress", "resolved", "on_hold", "workflow fork"),
    ]
    lines = conflict_summary(conflicts).split("\n")
    assert len(lines) == 2
    assert lines[0].startswith("description: ours 'line one\\nline two', theirs 'xxx")
    assert "…" in lines[0] and len(lines[0]) < 200
    assert lines[1] == "status: ours 'resolved', theirs 'on_hold' (base 'in_progress'): workflow fork"
    assert conflict_summary([]) == ""


# --- properties -------------------------------------------------------------------

_timestamps = st.builds(
    "2026-03-{:02d}T{:02d}:{:02d}:00Z".format,
    st.integers(1, 28),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
)
_people = st.sampled_from([ALICE, BOB, "carol@example.com"])
_states = st.sampled_from(["new", "assigned", "in_progress", "on_hold", "resolved"])
_entries = st.one_of(
    st.builds(comment, _timestamps, _people, st.sampled_from(["a", "b", "c"])),
    st.builds(transition, _timestamps, _people, _states, _states),
    st.builds(lambda at, by, to: {"at": at, "by": by, "action": "assign", "to": to}, _timestamps, _people, _people),
)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y", "z", "1"]))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=6,
)
_links = st.builds(
    lambda k, i: {"kind": k, "id": f"INC-{i}"}, st.sampled_from(["relates", "parent"]), st.integers(1, 4)
)


@st.composite
def records(draw: st.DrawFn, base: dict | None = None) -> dict:
    """A record; given ``base``, a plausible edit of it (history only appended)."""
    if base is None:
        history = draw(st.lists(_entries, min_size=1, max_size=4))
        record: dict = {"id": "INC-0001", "status": draw(_states)}
    else:
        history = [*base["history"], *draw(st.lists(_entries, max_size=3))]
        record = {k: v for k, v in base.items() if draw(st.integers(0, 9)) > 0}
        if draw(st.booleans()):
            record["status"] = draw(_states)
    record["updated"] = draw(_timestamps)
    record["tags"] = draw(st.lists(st.sampled_from(["vpn", "mail", "p1", "hw"]), unique=True, max_size=4))
    record["links"] = draw(st.lists(_links, max_size=3))
    for name in draw(st.lists(st.sampled_from(["title", "assignee", "extra", "impact"]), max_size=3)):
        record[name] = draw(_values)
    record["history"] = history
    return record


@st.composite
def triples(draw: st.DrawFn) -> tuple[dict, dict, dict]:
    base = draw(records())
    return base, draw(records(base)), draw(records(base))


@settings(max_examples=200, deadline=None)
@given(records())
def test_property_merging_a_record_with_itself_is_itself(x: dict) -> None:
    result = merge_records(x, copy.deepcopy(x), copy.deepcopy(x))
    assert result.conflicts == []
    assert result.merged == x and list(result.merged) == list(x)
    assert merge_records(None, x, copy.deepcopy(x)).merged == x


@settings(max_examples=200, deadline=None)
@given(triples())
def test_property_one_sided_changes_are_taken_verbatim(t: tuple[dict, dict, dict]) -> None:
    base, ours, theirs = t
    result = merge_records(base, ours, copy.deepcopy(base))
    assert result.conflicts == [] and result.merged == ours and list(result.merged) == list(ours)
    result = merge_records(base, copy.deepcopy(base), theirs)
    assert result.conflicts == [] and result.merged == theirs and list(result.merged) == list(theirs)


@settings(max_examples=300, deadline=None)
@given(triples())
def test_property_merged_history_contains_every_entry_of_both_sides(t: tuple[dict, dict, dict]) -> None:
    base, ours, theirs = t
    result = merge_records(base, ours, theirs)
    history = result.merged["history"]
    assert history[: len(base["history"])] == base["history"]
    for side in (ours, theirs):
        for entry in side["history"]:
            assert entry in history
    assert len(history) <= len(ours["history"]) + len(theirs["history"]) - len(base["history"])
    for side in (ours, theirs):  # each side survives in its own order, as validate --base and verify expect
        rest = iter(history)
        assert all(any(entry == other for other in rest) for entry in side["history"])
    sides_sorted = all(
        [e["at"] for e in side["history"][len(base["history"]):]]
        == sorted(e["at"] for e in side["history"][len(base["history"]):])
        for side in (ours, theirs)
    )
    if sides_sorted and base["history"] != ours["history"] != theirs["history"] != base["history"]:
        new = history[len(base["history"]) :]
        assert [e["at"] for e in new] == sorted(e["at"] for e in new)


_T0 = "2026-03-01T00:00:00Z"
_SAID = comment(_T0, "alice@example.com", "a")


@settings(max_examples=300, deadline=None)
@given(triples())
@example((  # found by hypothesis: both sides' latest moves at the same instant, to different states
    {"id": "INC-0001", "status": "new", "updated": _T0, "tags": [], "links": [], "title": None, "history": [_SAID]},
    {"status": "assigned", "updated": _T0, "tags": [], "links": [],
     "history": [_SAID, transition(_T0, "alice@example.com", "new", "new")]},
    {"status": "new", "updated": _T0, "tags": [], "links": [],
     "history": [_SAID, transition(_T0, "alice@example.com", "new", "assigned")]},
))
def test_property_conflicts_are_symmetric_and_fields_stay_put(t: tuple[dict, dict, dict]) -> None:
    base, ours, theirs = t
    forward = merge_records(base, ours, theirs)
    backward = merge_records(base, theirs, ours)
    assert {c.field for c in forward.conflicts} == {c.field for c in backward.conflicts}
    assert set(forward.merged) == set(backward.merged) or forward.conflicts
    for key, value in forward.merged.items():
        if key in ("history", "updated", "status") or any(c.field.split(".")[0] == key for c in forward.conflicts):
            continue
        assert backward.merged[key] == value or key in ("tags", "links")
    for key in ours.keys() & theirs.keys():
        if key not in ("history", "status") and ours[key] == theirs[key]:
            assert forward.merged[key] == ours[key]
    assert forward.merged["updated"] in (ours["updated"], theirs["updated"])


def test_moves_at_the_same_instant_are_a_fork_whichever_side_is_ours() -> None:
    """Theirs parked and resumed the ticket while ours resolved it, all in the same second: no order to trust."""
    at = "2026-03-02T10:00:00Z"
    base = {"id": "INC-0001", "status": "in_progress", "history": [transition("2026-03-01T09:00:00Z", "bob@example.com",
                                                                              "assigned", "in_progress")]}
    ours = {**base, "status": "resolved", "history": [*base["history"], transition(at, "ann@example.com",
                                                                                   "in_progress", "resolved")]}
    theirs = {**base, "history": [*base["history"], transition(at, "bob@example.com", "in_progress", "on_hold"),
                                  transition(at, "bob@example.com", "on_hold", "in_progress")]}
    for a, b in ((ours, theirs), (theirs, ours)):
        result = merge_records(copy.deepcopy(base), copy.deepcopy(a), copy.deepcopy(b))
        assert [c.field for c in result.conflicts] == ["status"]
        assert "both sides moved the record at 2026-03-02T10:00:00Z" in result.conflicts[0].reason


def test_a_side_that_only_reordered_keys_keeps_its_order() -> None:
    # Found by hypothesis: ours moved `history` before `updated`, theirs changed nothing.
    entry = {"at": "2026-03-01T00:00:00Z", "by": "alice@example.com", "action": "comment", "note": "a"}
    base = {"id": "INC-0001", "status": "new", "updated": "2026-03-01T00:00:00Z", "tags": [], "links": [],
            "history": [entry]}
    ours = {"id": "INC-0001", "status": "new", "history": [dict(entry)], "updated": "2026-03-01T00:00:00Z",
            "tags": [], "links": []}
    result = merge_records(base, ours, copy.deepcopy(base))
    assert result.conflicts == [] and list(result.merged) == list(ours)
    result = merge_records(base, copy.deepcopy(base), ours)
    assert result.conflicts == [] and list(result.merged) == list(ours)
    nested_base = {"id": "INC-0001", "extra": {"a": 1, "b": 2}}
    nested_ours = {"id": "INC-0001", "extra": {"b": 2, "a": 1}}
    theirs = {"id": "INC-0001", "extra": {"a": 1, "b": 2}, "title": "x"}
    merged = merge_records(nested_base, nested_ours, theirs).merged
    assert list(merged["extra"]) == ["b", "a"] and merged["title"] == "x"


def test_watchers_added_on_two_branches_merge_as_a_set() -> None:
    base = {"id": "INC-0001", "watchers": ["a@x.example", "b@x.example"], "history": []}
    ours = {**base, "watchers": ["a@x.example", "b@x.example", "c@x.example"]}
    theirs = {**base, "watchers": ["b@x.example", "d@x.example"]}  # a unwatched, d watched
    result = merge_records(base, ours, theirs)
    assert result.conflicts == [] and result.merged["watchers"] == ["b@x.example", "c@x.example", "d@x.example"]
