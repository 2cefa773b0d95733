"""The benchmark desk generator makes what the benchmarks claim to measure: a valid desk with a real history."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desk_testing import REPO, git, run


def test_gen_desk_makes_a_valid_desk_with_the_import_first(tmp_path: Path) -> None:
    desk = tmp_path / "desk"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gen_desk.py"), "120", str(desk), "--commits",
                           "--commit-count", "80"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    subjects = git(desk, "log", "--reverse", "--format=%s").splitlines()
    assert subjects[2] == "Bulk import of the earlier records"
    steps = subjects[3:]
    assert 60 <= len(steps) <= 80 and all(": " in s for s in steps)  # one commit per history entry, within budget
    newest = max(int(p.stem[4:]) for p in (desk / "tickets").glob("*.yaml") if p.name.startswith("INC-"))
    stepped = {s.split(":")[0] for s in steps}
    assert f"INC-{newest:04d}" in stepped  # the newest records are the ones committed entry by entry
    assert len(list((desk / "tickets").glob("*.yaml"))) + len(list((desk / "kb").glob("*.md"))) == 120
    assert git(desk, "status", "--porcelain") == ""
    r = run("validate", cwd=desk)
    assert r.exit_code == 0, r.stderr
