"""Helpers for the site tests: a fixture desk with planted secrets and hostile text, and a CLI runner.

The fixture desk is made the way users make one (``itsm init``, hand-written
catalog and KB files, tickets through the CLI) and passes ``itsm validate``.
Every string in :data:`SECRETS` is somewhere in it and must never reach the site.
"""

from __future__ import annotations

import contextlib
import html
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from desk_testing import Result, run

from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Desk

NOW = "2026-03-02T09:00:00Z"
AGENT = "ann@example.com"
OWNER = "carol@example.com"
ASSIGNEE = "bob.assignee@example.com"
REQUESTER = "requester.secret@example.org"

SECRETS = {
    "ticket description": "TICKET-DESCRIPTION-SECRET",
    "requester e-mail": REQUESTER,
    "assignee e-mail": ASSIGNEE,
    "internal comment": "INTERNAL-COMMENT-SECRET",
    "public comment": "PUBLIC-COMMENT-TEXT",
    "x-internal field": "WORKAROUND-SECRET",
    "resolution": "RESOLUTION-SECRET",
    "draft article title": "DRAFT-SECRET-TITLE",
    "draft article body": "DRAFT-SECRET-BODY",
    "article in review": "REVIEW-SECRET-TITLE",
    "retired article": "RETIRED-SECRET-TITLE",
    "internal incident title": "INTERNAL-INCIDENT-TITLE",
    "request form answer": "FORM-ANSWER-SECRET",
    "fulfilment checklist": "CHECKLIST-SECRET",
    "article requester": "kb.requester@example.org",
}

PEOPLE = f"""people:
  - {{email: {AGENT}, name: Ann Agent, roles: [agent, approver], groups: [service-desk, cab]}}
  - {{email: {ASSIGNEE}, name: Bob Assignee, roles: [agent], groups: [service-desk]}}
  - {{email: {OWNER}, name: Carol Owner, roles: [approver], groups: [cab, service-owners]}}
"""

CALENDARS = """calendars:
  24x7:
    timezone: UTC
    always: true
  business:
    timezone: UTC
    days: [mon, tue, wed, thu, fri]
    hours: [["09:00", "17:00"]]
    holidays: []
  london:
    name: London office hours
    timezone: Europe/London
    days: [mon, tue, wed, thu, fri]
    hours: [["08:30", "12:30"], ["13:30", "17:30"]]
    holidays: ["2026-04-03", "2026-12-25"]
"""

SERVICES = {
    "email": f"""id: email
name: E-mail & calendars
status: live
owner: {OWNER}
group: service-desk
summary: Mailboxes, calendars and shared mailboxes for everyone.
description: |
  Everyone has a **mailbox** with Outlook. See [the VPN](../catalog/vpn.yaml) when working remotely.
category: Communication
tags: [email, outlook]
support_hours: 24x7
sla: standard
depends_on: [identity]
offerings:
  - id: shared-mailbox
    name: Shared mailbox
    description: A team address such as orders@ with the people who can read it.
    approval: true
    fulfilment: 2d
    form:
      - {{id: address, label: Address wanted, type: text, required: true, help: Up to 30 characters}}
      - {{id: send-as, label: Members may send as the mailbox, type: choice, options: [Yes, No]}}
    checklist: [CHECKLIST-SECRET create the mailbox]
  - id: distribution-list
    name: Distribution list change
    approval: false
    fulfilment: 4h
""",
    "identity": f"""id: identity
name: Accounts & sign-on
status: live
owner: {OWNER}
description: Accounts, passwords and multi-factor authentication.
category: Security
tags: [accounts]
support_hours: business
sla: standard
depends_on: []
offerings:
  - id: new-starter
    name: New starter account
    approval: {{group: service-owners, count: 2}}
    fulfilment: 3d
""",
    "vpn": f"""id: vpn
name: Remote access (VPN)
status: live
owner: {OWNER}
description: GlobalProtect VPN to reach internal systems zebracrossing from home.
category: Security
tags: [remote, accounts]
support_hours: london
sla_targets:
  P1: {{response: 30m, resolution: 4h}}
  P3: {{response: 4h, resolution: 2d}}
depends_on: [identity]
offerings:
  - id: vpn-access
    name: VPN access
    description: Access for staff who work away from the office with quokkatoken.
    approval: false
    fulfilment: 1d
""",
    "fax": f"""id: fax
name: Fax gateway
status: retired
owner: {OWNER}
description: The old fax gateway.
category: Communication
support_hours: business
sla: standard
depends_on: []
offerings:
  - id: fax-number
    name: Fax number
    approval: false
""",
    "portal": f"""id: portal
name: Self-service portal
status: pipeline
owner: {OWNER}
description: A portal that is coming soon.
category: Communication
support_hours: business
sla: standard
depends_on: [email]
offerings: []
""",
    "printing": f"""id: printing
name: "Printing <img src=x onerror=alert('svc')> & scanning"
status: live
owner: {OWNER}
summary: "Follow-me printing <script>alert('summary')</script> | pipes | *stars*"
description: |
  Printers on every floor.

  <script>alert('service-description')</script>
  <a href="javascript:alert('svc-link')">click</a>
category: "Office <b>things</b>"
support_hours: business
sla: standard
depends_on: []
offerings:
  - id: toner
    name: "Toner <svg onload=alert('offering')>"
    approval: false
    form:
      - {{id: colour, label: "Colour <i onmouseover=alert(1)>", type: choice, options: ["<b>Black</b>", Cyan]}}
""",
}

