"""Automation as data: event rules, the sweep's time rules, notifications to send, and templates.

Everything here is pure: it is handed the configuration, records, the catalog
and a clock, and returns new records (or plans). Every change goes through the
operations of :mod:`itsm_cli.core.records`, acting as the desk's bot identity,
so a rule can never do what the workflow forbids and every step it takes is a
history entry like any other.

- **Event rules** (``rules:`` in itsm.yaml) run inside ``new``, ``transition``,
  ``edit`` (and the other changing commands): when a record matches, their
  actions assign, set fields, comment, link and transition before the commit.
  Rules run in order, each seeing what the ones before did; what rules do does
  not trigger rules again, and an action that would change nothing is skipped,
  so running the rules twice changes nothing the second time.
- **Time rules** (``sweep:``) are planned by :func:`plan_sweep`: auto-close,
  SLA escalation, approval reminders, overdue KB reviews. Each leaves a mark in
  the history (a state change, or a note written by the bot), and is only
  planned when that mark is missing, so a second sweep with nothing new to do
  plans nothing.
- **Notifications** are derived from history by :func:`plan_notices`; the
  application layer remembers which it has sent.
- **Templates**: :func:`apply_template` pre-fills a new record from a named
  template and from the offering it requests.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from itsm_cli.core import ids, records, security
from itsm_cli.core.calendar import Calendar, calendar_from_config, parse_duration
from itsm_cli.core.config import Config
from itsm_cli.core.sla import compute_clocks, parse_timestamp, service_calendar
from itsm_cli.core.workflow import ApprovalPolicy, approval_policy, find_offering
from itsm_cli.errors import BadArgument, ItsmError, Refused

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

__all__ = [
    "EVENTS",
    "NOTICE_EVENTS",
    "Notice",
    "SweepPlan",
    "SweepStep",
    "apply_event_rules",
    "apply_template",
    "check_automation_config",
    "plan_notices",
    "plan_sweep",
    "render",
    "template_values",
]

# History actions a rule can react to (``on:``).
EVENTS = ("create", "transition", "assign", "comment", "link", "approve", "reject", "edit")
# What notifications a desk can subscribe to.
NOTICE_EVENTS = ("assignment", "approval_needed", "breach_warning", "resolution", "review_due", "comment",
                 "contract_due")

# The notes the sweep writes are its memory: a step is planned only when its note is missing.
ESCALATED = "Escalated by sweep rule"
REMINDER = "Approval reminder:"
REVIEW = "Review overdue:"

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]{0,63})\}")
_MAX_NOTE = 100_000


# --- templated text -------------------------------------------------------------------


def template_values(config: Config, record: Mapping[str, Any], service: Mapping[str, Any] | None) -> dict[str, str]:
    """The values ``{field}`` placeholders may use: the record's plain fields, plus a few names.

    Scalars as text, lists of scalars joined with ", "; mappings and history are
    left out, and so are a security incident's confidential fields. Extra names:
    ``service_name``, ``service_owner``, ``requester_name``, ``assignee_name``,
    ``desk_name``.
    """
    values: dict[str, str] = {}
    # A security incident's confidential fields never reach a note or reply (the bot's notes stay readable).
    secret = security.settings(config) if security.is_security(record, config) else None
    for key, value in record.items():
        if key == "history" or (secret is not None and key in secret.fields):
            continue
        if isinstance(value, bool):
            values[key] = "yes" if value else "no"
        elif isinstance(value, (str, int, float)):
            values[key] = str(value)
        elif isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            values[key] = ", ".join(str(v) for v in value)
    if service:
        values["service_name"] = str(service.get("name") or service.get("id") or "")
        values["service_owner"] = str(service.get("owner") or "")
    for who in ("requester", "assignee"):
        if isinstance(record.get(who), str):
            values[f"{who}_name"] = config.display_name(record[who])
    values["desk_name"] = str(config.desk.get("name") or "")
    return values


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill ``{field}`` placeholders from ``values`` in one pass; ``{{``/``}}`` are literal braces.

    Only bare names are recognised (no attribute access, indexing or format
    specs), and substituted text is never expanded again. Unknown names are
    left as written, so a typo shows in the result instead of vanishing.
    """

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values.get(match.group(1), token)

    return _PLACEHOLDER.sub(substitute, text)[:_MAX_NOTE]


# --- conditions -----------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _field_matches(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        present = value not in (None, "", [])
        if "exists" in expected and present != bool(expected["exists"]):
            return False
        if "contains" in expected:
            hay = " ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
            if str(expected["contains"]).lower() not in hay.lower():
                return False
        return True
    candidates = value if isinstance(value, list) else [value]
    return any(c in _as_list(expected) for c in candidates)


