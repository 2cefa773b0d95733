"""Suppliers and their underpinning contracts: the rules, the reminders and the report, as pure functions.

A supplier (``suppliers/<id>.yaml``) names the listed person who manages the
relationship, its contacts, and its contracts: each with a period, a notice
date (``notice_by``, or ``notice_days`` before the end), a renewal mode, the
catalog services it underpins and the supplier's own targets. A service
names its suppliers (``suppliers:``); an incident records where it was
escalated (``escalations:``, written by ``itsm escalate``).

Nothing here reads a file, runs git or knows the terminal: the callers hand
in the records, the configuration and the clock.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from itsm_cli.core.config import Config
from itsm_cli.core.records import _append, _entry, ordered
from itsm_cli.core.workflow import ApprovalPolicy
from itsm_cli.errors import BadArgument, Refused

#: Days ahead ``itsm sweep`` reminds a supplier's owner of a notice or end date, unless itsm.yaml says otherwise.
REMINDER_DAYS = 30
#: Days ahead ``itsm report suppliers`` counts a contract as due when no --until is given.
DUE_DAYS = 90
#: What a supplier may list under ``public:`` (the service page shows these beside its name, nothing else).
PUBLIC_FIELDS = ("description", "website", "contacts", "targets")


# --- dates -------------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    """A contract date, or None when it is missing or not a real day (the schema checks the shape)."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def notice_date(contract: Mapping[str, Any]) -> date | None:
    """The last day notice may be given: ``notice_by``, else ``notice_days`` before the end, else None."""
    if "notice_by" in contract:
        return _day(contract["notice_by"])
    end = _day(contract.get("end"))
    days = contract.get("notice_days")
    if end is None or not isinstance(days, int) or isinstance(days, bool):
        return None
    return end - timedelta(days=days)


def key_dates(contract: Mapping[str, Any]) -> list[tuple[str, date]]:
    """The dates someone must act by, in order: ``("notice", day)`` when there is one, then ``("end", day)``."""
    out: list[tuple[str, date]] = []
    notice, end = notice_date(contract), _day(contract.get("end"))
    if notice is not None and notice != end:
        out.append(("notice", notice))
    if end is not None:
        out.append(("end", end))
    return out


def next_date(contract: Mapping[str, Any], today: date) -> tuple[str, date] | None:
    """The first of the contract's key dates that is today or later, or None when all have passed."""
    return next(((kind, day) for kind, day in key_dates(contract) if day >= today), None)


# --- validation --------------------------------------------------------------------------


def supplier_problems(
    config: Config, data: Mapping[str, Any], services: Mapping[str, Any]
) -> list[tuple[tuple, str, str]]:
    """(json path, message, rule) for what the schema cannot see: owner, services, dates, unique contract IDs.

    ``data`` already matches ``supplier.schema.json``.
    """
    out: list[tuple[tuple, str, str]] = []
    owner = data.get("owner")
    if isinstance(owner, str) and config.person(owner) is None:
        out.append((("owner",), f"owner {owner} is not a listed person of itsm.yaml", "reference"))
    seen: set[str] = set()
    for i, contract in enumerate(data.get("contracts") or []):
        cid = contract.get("id")
        if cid in seen:
            out.append((("contracts", i, "id"), f"duplicate contract id '{cid}'", "unique-id"))
        seen.add(cid)
        for j, sid in enumerate(contract.get("services") or []):
            if sid not in services:
                out.append((("contracts", i, "services", j), f"contract '{cid}': unknown service '{sid}'", "reference"))
        out.extend(_date_problems(contract, i))
    return out


def _date_problems(contract: Mapping[str, Any], i: int) -> list[tuple[tuple, str, str]]:
    out: list[tuple[tuple, str, str]] = []
    cid = contract.get("id")
    days = {}
    for name in ("start", "end", "notice_by"):
        if name in contract:
            days[name] = _day(contract[name])
            if days[name] is None:
                out.append((("contracts", i, name), f"contract '{cid}': {name} '{contract[name]}' is not a real date",
                            "date"))
    start, end = days.get("start"), days.get("end")
    if start and end and not start < end:
        out.append((("contracts", i, "end"), f"contract '{cid}': end {end} is not after start {start}", "date"))
    notice = notice_date(contract)
    where = ("contracts", i, "notice_by" if "notice_by" in contract else "notice_days")
    if notice and end and notice > end:
        out.append((where, f"contract '{cid}': the notice date {notice} is after the end {end}", "date"))
    elif notice and start and notice < start:
        out.append((where, f"contract '{cid}': the notice date {notice} is before the start {start}", "date"))
    return out


# --- escalation --------------------------------------------------------------------------


