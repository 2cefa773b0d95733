"""Three-way, field-by-field merge of records: the brain of the git merge driver.

Two people who each comment on, assign or link the same ticket on their own
branch should not get a textual conflict from git: their changes touch
different fields, or append to the append-only ``history``. This module merges
the parsed records (``base`` = common ancestor, ``ours``, ``theirs``) and
reports what genuinely needs a human, such as two different transitions.

Pure: dicts in, a :class:`MergeResult` out; the inputs are never modified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ABSENT", "Conflict", "MergeResult", "conflict_summary", "fork_states", "merge_records", "merge_values",
    "settle_fork",
]

#: Fields merged as sets: additions from both sides kept, removals honoured.
SET_FIELDS = frozenset({"tags", "links", "watchers"})

#: History actions whose ``to`` names a workflow state (``assign`` names a person).
STATE_ACTIONS = frozenset({"create", "transition", "approve", "reject"})


class _Absent:
    """Marks a field missing from one version of a record (one instance: ``ABSENT``)."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


#: Stands for "this version has no such field" in a :class:`Conflict`.
ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Conflict:
    """A field both sides changed in incompatible ways; ``ABSENT`` marks a missing value."""

    field: str
    base: Any
    ours: Any
    theirs: Any
    reason: str = ""


@dataclass
class MergeResult:
    """The merged record (ours' value wherever there is a conflict) and the conflicts."""

    merged: dict
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing needs a human."""
        return not self.conflicts


# --- equality ----------------------------------------------------------------


def _key(value: Any) -> Any:
    """A hashable, type-strict canonical form (``1``, ``1.0`` and ``true`` differ; dict order doesn't)."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((str(k), _key(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("seq", tuple(_key(v) for v in value))
    if value is ABSENT:
        return ("absent",)
    return (type(value).__name__, value)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list)):
        return _key(a) == _key(b)
    return a == b


def _unchanged(side: Any, base: Any) -> bool:
    """True when ``side`` is ``base`` as written: the same values and the same key order, at every depth.

    A side that only reordered keys changed its file (as git sees it): the
    merge keeps that order, so it cannot be taken for an unchanged side.
    """
    return _same(side, base) and _key_order(side) == _key_order(base)


def _key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _key_order(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_key_order(v) for v in value)
    return None


# --- the merge ---------------------------------------------------------------


def merge_records(base: dict | None, ours: dict, theirs: dict) -> MergeResult:
    """Merge two versions of a record against their common ancestor.

    ``base`` is None when both sides added the file: it then counts as empty,
    so identical fields merge and differing ones conflict. Rules, by field:

    - ``history``: the base entries must be a prefix of both sides (else a
      conflict, "history rewritten"); both sides' new entries follow the base,
      interleaved by ``at``, each side in its own order (ties: ours first), identical ones once.
    - ``tags``, ``links``, ``watchers``: set-like union of both sides' additions; an item
      either side removed is removed; order is base, ours' additions, theirs'.
    - ``updated``: never a conflict; the later timestamp wins.
    - ``status``: a conflict when the sides moved to different states, or when
      one moved and the other's new transitions make the merged history end
      elsewhere (a workflow fork); otherwise it equals what the history says.
    - nested mappings are merged key by key (conflicts named ``a.b``);
    - anything else: plain three-way; a conflict keeps ours' value.

    Key order: ours' keys, then keys only theirs has, in theirs' order.
    """
    # Like git's trivial merge: a side that changed nothing yields the other side verbatim.
    if base is not None and _unchanged(ours, base):
        return MergeResult(_copy(theirs))
    if (base is not None and _unchanged(theirs, base)) or _same(ours, theirs):
        return MergeResult(_copy(ours))
    base_map: dict = base if base is not None else {}
    conflicts: list[Conflict] = []
    merged_values: dict[str, Any] = {}
    history_clean = True

    keys = _ordered_keys(ours, theirs, base_map)
    for key in keys:
        if key == "status":
            continue  # decided after history
        b, o, t = base_map.get(key, ABSENT), ours.get(key, ABSENT), theirs.get(key, ABSENT)
        if key == "history":
            value, conflict = _merge_history(b, o, t)
            if conflict is not None:
                history_clean = False
        elif key == "updated":
            value, conflict = _merge_updated(b, o, t), None
        elif key in SET_FIELDS:
            value, conflict = _merge_set_field(key, b, o, t)
        else:
            value, nested = merge_values(key, b, o, t)
            conflicts.extend(nested)
            conflict = None
        if conflict is not None:
            conflicts.append(conflict)
        merged_values[key] = value

    if "status" in keys:
        merged_values["status"], conflict = _merge_status(
            base_map, ours, theirs, merged_values.get("history", ABSENT), history_clean
        )
        if conflict is not None:
            conflicts.append(conflict)

    merged = {k: merged_values[k] for k in keys if merged_values.get(k, ABSENT) is not ABSENT}
    position = {k: i for i, k in enumerate(keys)}
    conflicts.sort(key=lambda c: position.get(c.field.split(".", 1)[0], 0))
    return MergeResult(merged, conflicts)


