"""Service reviews on a desk: the review of one service, and the check that customers name real services.

The figures are computed in :mod:`itsm_cli.core.review` and written as
Markdown by :mod:`itsm_cli.core.review_render`; this module hands them the
desk's records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from itsm_cli.core.validate import CONFIG_FILE, Problem
from itsm_cli.errors import BadArgument, InvalidRecord, ItsmError
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk


def customer_problems(desk: Desk, rels: Sequence[str] | None = None) -> list[Problem]:
    """Customers in itsm.yaml that name services the catalog does not have (checked when itsm.yaml or the catalog is)."""
    from itsm_cli.core.customers import customer_problems as find

    if rels is not None and CONFIG_FILE not in rels and not any(r.startswith("catalog/") for r in rels):
        return []
    try:
        config = desk.config.data
        if not config.get("customers"):
            return []
        # The catalog's IDs are its file names (validate checks each file's id against its name).
        found = find(config, [rel.rpartition("/")[2].removesuffix(".yaml") for rel in desk.record_paths(("catalog",))])
        if not found:
            return []
        positions: dict = {}
        yaml_io.load_mapping(desk.read_bytes(CONFIG_FILE), CONFIG_FILE, positions)
    except ItsmError:
        return []  # a broken itsm.yaml is reported by the main check
    out = []
    for path, message in found:
        p = tuple(path)
        while p and p not in positions:
            p = p[:-1]
        line, col = positions.get(p, (1, 1))
        out.append(Problem(CONFIG_FILE, line, col, message, "reference"))
    return out


def review(desk: Desk, service_id: str, since: datetime | None, until: datetime | None, now: datetime) -> dict[str, Any]:
    """The review of ``service_id`` over [since, until) (default: the last full calendar month)."""
    from itsm_cli.core.review import last_full_month, service_review

    config = desk.config_data
    services = desk.services()
    if service_id not in services:
        raise BadArgument(f"unknown service '{service_id}': choose one of {', '.join(sorted(services))}")
    default_since, default_until = last_full_month(now, config)
    if since is None and until is None:
        since, until = default_since, default_until
    elif since is None:
        raise BadArgument("give --since with --until (a review covers a whole period)")
    elif until is None:
        until = now
    if since >= now:
        raise BadArgument("--since must be in the past")
    tickets = [r.data for r in desk.records(("tickets",))]
    try:
        return service_review(service_id, services, tickets, config, now=now, since=since, until=until)
    except ValueError as e:
        raise InvalidRecord(f"cannot compute the review: {e} (run 'itsm validate')", CONFIG_FILE) from None
