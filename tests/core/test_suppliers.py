"""itsm_cli.core.suppliers without git or files: contract dates, rules, reminders, the report rows, the public view."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from itsm_cli.core import suppliers
from itsm_cli.core.config import Config
from itsm_cli.errors import BadArgument, Refused
from itsm_cli.store import yaml_io

CONFIG = Config(yaml_io.load_mapping(
    (Path(__file__).resolve().parents[2] / "itsm_cli" / "data" / "itsm.yaml").read_bytes(), "itsm.yaml"))
OWNER = "kim@example.com"
CONFIG.data["people"] = [{"email": OWNER, "name": "Kim", "roles": ["agent"], "groups": []}]


def contract(**extra: object) -> dict:
    base = {"id": "c1", "title": "Hosting", "start": "2026-01-01", "end": "2026-12-31", "renewal": "auto",
            "services": ["email"], "reference": "REF-1"}
    return {**base, **extra}


def supplier(*contracts: dict, **extra: object) -> dict:
    return {"id": "acme", "name": "Acme", "status": "active", "owner": OWNER, "contracts": list(contracts), **extra}


def test_the_notice_date_comes_from_notice_by_or_notice_days() -> None:
    assert suppliers.notice_date(contract(notice_days=30)) == date(2026, 12, 1)
    assert suppliers.notice_date(contract(notice_by="2026-10-15")) == date(2026, 10, 15)
    assert suppliers.notice_date(contract()) is None
    assert suppliers.key_dates(contract(notice_days=0)) == [("end", date(2026, 12, 31))]
    assert suppliers.key_dates(contract(notice_days=61)) == [("notice", date(2026, 10, 31)), ("end", date(2026, 12, 31))]
    assert suppliers.next_date(contract(notice_days=61), date(2026, 11, 1)) == ("end", date(2026, 12, 31))
    assert suppliers.next_date(contract(), date(2027, 1, 1)) is None


def test_supplier_problems_name_the_place_of_each() -> None:
    data = supplier(contract(services=["email", "fax"], start="2027-01-01"),
                    contract(notice_by="2027-02-01", end="2026-13-01"), owner="nobody@example.com")
    found = suppliers.supplier_problems(CONFIG, data, {"email": {}})
    assert found == [
        (("owner",), "owner nobody@example.com is not a listed person of itsm.yaml", "reference"),
        (("contracts", 0, "services", 1), "contract 'c1': unknown service 'fax'", "reference"),
        (("contracts", 0, "end"), "contract 'c1': end 2026-12-31 is not after start 2027-01-01", "date"),
        (("contracts", 1, "id"), "duplicate contract id 'c1'", "unique-id"),
        (("contracts", 1, "end"), "contract 'c1': end '2026-13-01' is not a real date", "date"),
    ]
    assert suppliers.supplier_problems(CONFIG, supplier(contract(notice_days=10)), {"email": {}}) == []


def test_reminders_are_planned_once_per_contract_and_date() -> None:
    data = {"acme": supplier(contract(notice_days=30))}
    now = datetime(2026, 11, 10, 9, tzinfo=UTC)
    [first] = suppliers.plan_reminders(CONFIG, data, now)
    assert first.supplier_id == "acme" and first.summary == f"remind {OWNER}: c1 notice 2026-12-01"
    assert first.data["reminders"] == [
        {"contract": "c1", "kind": "notice", "date": "2026-12-01", "at": "2026-11-10T09:00:00Z", "to": OWNER}]
    assert "reminders" not in data["acme"]  # the input is left as it was
    assert suppliers.plan_reminders(CONFIG, {"acme": first.data}, now) == []
    # Once the end comes within the lead time, it is reminded of in its turn; a date passed is not.
    [second] = suppliers.plan_reminders(CONFIG, {"acme": first.data}, datetime(2026, 12, 5, tzinfo=UTC))
    assert [r["kind"] for r in second.data["reminders"]] == ["notice", "end"]
    assert suppliers.plan_reminders(CONFIG, data, datetime(2027, 1, 2, tzinfo=UTC)) == []
    ended = {"acme": supplier(contract(notice_days=30), status="ended")}
    assert suppliers.plan_reminders(CONFIG, ended, now) == []


def test_contract_rows_count_escalations_in_the_period() -> None:
    data = {"acme": supplier(contract(notice_days=30), contract(id="c2", end="2028-06-30", services=["vpn"]))}
    tickets = [
        {"id": "INC-0001", "escalations": [{"supplier": "acme", "at": "2026-11-01T10:00:00Z"}]},
        {"id": "INC-0002", "escalations": [{"supplier": "acme", "at": "2026-06-01T10:00:00Z"},
                                           {"supplier": "other", "at": "2026-11-02T10:00:00Z"}]},
    ]
    now = datetime(2026, 11, 10, tzinfo=UTC)
    rows = suppliers.contract_rows(data, tickets, now)
    assert [(r["contract"], r["next"], r["days_left"], r["due"], r["escalated"]) for r in rows] == [
        ("c1", "notice", 21, True, 2), ("c2", "end", 598, False, 2)]
    rows = suppliers.contract_rows(data, tickets, now, since=datetime(2026, 10, 1, tzinfo=UTC), service="vpn")
    assert [(r["contract"], r["escalated"]) for r in rows] == [("c2", 1)]


def test_the_public_view_holds_the_name_and_only_listed_fields() -> None:
    data = supplier(contract(targets={"response": "1h"}), contract(id="c2", services=["vpn"], targets={"response": "8h"}),
                    contacts=[{"name": "NOC", "email": "noc@acme.example"}], website="https://acme.example")
    assert suppliers.public_view(data, "email") == {"name": "Acme"}
    data["public"] = ["website", "targets"]
    assert suppliers.public_view(data, "email") == {"name": "Acme", "website": "https://acme.example",
                                                    "targets": [{"response": "1h"}]}


def test_escalate_refuses_unknown_and_ended_suppliers() -> None:
    record = {"id": "INC-0001", "type": "incident", "status": "new", "history": []}
    with pytest.raises(BadArgument, match=r"unknown supplier 'acne' \(suppliers: acme, bolt\)"):
        suppliers.escalate(CONFIG, record, "acne", {"acme": {}, "bolt": {}}, None, None, OWNER, "2026-01-01T00:00:00Z",
                           None)
    with pytest.raises(Refused, match="has ended"):
        suppliers.escalate(CONFIG, record, "acme", {"acme": {"status": "ended"}}, None, None, OWNER,
                           "2026-01-01T00:00:00Z", None)