def escalate(
    config: Config,
    record: dict[str, Any],
    supplier_id: str,
    suppliers: Mapping[str, Mapping[str, Any]],
    reference: str | None,
    note: str | None,
    actor: str,
    now: str,
    policy: ApprovalPolicy | None,
) -> dict[str, Any]:
    """The incident escalated to a supplier: an ``escalations`` entry and an ``escalate`` history entry.

    An unknown supplier is refused naming the desk's suppliers; an ended
    supplier cannot be escalated to; the workflow decides the rest (a closed
    incident cannot change, only an agent escalates).
    """
    rid = record["id"]
    if record.get("type") != "incident":
        raise Refused(f"{rid} is a {record.get('type')}; only incidents are escalated to a supplier")
    if supplier_id not in suppliers:
        known = ", ".join(sorted(suppliers)) or "none: add suppliers/<id>.yaml"
        raise BadArgument(f"unknown supplier '{supplier_id}' (suppliers: {known})")
    supplier = suppliers[supplier_id]
    stype = config.supplier_type()
    if stype is not None and config.is_closed(stype.name, str(supplier.get("status"))):
        raise Refused(f"supplier '{supplier_id}' is '{supplier.get('status')}': its relationship has ended")
    reference = reference.strip() if reference and reference.strip() else None
    fields = {"supplier": supplier_id, **({"reference": reference} if reference else {})}
    entry = _entry(now, actor, "escalate", fields=fields, note=note.strip() if note and note.strip() else None)
    new = _append(config, record, policy, entry)
    escalation = {"supplier": supplier_id, **({"reference": reference} if reference else {}), "at": now, "by": actor}
    new["escalations"] = [*copy.deepcopy(record.get("escalations") or []), escalation]
    return ordered(new)


