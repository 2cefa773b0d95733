"""Operations on records: create, transition, assign, comment, link, edit, approve, reject.

Each operation takes a record (a dict as loaded from its file) and returns a new
dict with one history entry appended; it never touches the original, the file
system or git. Rules come from :mod:`itsm_cli.core.workflow`, so the validator
and the commands agree on what is legal.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from itsm_cli.core.config import Config
from itsm_cli.core.workflow import ApprovalPolicy, Replay, missing_required, replay
from itsm_cli.errors import BadArgument, Refused

LINK_KINDS = ("parent", "child", "duplicate-of", "caused-by", "fixed-by", "relates", "implements")
# Fields only the tool itself sets; `edit` and `--set` may not touch them.
PROTECTED = frozenset({"id", "type", "created", "updated", "requester", "status", "history", "priority", "links"})
# Key order of a written ticket: identity first, history last.
FIELD_ORDER = (
    "id", "type", "title", "status", "created", "updated", "requester", "service", "offering",
    "change_class", "standard_model", "impact", "urgency", "priority", "major", "assignee", "group", "tags", "due",
    "risk", "planned_start", "planned_end", "links", "description",
)


def ordered(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with keys in the canonical order (unknown fields before history)."""
    out = {k: record[k] for k in FIELD_ORDER if k in record}
    for k, v in record.items():
        if k not in out and k != "history":
            out[k] = v
    if "history" in record:
        out["history"] = record["history"]
    return out


