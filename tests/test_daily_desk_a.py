"""Issue 19, part A: filters that refuse nonsense, saved views, fields and links, errors a person can act on.

Each test is one of the issue's complaints: it failed before the change and passes after.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from desk_testing import ANN, BOB, git, load_ticket, run, save_ticket, ticket_path

from itsm_cli.store.desk import Desk


def new(title: str, *args: str) -> str:
    r = run("new", "incident", "--title", title, *args)
    assert r.exit_code == 0, r.stderr
    return r.stdout.strip()


def ids(*args: str) -> list[str]:
    r = run("list", *args, "--format", "ids")
    assert r.exit_code == 0, r.stderr
    return r.stdout.split()


def with_views(desk: Path, views: str) -> None:
    """itsm.yaml with ``views`` in place of the views ``itsm init`` writes."""
    config = desk / "itsm.yaml"
    text = re.sub(r"^views:\n(?:  .*\n)+", "", config.read_text(), flags=re.M)
    config.write_text(text + views)


def commit_all(desk: Path, message: str = "hand edit") -> None:
    git(desk, "add", "-A")
    git(desk, "commit", "-q", "-m", message)


@pytest.fixture
def three(desk: Path) -> list[str]:
    """INC-0001 (P1, Ann's, in progress, tag outage), INC-0002 (P3, new), INC-0003 (P5, resolved)."""
    one = new("Mail down", "--impact", "high", "--urgency", "high", "--service", "email")
    data = load_ticket(desk, one)
    data["tags"] = ["outage"]  # by hand, so that the fixture works with or without edit --add
    save_ticket(desk, data)
    commit_all(desk, "tag")
    assert run("assign", one, ANN).exit_code == 0
    assert run("transition", one, "in_progress").exit_code == 0
    two = new("Printer jam", "--impact", "medium", "--urgency", "medium")
    three = new("Typo on intranet", "--impact", "low", "--urgency", "low")
    r = run("transition", three, "resolved", "--set", "resolution=fixed")
    assert r.exit_code == 0, r.stderr
    return [one, two, three]


# --- 1. filters that refuse nonsense -------------------------------------------------------------------------


@pytest.mark.parametrize(("option", "value", "nearest"), [
    ("--status", "inprogress", "in_progress"),
    ("--service", "emial", "email"),
    ("--sort", "prio", "priority"),
    ("--group", "service_desk", "service-desk"),
])
def test_an_unknown_filter_value_is_a_usage_error_naming_the_nearest(three: list[str], option: str, value: str,
                                                                     nearest: str) -> None:
    r = run("list", option, value)
    assert r.exit_code == 2
    assert f"'{value}'" in r.stderr and f"did you mean '{nearest}'?" in r.stderr and "(valid: " in r.stderr
    assert r.stdout == ""


def test_priority_is_read_case_insensitively_and_an_unknown_one_names_the_valid(three: list[str]) -> None:
    assert ids("--priority", "p1") == [three[0]]
    r = run("list", "--priority", "P9")
    assert r.exit_code == 2 and "unknown priority 'P9'" in r.stderr and "P1, P2, P3, P4, P5" in r.stderr


def test_unknown_type_and_filters_of_export_and_report_are_usage_errors(three: list[str]) -> None:
    assert run("list", "incidnet").exit_code == 2
    r = run("export", "--status", "inprogress")
    assert r.exit_code == 2 and "did you mean 'in_progress'?" in r.stderr
    r = run("report", "volume", "--service", "emial")
    assert r.exit_code == 2 and "did you mean 'email'?" in r.stderr


def test_me_is_the_acting_person_in_filters_and_assign(three: list[str]) -> None:
    assert ids("--assignee", "me") == [three[0]]
    assert ids("--assignee", "Ann Agent") == [three[0]]  # a listed name works too
    r = run("assign", three[1], "me", env={"ITSM_USER": BOB})
    assert r.exit_code == 0, r.stderr
    r = run("list", "--assignee", "me", "--format", "ids", env={"ITSM_USER": BOB})
    assert r.stdout.split() == [three[1]]
    r = run("list", "--assignee", "bobb")
    assert r.exit_code == 2 and "did you mean 'bob@example.com'?" in r.stderr


def test_me_who_is_not_listed_is_told_so(three: list[str]) -> None:
    r = run("list", "--assignee", "me", env={"ITSM_USER": "eve@example.com"})
    assert r.exit_code == 2 and "'me' is eve@example.com, who is not a listed person" in r.stderr


def test_tag_filter(three: list[str]) -> None:
    assert ids("--tag", "outage") == [three[0]]
    assert ids("--tag", "OUTAGE") == [three[0]]
    assert ids("--tag", "outage", "--tag", "other") == []


def test_an_unknown_status_in_a_file_is_neither_open_nor_closed(desk: Path, three: list[str]) -> None:
    data = load_ticket(desk, three[1])
    data["status"] = "in_progres"
    save_ticket(desk, data)
    commit_all(desk)
    r = run("list", "--open", "--format", "ids")
    assert r.exit_code == 0
    assert three[1] not in r.stdout.split()
    assert r.stderr.count("itsm: warning:") == 1
    assert f"1 ticket has an unknown status ({three[1]}: 'in_progres')" in r.stderr and "itsm validate" in r.stderr
    r = run("list", "--closed", "--format", "ids")
    assert r.stdout.split() == [three[2]] and "unknown status" in r.stderr
    v = run("validate")
    assert v.exit_code == 1
    assert f"{ticket_path(three[1])}:" in v.stdout + v.stderr and "'in_progres' is not a state" in v.stdout + v.stderr


def test_breached_leaves_closed_tickets_out(desk: Path, three: list[str]) -> None:
    later = {"ITSM_NOW": "2026-04-30T09:00:00Z"}  # weeks later: every clock has run out
    r = run("transition", three[0], "resolved", "--set", "resolution=restarted", env=later)
    assert r.exit_code == 0, r.stderr
    assert run("transition", three[0], "closed", env=later).exit_code == 0
    r = run("list", "--breached", "--format", "ids", env=later)
    assert r.exit_code == 0, r.stderr
    assert three[0] not in r.stdout.split() and three[1] in r.stdout.split()
    r = run("list", "--breached", "--closed", "--format", "ids", env=later)
    assert three[0] in r.stdout.split() and three[1] not in r.stdout.split()


VIEWS = """views:
  my-open: {description: Mine and open, assignee: me, open: true, sort: -priority}
  p1-open: {priority: [p1], open: true}
  unassigned: {assignee: none, open: true}
"""


def test_saved_views_run_combine_and_refuse_unknown_names(desk: Path, three: list[str]) -> None:
    with_views(desk, VIEWS)
    commit_all(desk, "views")
    assert run("validate").exit_code == 0
    assert ids("--view", "my-open") == [three[0]]
    assert ids("--view", "p1-open") == [three[0]]
    assert ids("--view", "unassigned") == [three[1]]
    assert ids("--view", "unassigned", "--closed") == [three[2]]  # an option given overrides the view's
    assert ids("--view", "p1-open", "--priority", "P3") == [three[1]]
    r = run("list", "--view", "my-opne")
    assert r.exit_code == 2 and "unknown view 'my-opne'; did you mean 'my-open'?" in r.stderr


def test_a_view_with_an_unknown_key_is_a_config_error(desk: Path) -> None:
    with_views(desk, "views:\n  mine: {asignee: me}\n")
    r = run("validate")
    assert r.exit_code == 1 and "itsm.yaml:" in r.stdout + r.stderr and "asignee" in r.stdout + r.stderr


def test_the_demo_desk_has_views(tmp_path: Path) -> None:
    r = run("init", str(tmp_path / "demo"), "--demo")
    assert r.exit_code == 0, r.stderr
    r = run("-C", str(tmp_path / "demo"), "list", "--view", "p1-open", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert {t["priority"] for t in json.loads(r.stdout)} <= {"P1", "P2"}


# --- 5. fields and links ---------------------------------------------------------------------------------------


def test_list_fields_take_add_remove_and_a_comma_list(desk: Path, three: list[str]) -> None:
    one = three[0]
    r = run("edit", one, "--add", "tags=printer")
    assert r.exit_code == 0, r.stderr
    assert load_ticket(desk, one)["tags"] == ["outage", "printer"]
    assert run("edit", one, "--remove", "tags=outage").exit_code == 0
    assert load_ticket(desk, one)["tags"] == ["printer"]
    assert run("edit", one, "--set", "tags=vpn,wifi").exit_code == 0  # --set on a list field: a comma list
    assert load_ticket(desk, one)["tags"] == ["vpn", "wifi"]
    r = run("edit", one, "--remove", "tags=nope")
    assert r.exit_code == 1 and "tags has no 'nope' (it has vpn, wifi)" in r.stderr
    r = run("edit", one, "--add", "title=x")
    assert r.exit_code == 2 and "'title' is not a list field" in r.stderr and "tags" in r.stderr
    assert run("edit", one, "--add", f"watchers={BOB}").exit_code == 0
    assert load_ticket(desk, one)["watchers"] == [BOB]
    show = run("show", one).stdout
    assert "edit tags: vpn, wifi" in show and "[" not in show.split("History")[1]


def test_checklist_items_are_added_and_ticked(desk: Path) -> None:
    r = run("new", "request", "--title", "New starter", "--service", "email", "--offering", "distribution-list")
    assert r.exit_code == 0, r.stderr
    req = r.stdout.strip()
    assert run("edit", req, "--add", "checklist=Create the account", "--add", "checklist=Issue a laptop").exit_code == 0
    r = run("edit", req, "--done", "2")
    assert r.exit_code == 0, r.stderr
    assert load_ticket(desk, req)["checklist"] == [{"item": "Create the account"}, {"item": "Issue a laptop", "done": True}]
    assert run("edit", req, "--done", "create the account", "--undone", "Issue a laptop").exit_code == 0
    assert load_ticket(desk, req)["checklist"] == [{"item": "Create the account", "done": True}, {"item": "Issue a laptop"}]
    r = run("edit", req, "--done", "9")
    assert r.exit_code == 1 and "no checklist item '9' (1. Create the account; 2. Issue a laptop)" in r.stderr
    assert "[x] Create the account" in run("show", req).stdout


def test_an_offerings_required_form_field_is_required(desk: Path) -> None:
    r = run("new", "request", "--title", "Mailbox", "--service", "email", "--offering", "shared-mailbox")
    assert r.exit_code == 2
    assert "offering 'shared-mailbox' of service 'email' needs form field 'name' (Mailbox name)" in r.stderr
    assert "--set form.name=" in r.stderr
    r = run("new", "request", "--title", "Mailbox", "--service", "email", "--offering", "shared-mailbox",
            "--set", "form.name=sales")
    assert r.exit_code == 0, r.stderr
    data = load_ticket(desk, r.stdout.strip())
    del data["form"]
    save_ticket(desk, data)
    v = run("validate")
    assert v.exit_code == 1 and "needs form field 'name'" in v.stdout and f"{ticket_path(data['id'])}:" in v.stdout


def test_show_lists_links_both_ways_in_words(desk: Path, three: list[str]) -> None:
    one, two, _ = three
    assert run("link", two, "parent", one).exit_code == 0
    assert run("edit", one, "--set", "major=true").exit_code == 0
    shown = run("show", one)
    assert shown.exit_code == 0, shown.stderr
    assert f"children     {two}" in shown.stdout
    assert "major        yes" in shown.stdout and "edit major: yes" in shown.stdout
    assert "True" not in shown.stdout and "{'" not in shown.stdout
    child = run("show", two).stdout
    assert f"parent       {one}" in child and f"link links: parent {one}" in child


def test_on_a_big_desk_show_looks_up_what_links_here_only_when_asked(
        desk: Path, three: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli.store import links

    one, two, _ = three
    assert run("link", two, "parent", one).exit_code == 0
    assert links.records_at_most(Desk.find(str(desk)), ["tickets", "kb"]) >= 3
    monkeypatch.setattr(links, "SEARCH_UP_TO", 2)  # as if the desk held more records than show reads unasked
    shown = run("show", one).stdout
    assert f"children     {two}" not in shown
    assert f"linked from  not looked up on a desk this size (itsm show --links {one})" in shown
    assert f"children     {two}" in run("show", "--links", one).stdout


def test_duplicate_links_closes_and_makes_the_requester_a_watcher(desk: Path, three: list[str]) -> None:
    one = three[0]
    dup = run("--as", "eve@example.com", "new", "incident", "--title", "Mail down for me too").stdout.strip()
    before = git(desk, "rev-list", "--count", "HEAD")
    r = run("duplicate", dup, one)
    assert r.exit_code == 0, r.stderr
    assert int(git(desk, "rev-list", "--count", "HEAD")) == int(before) + 1  # one commit for both
    data = load_ticket(desk, dup)
    assert data["status"] == "cancelled"  # the closed state an incident that is new can reach
    assert {"kind": "duplicate-of", "id": one} in data["links"]
    assert data["history"][-1]["note"] == f"Duplicate of {one}"
    assert load_ticket(desk, one)["watchers"] == ["eve@example.com"]
    assert f"duplicates   {dup}" in run("show", one).stdout
    assert run("validate").exit_code == 0
    r = run("duplicate", three[2], one)  # resolved: closed by the move its workflow allows
    assert r.exit_code == 0, r.stderr
    assert load_ticket(desk, three[2])["status"] == "closed"


# --- 8. errors a person can act on ---------------------------------------------------------------------------


def test_a_pattern_is_explained_in_words_not_as_a_regex(desk: Path) -> None:
    text = (desk / "catalog/email.yaml").read_text().replace("id: email\n", "id: Email\n", 1)
    (desk / "catalog/email.yaml").write_text(text)
    v = run("validate")
    assert v.exit_code == 1
    assert "'Email' is not lower-case letters, digits and hyphens, e.g. 'vpn' or 'email-relay'" in v.stdout
    assert "[a-z0-9]" not in v.stdout


def test_a_date_where_a_time_is_expected_gets_an_example(desk: Path) -> None:
    r = run("new", "incident", "--title", "x", "--set", "due=2026-12-10")
    assert r.exit_code == 1
    assert "due: '2026-12-10' is not an ISO 8601 UTC time such as '2026-12-10T17:00:00Z'" in r.stderr


def test_a_broken_service_file_is_reported_once_as_the_cause(desk: Path) -> None:
    assert run("new", "incident", "--title", "Mail slow", "--service", "email").exit_code == 0
    r = run("new", "request", "--title", "List", "--service", "email", "--offering", "distribution-list")
    assert r.exit_code == 0, r.stderr
    broken = (desk / "catalog/email.yaml").read_text().replace("\nowner:", "\n  owner:", 1)  # mis-indented
    (desk / "catalog/email.yaml").write_text(broken)
    v = run("validate")
    assert v.exit_code == 1
    lines = v.stdout.splitlines()
    assert len(lines) == 1, v.stdout  # no cascade of "unknown service 'email'", no false approval finding
    assert lines[0].startswith("catalog/email.yaml:") and "2 records using service 'email' not checked" in lines[0]
    r = run("new", "incident", "--title", "Mail down", "--service", "email")
    assert r.exit_code == 1
    assert "catalog/email.yaml:" in r.stderr and "service 'email' cannot be used while its file is invalid" in r.stderr
    assert "unknown service" not in r.stderr


def test_a_bad_holiday_date_names_its_line_and_the_form_expected(desk: Path) -> None:
    config = desk / "itsm.yaml"
    text = config.read_text()
    assert "holidays: []" in text
    config.write_text(text.replace("holidays: []", 'holidays: ["2026-02-30"]', 1))
    line = next(n for n, t in enumerate(config.read_text().splitlines(), 1) if "2026-02-30" in t)
    v = run("validate")
    assert v.exit_code == 1
    assert f"itsm.yaml:{line}:" in v.stdout and "holiday '2026-02-30' is not a real date" in v.stdout
    assert "e.g. '2026-12-25'" in v.stdout and "isoformat" not in v.stdout
    assert run("new", "incident", "--title", "x", "--service", "email").exit_code == 0  # business hours
    r = run("list", "--breached")
    assert r.exit_code == 1 and f"itsm.yaml:{line}:" in r.stderr and "isoformat" not in r.stderr


def test_an_sla_target_reads_as_the_desk_wrote_it(desk: Path) -> None:
    assert run("new", "incident", "--title", "x", "--impact", "medium", "--urgency", "medium").exit_code == 0
    r = run("sla", "INC-0001")
    assert r.exit_code == 0, r.stderr
    resolution = next(t for t in r.stdout.splitlines() if t.startswith("resolution"))
    assert resolution.split()[2] == "3d"  # not "24h 00m"


def test_me_is_the_acting_person_in_set_requester_and_watcher_values(desk: Path) -> None:
    r = run("--as", ANN, "new", "incident", "--title", "For me", "--requester", "me", "--set", "assignee=me")
    assert r.exit_code == 0, r.stderr
    new_id = r.stdout.strip()
    data = load_ticket(desk, new_id)
    assert data["requester"] == ANN and data["assignee"] == ANN
    assert run("--as", BOB, "edit", new_id, "--set", "assignee=me", "--add", "watchers=me").exit_code == 0
    data = load_ticket(desk, new_id)
    assert data["assignee"] == BOB and data["watchers"] == [BOB]
