"""The demo desk exists once: this repository's top level, which `itsm init --demo` copies."""

from __future__ import annotations

import filecmp
import json
from collections import Counter
from pathlib import Path

from desk_testing import REPO, git, run

from itsm_cli.core.tool_pin import checkout_pin, rewrite_install

PACKAGE_DATA = REPO / "itsm_cli" / "data"


def test_the_repository_desk_is_valid() -> None:
    r = run("validate", cwd=REPO)
    assert r.exit_code == 0, r.stdout


def test_the_repository_desk_matches_what_init_writes() -> None:
    schemas = filecmp.dircmp(REPO / "schemas", PACKAGE_DATA / "schemas")
    assert not schemas.diff_files and not schemas.left_only and not schemas.right_only
    skeleton = PACKAGE_DATA / "skeleton"
    for item in sorted(skeleton.rglob("*")):
        if item.is_file() and item.name != ".gitkeep":
            rel = item.relative_to(skeleton)
            if item.name == ".gitignore":  # the repository ignores more: its own dev files
                assert set(item.read_text().splitlines()) <= set((REPO / rel).read_text().splitlines())
                continue
            if rel.parts[:2] == (".github", "workflows"):  # the repository's install its own checkout
                assert (REPO / rel).read_text() == rewrite_install(item.read_text(), checkout_pin()), rel
                continue
            assert (REPO / rel).read_bytes() == item.read_bytes(), f"{rel} differs from the package's skeleton"


def test_demo_is_a_realistic_department(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    r = run("init", str(target), "--demo")
    assert r.exit_code == 0, r.stderr
    assert git(target, "status", "--porcelain") == ""
    assert run("validate", cwd=target).exit_code == 0
    services = json.loads(run("list", "service", "--format", "json", cwd=target).stdout)
    assert len(services) >= 10
    assert sum(1 for s in services if s.get("offerings")) >= 10
    tickets = json.loads(run("list", "--format", "json", cwd=target).stdout)
    assert len(tickets) >= 30
    by_type = Counter(t["type"] for t in tickets)
    assert set(by_type) == {"incident", "request", "problem", "change", "improvement"}
    # The improvement register: one at each step, each linked to what motivated it.
    improvements = [t for t in tickets if t["type"] == "improvement"]
    assert {"proposed", "approved", "in_progress", "done"} <= {t["status"] for t in improvements}
    assert all(t.get("links") and t.get("expected_benefit") for t in improvements)
    states = {(t["type"], t["status"]) for t in tickets}
    for state in ("new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled"):
        assert ("incident", state) in states, state
    articles = json.loads(run("list", "article", "--format", "json", cwd=target).stdout)
    assert len(articles) >= 8
    for name in ("itsm.yaml", "catalog", "tickets", "kb"):
        source, copy = REPO / name, target / name
        if source.is_file():
            assert source.read_bytes() == copy.read_bytes()
        else:
            assert sorted(p.name for p in source.iterdir()) == sorted(p.name for p in copy.iterdir())
