"""Requests from the Git host's issue forms: the form itself, and reading the issue it produces.

:func:`issue_form` makes a GitHub issue form (``.github/ISSUE_TEMPLATE/request.yml``)
from the catalog: a service and an offering dropdown (live services only), an
optional e-mail and a details text area. Its option values are plain IDs so
the catalog's "Request" links can pre-fill them (``?service=vpn&offering=...``).

:func:`request_from_event` reads a GitHub ``issues`` event payload (as the
workflow hands it over in a file), parses the form's ``### Label`` sections,
checks the service and offering against the catalog, and returns the fields of
a new request. Everything is checked and bounded; no text is ever passed to a
shell.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsm_cli.errors import BadArgument, Refused

__all__ = ["MAX_EVENT_BYTES", "IssueRequest", "issue_form", "parse_form_body", "request_from_event"]

MAX_EVENT_BYTES = 1_000_000
MAX_BODY = 65_536
MAX_TITLE = 200
NO_RESPONSE = "_No response_"
LABELS = ("request", "itsm")
SERVICE_LABEL = "Service"
OFFERING_LABEL = "Offering"
EMAIL_LABEL = "E-mail"
DETAILS_LABEL = "Details"
TITLE_PREFIX = "[Request]: "
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")
_EMAIL = re.compile(r"[^@\s<>\"'`]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_HEADING = re.compile(r"^###[ \t]+(.+?)[ \t]*#*[ \t]*$")
_ID_IN_OPTION = re.compile(r"\(([a-z0-9][a-z0-9-]{0,62})\)\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _live(config: Any, service: Mapping[str, Any]) -> bool:
    stype = config.service_type()
    status = str(service.get("status"))
    category = config.category(stype.name, status) if stype else None
    return category == "open" if category else status == "live"


def issue_form(config: Any, services: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The GitHub issue form for service requests, as a mapping ready to write as YAML."""
    live = {sid: s for sid, s in sorted(services.items()) if _live(config, s)}
    offerings = sorted({str(o["id"]) for s in live.values() for o in s.get("offerings") or [] if o.get("id")})
    lines = ["Pick the service and what you need from it. The catalog lists each offering's questions:",
             "answer them under **Details**.", ""]
    for sid, s in live.items():
        names = ", ".join(f"`{o['id']}` ({o.get('name', o['id'])})" for o in s.get("offerings") or [])
        lines.append(f"- `{sid}`: {s.get('name', sid)}" + (f" — {names}" if names else ""))
    desk_name = str((config.desk or {}).get("name") or "the service desk")
    return {
        "name": "Service request",
        "description": f"Ask {desk_name} for something from the service catalog.",
        "title": TITLE_PREFIX,
        "labels": list(LABELS),
        "body": [
            {"type": "markdown", "attributes": {"value": "\n".join(lines) + "\n"}},
            {"type": "dropdown", "id": "service",
             "attributes": {"label": SERVICE_LABEL, "description": "The catalog service (its ID).",
                            "options": list(live) or ["none"]},
             "validations": {"required": True}},
            {"type": "dropdown", "id": "offering",
             "attributes": {"label": OFFERING_LABEL, "description": "What you are asking for (the offering's ID).",
                            "options": offerings or ["none"]},
             "validations": {"required": True}},
            {"type": "input", "id": "email",
             "attributes": {"label": EMAIL_LABEL, "description": "Where the desk can reach you, if not your GitHub address.",
                            "placeholder": "name@example.com"},
             "validations": {"required": False}},
            {"type": "textarea", "id": "details",
             "attributes": {"label": DETAILS_LABEL, "description": "What you need, and the answers the catalog asks for."},
             "validations": {"required": True}},
        ],
    }


