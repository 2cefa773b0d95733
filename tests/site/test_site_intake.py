"""Requests from GitHub issue forms: the form from the catalog, and ``itsm intake EVENT.json``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from desk_testing import ticket_path
from sitefixtures import AGENT, itsm

from itsm_cli.store import yaml_io

REPO = Path(__file__).resolve().parents[2]


def event(body: str, *, title: str = "[Request]: A shared mailbox for events", action: str = "opened",
          login: str = "octocat", number: int = 42) -> dict:
    """A GitHub ``issues`` event payload as the workflow receives it."""
    return {"action": action, "issue": {"number": number, "title": title, "body": body, "user": {"login": login},
                                        "labels": [{"name": "request"}]}, "repository": {"full_name": "acme/desk"}}


def form_body(service: str = "email", offering: str = "shared-mailbox", email: str = "_No response_",
              details: str = "Please create events@ for the events team.", extra: str = "") -> str:
    # The issue form asks for the offering's required fields (GitHub refuses the issue without them).
    required = ("\n### Address wanted\n\nevents\n\n### Who needs access (e-mails)\n\nops@acme.example\n"
                if offering == "shared-mailbox" and "### Address wanted" not in details + extra else "")
    return (f"### Service\n\n{service}\n\n### Offering\n\n{offering}\n\n### E-mail\n\n{email}\n\n"
            f"### Details\n\n{details}\n{extra}{required}")


def write(tmp_path: Path, payload: object) -> Path:
    path = tmp_path / "event.json"
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


def test_intake_creates_a_validated_request(site_desk: Path, tmp_path: Path) -> None:
    body = form_body(details="Please create events@\n\n### Address wanted\n\nevents", email="ops@acme.example")
    r = itsm("intake", str(write(tmp_path, event(body))), cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    rid = r.stdout.strip()
    assert rid.startswith("REQ-")
    data = yaml_io.load_mapping((site_desk / ticket_path(rid)).read_bytes(), rid)
    assert data["title"] == "A shared mailbox for events"
    assert (data["service"], data["offering"], data["status"]) == ("email", "shared-mailbox", "submitted")
    assert data["requester"] == "ops@acme.example"
    assert data["history"][0]["by"] == AGENT
    assert "Filed from issue #42 by @octocat." in data["description"]
    assert data["form"] == {"address": "events"}
    assert itsm("validate", cwd=site_desk).exit_code == 0
    log = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=site_desk, capture_output=True, text=True).stdout
    assert f"Itsm-Id: {rid}" in log


def test_intake_without_an_email_uses_the_github_noreply_address(site_desk: Path, tmp_path: Path) -> None:
    r = itsm("intake", str(write(tmp_path, event(form_body(service="vpn", offering="vpn-access"), title=""))),
             "--format", "json", cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["requester"] == "octocat@users.noreply.github.com"
    assert record["title"] == "VPN access (Remote access (VPN))"


@pytest.mark.parametrize(("payload", "code", "message"), [
    ("{not json", 2, "not JSON"),
    ("[]", 2, "not a GitHub 'issues' event"),
    ({"action": "opened"}, 2, "not a GitHub 'issues' event"),
    (event(form_body(), action="edited"), 1, "only 'opened' issue events"),
    (event(form_body(), login="bad login; rm -rf /"), 2, "user.login"),
    (event("Just some text"), 1, "not filed with the request form"),
    (event(form_body(service="nope")), 1, "no service 'nope'"),
    (event(form_body(service="fax", offering="fax-number")), 1, "is not live"),
    (event(form_body(service="portal")), 1, "is not live"),
    (event(form_body(offering="vpn-access")), 1, "has no offering 'vpn-access'"),
    (event(form_body(service="$(touch /tmp/pwned)")), 1, "is not a catalog ID"),
    (event(form_body(email="not-an-address")), 1, "is not an e-mail address"),
    (event(form_body(details="x" * 70_000)), 1, "the limit is 65,536"),
    ("x" * 1_000_001, 2, "larger than 1,000,000 bytes"),
])
def test_intake_refuses_bad_payloads_in_one_line(site_desk: Path, tmp_path: Path, payload: object, code: int,
                                                 message: str) -> None:
    r = itsm("intake", str(write(tmp_path, payload)), cwd=site_desk)
    assert r.exit_code == code, r.stderr
    assert r.stderr.startswith("itsm: error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""
    assert not (site_desk / ticket_path("REQ-0002")).exists()
    assert not Path("/tmp/pwned").exists()


def test_intake_reads_stdin(site_desk: Path) -> None:
    r = itsm("intake", "-", cwd=site_desk, input=json.dumps(event(form_body())))
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip().startswith("REQ-")


def test_intake_forms_writes_a_github_issue_form(site_desk: Path) -> None:
    r = itsm("intake-forms", cwd=site_desk)
    assert r.exit_code == 0, r.stderr
    path = site_desk / ".github" / "ISSUE_TEMPLATE" / "request.yml"
    form = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert form["name"] and form["description"] and form["labels"] == ["request", "itsm"]
    fields = {item.get("id"): item for item in form["body"]}
    assert fields["service"]["type"] == "dropdown"
    assert fields["service"]["attributes"]["options"] == ["email", "identity", "printing", "vpn"]  # live only
    assert fields["offering"]["attributes"]["options"] == [
        "distribution-list", "new-starter", "shared-mailbox", "toner", "vpn-access"]
    assert fields["details"]["type"] == "textarea" and fields["details"]["validations"]["required"] is True
    assert fields["email"]["type"] == "input"
    assert {f["attributes"]["label"] for f in form["body"] if "id" in f} == {"Service", "Offering", "E-mail", "Details"}
    assert itsm("intake-forms", "--check", cwd=site_desk).exit_code == 0
    (site_desk / "catalog" / "fax.yaml").write_text(
        (site_desk / "catalog" / "fax.yaml").read_text().replace("status: retired", "status: live"))
    assert itsm("intake-forms", "--check", cwd=site_desk).exit_code == 1


def test_committed_request_forms_match_the_demo_catalog() -> None:
    """The repository's form and the skeleton's are ``itsm intake-forms`` of the demo desk."""
    if not any((REPO / "catalog").glob("*.yaml")):
        pytest.skip("the demo desk has no catalog yet")
    r = itsm("intake-forms", "-o", "-", cwd=REPO)
    assert r.exit_code == 0, r.stderr
    for path in (REPO / ".github/ISSUE_TEMPLATE/request.yml",
                 REPO / "itsm_cli/data/skeleton/.github/ISSUE_TEMPLATE/request.yml"):
        assert path.read_text(encoding="utf-8") == r.stdout, f"{path} is stale: run 'itsm intake-forms'"