def merge_values(name: str, base: Any, ours: Any, theirs: Any) -> tuple[Any, list[Conflict]]:
    """Plain three-way merge of one value (``ABSENT`` = missing); mappings recurse key by key.

    Returns the merged value (ours' on a conflict, ``ABSENT`` for deleted) and the conflicts.
    """
    if _same(ours, theirs):
        return _copy(ours), []
    if _unchanged(ours, base):
        return _copy(theirs), []
    if _unchanged(theirs, base):
        return _copy(ours), []
    if isinstance(ours, dict) and isinstance(theirs, dict) and isinstance(base, (dict, _Absent)):
        base_map = base if isinstance(base, dict) else {}
        merged: dict = {}
        conflicts: list[Conflict] = []
        for key in _ordered_keys(ours, theirs, base_map):
            value, nested = merge_values(
                f"{name}.{key}", base_map.get(key, ABSENT), ours.get(key, ABSENT), theirs.get(key, ABSENT)
            )
            conflicts.extend(nested)
            if value is not ABSENT:
                merged[key] = value
        return merged, conflicts
    return _copy(ours), [Conflict(name, _copy(base), _copy(ours), _copy(theirs))]


def _ordered_keys(ours: dict, theirs: dict, base: dict) -> list:
    """Ours' keys, then theirs-only keys (theirs' order), then keys only base has (to see deletions)."""
    keys = list(ours)
    keys += [k for k in theirs if k not in ours]
    keys += [k for k in base if k not in ours and k not in theirs]
    return keys


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _merge_updated(base: Any, ours: Any, theirs: Any) -> Any:
    value, conflicts = merge_values("updated", base, ours, theirs)
    if not conflicts:
        return value
    present = [v for v in (ours, theirs) if v is not ABSENT]
    # ISO 8601 UTC strings in one format sort lexically in time order.
    return max(present, key=str)


def _merge_set_field(name: str, base: Any, ours: Any, theirs: Any) -> tuple[Any, Conflict | None]:
    """Union of both sides' additions; a removal by either side wins over an untouched item."""
    value, conflicts = merge_values(name, base, ours, theirs)
    if not conflicts:
        return value, None
    sides = [v for v in (base, ours, theirs) if v is not ABSENT and v is not None]
    if not all(isinstance(v, list) for v in sides):
        return value, conflicts[0]
    base_l, ours_l, theirs_l = (v if isinstance(v, list) else [] for v in (base, ours, theirs))
    base_k = {_key(v) for v in base_l}
    ours_k = {_key(v) for v in ours_l}
    theirs_k = {_key(v) for v in theirs_l}
    merged: list = []
    seen: set = set()
    for item in base_l:
        k = _key(item)
        if k in ours_k and k in theirs_k and k not in seen:
            seen.add(k)
            merged.append(_copy(item))
    for item in (*ours_l, *theirs_l):
        k = _key(item)
        if k not in base_k and k not in seen:
            seen.add(k)
            merged.append(_copy(item))
    return merged, None