def parse_form_body(body: str) -> dict[str, str]:
    """The ``### Label`` sections of an issue-form body, by lower-cased label (``_No response_`` is empty)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    fence = False
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        match = None if fence else _HEADING.match(line)
        if match:
            current = sections.setdefault(match.group(1).strip().lower(), [])
            current.clear()
            continue
        if current is not None:
            current.append(line)
    out = {}
    for label, lines in sections.items():
        text = "\n".join(lines).strip()
        out[label] = "" if text == NO_RESPONSE else text
    return out


@dataclass
class IssueRequest:
    """What an issue asks for, ready for ``App.new("request", fields)``."""

    number: int
    login: str
    fields: dict[str, Any]


def _pick_id(value: str, what: str) -> str:
    value = value.strip().strip("`").strip()
    match = _ID_IN_OPTION.search(value)
    candidate = match.group(1) if match else value
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", candidate):
        raise Refused(f"the issue's {what} '{value[:80]}' is not a catalog ID")
    return candidate


def _load(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_EVENT_BYTES:
        raise BadArgument(f"the event payload is {len(raw):,} bytes; the limit is {MAX_EVENT_BYTES:,}")
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadArgument(f"the event payload is not JSON: {str(e).splitlines()[0]}") from None
    if not isinstance(event, dict) or not isinstance(event.get("issue"), dict):
        raise BadArgument("the event payload is not a GitHub 'issues' event (no 'issue' object)")
    return event


def request_from_event(raw: bytes, config: Any, services: Mapping[str, Mapping[str, Any]]) -> IssueRequest:
    """The request an ``issues`` event asks for; BadArgument for a malformed payload, Refused for a bad request."""
    event = _load(raw)
    if event.get("action") != "opened":
        raise Refused(f"only 'opened' issue events create requests (this one is '{str(event.get('action'))[:40]}')")
    issue = event["issue"]
    number, title, body = issue.get("number"), issue.get("title"), issue.get("body") or ""
    user = issue.get("user") if isinstance(issue.get("user"), dict) else {}
    login = user.get("login")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise BadArgument("the event's issue has no valid 'number'")
    if not isinstance(title, str) or not isinstance(body, str):
        raise BadArgument("the event's issue title and body must be text")
    if not isinstance(login, str) or not _LOGIN.fullmatch(login):
        raise BadArgument("the event's issue has no valid 'user.login'")
    title, body = _CONTROL.sub("", title), _CONTROL.sub("", body)
    if len(body) > MAX_BODY:
        raise Refused(f"issue #{number}: the body is {len(body):,} characters; the limit is {MAX_BODY:,}")
    form = parse_form_body(body)
    if SERVICE_LABEL.lower() not in form or OFFERING_LABEL.lower() not in form:
        raise Refused(f"issue #{number} was not filed with the request form (no '### {SERVICE_LABEL}' section)")
    sid = _pick_id(form[SERVICE_LABEL.lower()], "service")
    oid = _pick_id(form[OFFERING_LABEL.lower()], "offering")
    service = services.get(sid)
    if service is None:
        raise Refused(f"issue #{number}: no service '{sid}' in the catalog")
    if not _live(config, service):
        raise Refused(f"issue #{number}: service '{sid}' is not live ({service.get('status')}); it cannot be requested")
    offering = next((o for o in service.get("offerings") or [] if o.get("id") == oid), None)
    if offering is None:
        known = ", ".join(str(o.get("id")) for o in service.get("offerings") or []) or "none"
        raise Refused(f"issue #{number}: service '{sid}' has no offering '{oid}' (offerings: {known})")
    email = form.get(EMAIL_LABEL.lower(), "").strip()
    if email and (len(email) > 320 or not _EMAIL.fullmatch(email)):
        raise Refused(f"issue #{number}: '{email[:80]}' is not an e-mail address")
    requester = email or f"{login.removesuffix('[bot]')}@users.noreply.github.com"
    clean_title = " ".join(title.split()).removeprefix(TITLE_PREFIX.strip()).strip()
    if not clean_title:
        clean_title = f"{offering.get('name', oid)} ({service.get('name', sid)})"
    if len(clean_title) > MAX_TITLE:
        clean_title = clean_title[: MAX_TITLE - 1].rstrip() + "…"
    details = form.get(DETAILS_LABEL.lower(), "")
    answers = {}
    for q in offering.get("form") or []:
        value = form.get(str(q.get("label", "")).lower())
        if value:
            answers[str(q["id"])] = value
    fields: dict[str, Any] = {
        "title": clean_title,
        "service": sid,
        "offering": oid,
        "description": (details + "\n\n" if details else "") + f"Filed from issue #{number} by @{login}.",
        "requester_override": requester,
    }
    if answers:
        fields["form"] = answers
    return IssueRequest(number, login, fields)
