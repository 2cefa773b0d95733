"""Working a ticket with its people: watchers, canned replies, time spent and the requester's rating.

Pure operations on record dicts, like :mod:`itsm_cli.core.records`: each
returns a new dict with one history entry appended and never touches the file
system or git.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from itsm_cli.errors import BadArgument, Refused

if TYPE_CHECKING:
    from itsm_cli.core.config import Config
    from itsm_cli.core.workflow import ApprovalPolicy

# A pattern, not a compiled one: re compiles it on first use. `itsm show` imports this module for
# format_minutes only, and no module-level work here (nor records and workflow, imported where a
# history entry is made) should be on its way.
_EMAIL = r"[^@\s\x00-\x1f\x7f<>]{1,64}@[^@\s\x00-\x1f\x7f<>]{1,255}"
SCORES = range(1, 6)


def resolve_person(config: Config, person: str | None, actor: str) -> str:
    """The e-mail address a watcher argument means: the actor when omitted or ``me``, a listed person as listed.

    Any well-formed address is accepted, as Request Tracker takes any address as
    a Cc watcher: the people who want to follow a ticket (a requester's manager,
    a colleague with the same problem) are mostly not listed people of the desk,
    just as requesters are not.
    """
    if person is None or person == "me":
        return actor
    if len(person) > 320 or not re.fullmatch(_EMAIL, person):
        raise BadArgument(f"'{person}' is not an e-mail address (or 'me')")
    listed = config.person(person)
    return listed.email if listed else person


def _may_change_watchers(config: Config, record: Mapping[str, Any], person: str, actor: str) -> None:
    """Agents and the requester manage a ticket's watchers; anyone else may only add or remove themselves."""
    if person.lower() == actor.lower() or config.has_role(actor, "agent"):
        return
    if str(record.get("requester", "")).lower() == actor.lower():
        return
    raise Refused(f"{record['id']}: only an agent or the requester may change who else watches it; "
                  f"you may watch or unwatch it yourself")


def watch(config: Config, record: dict[str, Any], person: str, actor: str, now: str,
          policy: ApprovalPolicy | None) -> dict[str, Any]:
    """Add ``person`` to the record's ``watchers`` (told of public comments, like the requester)."""
    from itsm_cli.core.records import _append, _entry, ordered

    watchers = list(record.get("watchers") or [])
    if any(str(w).lower() == person.lower() for w in watchers):
        raise Refused(f"{record['id']}: {person} already watches it")
    _may_change_watchers(config, record, person, actor)
    new = _append(config, record, policy, _entry(now, actor, "watch", fields={"watchers": [person]}))
    new["watchers"] = [*watchers, person]
    return ordered(new)


def unwatch(config: Config, record: dict[str, Any], person: str, actor: str, now: str,
            policy: ApprovalPolicy | None) -> dict[str, Any]:
    """Remove ``person`` from the record's ``watchers``."""
    from itsm_cli.core.records import _append, _entry, ordered

    watchers = list(record.get("watchers") or [])
    kept = [w for w in watchers if str(w).lower() != person.lower()]
    if len(kept) == len(watchers):
        raise Refused(f"{record['id']}: {person} does not watch it"
                      + (f"; watchers: {', '.join(map(str, watchers))}" if watchers else ""))
    _may_change_watchers(config, record, person, actor)
    new = _append(config, record, policy, _entry(now, actor, "unwatch", fields={"watchers": [person]}))
    if kept:
        new["watchers"] = kept
    else:
        new.pop("watchers", None)
    return ordered(new)


def reply_text(config: Config, name: str, record: Mapping[str, Any], service: Mapping[str, Any] | None,
               actor: str = "") -> str:
    """The canned reply ``name`` of ``itsm.yaml`` (``replies:``), its placeholders filled as rules fill theirs.

    One more placeholder than rules have: ``{agent_name}``, the person sending the reply.
    """
    from itsm_cli.core.rules import render, template_values

    replies = config.data.get("replies") or {}
    if name not in replies:
        known = ", ".join(sorted(replies)) if replies else "none (add a 'replies:' section to itsm.yaml)"
        raise BadArgument(f"unknown reply '{name}'; this desk's replies: {known}")
    values = template_values(config, record, service)
    values["agent_name"] = config.display_name(actor) if actor else ""
    return render(str(replies[name]), values).rstrip()


def parse_time_spent(text: str) -> int:
    """Minutes in ``30m``, ``1h``, ``1h30m`` or ``1.5h``; refuses zero, negatives and more than a day's 24h."""
    value = text.strip().lower()
    minutes: float | None = None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([hm])", value)
    if match:
        minutes = float(match.group(1)) * (60 if match.group(2) == "h" else 1)
    else:
        match = re.fullmatch(r"(\d+)h\s*(\d+)m", value)
        if match:
            minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes is None:
        raise BadArgument(f"--time '{text}' is not a duration; use minutes or hours, e.g. 30m, 1h, 1h30m or 1.5h")
    if not 1 <= round(minutes) <= 24 * 60:
        raise BadArgument(f"--time '{text}': time spent is between 1m and 24h per entry")
    return round(minutes)


def format_minutes(minutes: int) -> str:
    """``90`` as ``1h 30m``, ``30`` as ``30m``."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return f"{rest}m"
    return f"{hours}h {rest:02d}m" if rest else f"{hours}h"


def with_time_spent(record: dict[str, Any], minutes: int | None) -> dict[str, Any]:
    """The record with ``time_spent`` (minutes) on its last history entry, the one the command just added."""
    if minutes is None:
        return record
    new = copy.copy(record)
    history = list(new["history"])
    history[-1] = {**history[-1], "time_spent": minutes}
    new["history"] = history
    return new


def rate(config: Config, record: dict[str, Any], score: int, note: str | None, actor: str, now: str,
         policy: ApprovalPolicy | None) -> dict[str, Any]:
    """The requester's satisfaction rating (1-5), taken once while the ticket is resolved."""
    from itsm_cli.core.records import _append, _entry

    rid = record["id"]
    if score not in SCORES:
        raise BadArgument(f"a rating is a whole number from 1 (very unhappy) to 5 (very happy), not {score}")
    if str(record.get("requester", "")).lower() != actor.lower():
        raise Refused(f"{rid}: only its requester ({record.get('requester')}) may rate it, not {actor}")
    status = str(record.get("status"))
    category = config.category(str(record.get("type")), status)
    if category != "resolved":
        when = "is closed; ratings are taken while it is resolved" if category == "closed" else \
            f"is '{status}', not resolved yet; rate it once it is resolved"
        raise Refused(f"{rid} {when}")
    if any(isinstance(e, dict) and e.get("action") == "rate" for e in record.get("history") or []):
        raise Refused(f"{rid} has already been rated")
    entry = _entry(now, actor, "rate", score=score, note=note.strip() if note and note.strip() else None)
    return _append(config, record, policy, entry)


def rating_from_reply(text: str) -> tuple[int, str | None] | None:
    """A rating in an e-mail reply: a first line that is a digit 1-5 (the rest of the text is the note), or None."""
    lines = text.strip().splitlines()
    if not lines:
        return None
    match = re.fullmatch(r"\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*", lines[0])
    if not match:
        return None
    note = "\n".join(lines[1:]).strip()
    return int(match.group(1)), note or None