ARTICLES = {
    "KB-0001": f"""---
id: KB-0001
title: Connect to the VPN from home
status: published
services: [vpn]
owner: {AGENT}
review_by: "2026-01-31"
updated: "2025-11-02T10:00:00Z"
summary: Install GlobalProtect and sign in with your account.
tags: [remote]
requester: kb.requester@example.org
---
# Connect to the VPN from home

## Install the client

Download GlobalProtect from the software centre. Then read [the hostile one](KB-0002.md)
and [the e-mail service](../catalog/email.yaml) and [a draft](KB-0003.md) and [steps](#install-the-client).

| Step | What |
|---|---|
| 1 | Install pangolinclient |
""",
    "KB-0002": f"""---
id: KB-0002
title: "Hostile <script>alert('title')</script> article"
status: published
services: [email, vpn]
owner: {AGENT}
review_by: "2027-01-31"
updated: "2026-02-01T10:00:00Z"
---
Ordinary words: narwhalmailbox.

<script>alert('body-script')</script>
<img src=x onerror="alert('img')">
<svg onload="alert('svg')"></svg>
<iframe src="https://evil.example/"></iframe>
<style>body {{ display: none }}</style>
<div onclick="alert('div')" class="admonition note md-header">styled</div>
[js link](javascript:alert('md-link')) and [data](data:text/html,alert) and
<a href="JaVaScRiPt:alert('html-link')">html link</a> and <a href="jav&#x09;ascript:alert(1)">tab</a>
<form action="https://evil.example/"><input name=x></form>
""",
    "KB-0003": f"""---
id: KB-0003
title: DRAFT-SECRET-TITLE
status: draft
services: [vpn]
owner: {AGENT}
review_by: "2027-01-31"
updated: "2026-02-01T10:00:00Z"
---
DRAFT-SECRET-BODY
""",
    "KB-0004": f"""---
id: KB-0004
title: RETIRED-SECRET-TITLE
status: retired
services: [email]
owner: {AGENT}
review_by: "2027-01-31"
updated: "2026-02-01T10:00:00Z"
---
Old.
""",
    "KB-0005": f"""---
id: KB-0005
title: REVIEW-SECRET-TITLE
status: review
services: [email]
owner: {AGENT}
review_by: "2027-01-31"
updated: "2026-02-01T10:00:00Z"
---
Being reviewed.
""",
}


