"""Workflows: which moves are legal, who may make them, and approvals.

One set of rules serves both sides: commands check a new history entry with
:class:`Replay` before appending it, and the validator replays every entry of
every record through the same :class:`Replay`. So a hand-edited file cannot
do what the CLI would refuse.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from itsm_cli.core.config import Config

STATE_CHANGING = ("create", "transition", "approve", "reject")
# Set when a record is created and never after: relabelling a normal change as
# standard would let it skip the CAB (issue 16), so the class and the model it
# names are fixed for the record's life.
FIXED_AT_CREATION = ("change_class", "standard_model")
# The class of change that is pre-authorised by a standard-change model.
STANDARD_CLASS = "standard"
# Roles that separation of duties can keep apart from the approver.
SEGREGATION_ROLES = ("requester", "assignee", "implementer")


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who must approve a record and how many distinct approvals it needs."""

    group: str
    count: int


def approval_policy(config: Config, record: dict[str, Any], service: dict[str, Any] | None) -> ApprovalPolicy | None:
    """The approval a record needs, or None when it needs none.

    A request's offering decides for it (``approval: true|false|{group, count}``);
    otherwise the type's ``approval`` section and its ``rules`` (first match wins)
    decide, e.g. standard changes are pre-approved, emergency ones go to an ECAB.
    """
    rtype = config.types.get(record.get("type", ""))
    if rtype is None or (rtype.approval is None and not record.get("offering")):
        return None
    base = dict(rtype.approval or {})
    offering_id = record.get("offering")
    if offering_id:
        offering = find_offering(service, offering_id)
        if offering is None:
            return None
        setting = offering.get("approval", False)
        if setting is False:
            return None
        if isinstance(setting, dict):
            base.update({k: v for k, v in setting.items() if k in ("group", "count")})
        if "group" not in base:
            return None
        return ApprovalPolicy(group=base["group"], count=int(base.get("count", 1)))
    required = True
    for rule in base.get("rules", []):
        if all(record.get(k) == v for k, v in rule.get("when", {}).items()):
            # A rule that waives approval for a standard change is the CAB's
            # standing decision only for the models it approved: a standard
            # change without a valid model still needs the approval.
            if rule.get("required") is False and is_standard(record) and standard_model_problem(config, record):
                continue
            required = rule.get("required", True)
            base.update({k: v for k, v in rule.items() if k in ("group", "count")})
            break
    if not required or "group" not in base:
        return None
    return ApprovalPolicy(group=base["group"], count=int(base.get("count", 1)))


def is_standard(record: dict[str, Any]) -> bool:
    """True when the record is a standard change (``change_class: standard``)."""
    return record.get("change_class") == STANDARD_CLASS


def model_covers(model: dict[str, Any], record: dict[str, Any]) -> str | None:
    """Why a standard-change model does not cover ``record`` (expired at its creation, another service); None when it does."""
    expires = model.get("expires")
    created = str(record.get("created") or "")
    if expires and created[:10] >= str(expires):
        return f"standard-change model '{model['id']}' expired on {expires}, before this change was created ({created})"
    services = model.get("services")
    if services and record.get("service") not in services:
        return (f"standard-change model '{model['id']}' covers only {', '.join(services)}, "
                f"not service '{record.get('service') or '(none)'}'")
    return None


def standard_model_problem(config: Config, record: dict[str, Any]) -> str | None:
    """Why a record's ``change_class``/``standard_model`` pair is not valid (None when it is).

    A standard change must name (``standard_model``) one of the desk's
    pre-authorised models (``standard_changes`` in ``itsm.yaml``) that covers
    its service and had not expired when the change was created; a change of
    any other class names none. Messages list the models that would be valid.
    """
    name = record.get("standard_model")
    if not is_standard(record):
        if name is not None:
            return f"standard_model is only for standard changes (change_class: {STANDARD_CLASS}), not {record.get('change_class')!r}"
        return None
    models = config.standard_changes
    valid = [m for m in models.values() if model_covers(m, record) is None]
    if valid:
        choices = "valid models: " + ", ".join(m["id"] for m in valid)
    elif models:
        choices = "no model of itsm.yaml (standard_changes) covers it; use change_class normal"
    else:
        choices = "itsm.yaml lists no standard-change models (standard_changes); use change_class normal"
    if name is None:
        return f"a standard change must name its pre-authorised model with standard_model; {choices}"
    model = models.get(str(name))
    if model is None:
        return f"unknown standard-change model '{name}'; {choices}"
    why = model_covers(model, record)
    return f"{why}; {choices}" if why else None


