"""Desk validation: every rule a record must keep, every problem reported (not just the first).

The validator is handed what it needs: the configuration, the schemas, the
records (each able to say where a value sits in its file), the IDs that exist
and the catalog. It reads no files and runs no git.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

from itsm_cli.core import ids, security
from itsm_cli.core.calendar import holiday_problem
from itsm_cli.core.config import Config
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.workflow import (
    approval_policy,
    find_offering,
    missing_required,
    replay,
    standard_model_problem,
)
from itsm_cli.errors import one_line

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

CONFIG_FILE = "itsm.yaml"
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding: where, and what is wrong."""

    path: str
    line: int
    col: int
    message: str
    rule: str = "invalid"

    def __str__(self) -> str:
        return one_line(f"{self.path}:{self.line}:{self.col}: {self.message}")

    def as_dict(self) -> dict[str, Any]:
        """The problem as a JSON-ready mapping."""
        return {"path": self.path, "line": self.line, "col": self.col, "rule": self.rule, "message": self.message}


class RecordLike(Protocol):
    """What the validator needs of a record."""

    path: str
    data: dict[str, Any]
    kind: str

    @property
    def id(self) -> str: ...

    @property
    def type_name(self) -> str: ...

    def locate(self, json_path: tuple = ()) -> tuple[int, int]: ...


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, record: RecordLike, json_path: tuple, message: str, rule: str) -> None:
        line, col = record.locate(json_path)
        self.problems.append(Problem(record.path, line, col, message, rule))


# --- configuration --------------------------------------------------------------------


def validate_config(data: dict[str, Any], schemas: SchemaSet) -> list[tuple[tuple, str]]:
    """Problems in ``itsm.yaml``: its schema, then that its parts refer to each other correctly."""
    if not schemas.has("config.schema.json"):
        return [((), "schemas/config.schema.json is missing")]
    errors = schemas.errors("config.schema.json", data)
    if errors:
        return errors
    out: list[tuple[tuple, str]] = []
    workflows = data["workflows"]
    for name, t in data["types"].items():
        if t["workflow"] not in workflows:
            out.append((("types", name, "workflow"), f"unknown workflow '{t['workflow']}'"))
        if not schemas.has(t["schema"]):
            out.append((("types", name, "schema"), f"schemas/{t['schema']} does not exist"))
        if t["kind"] not in ("service", "supplier") and not t.get("prefix"):
            out.append((("types", name), f"type '{name}' needs an ID prefix"))
        for g in _policy_groups(t.get("approval")):
            if g not in {x["id"] for x in data["groups"]}:
                out.append((("types", name, "approval"), f"unknown approving group '{g}'"))
    prefixes: dict[str, str] = {}
    for name, t in data["types"].items():
        p = t.get("prefix")
        if p and p in prefixes:
            out.append((("types", name, "prefix"), f"prefix {p} is also used by '{prefixes[p]}'"))
        elif p:
            prefixes[p] = name
    for wname, wf in workflows.items():
        states = wf["states"]
        if wf["initial"] not in states:
            out.append((("workflows", wname, "initial"), f"initial state '{wf['initial']}' is not one of its states"))
        for sname, sdef in states.items():
            for key, target in (sdef.get("approval") or {}).items():
                if target not in states:
                    out.append((("workflows", wname, "states", sname, "approval", key), f"unknown state '{target}'"))
        for i, t in enumerate(wf["transitions"]):
            for s in [*t["from"], t["to"]]:
                if s not in states:
                    out.append((("workflows", wname, "transitions", i), f"unknown state '{s}'"))
    levels = data["priority"]["levels"]
    for impact in levels:
        for urgency in levels:
            if data["priority"]["matrix"].get(impact, {}).get(urgency) is None:
                out.append((("priority", "matrix"), f"the matrix has no priority for impact {impact}, urgency {urgency}"))
    profile = data["sla"].get("default_profile")
    if profile and profile not in data["sla"]["profiles"]:
        out.append((("sla", "default_profile"), f"unknown SLA profile '{profile}'"))
    for pname, table in data["sla"]["profiles"].items():
        hours = (table.get("availability") or {}).get("hours")
        if hours not in (None, "support_hours") and hours not in data["calendars"]:
            out.append((("sla", "profiles", pname, "availability", "hours"),
                        f"unknown calendar '{hours}' (support_hours or a calendar of this file)"))
    change_type = (data["types"].get("change") or {}).get("workflow")
    states = (data.get("status") or {}).get("maintenance", {}).get("states") or []
    if change_type in workflows:
        for state in states:
            if state not in workflows[change_type]["states"]:
                out.append((("status", "maintenance", "states"), f"'{state}' is not a state of the change workflow"))
    group_ids = {g["id"] for g in data["groups"]}
    for i, person in enumerate(data["people"]):
        for g in person.get("groups", []):
            if g not in group_ids:
                out.append((("people", i, "groups"), f"{person['email']}: unknown group '{g}'"))
    for cid, cal in data["calendars"].items():
        if not _valid_timezone(cal["timezone"]):
            out.append((("calendars", cid, "timezone"), f"unknown time zone '{cal['timezone']}'"))
        for i, day in enumerate(cal.get("holidays") or []):
            try:
                date.fromisoformat(str(day))
            except ValueError as exc:
                out.append((("calendars", cid, "holidays", i), holiday_problem(day, exc)))
    for wname, wf in workflows.items():
        marked = [s for s, d in wf["states"].items() if d.get("implementation")]
        if "implementer" in wf.get("segregation", []) and not marked:
            out.append((("workflows", wname, "segregation"),
                        "segregation names implementer but no state of this workflow is marked implementation: true"))
    emails = {p["email"].lower() for p in data["people"]}
    seen_models: set[str] = set()
    for i, model in enumerate(data.get("standard_changes") or []):
        if model["id"] in seen_models:
            out.append((("standard_changes", i, "id"), f"duplicate standard-change model '{model['id']}'"))
        seen_models.add(model["id"])
        if model["approved_by"].lower() not in emails:
            out.append((("standard_changes", i, "approved_by"), f"{model['approved_by']} is not a listed person"))
    from itsm_cli.core.rules import check_automation_config
    from itsm_cli.core.signing import key_problems

    out.extend(key_problems(data))
    out.extend(security.config_problems(data))
    out.extend(check_automation_config(Config(data)))
    return out


