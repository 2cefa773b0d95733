"""Service review helpers (pure): the default period, who is reportable, customers, when a change was made."""

from __future__ import annotations

from datetime import UTC, datetime

from itsm_cli.core.customers import customer_problems, customers_of
from itsm_cli.core.review import is_security, last_full_month, made_at
from itsm_cli.core.review_render import to_markdown

CONFIG = {
    "types": {"change": {"kind": "ticket", "workflow": "change"}},
    "workflows": {"change": {"initial": "draft", "states": {
        "draft": {"category": "new"}, "implementing": {"category": "open", "implementation": True},
        "review": {"category": "resolved"}, "closed": {"category": "closed"}, "rejected": {"category": "closed"}}}},
    "customers": [
        {"id": "sales", "name": "Sales", "contact": {"email": "s@x.example"}, "services": ["email", "web"]},
        {"id": "ops", "name": "Ops", "services": ["vpn"]},
        {"id": "sales", "name": "Sales again", "services": []},
    ],
}


def change(*moves: tuple[str, str]) -> dict:
    history = [{"at": "2026-01-01T09:00:00Z", "by": "a@x.example", "action": "create", "to": "draft"}]
    state = "draft"
    for at, to in moves:
        history.append({"at": at, "by": "a@x.example", "action": "transition", "from": state, "to": to})
        state = to
    return {"id": "CHG-1", "type": "change", "status": state, "created": "2026-01-01T09:00:00Z", "history": history}


def test_the_default_period_is_the_last_full_month_in_the_desks_time_zone() -> None:
    assert last_full_month(datetime(2026, 3, 2, 9, tzinfo=UTC), {}) == (
        datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
    assert last_full_month(datetime(2026, 1, 15, tzinfo=UTC), {}) == (
        datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    # Lisbon is UTC+1 in summer: July starts at 23:00 UTC on 30 June.
    start, end = last_full_month(datetime(2026, 8, 10, tzinfo=UTC), {"desk": {"timezone": "Europe/Lisbon"}})
    assert start == datetime(2026, 6, 30, 23, tzinfo=UTC) and end == datetime(2026, 7, 31, 23, tzinfo=UTC)


def test_the_review_leaves_out_what_the_desk_calls_a_security_incident() -> None:
    # One predicate for the site, notify and reports alike (core.security); the review imports it.
    config = {"security": {"category": "security", "group": "security"}}
    assert is_security({"type": "incident", "category": "security"}, config)
    assert not is_security({"type": "incident", "category": "network"}, config)
    assert not is_security({"type": "incident"}, config)


def test_customers_name_existing_services_and_unique_ids() -> None:
    assert customer_problems(CONFIG, ["email", "web"]) == [
        (("customers", 1, "services", 0), "customer 'ops': unknown service 'vpn'"),
        (("customers", 2, "id"), "duplicate customer 'sales'"),
    ]
    assert customers_of(CONFIG, "web") == [{"id": "sales", "name": "Sales", "contact": {"email": "s@x.example"}}]
    assert customers_of(CONFIG, "printing") == []


def test_a_change_is_made_when_reviewed_or_closed_after_its_implementation() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    reviewed = change(("2026-01-05T10:00:00Z", "implementing"), ("2026-01-06T10:00:00Z", "review"),
                      ("2026-01-20T10:00:00Z", "closed"))
    assert made_at(reviewed, CONFIG, now) == datetime(2026, 1, 6, 10, tzinfo=UTC)
    straight = change(("2026-01-05T10:00:00Z", "implementing"), ("2026-01-07T10:00:00Z", "closed"))
    assert made_at(straight, CONFIG, now) == datetime(2026, 1, 7, 10, tzinfo=UTC)
    assert made_at(change(("2026-01-05T10:00:00Z", "rejected")), CONFIG, now) is None
    assert made_at(change(), CONFIG, now) is None


def test_markdown_escapes_ticket_text_in_tables() -> None:
    review = {
        "service": {"id": "web", "name": "Web", "owner": None}, "period": {"since": "2026-01-01T00:00:00Z",
                                                                          "until": "2026-02-01T00:00:00Z"},
        "customers": [], "sla": [], "satisfaction": None,
        "availability": {"target_pct": None, "availability_pct": None, "met": None, "agreed_h": 0, "down_h": 0,
                         "degraded_h": 0, "hours": "24x7"},
        "incidents": {"opened": 1, "resolved": 0, "major": 0, "mttr_mean_h": None, "items": [
            {"id": "INC-1", "title": "a | b\nc", "priority": "P3", "major": False, "status": "new",
             "opened": "2026-01-02T10:00:00Z", "resolved": None, "withdrawn": False}]},
        "changes": {"made": 0, "items": []}, "problems": {"open": 0, "items": []},
        "requests": {"opened": 0, "fulfilled": 0, "by_offering": []},
        "improvements": {"register": True, "items": []},
    }
    text = to_markdown(review)
    assert "| INC-1 | a \\| b c | P3 | 2026-01-02 10:00 | open (new) |" in text
    assert "No improvement is planned for this service." in text
    assert "No business unit is listed" in text