def find_offering(service: dict[str, Any] | None, offering_id: str) -> dict[str, Any] | None:
    """The offering of a service with this ID, or None."""
    if not service:
        return None
    for offering in service.get("offerings") or []:
        if isinstance(offering, dict) and offering.get("id") == offering_id:
            return offering
    return None


def may_act(config: Config, role: str, actor: str, record: dict[str, Any]) -> bool:
    """Whether ``actor`` fills ``role`` (agent, requester, anyone) for this record."""
    if role == "anyone":
        return True
    is_agent = config.has_role(actor, "agent")
    if role == "agent":
        return is_agent
    if role == "requester":
        return is_agent or actor.lower() == str(record.get("requester", "")).lower()
    return False


def segregation(config: Config, type_name: str) -> tuple[str, ...]:
    """The roles that must differ from the approver in this type's workflow.

    The workflow's ``segregation:`` list when it has one; otherwise requester
    and assignee, plus implementer where a state is marked ``implementation:
    true`` (so a change workflow is strict: all three).
    """
    wf = config.workflow(type_name)
    if "segregation" in wf:
        return tuple(r for r in SEGREGATION_ROLES if r in wf["segregation"])
    return ("requester", "assignee", "implementer") if implementation_states(config, type_name) else ("requester", "assignee")


def implementation_states(config: Config, type_name: str) -> list[str]:
    """States whose entry marks the person moving the record there as its implementer."""
    return [s for s, d in config.workflow(type_name)["states"].items() if d.get("implementation")]


@dataclass(frozen=True)
class Duties:
    """Who holds which role on a record at one point of its history."""

    requester: str
    assignee: str | None
    implementers: frozenset[str]
    approvers: frozenset[str]


def duty_problems(config: Config, record: dict[str, Any], duties: Duties, person: str, duty: str) -> list[str]:
    """Separation of duties, the one rule: may ``person`` take ``duty`` on ``record`` given ``duties`` so far?

    ``duty`` is ``approve`` (approve or reject: the person must not be the
    requester, the current assignee or an implementer, as far as the workflow's
    ``segregation`` asks), ``assignee`` (become the assignee: not someone who
    approved it) or ``implementer`` (take it into an implementation state: not
    someone who approved it). The commands, the validator's replay, ``audit
    verify`` and ``audit change`` all ask this function, so they agree.
    """
    type_name = record["type"]
    roles = segregation(config, type_name)
    who = person.lower()
    rid = record.get("id", "the record")

    def rule(role: str) -> str:
        return f"separation of duties (workflow {config.types[type_name].workflow}, segregation: {role})"

    problems = []
    if duty == "approve":
        if "requester" in roles and who == duties.requester.lower():
            problems.append(f"{rule('requester')}: {person} is the requester and cannot approve their own {type_name}")
        if "assignee" in roles and duties.assignee and who == duties.assignee.lower():
            problems.append(f"{rule('assignee')}: {person} is the assignee and cannot approve work assigned to them")
        if "implementer" in roles and who in duties.implementers:
            problems.append(f"{rule('implementer')}: {person} implemented {rid} and cannot approve it")
    elif who in duties.approvers:
        if duty == "assignee" and "assignee" in roles:
            problems.append(f"{rule('assignee')}: {person} approved {rid} and may not be its assignee")
        if duty == "implementer" and "implementer" in roles:
            problems.append(f"{rule('implementer')}: {person} approved {rid} and may not implement it")
    return problems


def transitions_from(config: Config, type_name: str, state: str) -> list[dict[str, Any]]:
    """Workflow transitions that leave ``state`` (ignoring who and conditions)."""
    return [t for t in config.workflow(type_name)["transitions"] if state in t["from"]]


