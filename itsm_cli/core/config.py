"""The desk's configuration (``itsm.yaml``) as an object the rest of the core asks questions of.

Nothing here knows a state name: workflows, priorities, people and groups are
all read from the configuration mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from itsm_cli.errors import Refused

CATEGORIES = ("new", "open", "waiting", "resolved", "closed")


@dataclass(frozen=True)
class RecordType:
    """One record type of the desk: incident, request, article, service..."""

    name: str
    kind: str  # ticket | article | service | supplier
    folder: str
    workflow: str
    schema: str
    prefix: str | None
    approval: dict | None
    defaults: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    """A listed person of the desk."""

    email: str
    name: str
    roles: frozenset[str]
    groups: frozenset[str]


class Config:
    """Read-only view over a validated ``itsm.yaml`` mapping."""

    def __init__(self, data: dict[str, Any]):
        self.data = data

    # --- types ---------------------------------------------------------------

    @cached_property
    def types(self) -> dict[str, RecordType]:
        """Record types by name."""
        out = {}
        for name, t in self.data.get("types", {}).items():
            out[name] = RecordType(
                name=name,
                kind=t["kind"],
                folder=t["folder"],
                workflow=t["workflow"],
                schema=t["schema"],
                prefix=t.get("prefix"),
                approval=t.get("approval"),
                defaults=dict(t.get("defaults") or {}),
            )
        return out

    @cached_property
    def types_by_prefix(self) -> dict[str, RecordType]:
        """Record types with an ID prefix, by prefix."""
        return {t.prefix: t for t in self.types.values() if t.prefix}

    def record_type(self, name: str) -> RecordType:
        """The type called ``name``; Refused when the desk has no such type."""
        try:
            return self.types[name]
        except KeyError:
            raise Refused(f"unknown record type '{name}'; this desk has: {', '.join(sorted(self.types))}") from None

    def type_for_id(self, record_id: str) -> RecordType | None:
        """The type whose prefix starts ``record_id`` (``INC-0042`` -> incident)."""
        prefix, sep, _ = record_id.partition("-")
        if sep and prefix in self.types_by_prefix:
            return self.types_by_prefix[prefix]
        return None

    def service_type(self) -> RecordType | None:
        """The type that describes catalog services, if the desk has one."""
        for t in self.types.values():
            if t.kind == "service":
                return t
        return None

    def supplier_type(self) -> RecordType | None:
        """The type that describes suppliers and their contracts, if the desk has one."""
        for t in self.types.values():
            if t.kind == "supplier":
                return t
        return None

    # --- workflows -----------------------------------------------------------

    def workflow(self, type_name: str) -> dict[str, Any]:
        """The workflow mapping of a record type."""
        return self.data["workflows"][self.types[type_name].workflow]

    def initial_state(self, type_name: str) -> str:
        """The state a new record of this type starts in."""
        return self.workflow(type_name)["initial"]

    def state(self, type_name: str, state: str) -> dict[str, Any] | None:
        """The definition of one state, or None when it is not a state of the type."""
        return self.workflow(type_name)["states"].get(state)

    def category(self, type_name: str, state: str) -> str | None:
        """The category (new/open/waiting/resolved/closed) of a state."""
        st = self.state(type_name, state)
        return st.get("category") if st else None

    def states_in(self, type_name: str, *categories: str) -> list[str]:
        """The states of a type whose category is one of ``categories``."""
        return [s for s, d in self.workflow(type_name)["states"].items() if d.get("category") in categories]

    def is_closed(self, type_name: str, state: str) -> bool:
        """True when ``state`` is final: the record is frozen."""
        return self.category(type_name, state) == "closed"

    def is_open(self, type_name: str, state: str) -> bool:
        """True for states where work is still owed (not resolved or closed)."""
        return self.category(type_name, state) in ("new", "open", "waiting")

    # --- priority ------------------------------------------------------------

    @property
    def priority_levels(self) -> list[str]:
        """Impact and urgency levels, highest first."""
        return list(self.data["priority"]["levels"])

    def priority_for(self, impact: str, urgency: str) -> str | None:
        """The matrix priority for an impact and urgency, or None if either is unknown."""
        return self.data["priority"]["matrix"].get(impact, {}).get(urgency)

    @property
    def priority_default(self) -> dict[str, str]:
        """Impact and urgency for a new ticket that names neither."""
        levels = self.priority_levels
        mid = levels[len(levels) // 2]
        d = self.data["priority"].get("default") or {}
        return {"impact": d.get("impact", mid), "urgency": d.get("urgency", mid)}

    # --- people and groups ---------------------------------------------------

    @cached_property
    def people(self) -> dict[str, Person]:
        """Listed people by lower-cased e-mail."""
        out = {}
        for p in self.data.get("people", []):
            out[p["email"].lower()] = Person(
                email=p["email"],
                name=p["name"],
                roles=frozenset(p.get("roles", [])),
                groups=frozenset(p.get("groups", [])),
            )
        return out

    @cached_property
    def groups(self) -> dict[str, dict[str, Any]]:
        """Groups by ID."""
        return {g["id"]: g for g in self.data.get("groups", [])}

    def person(self, email: str) -> Person | None:
        """The listed person with this e-mail address (case-insensitive)."""
        return self.people.get(email.lower())

    def has_role(self, email: str, role: str) -> bool:
        """True when ``email`` is a listed person with ``role``."""
        p = self.person(email)
        return bool(p and role in p.roles)

    def members(self, group: str) -> list[Person]:
        """Listed people who belong to ``group``."""
        return [p for p in self.people.values() if group in p.groups]

    def display_name(self, email: str) -> str:
        """A person's name when listed, else the address itself."""
        p = self.person(email)
        return p.name if p else email

    # --- standard changes ----------------------------------------------------

    @cached_property
    def standard_changes(self) -> dict[str, dict[str, Any]]:
        """The pre-authorised standard-change models (``standard_changes``), by ID."""
        return {m["id"]: m for m in self.data.get("standard_changes") or [] if isinstance(m, dict) and "id" in m}

    # --- service levels and desk ---------------------------------------------

    @property
    def desk(self) -> dict[str, Any]:
        """The ``desk:`` section (name, URLs, signing policy)."""
        return self.data.get("desk", {})

    @property
    def calendars(self) -> dict[str, Any]:
        """Calendars by ID."""
        return self.data.get("calendars", {})

    @property
    def sla(self) -> dict[str, Any]:
        """The ``sla:`` section."""
        return self.data.get("sla", {})

    @property
    def bot(self) -> str:
        """The identity scheduled jobs act as."""
        return self.desk.get("bot", "itsm-bot@localhost")
