"""Standard changes are pre-authorised models (issue 16, item 6).

A change with ``change_class: standard`` skips the CAB only when it names a
model of ``itsm.yaml`` (``standard_changes``) that covers it; the class and the
model are fixed when the change is created, so relabelling a normal change
standard (the bullet of issue 16) is refused by the command and reported by
``validate`` and ``validate --base``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, CAROL, git, run, ticket_path
from desk_testing import load_ticket as load
from desk_testing import save_ticket as save

MODEL = """standard_changes:
  - id: relay-patching
    title: Monthly mail relay patching
    services: [email]
    risk: low
    approved_by: carol@example.com
    approved_at: "2026-02-10T14:00:00Z"
    expires: "2027-02-10"
  - id: old-printers
    title: Printer driver refresh
    risk: low
    approved_by: carol@example.com
    approved_at: "2025-01-10T14:00:00Z"
    expires: "2026-01-01"
"""


def add_models(desk: Path, text: str = MODEL) -> None:
    """Replace the default (empty) model list of the desk's itsm.yaml and commit."""
    config = (desk / "itsm.yaml").read_text()
    assert "standard_changes: []\n" in config
    (desk / "itsm.yaml").write_text(config.replace("standard_changes: []\n", text, 1))
    git(desk, "commit", "-qam", "CAB: standard-change models")


def save_moved_to_approved(desk: Path, data: dict) -> None:
    """Ann moves the change from assessment to approved by hand (no approval entry), and the file is saved."""
    data["history"].append({"at": "2026-03-02T09:11:00Z", "by": ANN, "action": "transition",
                            "from": "assessment", "to": "approved"})
    data["status"] = "approved"
    data["updated"] = "2026-03-02T09:11:00Z"
    save(desk, data)


def validate_messages(*args: str) -> list[str]:
    r = run("validate", "--format", "json", *args)
    return [p["message"] for p in json.loads(r.stdout)["problems"]]


def normal_change_in_assessment() -> None:
    assert run("--as", BOB, "new", "change", "--title", "Upgrade mail relay", "--service", "email").exit_code == 0
    assert run("transition", "CHG-0001", "assessment", "--set", "risk=medium", "--set", "plan=Rolling upgrade").exit_code == 0


# --- the bullet of issue 16: relabelling -------------------------------------------------


def test_a_normal_change_cannot_be_relabelled_standard_to_skip_the_cab(desk: Path) -> None:
    normal_change_in_assessment()
    r = run("edit", "CHG-0001", "--set", "change_class=standard")
    assert r.exit_code == 1
    assert "CHG-0001: 'change_class' is set when the change is created and cannot change" in r.stderr
    r = run("transition", "CHG-0001", "approved")
    assert r.exit_code == 1 and "needs approval" in r.stderr
    add_models(desk)  # not even with a model the change would fit
    r = run("edit", "CHG-0001", "--set", "change_class=standard", "--set", "standard_model=relay-patching")
    assert r.exit_code == 1 and "'change_class' is set when the change is created" in r.stderr
    r = run("transition", "CHG-0001", "approved", "--set", "change_class=standard", "--set", "standard_model=relay-patching")
    assert r.exit_code == 1
    r = run("transition", "CHG-0001", "approved")
    assert r.exit_code == 1 and "needs approval" in r.stderr
    data = load(desk, "CHG-0001")
    assert data["change_class"] == "normal" and data["status"] == "assessment"
    assert run("validate").exit_code == 0


def test_validate_reports_a_hand_edited_relabel_with_its_edit_entry(desk: Path) -> None:
    normal_change_in_assessment()
    data = load(desk, "CHG-0001")
    data["change_class"] = "standard"
    data["history"].append({"at": "2026-03-02T09:10:00Z", "by": ANN, "action": "edit",
                            "fields": {"change_class": "standard"}})
    save_moved_to_approved(desk, data)
    found = validate_messages()
    assert "history[2]: 'change_class' is set when the change is created and cannot change" in found, found
    assert "history[3]: this change needs approval, so it cannot move from 'assessment' to 'approved'" in found, found


def test_validate_base_reports_a_silent_relabel(desk: Path) -> None:
    """No edit entry: only the diff shows the class changed; the pull-request check refuses it."""
    add_models(desk)
    normal_change_in_assessment()
    base = git(desk, "rev-parse", "HEAD").strip()
    data = load(desk, "CHG-0001")
    data["change_class"] = "standard"
    data["standard_model"] = "relay-patching"
    save_moved_to_approved(desk, data)
    git(desk, "commit", "-qam", "relabel")
    found = validate_messages("--base", base)
    assert "'change_class' may never change (was 'normal', now 'standard')" in found, found


def test_a_hand_edited_standard_change_without_a_model_still_needs_the_cab(desk: Path) -> None:
    normal_change_in_assessment()
    data = load(desk, "CHG-0001")
    data["change_class"] = "standard"
    save_moved_to_approved(desk, data)
    found = validate_messages()
    assert any("a standard change must name its pre-authorised model with standard_model" in m for m in found), found
    assert any("history[2]: this change needs approval, so it cannot move from 'assessment' to 'approved'" in m
               for m in found), found