@dataclass
class Replay:
    """Walks a record's history entry by entry, keeping the state it implies.

    :meth:`check` returns the reasons an entry would be illegal from the current
    position (empty when it is legal); :meth:`apply` moves past it.

    A workflow fork (two branches moved the record to different states, and a
    merge put both sides' entries in time order) is legal only when a later
    settling entry (``transition`` with ``settles: true``) ends it: until then
    the replay follows each side as its own line (``forks``), checking every
    move from the state its side was in, and the settling entry, by a listed
    agent, moves the record to one of the states the sides reached.
    """

    config: Config
    record: dict[str, Any]
    policy: ApprovalPolicy | None
    state: str | None = None
    last_at: str | None = None
    assignee: str | None = None
    approvers: set[str] = field(default_factory=set)
    position: int = 0
    # Everyone who ever approved, and who took the record into an
    # implementation state: separation of duties looks at the whole past.
    approved_by: set[str] = field(default_factory=set)
    implementers: set[str] = field(default_factory=set)
    forks: list[tuple[str | None, set[str]]] = field(default_factory=list)  # the other sides' (state, approvers)
    forkable: list[str] = field(default_factory=list)  # states held since the start or the last settling entry
    _settles: list[int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # An assignee set when the record was created has no entry of its own:
        # if no entry ever sets one, the record's assignee is the one it had
        # from the start; otherwise it starts unassigned until an entry says.
        history = self.record.get("history")
        history = history if isinstance(history, list) else []
        if self.assignee is None and not any(
            isinstance(e, dict) and isinstance(e.get("fields"), dict) and "assignee" in e["fields"] for e in history
        ):
            self.assignee = self.record.get("assignee")

    @property
    def type_name(self) -> str:
        """The record's type."""
        return self.record["type"]

    def legal_targets(self, actor: str) -> list[str]:
        """States ``actor`` may move the record to with ``itsm transition`` now."""
        out = []
        for t in transitions_from(self.config, self.type_name, self.state or ""):
            if self._condition_holds(t) and may_act(self.config, t["by"], actor, self.record) and t["to"] not in out:
                out.append(t["to"])
        return out

    def _condition_holds(self, t: dict[str, Any]) -> bool:
        cond = (t.get("if") or {}).get("approval")
        if cond == "required":
            return self.policy is not None
        if cond == "not_required":
            return self.policy is None
        return True

    def check(self, entry: dict[str, Any]) -> list[str]:
        """Reasons why ``entry`` cannot follow the history so far."""
        cfg = self.config
        action = entry.get("action")
        by = str(entry.get("by", ""))
        problems: list[str] = []
        at = entry.get("at")
        if self.last_at is not None and isinstance(at, str) and at < self.last_at:
            problems.append(f"entry at {at} is earlier than the entry before it ({self.last_at})")
        if self.position == 0:
            if action != "create":
                problems.append("the first history entry must be 'create'")
            elif entry.get("to") != cfg.initial_state(self.type_name):
                problems.append(f"'create' must enter the initial state '{cfg.initial_state(self.type_name)}'")
            return problems
        if action == "create":
            return ["'create' may only be the first history entry"]
        if self.state is not None and cfg.is_closed(self.type_name, self.state):
            return [f"the record is '{self.state}', a closed state, and cannot change"]
        changes_state = "to" in entry or "from" in entry
        fields = entry.get("fields") if isinstance(entry.get("fields"), dict) else {}
        for name in FIXED_AT_CREATION:
            if name in fields:
                problems.append(f"'{name}' is set when the {self.type_name} is created and cannot change")
        if action in ("comment", "link", "edit", "assign", "watch", "unwatch", "attach", "rate", "escalate"):
            if changes_state:
                problems.append(f"a '{action}' entry cannot change the state")
            if action == "rate":
                if cfg.category(self.type_name, self.state or "") != "resolved":
                    problems.append(f"a rating is given while the record is resolved, not '{self.state}'")
                if not self._is_requester(by):
                    problems.append(f"only the requester rates the record, not {by}")
            if action == "assign":
                if not cfg.has_role(by, "agent"):
                    problems.append(f"{by} is not a listed agent and cannot assign")
            elif action == "escalate" and not cfg.has_role(by, "agent"):
                problems.append(f"{by} is not a listed agent and cannot escalate to a supplier")
            elif action == "edit" and not (cfg.has_role(by, "agent") or self._is_requester(by)):
                problems.append(f"{by} is neither an agent nor the requester and cannot edit")
            problems.extend(self.duty_problems(entry))
            return problems
        if "settles" in entry:
            return problems + self._settle_problems(entry, by)
        if entry.get("from") != self.state:
            fork = self._fork_for(entry.get("from"))
            if fork is None:
                problems.append(f"entry says it moved from '{entry.get('from')}' but the record was '{self.state}'")
                return problems
            with self._on(fork):
                return problems + self._move_problems(entry, action, by)
        return problems + self._move_problems(entry, action, by)

    def _move_problems(self, entry: dict[str, Any], action: Any, by: str) -> list[str]:
        """Reasons a transition, approval or rejection cannot leave the current state."""
        cfg = self.config
        problems: list[str] = []
        to = entry.get("to")
        if action == "transition":
            if to is None:
                return ["a 'transition' entry needs 'to'"]
            problems.extend(self.why_not(to, by))
            problems.extend(self.duty_problems(entry))
            return problems
        # approve / reject
        state_def = cfg.state(self.type_name, self.state or "") or {}
        gate = state_def.get("approval")
        if not gate:
            return [f"'{self.state}' is not an approval state; nothing to {action}"]
        problems.extend(self.approver_problems(by))
        if action == "reject":
            if to != gate["rejected"]:
                problems.append(f"a rejection moves the record to '{gate['rejected']}'")
            return problems
        needed = self.policy.count if self.policy else 1
        have = len(self.approvers | {by.lower()})
        if by.lower() in self.approvers:
            problems.append(f"{by} has already approved")
        if to is None and have >= needed:
            problems.append(f"this approval completes {needed} of {needed}; it must move the record to '{gate['approved']}'")
        if to is not None and (to != gate["approved"] or have < needed):
            problems.append(f"only the approval that completes {needed} of {needed} moves the record to '{gate['approved']}'")
        return problems

    def _settle_problems(self, entry: dict[str, Any], by: str) -> list[str]:
        """Reasons a settling entry cannot end the workflow fork here."""
        if entry.get("settles") is not True or entry.get("action") != "transition":
            return ["a settling entry is a 'transition' with 'settles: true'"]
        if not self.forks:
            return ["there is no workflow fork to settle here"]
        problems = []
        if not self.config.has_role(by, "agent"):
            problems.append(f"{by} is not a listed agent and cannot settle a workflow fork")
        if entry.get("from") != self.state:
            problems.append(f"entry says it moved from '{entry.get('from')}' but the record was '{self.state}'")
        reached = [self.state, *(state for state, _ in self.forks)]
        if entry.get("to") not in reached:
            shown = ", ".join(f"'{s}'" for s in reached)
            problems.append(f"a settling entry moves the record to a state one side reached ({shown}), not '{entry.get('to')}'")
        return problems

    def _fork_for(self, state: Any) -> tuple[str | None, set[str]] | None:
        """The side a move from ``state`` continues: another side's line, or a new side opened at a state the
        record held since the last settling entry (only when a settling entry follows); None when neither."""
        for fork in self.forks:
            if fork[0] == state:
                return fork
        if isinstance(state, str) and state in self.forkable and self._settle_ahead():
            return (state, set())
        return None

    def _settle_ahead(self) -> bool:
        if self._settles is None:
            entries = [e for e in self.record.get("history") or [] if isinstance(e, dict)]
            self._settles = [i for i, e in enumerate(entries) if e.get("settles") is True]
        return any(i > self.position for i in self._settles)

    @contextlib.contextmanager
    def _on(self, fork: tuple[str | None, set[str]]) -> Iterator[None]:
        """Check from ``fork``'s position for a moment, then come back."""
        saved = self.state, self.approvers
        self.state, self.approvers = fork[0], set(fork[1])
        try:
            yield
        finally:
            self.state, self.approvers = saved

    def why_not(self, to: str, actor: str) -> list[str]:
        """Reasons the current state cannot move to ``to`` by ``actor`` (empty when it can)."""
        cfg = self.config
        if cfg.state(self.type_name, to) is None:
            return [f"'{to}' is not a state of {self.type_name}"]
        candidates = [t for t in transitions_from(cfg, self.type_name, self.state or "") if t["to"] == to]
        if not candidates:
            return [f"{self.type_name} cannot move from '{self.state}' to '{to}'"]
        conditioned = [t for t in candidates if self._condition_holds(t)]
        if not conditioned:
            need = "needs" if self.policy else "does not need"
            return [f"this {self.type_name} {need} approval, so it cannot move from '{self.state}' to '{to}'"]
        if not any(may_act(cfg, t["by"], actor, self.record) for t in conditioned):
            roles = sorted({t["by"] for t in conditioned})
            return [f"{actor} may not move it from '{self.state}' to '{to}' (needs: {', '.join(roles)})"]
        return []

    def duties(self) -> Duties:
        """Who holds which role at this point of the history."""
        return Duties(
            requester=str(self.record.get("requester", "")),
            assignee=str(self.assignee) if self.assignee else None,
            implementers=frozenset(self.implementers),
            approvers=frozenset(self.approved_by),
        )

    def duty_problems(self, entry: dict[str, Any]) -> list[str]:
        """Separation-of-duties reasons against ``entry`` (approve/reject, a new assignee, entering an implementation state).

        Judged against the record as it is at this point: an approval is
        checked against the assignee and implementers so far, and a later
        assignment or implementation by someone who approved is itself the
        violation, at its own entry.
        """
        action = entry.get("action")
        by = str(entry.get("by", ""))
        if action in ("approve", "reject"):
            return duty_problems(self.config, self.record, self.duties(), by, "approve")
        problems: list[str] = []
        fields = entry.get("fields") if isinstance(entry.get("fields"), dict) else {}
        if fields.get("assignee"):
            problems += duty_problems(self.config, self.record, self.duties(), str(fields["assignee"]), "assignee")
        if action == "transition" and entry.get("to") in implementation_states(self.config, self.type_name):
            problems += duty_problems(self.config, self.record, self.duties(), by, "implementer")
        return problems

    def approver_problems(self, actor: str) -> list[str]:
        """Reasons ``actor`` may not approve or reject this record now: the approving group, then separation of duties."""
        problems = []
        if self.policy is None:
            return [f"this {self.type_name} needs no approval"]
        person = self.config.person(actor)
        if person is None or self.policy.group not in person.groups:
            problems.append(f"{actor} is not a member of the approving group '{self.policy.group}'")
        problems += duty_problems(self.config, self.record, self.duties(), actor, "approve")
        return problems

    def _is_requester(self, actor: str) -> bool:
        return actor.lower() == str(self.record.get("requester", "")).lower()

    def apply(self, entry: dict[str, Any]) -> None:
        """Move past ``entry``."""
        action = entry.get("action")
        at = entry.get("at")
        if isinstance(at, str) and (self.last_at is None or at > self.last_at):
            self.last_at = at
        fields = entry.get("fields") or {}
        if isinstance(fields, dict) and "assignee" in fields:
            self.assignee = fields["assignee"]
        if entry.get("settles") is True and action == "transition" and self.forks:
            chosen = entry.get("to")
            sides = [(self.state, self.approvers), *self.forks]
            self.approvers = next((set(a) for state, a in sides if state == chosen), set())
            self.state, self.forks, self.forkable = chosen, [], [chosen] if isinstance(chosen, str) else []
            self.position += 1
            return
        if action in STATE_CHANGING and action != "create" and entry.get("from") != self.state:
            fork = self._fork_for(entry.get("from"))
            if fork is not None:  # continue the other side's line; this side waits in ``forks``
                self.forks = [f for f in self.forks if f is not fork]
                self.forks.append((self.state, self.approvers))
                self.state, self.approvers = fork[0], set(fork[1])
        if action == "approve":
            self.approvers.add(str(entry.get("by", "")).lower())
            self.approved_by.add(str(entry.get("by", "")).lower())
        if action == "transition" and entry.get("to") in implementation_states(self.config, self.type_name):
            self.implementers.add(str(entry.get("by", "")).lower())
        if "to" in entry and action in STATE_CHANGING:
            if entry["to"] != self.state:
                self.approvers = set()
            self.state = entry["to"]
            if action == "create":
                self.forkable = []
            if isinstance(self.state, str) and self.state not in self.forkable:
                self.forkable.append(self.state)
        self.position += 1


def replay(config: Config, record: dict[str, Any], policy: ApprovalPolicy | None) -> tuple[Replay, list[tuple[int, str]]]:
    """Replay a record's whole history; return the final position and (entry index, problem) pairs."""
    r = Replay(config, record, policy)
    problems: list[tuple[int, str]] = []
    for i, entry in enumerate(record.get("history") or []):
        if not isinstance(entry, dict):
            problems.append((i, "history entries must be mappings"))
            continue
        for p in r.check(entry):
            problems.append((i, p))
        r.apply(entry)
    return r, problems


def missing_required(config: Config, record: dict[str, Any], state: str) -> list[str]:
    """Fields the state requires that the record lacks or leaves empty."""
    st = config.state(record["type"], state) or {}
    return [f for f in st.get("requires", []) if record.get(f) in (None, "", [])]
