"""Working with suppliers: escalating an incident to one, and the contracts report.

Each function goes through :class:`itsm_cli.app.App` or the desk; the rules
and figures themselves are in :mod:`itsm_cli.core.suppliers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from itsm_cli.app import App, Change
from itsm_cli.core import suppliers
from itsm_cli.errors import Refused
from itsm_cli.store.desk import Desk


def escalate(app: App, record_id: str, supplier_id: str, reference: str | None, note: str | None) -> Change:
    """Escalate an incident to a supplier (one commit, ``Itsm-Action: escalate``)."""
    known = supplier_records(app.desk)

    def summary(data: dict[str, Any]) -> str:
        return f"escalate to {supplier_id}" + (f" (their ref {reference.strip()})" if reference and reference.strip() else "")

    return app._change(
        record_id, "escalate", summary,
        lambda rec, pol: suppliers.escalate(app.config, rec.data, supplier_id, known, reference, note, app.actor,
                                            app.now, pol),
    )


def supplier_records(desk: Desk) -> dict[str, dict[str, Any]]:
    """The desk's suppliers by ID; Refused when the desk has no supplier type."""
    stype = desk.config.supplier_type()
    if stype is None:
        raise Refused("this desk has no supplier type (add one with kind: supplier to itsm.yaml types)")
    return {r.id: r.data for r in desk.records((stype.folder,))}


def report_rows(desk: Desk, now: datetime, since: datetime | None, until: datetime | None,
                service: str | None) -> list[dict[str, Any]]:
    """The rows of ``itsm report suppliers`` (see :func:`itsm_cli.core.suppliers.contract_rows`)."""
    tickets = [r.data for r in desk.records(("tickets",)) if r.data.get("escalations")]
    return suppliers.contract_rows(supplier_records(desk), tickets, now, since, until, service)
