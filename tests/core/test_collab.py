"""Unit tests of core/collab.py: watchers, canned replies, time spent and ratings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core import collab, records
from itsm_cli.core.config import Config
from itsm_cli.errors import BadArgument, Refused

ANN, BOB, EVE, MAL = "ann@example.com", "bob@example.com", "eve@example.com", "mal@example.com"
T0, T1, T2 = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"


@pytest.fixture(scope="module")
def config() -> Config:
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text())
    data["people"] = [{"email": ANN, "name": "Ann Agent", "roles": ["agent"], "groups": ["service-desk"]},
                      {"email": "Bob@Example.com", "name": "Bob", "roles": ["approver"], "groups": []}]
    data["replies"] = {"thanks": "Hello,\n\n{title} is {status}. {unknown}\n\n{agent_name}\n\n"}
    return Config(data)


def incident(config: Config, **fields: Any) -> dict[str, Any]:
    return records.new_record(config, "incident", "INC-0001", {"title": "Printer", **fields}, EVE, T0)


# --- watchers ---------------------------------------------------------------------------------


def test_resolve_person(config: Config) -> None:
    assert collab.resolve_person(config, None, ANN) == ANN
    assert collab.resolve_person(config, "me", ANN) == ANN
    assert collab.resolve_person(config, "bob@EXAMPLE.com", ANN) == "Bob@Example.com"  # as listed
    assert collab.resolve_person(config, "boss@corp.example", ANN) == "boss@corp.example"  # anyone may watch
    for bad in ("bob", "a@b@c", "<a@b.c>", "a b@c.d", "x" * 65 + "@c.d", "a@b\n.c"):
        with pytest.raises(BadArgument, match="is not an e-mail address"):
            collab.resolve_person(config, bad, ANN)


def test_watch_and_unwatch_record_history_and_the_watchers_field(config: Config) -> None:
    rec = collab.watch(config, incident(config), MAL, ANN, T1, None)
    assert rec["watchers"] == [MAL]
    assert rec["history"][-1] == {"at": T1, "by": ANN, "action": "watch", "fields": {"watchers": [MAL]}}
    with pytest.raises(Refused, match=re.escape("INC-0001: MAL@EXAMPLE.COM already watches it")):
        collab.watch(config, rec, MAL.upper(), ANN, T2, None)
    gone = collab.unwatch(config, rec, MAL, ANN, T2, None)
    assert "watchers" not in gone
    assert gone["history"][-1]["action"] == "unwatch"
    with pytest.raises(Refused, match=r"does not watch it$"):
        collab.unwatch(config, gone, MAL, ANN, T2, None)


def test_who_may_change_watchers(config: Config) -> None:
    rec = incident(config)
    # Anyone may watch and unwatch themselves; the requester and agents may add others; nobody else may.
    assert collab.watch(config, rec, MAL, MAL, T1, None)["watchers"] == [MAL]
    assert collab.watch(config, rec, MAL, EVE, T1, None)["watchers"] == [MAL]
    with pytest.raises(Refused, match="only an agent or the requester may change who else watches it"):
        collab.watch(config, rec, EVE, MAL, T1, None)
    watched = collab.watch(config, rec, MAL, MAL, T1, None)
    with pytest.raises(Refused, match="only an agent or the requester"):
        collab.unwatch(config, watched, MAL, BOB, T2, None)


# --- canned replies ------------------------------------------------------------------------------


def test_a_canned_reply_is_filled_like_a_rule_and_signed_by_the_agent(config: Config) -> None:
    text = collab.reply_text(config, "thanks", incident(config), None, ANN)
    assert text == "Hello,\n\nPrinter is new. {unknown}\n\nAnn Agent"
    with pytest.raises(BadArgument, match="unknown reply 'nope'; this desk's replies: thanks"):
        collab.reply_text(config, "nope", incident(config), None, ANN)


# --- time spent and ratings ----------------------------------------------------------------------


def test_with_time_spent_marks_only_the_last_entry(config: Config) -> None:
    rec = records.comment(config, incident(config), "looked", ANN, T1, None)
    timed = collab.with_time_spent(rec, 45)
    assert timed["history"][-1]["time_spent"] == 45
    assert "time_spent" not in timed["history"][0]
    assert "time_spent" not in rec["history"][-1]  # the original is untouched
    assert collab.with_time_spent(rec, None) is rec


def _resolved(config: Config) -> dict[str, Any]:
    rec = records.transition(config, incident(config), "resolved", ANN, T1, None, fields={"resolution": "toner"})
    assert rec["status"] == "resolved"
    return rec


def test_the_requester_rates_a_resolved_ticket_once(config: Config) -> None:
    rec = collab.rate(config, _resolved(config), 4, "  quick  ", EVE.upper(), T2, None)
    assert rec["history"][-1] == {"at": T2, "by": EVE.upper(), "action": "rate", "score": 4, "note": "quick"}
    with pytest.raises(Refused, match="has already been rated"):
        collab.rate(config, rec, 5, None, EVE, T2, None)


def test_rating_refusals(config: Config) -> None:
    resolved = _resolved(config)
    with pytest.raises(BadArgument, match=r"from 1 .* to 5 .*, not 6"):
        collab.rate(config, resolved, 6, None, EVE, T2, None)
    with pytest.raises(Refused, match=re.escape(f"only its requester ({EVE}) may rate it, not {ANN}")):
        collab.rate(config, resolved, 5, None, ANN, T2, None)
    with pytest.raises(Refused, match="is 'new', not resolved yet"):
        collab.rate(config, incident(config), 5, None, EVE, T2, None)
    closed = records.transition(config, resolved, "closed", EVE, T2, None)
    with pytest.raises(Refused, match="is closed; ratings are taken while it is resolved"):
        collab.rate(config, closed, 5, None, EVE, T2, None)


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("1h", 60), ("1h30m", 90), ("1.5h", 90), (" 2H ", 120),
                                               ("24h", 1440)])
def test_time_spent_in_minutes(text: str, minutes: int) -> None:
    assert collab.parse_time_spent(text) == minutes


@pytest.mark.parametrize("text", ["", "30", "2 hours", "0m", "25h", "-5m", "1d"])
def test_time_spent_refuses_what_is_not_a_short_duration(text: str) -> None:
    with pytest.raises(BadArgument, match="--time"):
        collab.parse_time_spent(text)


def test_format_minutes() -> None:
    assert [collab.format_minutes(m) for m in (5, 60, 90, 605)] == ["5m", "1h", "1h 30m", "10h 05m"]


@pytest.mark.parametrize(("text", "rating"), [
    ("5", (5, None)), ("4/5\nQuick, thanks.\n", (4, "Quick, thanks.")), ("  1.\n\nStill broken", (1, "Still broken")),
    ("5 minutes later it broke again", None), ("6", None), ("", None), ("Thanks!\n5", None),
])
def test_a_rating_is_a_first_line_of_one_digit(text: str, rating: tuple[int, str | None] | None) -> None:
    assert collab.rating_from_reply(text) == rating


