"""Rules only a diff can see: what a pull request may and may not do to a record that already existed."""

from __future__ import annotations

import itertools
import json
from typing import Any

from itsm_cli.core.config import Config
from itsm_cli.core.workflow import FIXED_AT_CREATION

# change_class and standard_model: a change relabelled standard would skip the CAB.
IMMUTABLE_FIELDS = ("id", "type", "created", "requester", *FIXED_AT_CREATION)


def compare_with_base(config: Config, base: dict[str, Any], new: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Problems with changing ``base`` into ``new``: (path inside the new record, message) pairs.

    History is append-only (see :func:`history_problems`),
    identity fields never change, and a record closed at the base is frozen.
    """
    problems: list[tuple[tuple, str]] = []
    for field in IMMUTABLE_FIELDS:
        if field in base and base.get(field) != new.get(field):
            problems.append(((field,), f"'{field}' may never change (was {base.get(field)!r}, now {new.get(field)!r})"))
    type_name = base.get("type")
    status = base.get("status")
    known = isinstance(type_name, str) and type_name in config.types and isinstance(status, str)
    if known and config.is_closed(type_name, status) and base != new:
        problems.append(((), f"the record was '{status}' (a closed state) at the base and may not change"))
    old_history = base.get("history") or []
    new_history = new.get("history") or []
    if isinstance(old_history, list) and isinstance(new_history, list):
        problems.extend(history_problems(old_history, new_history))
    return problems


def history_problems(old: list[Any], new: list[Any]) -> list[tuple[tuple, str]]:
    """Why ``new`` is not an append-only continuation of ``old`` (empty when it is).

    The plain case: ``old`` is a prefix of ``new``. The merge driver's case:
    after ``git merge origin/main`` on a pull-request branch, the branch's own
    entries sit among main's in time order, so ``old`` (main's history) is a
    subsequence of ``new``, every entry unchanged and in its order, and each
    entry in between is where its time puts it (no earlier than the base
    entry before it, no later than the one after). Anything else changed,
    removed or reordered an entry of the base: a rewrite.
    """
    if len(new) < len(old):
        return [(("history",), f"history entries were removed ({len(old)} at the base, {len(new)} now)")]
    first = next((i for i, entry in enumerate(old) if _entry_key(new[i]) != _entry_key(entry)), None)
    if first is None:
        return []
    rewritten = [(("history", first), f"history[{first}] was rewritten; history is append-only")]
    positions = _subsequence_positions(old, new, first)
    if positions is None:
        return rewritten
    for j, (before, after) in enumerate(itertools.pairwise(positions)):
        low, high = _entry_at(old[j]), _entry_at(old[j + 1])
        for k in range(before + 1, after):
            at = _entry_at(new[k])
            if at is None or low is None or high is None or not low <= at <= high:
                return [(("history", k), f"history[{k}] was inserted among the base's entries out of time order; "
                                         "history is append-only (new entries go after the base's, in time order)")]
    return []


def _subsequence_positions(old: list[Any], new: list[Any], start: int) -> list[int] | None:
    """Where each entry of ``old`` sits in ``new`` (leftmost match; the first ``start`` are equal), or None."""
    positions = list(range(start))
    k = start
    for entry in old[start:]:
        key = _entry_key(entry)
        while k < len(new) and _entry_key(new[k]) != key:
            k += 1
        if k == len(new):
            return None
        positions.append(k)
        k += 1
    return positions


def _entry_key(entry: Any) -> str:
    """A canonical, type-strict text of an entry (``1`` and ``true`` differ, key order does not)."""
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)


def _entry_at(entry: Any) -> str | None:
    at = entry.get("at") if isinstance(entry, dict) else None
    return at if isinstance(at, str) else None