def _policy_groups(policy: dict[str, Any] | None) -> list[str]:
    if not policy:
        return []
    groups = [policy["group"]] if "group" in policy else []
    groups.extend(r["group"] for r in policy.get("rules", []) if "group" in r)
    return groups


def _valid_timezone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


# --- records --------------------------------------------------------------------------


def validate_records(
    config: Config,
    schemas: SchemaSet,
    records: Iterable[RecordLike],
    known_ids: AbstractSet[str],
    services: dict[str, dict[str, Any]],
) -> list[Problem]:
    """Check each record in depth; references are checked against ``known_ids`` and ``services``."""
    c = _Collector()
    seen: dict[str, str] = {}
    for record in records:
        _check_record(c, config, schemas, record, known_ids, services)
        rid = record.id.upper()
        if rid in seen:
            c.add(record, ("id",), f"ID {record.id} is also used by {seen[rid]}", "unique-id")
        else:
            seen[rid] = record.path
    return c.problems


def _check_record(
    c: _Collector,
    config: Config,
    schemas: SchemaSet,
    record: RecordLike,
    known_ids: AbstractSet[str],
    services: dict[str, dict[str, Any]],
) -> None:
    data = record.data
    stem = record.path.rpartition("/")[2].rpartition(".")[0]
    rtype = config.types.get(record.type_name)
    if rtype is None or rtype.kind != record.kind:
        kinds = sorted(n for n, t in config.types.items() if t.kind == record.kind)
        c.add(record, ("type",), f"unknown type '{data.get('type')}' for a file in this folder (expected one of: {', '.join(kinds)})", "type")
        return
    if not (ids.is_slug(stem) if rtype.kind in ("service", "supplier") else ids.is_record_id(stem)):
        c.add(record, (), f"file name '{stem}' is not a valid ID", "file-name")
    if str(data.get("id")) != stem:
        c.add(record, ("id",), f"file name must equal the ID: file is {stem}, id is '{data.get('id')}'", "file-name")
    if rtype.kind == "ticket" and ids.is_record_id(stem):
        place = ids.ticket_path(rtype.folder, stem)
        if record.path != place:
            fix = " (run 'itsm upgrade' to move a desk of the earlier flat layout)" if record.path.count("/") == 1 else ""
            c.add(record, (), f"this ticket belongs at {place}, the folder its ID gives{fix}", "layout")
    if rtype.prefix and isinstance(data.get("id"), str) and not data["id"].startswith(rtype.prefix + "-"):
        c.add(record, ("id",), f"a {rtype.name} ID starts with {rtype.prefix}-", "id-prefix")
    schema_ok = True
    if schemas.has(rtype.schema):
        for path, message in schemas.errors(rtype.schema, data):
            c.add(record, path, message, "schema")
            schema_ok = False
    else:
        c.add(record, (), f"schemas/{rtype.schema} is missing", "schema")
        return
    if not schema_ok:
        return  # deeper checks assume the record has the right shape
    _check_references(c, config, record, known_ids, services)
    if rtype.kind == "ticket" or "history" in data:
        _check_workflow(c, config, record, services)
    else:
        states = config.workflow(rtype.name)["states"]
        if data.get("status") not in states:
            c.add(record, ("status",), f"'{data.get('status')}' is not a state of {rtype.name} ({', '.join(states)})", "status")
    if "history" in data:
        for path, message in security.record_problems(data, config):
            c.add(record, path, message, "security")
    if rtype.kind == "ticket":
        _check_priority(c, config, record)
        why = standard_model_problem(config, data)
        if why:
            c.add(record, ("standard_model",) if "standard_model" in data else ("change_class",), why, "standard-change")