def _entry(at: str, by: str, action: str, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": at, "by": by, "action": action}
    entry.update({k: v for k, v in extra.items() if v is not None and v != {}})
    return entry


def _append(config: Config, record: dict[str, Any], policy: ApprovalPolicy | None, entry: dict[str, Any]) -> dict[str, Any]:
    """Check ``entry`` against the replayed history, then return a copy with it appended."""
    position, _ = replay(config, record, policy)
    problems = position.check(entry)
    if problems:
        raise Refused(f"{record['id']}: {problems[0]}")
    new = copy.deepcopy(record)
    new.setdefault("history", []).append(entry)
    new["updated"] = entry["at"]
    if "to" in entry:
        new["status"] = entry["to"]
    return ordered(new)


def position_of(config: Config, record: dict[str, Any], policy: ApprovalPolicy | None) -> Replay:
    """Where the record's history leaves it (state, assignee, approvals so far)."""
    return replay(config, record, policy)[0]


def apply_priority(config: Config, record: dict[str, Any]) -> None:
    """Set ``priority`` from impact and urgency, in place."""
    if record.get("impact") is None and record.get("urgency") is None:
        return
    for field in ("impact", "urgency"):
        value = record.get(field)
        if value not in config.priority_levels:
            raise BadArgument(f"{field} '{value}' is not one of: {', '.join(config.priority_levels)}")
    record["priority"] = config.priority_for(record["impact"], record["urgency"])


def _check_settable(fields: Mapping[str, Any]) -> None:
    for name in fields:
        if name in PROTECTED:
            raise BadArgument(f"'{name}' cannot be set directly")


def new_record(
    config: Config,
    type_name: str,
    record_id: str,
    fields: Mapping[str, Any],
    actor: str,
    now: str,
) -> dict[str, Any]:
    """A new record of ``type_name`` with a ``create`` entry, in its initial state."""
    rtype = config.record_type(type_name)
    _check_settable(fields)
    record: dict[str, Any] = {
        "id": record_id,
        "type": type_name,
        "title": fields.get("title"),
        "status": config.initial_state(type_name),
        "created": now,
        "updated": now,
        "requester": actor,
    }
    if fields.get("requester_override"):
        record["requester"] = fields["requester_override"]
    for k, v in fields.items():
        if k not in ("title", "requester_override") and v is not None:
            record[k] = v
    for k, v in rtype.defaults.items():
        record.setdefault(k, v)
    if rtype.kind == "ticket":
        if "impact" in record or "urgency" in record or type_name in ("incident", "problem"):
            defaults = config.priority_default
            record.setdefault("impact", defaults["impact"])
            record.setdefault("urgency", defaults["urgency"])
        apply_priority(config, record)
    # Fields the initial state requires (an improvement's expected_benefit) are asked for by name, with the option
    # that gives them, rather than left to the schema's bare "is required".
    missing = missing_required(config, record, record["status"])
    if missing:
        opts = " ".join(f"--set {m}=..." for m in missing)
        raise BadArgument(f"a new {type_name} ('{record['status']}') needs {', '.join(missing)}: add {opts}")
    record["history"] = [_entry(now, actor, "create", to=record["status"])]
    return ordered(record)


def transition(
    config: Config,
    record: dict[str, Any],
    to: str,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
    note: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Move the record to state ``to``; an illegal move names the legal ones."""
    fields = dict(fields or {})
    _check_settable(fields)
    position = position_of(config, record, policy)
    problems = position.why_not(to, actor)
    if problems:
        legal = position.legal_targets(actor)
        hint = f"; legal next states: {', '.join(legal)}" if legal else "; no move is open to you from here"
        raise Refused(f"{record['id']}: {problems[0]}{hint}")
    staged = {**record, **fields}
    missing = missing_required(config, staged, to)
    if missing:
        opts = " ".join(f"--set {m}=..." for m in missing)
        raise Refused(f"{record['id']}: '{to}' requires {', '.join(missing)}; add {opts}")
    entry = _entry(now, actor, "transition", **{"from": position.state, "to": to}, note=note, fields=fields or None)
    new = _append(config, {**record, **fields}, policy, entry)
    if fields and ("impact" in fields or "urgency" in fields):
        apply_priority(config, new)
    return new


def assign(
    config: Config,
    record: dict[str, Any],
    person: str | None,
    group: str | None,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
) -> dict[str, Any]:
    """Assign the record to a listed agent and/or a group."""
    changes: dict[str, Any] = {}
    if person is not None:
        p = config.person(person)
        if p is None or "agent" not in p.roles:
            raise Refused(f"{person} is not a listed agent of this desk; list them with 'itsm person add {person} "
                          "--name NAME --role agent', or act as a listed agent with --as EMAIL")
        changes["assignee"] = p.email
    if group is not None:
        if group not in config.groups:
            raise Refused(f"unknown group '{group}'; groups: {', '.join(sorted(config.groups))}")
        changes["group"] = group
    if person is not None and group is not None and group not in config.person(person).groups:  # type: ignore[union-attr]
        raise Refused(f"{person} is not a member of group '{group}'")
    if not changes:
        raise BadArgument("nothing to assign: name a person or --group")
    entry = _entry(now, actor, "assign", fields=changes)
    new = _append(config, record, policy, entry)
    new.update(changes)
    return ordered(new)


def comment(
    config: Config,
    record: dict[str, Any],
    text: str,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
    internal: bool = False,
    confidential: bool = False,
) -> dict[str, Any]:
    """Add a comment; ``internal`` keeps it off anything published, ``confidential`` (internal too) has it encrypted."""
    if not text.strip():
        raise BadArgument("the comment is empty")
    entry = _entry(now, actor, "comment", note=text, internal=True if internal or confidential else None,
                   confidential=True if confidential else None)
    return _append(config, record, policy, entry)


def link(
    config: Config,
    record: dict[str, Any],
    kind: str,
    other_id: str,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
) -> dict[str, Any]:
    """Link the record to another one."""
    if kind not in LINK_KINDS:
        raise BadArgument(f"unknown link kind '{kind}'; kinds: {', '.join(LINK_KINDS)}")
    if other_id == record["id"]:
        raise Refused(f"{record['id']} cannot link to itself")
    links = list(record.get("links") or [])
    if {"kind": kind, "id": other_id} in links:
        raise Refused(f"{record['id']} already has link {kind} {other_id}")
    entry = _entry(now, actor, "link", fields={"links": [{"kind": kind, "id": other_id}]})
    new = _append(config, record, policy, entry)
    new["links"] = [*links, {"kind": kind, "id": other_id}]
    return ordered(new)


def edit(
    config: Config,
    record: dict[str, Any],
    fields: Mapping[str, Any],
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
    note: str | None = None,
) -> dict[str, Any]:
    """Change ordinary fields; identity, status, history and links are not editable (``note``: why, on the entry)."""
    if not fields:
        raise BadArgument("nothing to edit: give --set FIELD=VALUE")
    _check_settable(fields)
    changed = {k: v for k, v in fields.items() if record.get(k) != v}
    if not changed:
        raise Refused(f"{record['id']}: nothing changes")
    entry = _entry(now, actor, "edit", fields=dict(changed), note=note)
    new = _append(config, record, policy, entry)
    for k, v in changed.items():
        if v is None:
            new.pop(k, None)
        else:
            new[k] = v
    if "impact" in changed or "urgency" in changed:
        apply_priority(config, new)
    return ordered(new)


def _approval_gate(config: Config, record: dict[str, Any], actor: str, policy: ApprovalPolicy | None) -> tuple[Replay, dict]:
    """Where the record stands and its approval gate; Refused when it is not awaiting approval or ``actor`` may not decide."""
    position = position_of(config, record, policy)
    gate = (config.state(record["type"], position.state or "") or {}).get("approval")
    if not gate:
        raise Refused(f"{record['id']} is '{position.state}', not awaiting approval")
    problems = position.approver_problems(actor)
    if problems:
        raise Refused(f"{record['id']}: {problems[0]}")
    return position, gate


def approve(
    config: Config,
    record: dict[str, Any],
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
    note: str | None = None,
) -> dict[str, Any]:
    """Record an approval; the one that completes the count moves the record on."""
    position, gate = _approval_gate(config, record, actor, policy)
    needed = policy.count if policy else 1
    done = len(position.approvers | {actor.lower()}) >= needed
    extra: dict[str, Any] = {"from": position.state}
    if done:
        extra["to"] = gate["approved"]
    group = policy.group if policy else None
    entry = _entry(now, actor, "approve", **extra, group=group, note=note)
    return _append(config, record, policy, entry)


def reject(
    config: Config,
    record: dict[str, Any],
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
    note: str,
) -> dict[str, Any]:
    """Reject the record: it moves to the approval state's rejected state."""
    if not note or not note.strip():
        raise BadArgument("a rejection needs --note saying why")
    position, gate = _approval_gate(config, record, actor, policy)
    group = policy.group if policy else None
    entry = _entry(now, actor, "reject", **{"from": position.state, "to": gate["rejected"]}, group=group, note=note)
    return _append(config, record, policy, entry)


def relink(record: dict[str, Any], old_id: str, new_id: str) -> dict[str, Any] | None:
    """A copy with every link to ``old_id`` pointed at ``new_id``, or None if it has none."""
    links = record.get("links") or []
    if not any(isinstance(link, dict) and link.get("id") == old_id for link in links):
        return None
    new = copy.deepcopy(record)
    for link in new["links"]:
        if link.get("id") == old_id:
            link["id"] = new_id
    return new


def list_fields(schemas: Mapping[str, Mapping[str, Any]], schema_name: str) -> set[str]:
    """The fields of a record schema that are lists of plain strings (tags, services, watchers...).

    These are the fields ``edit --add/--remove`` change and ``--set`` fills from a comma list.
    """
    props = (schemas.get(schema_name) or {}).get("properties") or {}
    defs = (schemas.get("common.schema.json") or {}).get("$defs") or {}
    out = set()
    for name, prop in props.items():
        if not isinstance(prop, Mapping) or prop.get("type") != "array":
            continue
        items = prop.get("items") or {}
        ref = items.get("$ref") if isinstance(items, Mapping) else None
        if isinstance(ref, str):
            items = defs.get(ref.rpartition("/")[2]) or {}
        if isinstance(items, Mapping) and items.get("type") == "string":
            out.add(name)
    return out


def split_list(value: Any) -> list[str] | None:
    """``--set tags=printer,outage`` as a list (``None`` and "" unset the field)."""
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return list(dict.fromkeys(v.strip() for v in str(value).split(",") if v.strip()))


def edit_lists(
    record: Mapping[str, Any],
    fields: set[str],
    add: Sequence[tuple[str, str]],
    remove: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """The new values of list fields after ``--add F=V`` / ``--remove F=V`` (``None``: the list became empty).

    ``checklist`` adds and removes items by their text; the other fields must
    be in ``fields`` (lists of strings). Adding what is there, or removing what
    is not, is refused: the person meant something else.
    """
    out: dict[str, Any] = {}
    for verb, pairs in (("add", add), ("remove", remove)):
        for name, value in pairs:
            if name == "checklist":
                items = [dict(i) for i in (out[name] or [] if name in out else record.get(name) or []) if isinstance(i, Mapping)]
                texts = [str(i.get("item")) for i in items]
                if verb == "add":
                    if value in texts:
                        raise Refused(f"{record.get('id')}: the checklist already has '{value}'")
                    items.append({"item": value})
                else:
                    items.pop(_checklist_index(record, items, value))
                out[name] = items or None
                continue
            if name not in fields:
                listed = ", ".join(sorted(fields | {"checklist"}))
                raise BadArgument(f"--{verb} {name}: '{name}' is not a list field of this record (list fields: {listed})")
            current = list(out[name] or []) if name in out else list(record.get(name) or [])
            if verb == "add":
                if value in current:
                    raise Refused(f"{record.get('id')}: {name} already has '{value}'")
                current.append(value)
            else:
                if value not in current:
                    have = ", ".join(map(str, current)) or "nothing"
                    raise Refused(f"{record.get('id')}: {name} has no '{value}' (it has {have})")
                current.remove(value)
            out[name] = current or None
    return out


def _checklist_index(record: Mapping[str, Any], items: list[dict[str, Any]], which: str) -> int:
    """The position of a checklist item named by its number (1, 2, ...) or its text (case-insensitive)."""
    if which.isdigit() and 1 <= int(which) <= len(items):
        return int(which) - 1
    for i, item in enumerate(items):
        if str(item.get("item", "")).lower() == which.lower():
            return i
    listed = "; ".join(f"{n}. {i.get('item')}" for n, i in enumerate(items, 1)) or "it is empty"
    raise Refused(f"{record.get('id')}: no checklist item '{which}' ({listed})")


def tick(record: Mapping[str, Any], done: Sequence[str], undone: Sequence[str]) -> list[dict[str, Any]] | None:
    """The checklist with items (by number or text) marked done or not done; None when nothing is asked."""
    if not done and not undone:
        return None
    items = [dict(i) for i in record.get("checklist") or [] if isinstance(i, Mapping)]
    for which, state in [(w, True) for w in done] + [(w, False) for w in undone]:
        i = _checklist_index(record, items, which)
        if state:
            items[i]["done"] = True
        else:
            items[i].pop("done", None)
    return items


def close_as_duplicate(
    config: Config,
    record: dict[str, Any],
    original: str,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
) -> dict[str, Any]:
    """Link the record ``duplicate-of`` ``original`` and close it, by the moves its workflow allows.

    The closing state is the first state of category ``closed`` reachable now
    (``cancelled`` from ``new``); else the record is first resolved (its
    resolution saying whose duplicate it is) and then closed. Each move carries
    the note "Duplicate of ORIGINAL".
    """
    note = f"Duplicate of {original}"
    new = link(config, record, "duplicate-of", original, actor, now, policy)
    for _ in range(3):  # at most: resolved, then closed
        position = position_of(config, new, policy)
        if config.is_closed(new["type"], str(position.state)):
            return new
        legal = position.legal_targets(actor)
        closing = [s for s in legal if config.category(new["type"], s) == "closed"]
        resolving = [s for s in legal if config.category(new["type"], s) == "resolved"]
        to = (closing or resolving or [None])[0]
        if to is None:
            raise Refused(f"{record['id']}: no move to a closed state is open to you from '{position.state}'")
        fields = {m: note for m in missing_required(config, new, to)}
        new = transition(config, new, to, actor, now, policy, note, fields)
    return new