def _merge_history(base: Any, ours: Any, theirs: Any) -> tuple[Any, Conflict | None]:
    """Append both sides' new entries after the shared prefix, in time order, duplicates once."""
    value, conflicts = merge_values("history", base, ours, theirs)
    if not conflicts:
        rewritten = [s for s, v in (("ours", ours), ("theirs", theirs)) if not _has_prefix(v, base)]
        if rewritten and isinstance(base, list):
            who = " and ".join(rewritten)
            return value, Conflict("history", _copy(base), _copy(ours), _copy(theirs), f"history rewritten by {who}")
        return value, None
    if not all(isinstance(v, list) for v in (ours, theirs)) or not isinstance(base, (list, _Absent)):
        return value, conflicts[0]
    base_l = base if isinstance(base, list) else []
    rewritten = [s for s, v in (("ours", ours), ("theirs", theirs)) if not _has_prefix(v, base_l)]
    if rewritten:
        who = " and ".join(rewritten)
        return _copy(ours), Conflict("history", _copy(base), _copy(ours), _copy(theirs), f"history rewritten by {who}")
    new = _interleave(ours[len(base_l) :], theirs[len(base_l) :])
    return [_copy(e) for e in (*base_l, *new)], None


def _interleave(ours_new: list, theirs_new: list) -> list:
    """Both sides' new entries by time, each side in its own order (ties: ours first); an identical entry at
    the head of both sides (the same event on both, e.g. cherry-picked) is taken once.

    Each side's history then survives as a subsequence of the result, which is what
    ``validate --base`` and ``audit verify`` accept of a merge.
    """
    out: list = []
    i = j = 0
    while i < len(ours_new) and j < len(theirs_new):
        o, t = ours_new[i], theirs_new[j]
        if _same(o, t):
            out.append(o)
            i, j = i + 1, j + 1
        elif _entry_time(t) < _entry_time(o):
            out.append(t)
            j += 1
        else:
            out.append(o)
            i += 1
    return out + ours_new[i:] + theirs_new[j:]


def _has_prefix(history: Any, base: Any) -> bool:
    if base is ABSENT or base is None:
        return True
    if not isinstance(history, list) or not isinstance(base, list) or len(history) < len(base):
        return False
    return all(_same(a, b) for a, b in zip(history[: len(base)], base, strict=True))


def _entry_time(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("at", ""))
    return ""


def _state_entries(history: Any) -> list[dict]:
    if not isinstance(history, list):
        return []
    return [
        e for e in history if isinstance(e, dict) and e.get("action") in STATE_ACTIONS and isinstance(e.get("to"), str)
    ]


def _merge_status(
    base: dict, ours: dict, theirs: dict, merged_history: Any, history_clean: bool
) -> tuple[Any, Conflict | None]:
    """Three-way on ``status``, then make it agree with the merged history or report the fork."""
    b, o, t = base.get("status", ABSENT), ours.get("status", ABSENT), theirs.get("status", ABSENT)
    value, conflicts = merge_values("status", b, o, t)
    if conflicts:
        return value, Conflict("status", b, o, t, "workflow fork: both sides moved the record to different states")
    ours_moved, theirs_moved = not _same(o, b), not _same(t, b)
    if not history_clean or ours_moved == theirs_moved:
        return value, None
    base_len = len(base["history"]) if isinstance(base.get("history"), list) else 0
    moved, quiet = (ours, theirs) if ours_moved else (theirs, ours)
    moved_states = _state_entries(_new_entries(moved, base_len))
    quiet_states = _state_entries(_new_entries(quiet, base_len))
    states = _state_entries(merged_history)
    derived = states[-1]["to"] if states else ABSENT
    # The sides' latest moves made at the same instant: the merged history's last state depends only on
    # which side is "ours" (ties keep ours first), so the end state is a fork whichever way it is merged.
    moved_last, quiet_last = _latest(moved_states), _latest(quiet_states)
    tied = (moved_last is not None and quiet_last is not None and _entry_time(moved_last) == _entry_time(quiet_last)
            and not _same(moved_last["to"], quiet_last["to"]))
    if quiet_states and (tied or not _same(derived, value)):
        why = (f"both sides moved the record at {_entry_time(moved_last)}, to {_show(moved_last['to'])} and "  # type: ignore[index]
               f"{_show(quiet_last['to'])}" if tied  # type: ignore[index]
               else f"status says {_show(value)} but the merged history ends in {_show(derived)}")
        return o, Conflict("status", b, o, t, f"workflow fork: {why}")
    if moved_states:
        return derived, None
    # A status edited without a history entry: keep it; validation reports the mismatch.
    return value, None