def _check_references(
    c: _Collector, config: Config, record: RecordLike, known_ids: AbstractSet[str], services: dict[str, dict[str, Any]]
) -> None:
    data = record.data
    service_id = data.get("service")
    if service_id is not None and service_id not in services:
        c.add(record, ("service",), f"unknown service '{service_id}'", "reference")
    offering = data.get("offering")
    if offering is not None and service_id in services and find_offering(services[service_id], offering) is None:
        c.add(record, ("offering",), f"service '{service_id}' has no offering '{offering}'", "reference")
    if offering is not None and service_id is None:
        c.add(record, ("offering",), "an offering needs a service", "reference")
    if offering is not None and service_id in services:
        form = data.get("form")
        for fid, label in missing_form_fields(find_offering(services[service_id], offering), form):
            c.add(record, ("form",) if isinstance(form, dict) else ("offering",),
                  f"offering '{offering}' of service '{service_id}' needs form field '{fid}' ({label})", "required")
    assignee = data.get("assignee")
    if assignee is not None and not config.has_role(assignee, "agent"):
        c.add(record, ("assignee",), f"assignee {assignee} is not a listed agent", "reference")
    group = data.get("group")
    if group is not None and group not in config.groups:
        c.add(record, ("group",), f"unknown group '{group}'", "reference")
    owner = data.get("owner")
    # A ticket's owner (an improvement's) answers for it at reviews: someone the desk lists, not any address.
    if record.kind == "ticket" and isinstance(owner, str) and config.person(owner) is None:
        c.add(record, ("owner",), f"owner {owner} is not a listed person of itsm.yaml", "reference")
    for i, link in enumerate(data.get("links") or []):
        if link["id"] not in known_ids:
            c.add(record, ("links", i, "id"), f"link target {link['id']} does not exist", "reference")
        if link["id"] == record.id:
            c.add(record, ("links", i, "id"), "a record cannot link to itself", "reference")
    for i, sid in enumerate(data.get("services") or []):
        if sid not in services:
            c.add(record, ("services", i), f"unknown service '{sid}'", "reference")
    if data.get("implemented_by"):
        from itsm_cli.core.releases import repository_problems

        for json_path, message in repository_problems(data, config.data.get("repositories") or {}):
            c.add(record, json_path, message, "reference")
    for i, sid in enumerate(data.get("depends_on") or []):
        if sid not in services:
            c.add(record, ("depends_on", i), f"unknown service '{sid}'", "reference")
        elif sid == record.id:
            c.add(record, ("depends_on", i), "a service cannot depend on itself", "reference")
    if record.kind == "service":
        if data["support_hours"] not in config.calendars:
            c.add(record, ("support_hours",), f"unknown calendar '{data['support_hours']}'", "reference")
        if "sla" in data and data["sla"] not in config.sla.get("profiles", {}):
            c.add(record, ("sla",), f"unknown SLA profile '{data['sla']}'", "reference")
        if data.get("group") is not None and data["group"] not in config.groups:
            c.add(record, ("group",), f"unknown group '{data['group']}'", "reference")
        for i, off in enumerate(data.get("offerings") or []):
            appr = off.get("approval")
            if isinstance(appr, dict) and appr.get("group") and appr["group"] not in config.groups:
                c.add(record, ("offerings", i, "approval", "group"), f"unknown group '{appr['group']}'", "reference")
        seen = set()
        for i, off in enumerate(data.get("offerings") or []):
            if off["id"] in seen:
                c.add(record, ("offerings", i, "id"), f"duplicate offering id '{off['id']}'", "unique-id")
            seen.add(off["id"])
    # Suppliers are asked for by their key: a service of the same name is not a supplier.
    for i, sup in enumerate(data.get("suppliers") or [] if record.kind == "service" else []):
        if ids.supplier_key(sup) not in known_ids:
            c.add(record, ("suppliers", i), f"unknown supplier '{sup}' (no suppliers/{sup}.yaml)", "reference")
    for i, esc in enumerate(data.get("escalations") or [] if record.kind == "ticket" else []):
        if isinstance(esc, dict) and ids.supplier_key(str(esc.get("supplier"))) not in known_ids:
            c.add(record, ("escalations", i, "supplier"),
                  f"unknown supplier '{esc.get('supplier')}' (no suppliers/{esc.get('supplier')}.yaml)", "reference")
    if record.kind == "supplier":
        from itsm_cli.core.suppliers import supplier_problems

        for path, message, rule in supplier_problems(config, data, services):
            c.add(record, path, message, rule)