def conditions_hold(when: Mapping[str, Any] | None, record: Mapping[str, Any], now: datetime) -> bool:
    """Whether a record meets a rule's ``when:`` (type, service, offering, priority, status, fields, age)."""
    if not when:
        return True
    for key in ("type", "service", "offering", "priority", "status"):
        if key in when and record.get(key) not in _as_list(when[key]):
            return False
    for name, expected in (when.get("fields") or {}).items():
        if not _field_matches(record.get(name), expected):
            return False
    age = when.get("age")
    if age:
        try:
            seconds = (now - parse_timestamp(record["created"])).total_seconds()
        except (KeyError, ValueError):
            return False
        if "over" in age and seconds < parse_duration(age["over"]):
            return False
        if "under" in age and seconds >= parse_duration(age["under"]):
            return False
    return True


# --- event rules ----------------------------------------------------------------------


@dataclass
class _Context:
    config: Config
    services: Mapping[str, Mapping[str, Any]]
    bot: str
    now: str
    known_ids: AbstractSet[str] | None

    def service(self, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.services.get(record.get("service") or "")

    def policy(self, record: dict[str, Any]) -> ApprovalPolicy | None:
        return approval_policy(self.config, record, self.service(record))  # type: ignore[arg-type]


def _assign(ctx: _Context, rec: dict[str, Any], spec: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    person = spec.get("person")
    group = spec.get("group")
    if spec.get("service_group"):
        service = ctx.service(rec)
        group = (service or {}).get("group")
        if not group:
            raise Refused(f"service '{rec.get('service')}' names no group to assign to")
    if person is not None and str(rec.get("assignee", "")).lower() == person.lower():
        person = None
    if group is not None and rec.get("group") == group:
        group = None
    if person is None and group is None:
        return rec, None
    new = records.assign(ctx.config, rec, person, group, ctx.bot, ctx.now, ctx.policy(rec))
    return new, "assign " + " ".join(x for x in (person, f"group {group}" if group else None) if x)


def _set(ctx: _Context, rec: dict[str, Any], spec: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    changed = {k: v for k, v in spec.items() if rec.get(k) != v}
    if not changed:
        return rec, None
    new = records.edit(ctx.config, rec, changed, ctx.bot, ctx.now, ctx.policy(rec))
    return new, "set " + ", ".join(f"{k}={v}" for k, v in changed.items())


def _comment(ctx: _Context, rec: dict[str, Any], spec: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    text = render(str(spec["text"]), template_values(ctx.config, rec, ctx.service(rec)))
    if any(e.get("by") == ctx.bot and e.get("note") == text for e in rec.get("history") or []):
        return rec, None
    internal = bool(spec.get("internal", False))
    new = records.comment(ctx.config, rec, text, ctx.bot, ctx.now, ctx.policy(rec), internal)
    return new, "internal comment" if internal else "comment"


def _link(ctx: _Context, rec: dict[str, Any], spec: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    kind, other = spec["kind"], spec["id"]
    if {"kind": kind, "id": other} in (rec.get("links") or []):
        return rec, None
    if ctx.known_ids is not None and other not in ctx.known_ids:
        raise Refused(f"no record {other} to link to")
    new = records.link(ctx.config, rec, kind, other, ctx.bot, ctx.now, ctx.policy(rec))
    return new, f"link {kind} {other}"


def _transition(ctx: _Context, rec: dict[str, Any], spec: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    to = spec["to"]
    if rec.get("status") == to:
        return rec, None
    note = spec.get("note")
    if note:
        note = render(str(note), template_values(ctx.config, rec, ctx.service(rec)))
    old = rec.get("status")
    new = records.transition(ctx.config, rec, to, ctx.bot, ctx.now, ctx.policy(rec), note)
    return new, f"transition {old} -> {to}"


_ACTIONS = {"assign": _assign, "set": _set, "comment": _comment, "link": _link, "transition": _transition}


def apply_event_rules(
    config: Config,
    record: dict[str, Any],
    event: str,
    now: str,
    bot: str,
    services: Mapping[str, Mapping[str, Any]],
    known_ids: AbstractSet[str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Run the desk's event rules on a record just changed by ``event``; return it and what was done.

    ``event`` is the history action that just happened (``create``,
    ``transition``, ``edit``...); ``now`` the command's ``...Z`` time; ``bot``
    the identity rules act as (``config.bot``); ``known_ids`` the IDs links may
    point at (None: not checked here). Each action is a records operation by
    ``bot``; one the workflow refuses is skipped and reported as
    ``"<rule>: skipped <action>: <why>"`` in the returned list, never raised,
    so a rule cannot stop the command it runs in. Actions that would change
    nothing are skipped silently.
    """
    rules = config.data.get("rules") or []
    if not rules or "history" not in record or event not in EVENTS:
        return record, []
    type_name = record.get("type")
    if type_name not in config.types or config.is_closed(type_name, str(record.get("status"))):
        return record, []
    ctx = _Context(config, services, bot, now, known_ids)
    now_dt = parse_timestamp(now)
    applied: list[str] = []
    current = record
    for rule in rules:
        if not rule.get("enabled", True) or event not in (rule.get("on") or []):
            continue
        try:
            if not conditions_hold(rule.get("when"), current, now_dt):
                continue
        except ValueError as e:
            applied.append(f"{rule.get('id')}: skipped: {e}")
            continue
        for action in rule.get("actions") or []:
            if config.is_closed(str(current.get("type")), str(current.get("status"))):
                break
            name = next(iter(action), "?") if isinstance(action, dict) else "?"
            if not isinstance(action, dict) or len(action) != 1 or name not in _ACTIONS:
                applied.append(f"{rule.get('id')}: skipped {name}: not one of {', '.join(_ACTIONS)}; run 'itsm validate'")
                continue
            try:
                current, summary = _ACTIONS[name](ctx, current, action[name])
            except ItsmError as e:
                applied.append(f"{rule['id']}: skipped {name}: {e.message}")
                continue
            except (KeyError, TypeError, ValueError) as e:  # a malformed rule the schema would have caught
                applied.append(f"{rule.get('id')}: skipped {name}: malformed ({e}); run 'itsm validate'")
                continue
            if summary:
                applied.append(f"{rule['id']}: {summary}")
        if rule.get("stop"):
            break
    return current, applied


# --- templates ------------------------------------------------------------------------


def apply_template(
    config: Config,
    services: Mapping[str, Mapping[str, Any]],
    type_name: str,
    fields: Mapping[str, Any],
    template_name: str | None = None,
) -> dict[str, Any]:
    """The fields of a new record pre-filled from a template and from the offering it requests.

    ``templates.<name>`` in itsm.yaml gives ``fields`` (and ``checklist``); the
    offering (``fields['offering']`` of ``fields['service']``) gives its
    fulfilment ``checklist``. What the caller passed always wins; checklists are
    joined (template first), each item once, as ``{item, done: false}``.
    Refused for an unknown template, BadArgument for one meant for another type.
    """
    out = dict(fields)
    checklist: list[str] = []
    if template_name:
        templates = config.data.get("templates") or {}
        template = templates.get(template_name)
        if template is None:
            known = ", ".join(sorted(templates)) or "none"
            raise Refused(f"unknown template '{template_name}'; this desk has: {known}")
        if template.get("type") and template["type"] != type_name:
            raise BadArgument(f"template '{template_name}' is for {template['type']} records, not {type_name}")
        for key, value in (template.get("fields") or {}).items():
            if out.get(key) is None:
                out[key] = copy.deepcopy(value)
        checklist.extend(template.get("checklist") or [])
    offering_id = out.get("offering")
    if offering_id:
        offering = find_offering(services.get(out.get("service") or ""), offering_id)  # type: ignore[arg-type]
        if offering:
            checklist.extend(offering.get("checklist") or [])
    if checklist and out.get("checklist") is None:
        out["checklist"] = [{"item": item, "done": False} for item in dict.fromkeys(checklist)]
    return out


# --- the sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepStep:
    """One sweep action on one record (one commit): what it did and the record afterwards."""

    record_id: str
    action: str  # close | escalate | remind | review
    summary: str
    data: dict[str, Any]


@dataclass
class SweepPlan:
    """What a sweep would do, and what it could not do (with why)."""

    steps: list[SweepStep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entered(record: Mapping[str, Any], state: str) -> str:
    """When the record last entered ``state`` (its created time when it never moved)."""
    at = str(record.get("created") or "")
    for entry in record.get("history") or []:
        if entry.get("to") == state:
            at = str(entry.get("at"))
    return at


def _bot_notes(record: Mapping[str, Any], bot: str, prefix: str) -> list[dict[str, Any]]:
    return [
        e for e in record.get("history") or []
        if isinstance(e, dict) and str(e.get("by", "")).lower() == bot.lower() and str(e.get("note", "")).startswith(prefix)
    ]


def _with_note(record: dict[str, Any], note: str) -> dict[str, Any]:
    """The record with ``note`` on its last history entry (records ops return copies, so this is safe)."""
    record["history"][-1]["note"] = note
    return record


class _Sweeper:
    def __init__(self, config: Config, services: Mapping[str, Mapping[str, Any]], now: str, bot: str):
        self.config = config
        self.services = services
        self.now = now
        self.now_dt = parse_timestamp(now)
        self.bot = bot
        self.settings = config.data.get("sweep") or {}

    def service(self, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.services.get(record.get("service") or "")

    def policy(self, record: dict[str, Any]) -> ApprovalPolicy | None:
        return approval_policy(self.config, record, self.service(record))  # type: ignore[arg-type]

    def calendar(self, record: Mapping[str, Any], name: str | None) -> Calendar:
        if name:
            entry = self.config.calendars.get(name)
            if entry is None:
                raise Refused(f"sweep: unknown calendar '{name}'")
            return calendar_from_config(name, entry)
        return service_calendar(self.config.data, self.service(record))

    def waited(self, record: Mapping[str, Any], since: str, duration: str, calendar: str | None) -> bool:
        cal = self.calendar(record, calendar)
        return cal.business_seconds(parse_timestamp(since), self.now_dt) >= parse_duration(duration, cal)

    # Each planner returns the steps it takes on one record, each building on the one before.

    def auto_close(self, rec: dict[str, Any]) -> list[SweepStep]:
        type_name, status = rec["type"], str(rec.get("status"))
        for rule in self.settings.get("auto_close") or []:
            if rule.get("types") and type_name not in rule["types"]:
                continue
            if status not in (rule.get("from") or self.config.states_in(type_name, "resolved")):
                continue
            last = str(rec["history"][-1].get("at"))
            if not self.waited(rec, last, rule["after"], rule.get("calendar")):
                continue
            target = rule.get("to") or self._closing_target(rec)
            if target is None:
                raise Refused(f"no closed state the bot may move it to from '{status}'")
            note = rule.get("note") or (
                f"Closed automatically: '{status}' for {rule['after']} of support time with no further activity."
            )
            note = render(note, template_values(self.config, rec, self.service(rec)))
            data = records.transition(self.config, rec, target, self.bot, self.now, self.policy(rec), note)
            return [SweepStep(rec["id"], "close", f"close: {status} -> {target} after {rule['after']}", data)]
        return []

    def _closing_target(self, rec: dict[str, Any]) -> str | None:
        position = records.position_of(self.config, rec, self.policy(rec))
        for to in position.legal_targets(self.bot):
            if self.config.is_closed(rec["type"], to):
                return to
        return None

    def escalate(self, rec: dict[str, Any]) -> list[SweepStep]:
        type_name = rec["type"]
        steps: list[SweepStep] = []
        for rule in self.settings.get("escalate") or []:
            if not self.config.is_open(type_name, str(rec.get("status"))):
                break
            if rule.get("types") and type_name not in rule["types"]:
                continue
            if rule.get("priority") and rec.get("priority") not in _as_list(rule["priority"]):
                continue
            clocks = compute_clocks(rec, self.config.data, self.service(rec), self.now_dt)
            horizon = self.now_dt + timedelta(seconds=parse_duration(rule["within"]))
            names = ("response", "resolution") if rule.get("clock", "any") == "any" else (rule["clock"],)
            for name in names:
                clock = getattr(clocks, name)
                if clock.target is None or clock.stopped_at is not None or clock.breach_at is None:
                    continue
                marker = f"{ESCALATED} '{rule['id']}':"
                if clock.breach_at > horizon or _bot_notes(rec, self.bot, marker):
                    continue
                rec, did = self._escalate(rec, rule)
                note = f"{marker} the {name} target {'was' if clock.breached else 'is'} due at {_iso(clock.breach_at)}."
                if did:
                    text = "; ".join(did)
                    note += f" {text[0].upper()}{text[1:]}."
                if rule.get("note"):
                    note += " " + render(rule["note"], template_values(self.config, rec, self.service(rec)))
                rec = records.comment(self.config, rec, note, self.bot, self.now, self.policy(rec), internal=True)
                summary = f"escalate ({rule['id']}): {name} due {_iso(clock.breach_at)}" + (f"; {'; '.join(did)}" if did else "")
                steps.append(SweepStep(rec["id"], "escalate", summary, rec))
                break  # once per rule and ticket: the note just written is its memory
        return steps

    def _escalate(self, rec: dict[str, Any], rule: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        did: list[str] = []
        if rule.get("raise_priority"):
            change = self._raised(rec)
            if change:
                before = rec.get("priority")
                rec = records.edit(self.config, rec, change, self.bot, self.now, self.policy(rec))
                did.append(f"priority {before} -> {rec.get('priority')}")
        assign = rule.get("assign")
        if assign:
            ctx = _Context(self.config, self.services, self.bot, self.now, None)
            rec, summary = _assign(ctx, rec, assign)
            if summary:
                did.append(summary.replace("assign ", "assigned to ", 1))
        return rec, did

    def _raised(self, rec: Mapping[str, Any]) -> dict[str, str] | None:
        """Urgency one level up, or impact when urgency is already highest; None when both are."""
        levels = self.config.priority_levels  # highest first
        for name in ("urgency", "impact"):
            value = rec.get(name)
            if value in levels and levels.index(value) > 0:
                return {name: levels[levels.index(value) - 1]}
        return None

    def remind(self, rec: dict[str, Any]) -> list[SweepStep]:
        settings = self.settings.get("approval_reminders")
        type_name, status = rec["type"], str(rec.get("status"))
        if not settings or not (self.config.state(type_name, status) or {}).get("approval"):
            return []
        if settings.get("types") and type_name not in settings["types"]:
            return []
        policy = self.policy(rec)
        if policy is None:
            return []
        entered = _entered(rec, status)
        sent = [e for e in _bot_notes(rec, self.bot, REMINDER) if str(e.get("at")) >= entered]
        if sent:
            if not settings.get("every"):
                return []
            since, wait = str(sent[-1]["at"]), settings["every"]
        else:
            since, wait = entered, settings["after"]
        if not self.waited(rec, since, wait, settings.get("calendar")):
            return []
        note = f"{REMINDER} waiting since {entered} for approval by group '{policy.group}'."
        data = records.comment(self.config, rec, note, self.bot, self.now, policy, internal=True)
        return [SweepStep(rec["id"], "remind", f"remind group {policy.group} (waiting since {entered})", data)]

    def review(self, rec: dict[str, Any]) -> list[SweepStep]:
        settings = self.settings.get("kb_review")
        if settings is None or not settings.get("enabled", True):
            return []
        review_by, type_name = rec.get("review_by"), rec["type"]
        if not isinstance(review_by, str) or review_by >= self.now_dt.date().isoformat():
            return []
        if str(rec.get("status")) not in (settings.get("states") or self.config.states_in(type_name, "resolved")):
            return []
        note = f"{REVIEW} review_by {review_by} has passed."
        if _bot_notes(rec, self.bot, note):
            return []
        if not rec.get("history"):
            raise Refused("has no history, so the sweep cannot flag its overdue review; add a 'create' entry")
        tag = settings.get("tag", "review-due")
        tags = list(rec.get("tags") or [])
        policy = self.policy(rec)
        if tag and tag not in tags:
            data = _with_note(records.edit(self.config, rec, {"tags": [*tags, tag]}, self.bot, self.now, policy), note)
        else:
            data = records.comment(self.config, rec, note, self.bot, self.now, policy, internal=True)
        if settings.get("transition") and data.get("status") != settings["transition"]:
            data = records.transition(self.config, data, settings["transition"], self.bot, self.now, policy, note)
        return [SweepStep(rec["id"], "review", f"flag overdue review (review_by {review_by})", data)]


def plan_sweep(
    config: Config,
    items: Iterable[Mapping[str, Any]],
    services: Mapping[str, Mapping[str, Any]],
    now: str,
    bot: str,
) -> SweepPlan:
    """The time rules' steps at ``now``: auto-close, escalate, remind approvers, flag overdue reviews.

    ``items`` are record data (tickets and articles); each step is one record
    operation (or a few, for an escalation) by ``bot``. A record's steps build
    on each other. A step the workflow refuses becomes a problem
    (``"INC-0042: why"``) and the sweep goes on with the next record.
    """
    sweeper = _Sweeper(config, services, now, bot)
    plan = SweepPlan()
    if not sweeper.settings:
        return plan
    for data in sorted(items, key=lambda d: str(d.get("id"))):
        type_name = data.get("type")
        if type_name not in config.types or (not data.get("history") and config.types[type_name].kind == "ticket"):
            continue
        if config.is_closed(type_name, str(data.get("status"))):
            continue
        kind = config.types[type_name].kind
        planners = (sweeper.auto_close, sweeper.escalate, sweeper.remind) if kind == "ticket" else (sweeper.review,)
        current = dict(data)
        for planner in planners:
            try:
                steps = planner(current)
            except ItsmError as e:
                rid = str(data.get("id"))
                plan.problems.append(e.message if e.message.startswith(f"{rid}: ") else f"{rid}: {e.message}")
                continue
            except ValueError as e:  # a bad duration, calendar or timestamp
                plan.problems.append(f"{data.get('id')}: {e}")
                continue
            plan.steps.extend(steps)
            if steps:
                current = steps[-1].data
            if config.is_closed(type_name, str(current.get("status"))):
                break
    return plan


# --- notifications --------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """One thing to tell people: an event on a record, whom to tell, and what to say."""

    key: str  # stable identity of the event, for remembering it was sent
    event: str  # one of NOTICE_EVENTS
    record_id: str
    at: str  # when it happened (notices older than the look-back are never sent)
    recipients: tuple[str, ...]
    subject: str
    text: str
    payload: dict[str, Any]
    confidential: bool = False  # about a security incident: e-mail to the security group only, no webhook


SECURITY_LINE = "This is a security incident: its details are encrypted. Read them with 'itsm show {id}'."


def _for_security_group(config: Config, notice: Notice) -> Notice | None:
    """A notice about a security incident as the security group may get it: its members only, no content.

    The text and payload carry the ID, state and title (visible in the
    repository too) but no note, resolution or other field; webhooks (which
    reach other systems) are never sent it (:attr:`Notice.confidential`).
    """
    recipients = tuple(r for r in notice.recipients if security.may_be_told(r, config))
    if not recipients:
        return None
    line = SECURITY_LINE.format(id=notice.record_id)
    head = notice.text.split("\n\n", 1)[0]
    payload = {k: notice.payload.get(k) for k in ("event", "id", "type", "title", "status", "priority", "at")}
    payload.update(recipients=list(recipients), message=line)
    return Notice(notice.key, notice.event, notice.record_id, notice.at, recipients, notice.subject,
                  f"{head}\n\n{line}\n", payload, confidential=True)


class _Notifier:
    def __init__(self, config: Config, services: Mapping[str, Mapping[str, Any]], now: datetime, bot: str):
        self.config = config
        self.services = services
        self.now = now
        self.bot = bot.lower()

    def group_recipients(self, group: str | None, *, approvers: bool = False) -> list[str]:
        if not group:
            return []
        email = (self.config.groups.get(group) or {}).get("email")
        if email and not approvers:
            return [email]
        return [p.email for p in self.config.members(group)]

    def worker_recipients(self, rec: Mapping[str, Any]) -> list[str]:
        """Who works the record: its assignee, else its group, else its service's group."""
        if rec.get("assignee"):
            return [str(rec["assignee"])]
        group = rec.get("group") or (self.services.get(rec.get("service") or "") or {}).get("group")
        return self.group_recipients(group)

    def notice(self, key: str, event: str, rec: Mapping[str, Any], at: str, to: Iterable[str], line: str,
               exclude: Iterable[str] = ()) -> Notice | None:
        skip = {x.lower() for x in exclude if x} | {self.bot}
        recipients = tuple(dict.fromkeys(r for r in to if r and r.lower() not in skip))
        if not recipients:
            return None
        rid = str(rec.get("id"))
        title = str(rec.get("title") or "")
        heading = {
            "assignment": "Assigned to you",
            "approval_needed": "Approval needed",
            "breach_warning": "SLA breach warning",
            "resolution": "Resolved",
            "review_due": "Review overdue",
            "comment": "New comment",
        }[event]
        facts = " · ".join(str(x) for x in (rid, rec.get("type"), rec.get("status"), rec.get("priority")) if x)
        body = [title, facts]
        if rec.get("service"):
            svc = self.services.get(rec["service"]) or {}
            body.append(f"Service: {svc.get('name') or rec['service']}")
        body += ["", line]
        url = self.config.desk.get("edit_url")
        if url and rec.get("type") in self.config.types:
            folder = self.config.types[str(rec["type"])].folder
            ext = ".md" if self.config.types[str(rec["type"])].kind == "article" else ".yaml"
            body += ["", f"{url}{folder}/{rid}{ext}"]
        if self.config.data.get("intake_mail") is not None and self.config.types[str(rec["type"])].kind == "ticket":
            body += ["", f"Reply to this e-mail, keeping [{rid}] in the subject, to add a comment."]
        payload = {
            "event": event, "id": rid, "type": rec.get("type"), "title": title, "status": rec.get("status"),
            "priority": rec.get("priority"), "service": rec.get("service"), "at": at, "recipients": list(recipients),
            "message": line,
        }
        return Notice(key, event, rid, at, recipients, f"[{rid}] {heading}: {title}", "\n".join(body) + "\n", payload)

    def from_history(self, rec: Mapping[str, Any], since: str, until: str) -> list[Notice]:
        out: list[Notice | None] = []
        type_name = str(rec.get("type"))
        rid = rec.get("id")
        requester = str(rec.get("requester") or "")
        history = rec.get("history") or []
        for i, e in enumerate(history):
            if not isinstance(e, dict):
                continue
            at, by, action = str(e.get("at", "")), str(e.get("by", "")), e.get("action")
            if not since <= at <= until:
                continue
            key = f"{rid}#{i}"
            fields = e.get("fields") if isinstance(e.get("fields"), dict) else {}
            note = str(e.get("note") or "")
            if action in ("assign", "transition") and (fields.get("assignee") or (action == "assign" and fields.get("group"))):
                to = [fields["assignee"]] if fields.get("assignee") else self.group_recipients(fields.get("group"))
                who = fields.get("assignee") or f"group {fields.get('group')}"
                out.append(self.notice(f"{key}:assignment", "assignment", rec, at, to,
                                       f"{self.config.display_name(by)} assigned this to {who}.", [by]))
            to_state = e.get("to")
            if to_state and action in ("create", "transition") and (self.config.state(type_name, to_state) or {}).get("approval"):
                out.append(self._approval(rec, key, at, by, f"It is waiting for your approval ({to_state})."))
            if action == "comment" and note.startswith(REMINDER) and by.lower() == self.bot:
                out.append(self._approval(rec, key, at, by, f"Reminder: {note[len(REMINDER):].strip()}", reminder=True))
            if (to_state and action in ("transition", "approve", "reject") and e.get("from") != to_state
                    and self.config.category(type_name, to_state) == "resolved"
                    and self.config.category(type_name, str(e.get("from"))) != "resolved"
                    and self.config.types.get(type_name) is not None and self.config.types[type_name].kind == "ticket"):
                text = f"{self.config.display_name(by)} marked this {to_state}."
                if rec.get("resolution"):
                    text += f"\n\nResolution:\n{rec['resolution']}"
                text += "\n\nIf it is not fixed, reply to say so."
                if self.config.data.get("intake_mail") is not None:
                    text += ("\nTo rate how it was handled, reply with just a number from 1 (poor) to 5 (great) "
                             "on the first line, and any words after it.")
                out.append(self.notice(f"{key}:resolution", "resolution", rec, at, [requester], text, [by]))
            if action == "comment" and not e.get("internal") and note and not (
                    by.lower() == self.bot and note.startswith((REMINDER, ESCALATED, REVIEW))):
                # Public comments reach the requester and the watchers (the customer side); never the author.
                watchers = [str(w) for w in rec.get("watchers") or [] if isinstance(w, str)]
                text = f"{self.config.display_name(by)} wrote:\n\n{note}"
                out.append(self.notice(f"{key}:comment", "comment", rec, at, [requester, *watchers], text, [by]))
            if action == "comment" and note.startswith(ESCALATED) and by.lower() == self.bot:
                out.append(self.notice(f"{key}:breach_warning", "breach_warning", rec, at,
                                       self.worker_recipients(rec), note))
            if note.startswith(REVIEW) and by.lower() == self.bot:
                out.append(self.notice(f"{key}:review_due", "review_due", rec, at, [str(rec.get("owner") or "")],
                                       f"{note} Please review the article and move review_by on."))
        return [n for n in out if n is not None]

    def _approval(self, rec: Mapping[str, Any], key: str, at: str, by: str, line: str, reminder: bool = False) -> Notice | None:
        policy = approval_policy(self.config, dict(rec), self.services.get(rec.get("service") or ""))  # type: ignore[arg-type]
        if policy is None:
            return None
        approved = set()
        if reminder:  # only those who have not approved yet
            entered = _entered(rec, str(rec.get("status")))
            approved = {str(e.get("by")) for e in rec.get("history") or []
                        if e.get("action") == "approve" and str(e.get("at")) >= entered}
        exclude = [by, str(rec.get("requester") or ""), str(rec.get("assignee") or ""), *approved]
        to = self.group_recipients(policy.group, approvers=True)
        return self.notice(f"{key}:approval_needed", "approval_needed", rec, at, to, line, exclude)

    def breach_warnings(self, rec: Mapping[str, Any], within: float) -> list[Notice]:
        type_name = str(rec.get("type"))
        if not self.config.is_open(type_name, str(rec.get("status"))):
            return []
        clocks = compute_clocks(rec, self.config.data, self.services.get(rec.get("service") or ""), self.now)
        out = []
        for clock in (clocks.response, clocks.resolution):
            if clock.state != "running" or clock.breach_at is None:
                continue
            if not self.now < clock.breach_at <= self.now + timedelta(seconds=within):
                continue
            due = _iso(clock.breach_at)
            line = f"The {clock.name} target is due at {due}."
            notice = self.notice(f"{rec.get('id')}:breach:{clock.name}:{due}", "breach_warning", rec, due,
                                 self.worker_recipients(rec), line)
            if notice:
                out.append(notice)
        return out


def plan_notices(
    config: Config,
    items: Iterable[Mapping[str, Any]],
    services: Mapping[str, Mapping[str, Any]],
    now: str,
    bot: str,
) -> list[Notice]:
    """The notifications the desk subscribes to for events between ``now`` minus the look-back and ``now``.

    From history: assignment (to the new assignee, or the group), approval
    needed (to the approving group, not the requester or assignee; again on each
    sweep reminder), resolution (to the requester), breach warning (each sweep
    escalation), review due (to a KB article's owner), comment (each public
    comment, to the requester and the watchers). From the clocks, with
    ``notifications.breach_warning.within`` set: each running clock about to
    breach. Nobody is told about their own action, nor the bot about anything.
    """
    settings = config.data.get("notifications") or {}
    subscribed = set(settings.get("events") or NOTICE_EVENTS)
    now_dt = parse_timestamp(now)
    lookback = parse_duration(settings.get("lookback", "1d"))
    since = _iso(now_dt - timedelta(seconds=lookback))
    notifier = _Notifier(config, services, now_dt, bot)
    within = (settings.get("breach_warning") or {}).get("within")
    out: list[Notice] = []
    for rec in sorted(items, key=lambda d: str(d.get("id"))):
        if rec.get("type") not in config.types or not rec.get("history"):
            continue
        found = notifier.from_history(rec, since, _iso(now_dt))
        if within and config.types[str(rec["type"])].kind == "ticket":
            found.extend(notifier.breach_warnings(rec, parse_duration(within)))
        if security.is_security(rec, config):
            found = [n for n in (_for_security_group(config, n) for n in found) if n is not None]
        out.extend(found)
    return [n for n in out if n.event in subscribed]


def url_key(url: str) -> str:
    """A short stable name for a webhook URL, so the URL (which may hold a token) is never written down."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]


# --- configuration checks -------------------------------------------------------------


def check_automation_config(config: Config) -> list[tuple[tuple, str]]:
    """Problems the schema cannot see in ``rules``, ``sweep``, ``templates`` and ``notifications``.

    Unknown groups, people, states, types, calendars, link targets that are not
    record IDs; protected fields in ``set``/template ``fields``; and a bot that
    is not a listed agent while rules or the sweep need one. Each as
    (path in itsm.yaml, message), like the config validator.
    """
    out: list[tuple[tuple, str]] = []
    data = config.data
    types = config.types

    def check_type(path: tuple, name: str) -> bool:
        if name not in types:
            out.append((path, f"unknown record type '{name}'"))
            return False
        return True

    def check_assign(path: tuple, spec: Mapping[str, Any]) -> None:
        if spec.get("group") and spec["group"] not in config.groups:
            out.append(((*path, "group"), f"unknown group '{spec['group']}'"))
        if spec.get("person") and not config.has_role(spec["person"], "agent"):
            out.append(((*path, "person"), f"{spec['person']} is not a listed agent"))

    def check_states(path: tuple, type_names: Iterable[str], states: Iterable[str]) -> None:
        for state in states:
            if not any(config.state(t, state) for t in type_names if t in types):
                out.append((path, f"'{state}' is not a state of {', '.join(type_names)}"))

    needs_agent = False
    for i, rule in enumerate(data.get("rules") or []):
        path = ("rules", i)
        when = rule.get("when") or {}
        rule_types = [t for t in _as_list(when.get("type")) if t] or [n for n, t in types.items() if t.kind != "service"]
        for t in _as_list(when.get("type") or []):
            check_type((*path, "when", "type"), t)
        if when.get("status"):
            check_states((*path, "when", "status"), rule_types, _as_list(when["status"]))
        for j, action in enumerate(rule.get("actions") or []):
            (name, spec), = action.items()
            apath = (*path, "actions", j, name)
            if name in ("assign", "set", "transition") and rule.get("enabled", True):
                needs_agent = True
            if name == "assign":
                check_assign(apath, spec)
            elif name == "set":
                bad = sorted(set(spec) & records.PROTECTED)
                if bad:
                    out.append((apath, f"'{bad[0]}' cannot be set directly"))
            elif name == "transition":
                check_states(apath, rule_types, [spec["to"]])
            elif name == "link" and not ids.is_record_id(str(spec.get("id"))):
                out.append((apath, f"'{spec.get('id')}' is not a record ID"))
    sweep = data.get("sweep") or {}
    for key in ("auto_close", "escalate"):
        for i, rule in enumerate(sweep.get(key) or []):
            path = ("sweep", key, i)
            needs_agent = needs_agent or (key == "escalate" and bool(rule.get("raise_priority") or rule.get("assign")))
            for t in rule.get("types") or []:
                check_type((*path, "types"), t)
            if rule.get("calendar") and rule["calendar"] not in config.calendars:
                out.append(((*path, "calendar"), f"unknown calendar '{rule['calendar']}'"))
            if rule.get("assign"):
                check_assign((*path, "assign"), rule["assign"])
    reminders = sweep.get("approval_reminders") or {}
    if reminders.get("calendar") and reminders["calendar"] not in config.calendars:
        out.append((("sweep", "approval_reminders", "calendar"), f"unknown calendar '{reminders['calendar']}'"))
    if (sweep.get("kb_review") or {}).get("enabled", True) and sweep.get("kb_review") is not None:
        needs_agent = True
    for name, template in (data.get("templates") or {}).items():
        path = ("templates", name)
        if template.get("type"):
            check_type((*path, "type"), template["type"])
        bad = sorted(set(template.get("fields") or {}) & records.PROTECTED)
        if bad:
            out.append(((*path, "fields"), f"'{bad[0]}' cannot be set by a template"))
    if needs_agent and not config.has_role(config.bot, "agent"):
        out.append((("desk", "bot"), f"rules or the sweep assign, edit or move records, so the bot {config.bot} "
                                     "must be a listed person with the agent role"))
    return out
