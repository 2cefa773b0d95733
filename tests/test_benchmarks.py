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
    newest = max(int(p.stem[4:]) for p in (desk / "tickets").glob("*/*/*.yaml") if p.name.startswith("INC-"))
    stepped = {s.split(":")[0] for s in steps}
    assert f"INC-{newest:04d}" in stepped  # the newest records are the ones committed entry by entry
    assert len(list((desk / "tickets").glob("*/*/*.yaml"))) + len(list((desk / "kb").glob("*.md"))) == 120
    assert git(desk, "status", "--porcelain") == ""
    r = run("validate", cwd=desk)
    assert r.exit_code == 0, r.stderr


def _runner():  # benchmarks/ is not a package: load run.py by path
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", REPO / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.Runner(repeat=1, verbose=False)


def test_the_runner_reports_output_exit_code_and_peak_memory_of_workers_too(tmp_path: Path) -> None:
    import pytest

    r = _runner()
    if not hasattr(__import__("os"), "wait4"):
        pytest.skip("no os.wait4 here: no memory figures")
    small = [sys.executable, "-c", "print('hi')"]
    took, proc = r.once(small, tmp_path)
    assert proc.stdout == b"hi\n" and proc.returncode == 0 and took > 0
    import resource

    # A forked worker holding more than this process ever did (Linux counts the starting process's memory in a
    # child's peak, so a smaller peak is not reported), as itsm audit's workers do: their parent stays small.
    size = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 + 100
    forked = [sys.executable, "-c", f"import os\nif os.fork() == 0:\n    b = bytearray({size} << 20)\n    os._exit(0)\n"
              "os.wait()\nprint('done')"]
    result = r.median(forked, tmp_path, warmup=False)
    assert result["peak_mb"] >= size
    # Output a timed run would print is not held here (it would count in the next command's figure).
    _, proc = r.once([sys.executable, "-c", "print('x' * 1000)"], tmp_path, keep_output=False)
    assert proc.stdout in (None, b"")
    _, proc = r.once([sys.executable, "-c", "import sys; sys.stderr.write('no'); sys.exit(1)"], tmp_path)
    assert proc.returncode == 1 and proc.stderr == b"no"
    with pytest.raises(subprocess.TimeoutExpired):
        r.once([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path, timeout=0.5)