def _check_workflow(c: _Collector, config: Config, record: RecordLike, services: dict[str, dict[str, Any]]) -> None:
    data = record.data
    type_name = record.type_name
    status = data.get("status")
    states = config.workflow(type_name)["states"]
    if status not in states:
        c.add(record, ("status",), f"'{status}' is not a state of {type_name} ({', '.join(states)})", "status")
    history = data.get("history")
    if not history:
        c.add(record, ("history",) if "history" in data else (), "a record needs a history starting with 'create'", "history")
        return
    policy = approval_policy(config, data, services.get(data.get("service") or ""))
    position, problems = replay(config, data, policy)
    for index, message in problems:
        c.add(record, ("history", index), f"history[{index}]: {message}", "workflow")
    if status in states and position.state != status:
        c.add(record, ("status",), f"status is '{status}' but the history ends in '{position.state}'", "status-history")
    if history[0].get("at") != data.get("created") and "created" in data:
        c.add(record, ("created",), f"created ({data.get('created')}) differs from the create entry ({history[0].get('at')})", "history")
    last = position.last_at
    if last and isinstance(data.get("updated"), str) and data["updated"] < last:
        c.add(record, ("updated",), f"updated ({data['updated']}) is earlier than the last history entry ({last})", "history")
    if status in states:
        for field in missing_required(config, data, status):
            c.add(record, ("status",), f"state '{status}' requires '{field}'", "required-field")


def _check_priority(c: _Collector, config: Config, record: RecordLike) -> None:
    data = record.data
    impact, urgency, priority = data.get("impact"), data.get("urgency"), data.get("priority")
    levels = config.priority_levels
    for field in ("impact", "urgency"):
        if data.get(field) is not None and data[field] not in levels:
            c.add(record, (field,), f"{field} '{data[field]}' is not one of: {', '.join(levels)}", "priority")
    if impact in levels and urgency in levels:
        expected = config.priority_for(impact, urgency)
        if priority != expected:
            c.add(record, ("priority",) if priority else (), f"priority should be {expected} (impact {impact} x urgency {urgency}), not {priority}", "priority")
    elif priority is not None and (impact is None or urgency is None):
        c.add(record, ("priority",), "priority is set but impact and urgency are not", "priority")


def dependency_cycles(services: dict[str, dict[str, Any]]) -> list[list[str]]:
    """Each cycle in the services' ``depends_on`` graph, as a list of service IDs."""
    cycles: list[list[str]] = []
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        colour[node] = 1
        stack.append(node)
        for dep in services.get(node, {}).get("depends_on") or []:
            if dep not in services:
                continue
            if colour.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif colour.get(dep) is None:
                visit(dep)
        stack.pop()
        colour[node] = 2

    for sid in sorted(services):
        if sid not in colour:
            visit(sid)
    return cycles


def missing_form_fields(offering: dict[str, Any] | None, form: Any) -> list[tuple[str, str]]:
    """(id, label) of the offering's required form fields that ``form`` leaves out or empty."""
    answers = form if isinstance(form, dict) else {}
    out = []
    for field in (offering or {}).get("form") or []:
        if isinstance(field, dict) and field.get("required") and answers.get(field.get("id")) in (None, ""):
            out.append((str(field.get("id")), str(field.get("label") or field.get("id"))))
    return out
