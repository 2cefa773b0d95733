"""Unit tests of core/intake.py: the GitHub issue form from the catalog, and the request an ``issues`` event asks for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from itsm_cli.core.config import Config
from itsm_cli.core.intake import MAX_BODY, MAX_TITLE, issue_form, parse_form_body, request_from_event
from itsm_cli.errors import BadArgument, Refused

CONFIG = Config(yaml.safe_load((Path(__file__).resolve().parents[2] / "itsm_cli/data/itsm.yaml").read_text()))
SERVICES: dict[str, dict[str, Any]] = {
    "email": {"id": "email", "name": "E-mail", "status": "live", "offerings": [
        {"id": "shared-mailbox", "name": "Shared mailbox",
         "form": [{"id": "name", "label": "Mailbox name"}, {"id": "members", "label": "Members"}]},
        {"id": "distribution-list", "name": "Distribution list"}]},
    "fax": {"id": "fax", "name": "Fax", "status": "retired", "offerings": [{"id": "line", "name": "Line"}]},
    "vpn": {"id": "vpn", "name": "VPN", "status": "pipeline"},
}


def test_parse_form_body() -> None:
    body = "### Service\r\n\r\n`email`\r\n\r\n### Details\n\n```\n### not a heading\n```\nmore\n\n### E-mail\n\n_No response_\n"
    form = parse_form_body(body)
    assert form == {"service": "`email`", "details": "```\n### not a heading\n```\nmore", "e-mail": ""}


def test_a_heading_repeated_keeps_its_last_section_and_closing_hashes_go() -> None:
    assert parse_form_body("### Service ##\nemail\n### service\nvpn\n") == {"service": "vpn"}
    assert parse_form_body("no headings at all") == {}


def test_the_issue_form_offers_only_live_services_and_their_offerings() -> None:
    form = issue_form(CONFIG, SERVICES)
    body = {item.get("id"): item for item in form["body"]}
    assert body["service"]["attributes"]["options"] == ["email"]
    assert body["offering"]["attributes"]["options"] == ["distribution-list", "shared-mailbox"]
    assert "- `email`: E-mail — `shared-mailbox` (Shared mailbox), `distribution-list` (Distribution list)" in \
        form["body"][0]["attributes"]["value"]
    assert form["description"] == "Ask IT Service Desk for something from the service catalog."
    assert form["labels"] == ["request", "itsm"]
    empty = issue_form(CONFIG, {})
    assert {i.get("id"): i for i in empty["body"]}["service"]["attributes"]["options"] == ["none"]


def event(body: str, *, title: str = "[Request]: Team mailbox", action: str = "opened", login: str = "eve-x",
          number: Any = 7) -> bytes:
    return json.dumps({"action": action, "issue": {"number": number, "title": title, "body": body,
                                                   "user": {"login": login}}}).encode()


FORM = ("### Service\n\nemail\n\n### Offering\n\nShared mailbox (shared-mailbox)\n\n### E-mail\n\n_No response_\n\n"
        "### Details\n\nFor the events team.\n\n### Mailbox name\n\nevents\n")


def test_a_request_from_an_issue() -> None:
    req = request_from_event(event(FORM), CONFIG, SERVICES)
    assert (req.number, req.login) == (7, "eve-x")
    assert req.fields == {
        "title": "Team mailbox", "service": "email", "offering": "shared-mailbox",
        "description": "For the events team.\n\nFiled from issue #7 by @eve-x.",
        "requester_override": "eve-x@users.noreply.github.com", "form": {"name": "events"},
    }


def test_the_given_address_and_a_default_title() -> None:
    body = FORM.replace("_No response_", "eve@example.com")
    req = request_from_event(event(body, title="[Request]: ", login="helper[bot]"), CONFIG, SERVICES)
    assert req.fields["requester_override"] == "eve@example.com"
    assert req.fields["title"] == "Shared mailbox (E-mail)"
    long = request_from_event(event(FORM, title="x" * 500), CONFIG, SERVICES)
    assert len(long.fields["title"]) == MAX_TITLE and long.fields["title"].endswith("…")
    bot = request_from_event(event(FORM, login="helper[bot]"), CONFIG, SERVICES)
    assert bot.fields["requester_override"] == "helper@users.noreply.github.com"


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff", "is not JSON"),
    (b"[]", "not a GitHub 'issues' event"),
    (event(FORM, number=0), "no valid 'number'"),
    (event(FORM, number=True), "no valid 'number'"),
    (event(FORM, login="bad login"), "no valid 'user.login'"),
    (json.dumps({"action": "opened", "issue": {"number": 1, "title": 5, "body": "", "user": {"login": "a"}}}).encode(),
     "title and body must be text"),
])
def test_malformed_payloads_are_bad_arguments(raw: bytes, message: str) -> None:
    with pytest.raises(BadArgument, match=re.escape(message)) as info:
        request_from_event(raw, CONFIG, SERVICES)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(("raw", "message"), [
    (event(FORM, action="edited"), "only 'opened' issue events create requests (this one is 'edited')"),
    (event("just text"), "issue #7 was not filed with the request form"),
    (event(FORM.replace("\nemail\n", "\nmail box\n")), "the issue's service 'mail box' is not a catalog ID"),
    (event(FORM.replace("\nemail\n", "\nprinting\n")), "issue #7: no service 'printing' in the catalog"),
    (event(FORM.replace("\nemail\n", "\nfax\n")), "issue #7: service 'fax' is not live (retired)"),
    (event(FORM.replace("(shared-mailbox)", "(room)")),
     "service 'email' has no offering 'room' (offerings: shared-mailbox, distribution-list)"),
    (event(FORM.replace("_No response_", "not-an-address")), "'not-an-address' is not an e-mail address"),
    (event("### Service\nemail\n" + "x" * MAX_BODY), f"the limit is {MAX_BODY:,}"),
])
def test_bad_requests_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(Refused, match=re.escape(message)):
        request_from_event(raw, CONFIG, SERVICES)


def test_control_characters_are_dropped_from_title_and_body() -> None:
    req = request_from_event(event(FORM.replace("For the", "For\x1b[31m the"), title="Team\x07 box"), CONFIG, SERVICES)
    assert req.fields["title"] == "Team box"
    assert req.fields["description"].startswith("For[31m the events team.")