def escalations(ticket: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ticket's escalations to suppliers (well-formed entries only)."""
    return [e for e in ticket.get("escalations") or [] if isinstance(e, Mapping) and isinstance(e.get("supplier"), str)]


# --- reminders (itsm sweep) ----------------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One reminder the sweep records on a supplier (one commit): the supplier afterwards, and what it says."""

    supplier_id: str
    summary: str
    data: dict[str, Any]


def reminder_days(config: Config) -> int | None:
    """How many days ahead the sweep reminds, or None when supplier reminders are off."""
    settings = (config.data.get("sweep") or {}).get("supplier_reminders")
    if settings is None:
        return REMINDER_DAYS if config.data.get("sweep") else None
    if not settings.get("enabled", True):
        return None
    return int(settings.get("days", REMINDER_DAYS))


def plan_reminders(config: Config, suppliers: Mapping[str, Mapping[str, Any]], now: datetime) -> list[Reminder]:
    """Reminders due at ``now``: each contract date within the lead time not yet reminded of (so once each).

    A reminder is recorded on the supplier (``reminders:``: contract, kind,
    date, when, to whom), addressed to its owner; a contract whose date
    changes (renewed, extended) is reminded of the new date in its turn.
    Suppliers in a closed state are left alone.
    """
    days = reminder_days(config)
    stype = config.supplier_type()
    if days is None or stype is None:
        return []
    today = now.date()
    horizon = today + timedelta(days=days)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    out: list[Reminder] = []
    for sid in sorted(suppliers):
        data = suppliers[sid]
        owner = data.get("owner")
        if not isinstance(owner, str) or config.is_closed(stype.name, str(data.get("status"))):
            continue
        done = {(r.get("contract"), r.get("kind"), r.get("date")) for r in data.get("reminders") or []
                if isinstance(r, Mapping)}
        new: list[dict[str, Any]] = []
        for contract in data.get("contracts") or []:
            for kind, day in key_dates(contract):
                if today <= day <= horizon and (contract.get("id"), kind, day.isoformat()) not in done:
                    new.append({"contract": contract.get("id"), "kind": kind, "date": day.isoformat(), "at": stamp,
                                "to": owner})
        if new:
            updated = copy.deepcopy(dict(data))
            updated["reminders"] = [*updated.get("reminders", []), *new]
            what = ", ".join(f"{r['contract']} {r['kind']} {r['date']}" for r in new)
            out.append(Reminder(sid, f"remind {owner}: {what}", updated))
    return out


def reminder_text(supplier: Mapping[str, Any], reminder: Mapping[str, Any]) -> str:
    """What a reminder tells the owner, in one line."""
    contract = next((c for c in supplier.get("contracts") or [] if c.get("id") == reminder.get("contract")), {})
    title = contract.get("title") or reminder.get("contract")
    if reminder.get("kind") == "notice":
        what = "last day to give notice" + (" (it renews automatically otherwise)" if contract.get("renewal") == "auto" else "")
    else:
        what = "contract ends" + (" and renews automatically" if contract.get("renewal") == "auto" else "; renew it in time")
    return f"{supplier.get('name')}: {title}: {what} on {reminder.get('date')}"


def reminder_notices(config: Config, suppliers: Mapping[str, Mapping[str, Any]], since: str, until: str) -> list[Any]:
    """``itsm notify``'s e-mail for each reminder the sweep recorded between ``since`` and ``until`` (event ``contract_due``).

    Keyed by supplier, contract, kind and date, so each is sent once however
    often notify runs; addressed to whom the reminder names (the owner).
    """
    from itsm_cli.core.rules import Notice

    out = []
    edit_url = config.desk.get("edit_url")
    stype = config.supplier_type()
    for sid in sorted(suppliers):
        data = suppliers[sid]
        for r in data.get("reminders") or []:
            if not isinstance(r, Mapping) or not since <= str(r.get("at", "")) <= until or not r.get("to"):
                continue
            line = reminder_text(data, r)
            body = [line, "", "Decide in time: give notice, renew or let it run, and record the outcome in the "
                              "supplier's file."]
            if edit_url and stype is not None:
                body += ["", f"{edit_url}{stype.folder}/{sid}.yaml"]
            key = f"{sid}#{r.get('contract')}:{r.get('kind')}:{r.get('date')}:contract_due"
            payload = {"event": "contract_due", "id": sid, "type": "supplier", "contract": r.get("contract"),
                       "kind": r.get("kind"), "date": r.get("date"), "at": r.get("at"), "recipients": [r["to"]],
                       "message": line}
            subject = f"[{sid}] Contract {'notice' if r.get('kind') == 'notice' else 'end'} date {r.get('date')}: " \
                      f"{data.get('name')}"
            out.append(Notice(key, "contract_due", sid, str(r.get("at")), (str(r["to"]),), subject,
                              "\n".join(body) + "\n", payload))
    return out


# --- the report ----------------------------------------------------------------------------

COLUMNS = ("supplier", "contract", "services", "end", "notice", "days_left", "due", "renewal", "escalated")
HEADERS = ("SUPPLIER", "CONTRACT", "SERVICES", "END", "NOTICE", "DAYS LEFT", "DUE", "RENEWAL", "ESCALATED")


def contract_rows(
    suppliers: Mapping[str, Mapping[str, Any]],
    tickets: Iterable[Mapping[str, Any]],
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    service: str | None = None,
) -> list[dict[str, Any]]:
    """One row per contract, by supplier then end date: when to act, whether it is due, and escalations.

    ``days_left`` counts to the next date to act on (the notice date while it
    is ahead, else the end); ``due`` is true when that date falls before
    ``until`` (default: :data:`DUE_DAYS` days from ``now``). ``escalated``
    counts the incidents escalated to the supplier in the period
    (``since``/``until``; all when neither is given).
    """
    today = now.date()
    horizon = until.date() if until is not None and until > now else today + timedelta(days=DUE_DAYS)
    lo = since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else ""
    hi = until.strftime("%Y-%m-%dT%H:%M:%SZ") if until else "\uffff"
    counts: dict[str, set[str]] = {}
    for ticket in tickets:
        for esc in escalations(ticket):
            if lo <= str(esc.get("at", "")) < hi:
                counts.setdefault(esc["supplier"], set()).add(str(ticket.get("id")))
    rows: list[dict[str, Any]] = []
    for sid in sorted(suppliers):
        data = suppliers[sid]
        for contract in data.get("contracts") or []:
            services = [s for s in contract.get("services") or [] if isinstance(s, str)]
            if service is not None and service not in services:
                continue
            nxt = next_date(contract, today)
            notice = notice_date(contract)
            rows.append({
                "supplier": sid,
                "supplier_name": data.get("name"),
                "contract": contract.get("id"),
                "title": contract.get("title"),
                "services": services,
                "start": contract.get("start"),
                "end": contract.get("end"),
                "notice": notice.isoformat() if notice else None,
                "renewal": contract.get("renewal"),
                "next": nxt[0] if nxt else None,
                "days_left": (nxt[1] - today).days if nxt else None,
                "due": bool(nxt and nxt[1] <= horizon),
                "escalated": len(counts.get(sid, ())),
            })
    rows.sort(key=lambda r: (r["supplier"], str(r["end"]), str(r["contract"])))
    return rows


# --- the published site ------------------------------------------------------------------------


def public_view(supplier: Mapping[str, Any], service_id: str) -> dict[str, Any]:
    """What a service page may show of one of its suppliers: the name, plus the fields it lists as public.

    Contract references, dates, notice and renewal are never part of it;
    ``targets`` (when public) are those of the contracts underpinning this service.
    """
    shown = [f for f in supplier.get("public") or [] if f in PUBLIC_FIELDS]
    out: dict[str, Any] = {"name": supplier.get("name") or supplier.get("id")}
    for name in shown:
        if name == "targets":
            targets = [dict(c["targets"]) for c in supplier.get("contracts") or []
                       if service_id in (c.get("services") or []) and isinstance(c.get("targets"), Mapping)]
            if targets:
                out["targets"] = targets
        elif supplier.get(name):
            out[name] = copy.deepcopy(supplier[name])
    return out