def _latest(states: list[dict]) -> dict | None:
    """The state entry a time-ordered merge puts last among ``states`` (the last of the latest, as sorting is stable)."""
    return max(reversed(states), key=_entry_time) if states else None


def _new_entries(record: dict, base_len: int) -> list:
    history = record.get("history")
    return history[base_len:] if isinstance(history, list) else []


# --- settling a workflow fork ----------------------------------------------------


def fork_states(result: MergeResult) -> list[str] | None:
    """The states a workflow fork left the record in (ours', then theirs'), or None when ``result`` is no
    settleable fork: a conflict other than on ``status``, or a history that does not merge."""
    if not result.conflicts or any(c.field != "status" or not c.reason.startswith("workflow fork") for c in result.conflicts):
        return None
    states: list[str] = []
    for conflict in result.conflicts:
        for side in (conflict.ours, conflict.theirs):
            if isinstance(side, str) and side not in states:
                states.append(side)
    return states


def settle_fork(result: MergeResult, state: str, by: str, at: str, note: str | None = None) -> dict:
    """The merged record with the fork settled: both sides' entries, in time order, then one settling entry.

    The settling entry is a ``transition`` with ``settles: true``, from the state the merged history ends in
    to ``state`` (one of :func:`fork_states`); ``status`` becomes ``state``. Raises ValueError when
    ``result`` is no workflow fork or ``state`` is not one the sides reached.
    """
    states = fork_states(result)
    if states is None:
        raise ValueError("only a workflow fork (both sides moved the record to different states) can be settled")
    if state not in states:
        raise ValueError(f"'{state}' is not a state either side reached ({', '.join(states)})")
    merged = _copy(result.merged)
    history = merged.get("history")
    if not isinstance(history, list):
        raise ValueError("the merged record has no history")
    last = _state_entries(history)
    entry: dict[str, Any] = {"at": at, "by": by, "action": "transition", "from": last[-1]["to"] if last else None,
                             "to": state, "settles": True}
    if note:
        entry["note"] = note
    history.append(entry)
    merged["status"] = state
    if isinstance(merged.get("updated"), str):
        merged["updated"] = max(merged["updated"], at)
    return merged


# --- reporting ---------------------------------------------------------------


def _show(value: Any, limit: int = 60) -> str:
    if value is ABSENT:
        return "absent"
    if isinstance(value, str):
        text = repr(value)
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _show_history(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} entries"
    return _show(value)


def conflict_summary(conflicts: list[Conflict]) -> str:
    """One line per conflict: ``status: ours 'resolved', theirs 'on_hold' (base 'in_progress')``."""
    lines = []
    for c in conflicts:
        show = _show_history if c.field == "history" else _show
        line = f"{c.field}: ours {show(c.ours)}, theirs {show(c.theirs)} (base {show(c.base)})"
        if c.reason:
            line += f": {c.reason}"
        lines.append(line)
    return "\n".join(lines)
