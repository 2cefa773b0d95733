"""Rules only a diff can see: what a pull request may and may not do to a record that already existed."""

from __future__ import annotations

from typing import Any

from itsm_cli.core.config import Config
from itsm_cli.core.workflow import FIXED_AT_CREATION

# change_class and standard_model: a change relabelled standard would skip the CAB.
IMMUTABLE_FIELDS = ("id", "type", "created", "requester", *FIXED_AT_CREATION)


def compare_with_base(config: Config, base: dict[str, Any], new: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Problems with changing ``base`` into ``new``: (path inside the new record, message) pairs.

    History is append-only (the base history must be a prefix of the new one),
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
        if len(new_history) < len(old_history):
            problems.append((("history",), f"history entries were removed ({len(old_history)} at the base, {len(new_history)} now)"))
        else:
            for i, entry in enumerate(old_history):
                if new_history[i] != entry:
                    problems.append((("history", i), f"history[{i}] was rewritten; history is append-only"))
                    break
    return problems
