"""Customers: the business units a desk serves (``customers:`` in itsm.yaml) and the services each uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def customer_problems(config: Mapping[str, Any], service_ids: Iterable[str]) -> list[tuple[tuple, str]]:
    """(json path in itsm.yaml, message) for customers naming unknown services, and customer IDs used twice."""
    known = set(service_ids)
    out: list[tuple[tuple, str]] = []
    seen: set[str] = set()
    for i, customer in enumerate(config.get("customers") or []):
        if not isinstance(customer, Mapping):
            continue
        if customer.get("id") in seen:
            out.append((("customers", i, "id"), f"duplicate customer '{customer.get('id')}'"))
        seen.add(str(customer.get("id")))
        for j, sid in enumerate(customer.get("services") or []):
            if sid not in known:
                out.append((("customers", i, "services", j), f"customer '{customer.get('id')}': unknown service '{sid}'"))
    return out


def customers_of(config: Mapping[str, Any], service_id: str) -> list[dict[str, Any]]:
    """The customers that use a service: ``id``, ``name``, ``contact`` ({name, email} or None)."""
    return [
        {"id": c.get("id"), "name": c.get("name"), "contact": dict(c["contact"]) if c.get("contact") else None}
        for c in config.get("customers") or []
        if isinstance(c, Mapping) and service_id in (c.get("services") or [])
    ]