# --- creating standard changes -------------------------------------------------------------


def test_a_standard_change_must_name_a_model_and_the_refusal_names_the_valid_ones(desk: Path) -> None:
    add_models(desk)
    r = run("new", "change", "--title", "Patch relay", "--service", "email", "--set", "change_class=standard")
    assert r.exit_code == 1
    assert "a standard change must name its pre-authorised model with standard_model; valid models: relay-patching" in r.stderr
    r = run("new", "change", "--title", "Patch relay", "--service", "email",
            "--set", "change_class=standard", "--set", "standard_model=nope")
    assert r.exit_code == 1
    assert "unknown standard-change model 'nope'; valid models: relay-patching" in r.stderr
    assert not (desk / ticket_path("CHG-0001")).exists()


def test_a_model_that_expired_or_covers_other_services_is_refused(desk: Path) -> None:
    add_models(desk)
    r = run("new", "change", "--title", "Drivers", "--service", "email",
            "--set", "change_class=standard", "--set", "standard_model=old-printers")
    assert r.exit_code == 1
    assert "standard-change model 'old-printers' expired on 2026-01-01, before this change was created" in r.stderr
    config = (desk / "itsm.yaml").read_text().replace("services: [email]", "services: [printing]")
    (desk / "itsm.yaml").write_text(config)
    r = run("new", "change", "--title", "Patch relay", "--service", "email",
            "--set", "change_class=standard", "--set", "standard_model=relay-patching")
    assert r.exit_code == 1
    assert "standard-change model 'relay-patching' covers only printing, not service 'email'" in r.stderr


def test_a_standard_change_with_a_valid_model_is_pre_approved(desk: Path) -> None:
    add_models(desk)
    r = run("new", "change", "--title", "Patch relay", "--service", "email",
            "--set", "change_class=standard", "--set", "standard_model=relay-patching")
    assert r.exit_code == 0, r.stderr
    assert run("transition", "CHG-0001", "awaiting_approval").exit_code == 1
    assert run("transition", "CHG-0001", "approved").exit_code == 0
    r = run("edit", "CHG-0001", "--set", "standard_model=old-printers")
    assert r.exit_code == 1 and "'standard_model' is set when the change is created" in r.stderr
    assert run("validate").exit_code == 0


def test_a_normal_change_names_no_model(desk: Path) -> None:
    add_models(desk)
    r = run("new", "change", "--title", "x", "--service", "email", "--set", "standard_model=relay-patching")
    assert r.exit_code == 1 and "standard_model is only for standard changes" in r.stderr


def test_audit_change_shows_the_model(desk: Path) -> None:
    add_models(desk)
    assert run("new", "change", "--title", "Patch relay", "--service", "email",
               "--set", "change_class=standard", "--set", "standard_model=relay-patching").exit_code == 0
    ev = json.loads(run("audit", "change", "CHG-0001", "--format", "json").stdout)
    assert ev["standard_model"] == {
        "id": "relay-patching", "title": "Monthly mail relay patching", "services": ["email"], "risk": "low",
        "approved_by": CAROL, "approved_by_name": "Carol Approver", "approved_at": "2026-02-10T14:00:00Z",
        "expires": "2027-02-10", "problem": None,
    }
    table = run("audit", "change", "CHG-0001").stdout
    assert ("relay-patching  Monthly mail relay patching: pre-authorised by Carol Approver <carol@example.com> "
            "at 2026-02-10T14:00:00Z, expires 2027-02-10") in table
    normal = run("new", "change", "--title", "n")
    assert normal.exit_code == 0
    assert json.loads(run("audit", "change", "CHG-0002", "--format", "json").stdout)["standard_model"] is None


# --- the configuration ------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.replace("    approved_by: carol@example.com\n", "", 1), "'approved_by' is required"),
    (lambda m: m.replace("approved_by: carol@example.com", "approved_by: zed@example.com", 1), "zed@example.com is not a listed person"),
    (lambda m: m.replace("id: old-printers", "id: relay-patching"), "duplicate standard-change model 'relay-patching'"),
    (lambda m: m.replace('expires: "2027-02-10"', 'expires: "next year"'), "standard_changes[0].expires: 'next year' is not "),
])
def test_models_are_validated(desk: Path, change, message: str) -> None:
    config = (desk / "itsm.yaml").read_text().replace("standard_changes: []\n", change(MODEL), 1)
    (desk / "itsm.yaml").write_text(config)
    r = run("validate", "--format", "json")
    assert r.exit_code == 1
    assert any(message in p["message"] for p in json.loads(r.stdout)["problems"]), r.stdout


def test_every_demo_standard_change_names_a_model_of_the_demo_config() -> None:
    repo = Path(__file__).resolve().parents[1]
    models = {m["id"] for m in yaml.safe_load((repo / "itsm.yaml").read_text())["standard_changes"]}
    standard = [yaml.safe_load(p.read_text()) for p in sorted((repo / "tickets").rglob("CHG-*.yaml"))]
    standard = [d for d in standard if d.get("change_class") == "standard"]
    assert standard, "the demo has standard changes"
    assert all(d.get("standard_model") in models for d in standard), [(d["id"], d.get("standard_model")) for d in standard]
