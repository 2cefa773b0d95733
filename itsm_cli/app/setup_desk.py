"""Set-up by command: ``itsm person add``, ``itsm group add``, ``itsm service new``.

Each is one validated change and one commit with an ``Itsm-Action:``
trailer, like any record change. ``itsm.yaml`` is edited as text (see
:mod:`itsm_cli.core.setup`) and re-parsed: the result must be the old
configuration plus exactly the new entry, and must pass the configuration
checks of ``itsm validate``, or nothing is written.
"""

from __future__ import annotations

import os
from typing import Any

from itsm_cli.app import App
from itsm_cli.core import ids, setup
from itsm_cli.core.collab import resolve_person
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import validate_config
from itsm_cli.errors import BadArgument, InvalidRecord, Refused, one_line
from itsm_cli.store import transaction, yaml_io
from itsm_cli.store.desk import CONFIG_FILE, Record

ROLES = ("agent", "approver", "manager", "bot")


def _message(summary: str, action: str) -> str:
    return f"{one_line(summary, 400)}\n\nItsm-Action: {action}\n"


def _add_to_config(app: App, key: str, item: dict[str, Any], summary: str, action: str) -> str | None:
    desk = app.desk
    with desk.lock():
        raw = desk.read_bytes(CONFIG_FILE)
        text = raw.decode("utf-8")
        old = yaml_io.load_mapping(raw, CONFIG_FILE)
        new_text = setup.insert_list_item(text, key, item)
        try:
            new = yaml_io.load_mapping(new_text.encode("utf-8"), CONFIG_FILE)
        except InvalidRecord:
            new = None
        if new is None or not setup.added_item(old, new, key, item):
            raise Refused(f"itsm.yaml's '{key}:' list is not in a shape itsm can edit safely; add the entry by hand")
        problems = validate_config(new, SchemaSet(desk.schemas()))
        if problems:
            path, message = problems[0]
            where = ".".join(str(p) for p in path)
            raise Refused(f"itsm.yaml would be invalid: {where}: {message}" if where else
                          f"itsm.yaml would be invalid: {message}")
        return transaction.save(desk, [(CONFIG_FILE, new_text)], _message(summary, action),
                                app.config.display_name(app.actor), app.actor, commit=app.commit)


def add_person(app: App, email: str, name: str, roles: list[str], groups: list[str]) -> str | None:
    """List a person in itsm.yaml (``people:``) with roles and groups; returns the commit."""
    config = app.config
    address = resolve_person(config, email, app.actor)  # ('me' is the acting person)
    if config.person(address) is not None:
        raise Refused(f"{address} is already listed (as {config.display_name(address)}); edit itsm.yaml to change them")
    for role in roles:
        if role not in ROLES:
            raise BadArgument(f"unknown role '{role}'; roles: {', '.join(ROLES)}")
    for group in groups:
        if group not in config.groups:
            known = ", ".join(sorted(config.groups)) or "none yet"
            raise Refused(f"unknown group '{group}' (groups: {known}); add it first with 'itsm group add {group} --name ...'")
    if not name.strip() or len(name) > 200 or any(not c.isprintable() for c in name):
        raise BadArgument("--name is one line of up to 200 printable characters")
    item: dict[str, Any] = {"email": address, "name": name.strip()}
    if roles:
        item["roles"] = list(dict.fromkeys(roles))
    if groups:
        item["groups"] = list(dict.fromkeys(groups))
    what = "; ".join(x for x in (", ".join(item.get("roles", [])), ", ".join(item.get("groups", []))) if x)
    return _add_to_config(app, "people", item, f"itsm.yaml: add person {address}" + (f" ({what})" if what else ""),
                          "person-add")


def add_group(app: App, group_id: str, name: str, email: str | None) -> str | None:
    """Add a group to itsm.yaml (``groups:``); returns the commit."""
    if not ids.is_slug(group_id):
        raise BadArgument(f"'{group_id}' is not a group ID: use lower-case letters, digits and hyphens, "
                          "starting with a letter or digit (e.g. field-support)")
    if group_id in app.config.groups:
        raise Refused(f"group '{group_id}' already exists")
    if not name.strip() or len(name) > 200 or any(not c.isprintable() for c in name):
        raise BadArgument("--name is one line of up to 200 printable characters")
    item: dict[str, Any] = {"id": group_id, "name": name.strip()}
    if email:
        item["email"] = resolve_person(app.config, email, app.actor)
    return _add_to_config(app, "groups", item, f"itsm.yaml: add group {group_id}", "group-add")


def new_service(app: App, service_id: str, name: str, owner: str | None, group: str | None,
                support_hours: str | None) -> tuple[str, str | None]:
    """Write ``catalog/<id>.yaml``, a complete and valid service to fill in, and commit it; returns (path, commit)."""
    desk, config = app.desk, app.config
    rtype = config.service_type()
    if rtype is None:
        raise Refused("this desk has no service type in itsm.yaml (types: ... kind: service)")
    if not ids.is_slug(service_id):
        raise BadArgument(f"'{service_id}' is not a service ID: use lower-case letters, digits and hyphens, "
                          "starting with a letter or digit (e.g. vpn, email-archive)")
    rel = f"{rtype.folder}/{service_id}.yaml"
    if os.path.lexists(desk.root / rel) or service_id in desk.services():
        raise Refused(f"service '{service_id}' already exists ({rel})")
    who = resolve_person(config, owner, app.actor)
    if config.person(who) is None:
        raise Refused(f"the owner {who} is not a listed person; add them with 'itsm person add {who} --name ...' "
                      "or pass --owner")
    if group is not None and group not in config.groups:
        raise Refused(f"unknown group '{group}'; groups: {', '.join(sorted(config.groups))}")
    if group is None:
        mine = sorted(config.person(who).groups)  # type: ignore[union-attr]
        group = mine[0] if mine else None
    calendars = list(config.calendars)
    hours = support_hours or ("business" if "business" in calendars else (calendars[0] if calendars else None))
    if hours is None or hours not in calendars:
        raise Refused(f"unknown calendar '{hours}'; calendars: {', '.join(calendars) or 'none'}")
    sla = config.sla.get("default_profile")
    state = "live" if config.state(rtype.name, "live") else config.initial_state(rtype.name)
    text = setup.service_text(service_id, name, who, group, hours, sla, state)
    with desk.lock():
        data = yaml_io.load_mapping(text.encode("utf-8"), rel)
        app.check([Record(rel, data, "service")])
        summary = f"{service_id}: create service \"{name}\""
        sha = transaction.save(desk, [(rel, text)], _message(summary, "service-new"),
                               config.display_name(app.actor), app.actor, commit=app.commit)
    return rel, sha