def itsm(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``itsm ARGS`` in-process (exit code and both streams), optionally with extra environment."""
    return run(*args, cwd=cwd, env=env, input=input)


def _ok(*args: str, cwd: Path, at: str) -> str:
    r = itsm(*args, cwd=cwd, env={"ITSM_NOW": at})
    assert r.exit_code == 0, (args, r.stderr)
    return r.stdout.strip()


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """The environment the shared conftest gives each test, for session-scoped fixtures."""
    mp.setenv("HOME", str(home))
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "ITSM_DEBUG", "NO_COLOR"):
        mp.delenv(var, raising=False)
    for who in ("AUTHOR", "COMMITTER"):
        mp.setenv(f"GIT_{who}_NAME", "Test Author")
        mp.setenv(f"GIT_{who}_EMAIL", "author@example.com")
    mp.setenv("ITSM_USER", AGENT)
    mp.setenv("ITSM_NOW", NOW)


def make_site_desk(root: Path) -> Path:
    """Write the fixture desk at ``root``: catalog, KB and tickets of every kind, with the secrets planted."""
    r = itsm("init", str(root))
    assert r.exit_code == 0, r.stderr
    config = yaml_io.load_mapping((root / "itsm.yaml").read_bytes(), "itsm.yaml")
    config.update(yaml_io.loads(CALENDARS + PEOPLE))
    config["desk"]["edit_url"] = "https://git.example/desk/edit/main/"
    (root / "itsm.yaml").write_text(yaml_io.dumps(config), encoding="utf-8")
    for sid, text in SERVICES.items():
        (root / "catalog" / f"{sid}.yaml").write_text(text, encoding="utf-8")
    for kid, text in ARTICLES.items():
        (root / "kb" / f"{kid}.md").write_text(text, encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-q", "-m", "fixture"], cwd=root, check=True, capture_output=True)

    # A major incident on e-mail, open: e-mail is down. Its private text must stay private.
    inc = _ok("new", "incident", "--title", "Mail delivery delayed", "--service", "email", "--impact", "high",
              "--urgency", "medium", "--description", SECRETS["ticket description"], "--requester", REQUESTER,
              "--set", "major=true", cwd=root, at="2026-02-20T08:00:00Z")
    _ok("assign", inc, ASSIGNEE, cwd=root, at="2026-02-20T08:05:00Z")
    _ok("comment", inc, SECRETS["internal comment"], "--internal", cwd=root, at="2026-02-20T08:10:00Z")
    _ok("comment", inc, SECRETS["public comment"], cwd=root, at="2026-02-20T08:11:00Z")
    _ok("edit", inc, "--set", f"workaround={SECRETS['x-internal field']}", cwd=root, at="2026-02-20T08:12:00Z")
    # A minor incident on the VPN: degraded.
    _ok("new", "incident", "--title", "VPN slow for some users", "--service", "vpn", "--impact", "low",
        "--urgency", "low", cwd=root, at="2026-02-25T10:00:00Z")
    # An internal P1 on identity: never shown, and identity stays operational.
    internal = _ok("new", "incident", "--title", SECRETS["internal incident title"], "--service", "identity",
                   "--impact", "high", "--urgency", "high", cwd=root, at="2026-02-26T10:00:00Z")
    # Closed tickets over three months, for the metrics page.
    for month, day in (("2025-12", "03"), ("2026-01", "14"), ("2026-02", "10")):
        t = _ok("new", "incident", "--title", f"Printer jam {month}", "--service", "printing", "--description",
                SECRETS["ticket description"], "--requester", REQUESTER, cwd=root, at=f"{month}-{day}T09:00:00Z")
        _ok("transition", t, "in_progress", "--set", f"assignee={ASSIGNEE}", cwd=root, at=f"{month}-{day}T09:30:00Z")
        _ok("transition", t, "resolved", "--set", f"resolution={SECRETS['resolution']}", cwd=root,
            at=f"{month}-{day}T11:00:00Z")
        _ok("transition", t, "closed", cwd=root, at=f"{month}-{day}T12:00:00Z")
    _ok("new", "request", "--title", "Shared mailbox for events", "--service", "email", "--offering",
        "shared-mailbox", "--requester", REQUESTER, "--set", f"form.address={SECRETS['request form answer']}",
        "--set", f"form.members={REQUESTER}", cwd=root, at="2026-02-27T09:00:00Z")
    # Fields written the way a pull request would.
    desk = Desk(root)
    for record_id, field, value in ((internal, "tags", ["internal"]),):
        rec = desk.get(record_id)
        rec.data[field] = value
        desk.write_text(rec.path, rec.serialise())
    subprocess.run(["git", "commit", "-qam", "tags and form answers"], cwd=root, check=True, capture_output=True)
    return root


def html_files(root: Path) -> list[Path]:
    """Every HTML page of a built site."""
    return sorted(root.rglob("*.html"))


def read(root: Path, page: str, unescape: bool = True) -> str:
    """The HTML of a page by its URL path (``services/email/``), character references resolved unless asked."""
    path = root / page / "index.html" if not page.endswith(".html") else root / page
    text = path.read_text(encoding="utf-8")
    return html.unescape(text) if unescape else text


@dataclass
class BuiltSite:
    """A fixture desk and the site built from it."""

    desk: Path
    out: Path


@contextlib.contextmanager
def http_server(root: Path) -> Iterator[str]:
    """``python -m http.server`` on a free port of 127.0.0.1 serving ``root``; yields the base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("http.server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@contextlib.contextmanager
def headless_chromium(profile: Path) -> Iterator[object]:
    """A headless Chromium driven by selenium (no network beyond localhost, a throw-away profile at ``profile``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
