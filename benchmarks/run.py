"""Benchmarks: itsm side by side with its peers on the same data, in one run.

    python benchmarks/run.py                          # 10,000 records (a few minutes)
    python benchmarks/run.py --sizes 10000,100000     # and 100,000 (builds a desk once, ~15 min)

Desks are built once with ``benchmarks/gen_desk.py`` and kept under
``benchmarks/work/`` (git-ignored); every run resets them to how they were
built. Each operation is a whole process, timed from start to exit with a
warm page cache; the table shows medians, the peer doing the same job on the
same files, the ratio, and the target from issue 8. The results are also
written as JSON to ``benchmarks/results/<date>-<host>.json``.

Peers: ``check-jsonschema`` with the desk's own schema, the bare libyaml parse
floor (``CSafeLoader``, 1 and 2 processes), plain ``git`` (``add`` + ``commit``,
``log -- path``), Backlog.md (``npm install backlog.md``; skipped with a note
when it cannot be installed) and plain MkDocs for the site.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from itsm_cli.core.ids import ticket_path

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
RESULTS = HERE / "results"
BIN = Path(sys.executable).parent
ITSM = [str(BIN / "itsm")] if (BIN / "itsm").exists() else [sys.executable, "-m", "itsm_cli"]
AGENT = "ann.agent@example.com"
SEARCH_WORD = "zeppelin"  # in ~1% of generated records
SAMPLE = 1000  # check-jsonschema files checked (then extrapolated)
TAG = "bench-base"
# What gen_desk.py builds; a desk built by another version is built again. 2: the bulk import first;
DESK_SHAPE = 3  # 3: tickets in tickets/<PREFIX>/<NNN>/
PEER_TIMEOUT = 900  # seconds a peer's run may take (Backlog.md's create ran 66 s once, and 20 minutes another time)

PARSE_FLOOR = textwrap.dedent("""
    import os, sys, yaml
    from multiprocessing import Pool
    def parse(paths):
        for p in paths:
            with open(p, "rb") as f:
                yaml.load(f.read(), Loader=yaml.CSafeLoader)
        return len(paths)
    if __name__ == "__main__":
        root, procs = sys.argv[1], int(sys.argv[2])
        paths = sorted(os.path.join(d, n) for d, _, names in os.walk(root) for n in names if n.endswith(".yaml"))
        if procs == 1:
            parse(paths)
        else:
            chunks = [paths[i:i + 500] for i in range(0, len(paths), 500)]
            with Pool(procs) as pool:
                sum(pool.map(parse, chunks))
""")


# The pages itsm generates, written out as plain Markdown with the desk's own mkdocs.yml minus the itsm plugin
# (what --engine zensical hands its engine): the peer builds exactly this with plain MkDocs.
SITE_PAGES = textwrap.dedent("""
    import sys, yaml
    from datetime import datetime, UTC
    from pathlib import Path
    from itsm_cli.site import build, pages
    from itsm_cli.store.desk import Desk

    desk, out = Desk.find(sys.argv[1]), Path(sys.argv[2])
    user = build._read_user_config(desk.root / "mkdocs.yml")
    site = pages.build_site(pages.load_content(desk), datetime.now(UTC), bool(user.get("use_directory_urls", True)))
    build.write_pages(site, out / "docs")
    derived = build._derived_config(user, site, out / "site")
    (out / "mkdocs.yml").write_text(yaml.safe_dump(derived, sort_keys=False, allow_unicode=True))
""")


# `itsm list` through itsm_cli.app.listing.find_records, printed by the list command's own code.
FIND_RECORDS = textwrap.dedent("""
    import sys
    import itsm_cli.cli  # the same imports as the command
    from itsm_cli.cli.record_commands import emit_records
    from itsm_cli.core.query import Query
    from itsm_cli.app.listing import find_records
    from itsm_cli.store.desk import Desk

    flag, value = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    query = Query(open_only=flag == "--open", statuses={value} if flag == "--status" else set(),
                  search=value if flag == "--search" else None)
    emit_records(find_records(Desk.find("."), query, ("tickets",)), "table")
""")


# --- running things ----------------------------------------------------------------------------


class Runner:
    """Times commands (whole processes) and collects the results."""

    def __init__(self, repeat: int, verbose: bool):
        self.repeat = repeat
        self.verbose = verbose
        self.peak_kb = 0  # the peak resident memory of the last command run (its own or a child's, the larger)

    def once(self, cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 3600,
             check: bool = True, keep_output: bool = True) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        """Run ``cmd`` once; (seconds, process). Its peak memory is left in :attr:`peak_kb`.

        The process is reaped with ``os.wait4`` (where there is one), whose
        resource usage gives the peak resident memory of the process and of
        the children it waited for (the forked workers of ``itsm audit``).
        Linux counts in it the memory of the process that started it, as it
        was before the exec (this one): so timed runs send their output to
        /dev/null (``keep_output=False``; ``itsm audit`` prints 117 MB at
        100,000 commits, which this process would otherwise hold), and a peak
        no larger than this process's own is not reported (0).
        """
        cmd_out = subprocess.PIPE if keep_output else subprocess.DEVNULL
        if not hasattr(os, "wait4"):
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=cmd_out,
                                  stderr=subprocess.PIPE, timeout=timeout, check=False)
            took = time.perf_counter() - started
            self.peak_kb = 0
        else:
            took, proc = self._waited(cmd, cwd, env, timeout, cmd_out)
        if check and proc.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
        return took, proc

    def _waited(self, cmd: list[str], cwd: Path, env: dict[str, str] | None, timeout: float,
                stdout: int) -> tuple[float, subprocess.CompletedProcess[bytes]]:
        import resource

        own_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL,
                                 stdout=stdout, stderr=subprocess.PIPE)
        taken: dict[str, bytes] = {}
        readers = [threading.Thread(target=lambda n=name, f=pipe: taken.__setitem__(n, f.read()), daemon=True)
                   for name, pipe in (("out", child.stdout), ("err", child.stderr)) if pipe is not None]
        for reader in readers:
            reader.start()
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            child.kill()

        timer = threading.Timer(timeout, stop)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        took = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        for reader in readers:
            reader.join()
        for pipe in (child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
        if expired.is_set():
            raise subprocess.TimeoutExpired(cmd, timeout, taken.get("out"), taken.get("err"))
        self.peak_kb = usage.ru_maxrss if usage.ru_maxrss > own_kb else 0  # KB on Linux
        return took, subprocess.CompletedProcess(cmd, child.returncode, taken.get("out", b""), taken.get("err", b""))

    def median(self, cmd: list[str], cwd: Path, env: dict[str, str] | None = None, repeat: int | None = None,
               before: Any = None, warmup: bool = True, timeout: float = 3600) -> dict[str, Any]:
        """Median wall time of ``cmd`` over ``repeat`` runs (``before()`` runs, untimed, before each)."""
        runs = []
        if warmup and before is None:
            self.once(cmd, cwd, env, timeout=timeout, keep_output=False)
        codes = set()
        peak = 0
        for _ in range(repeat or self.repeat):
            if before is not None:
                before()
            took, proc = self.once(cmd, cwd, env, timeout=timeout, keep_output=False)
            runs.append(took)
            codes.add(proc.returncode)
            peak = max(peak, self.peak_kb)
        result: dict[str, Any] = {"median": statistics.median(runs), "runs": [round(r, 4) for r in runs]}
        if peak:
            result["peak_mb"] = round(peak / 1024, 1)
        if codes != {0}:
            result["exit_codes"] = sorted(codes)
        if self.verbose:
            print(f"  {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))[:90]:<90} {result['median']:.3f}s",
                  file=sys.stderr)
        return result


def git(desk: Path, *args: str) -> str:
    """Run git in the desk."""
    return subprocess.run(["git", *args], cwd=desk, check=True, capture_output=True, text=True).stdout


def itsm_has(desk: Path, *command: str) -> bool:
    """True when this itsm has the command."""
    proc = subprocess.run([*ITSM, *command, "--help"], cwd=desk, capture_output=True, check=False)
    return proc.returncode == 0


def reset(desk: Path) -> None:
    """Put the desk back exactly as it was built (work tree, index, main)."""
    git(desk, "checkout", "-q", "-f", "main")
    git(desk, "reset", "-q", "--hard", TAG)
    git(desk, "clean", "-q", "-fd", "--", "tickets", "kb", "catalog")
    for branch in git(desk, "branch", "--format=%(refname:short)").split():
        if branch != "main":
            git(desk, "branch", "-q", "-D", branch)


def loose_bytes(desk: Path) -> int:
    """Bytes of the repository's loose objects (what one command adds before any gc packs it)."""
    objects = desk / ".git" / "objects"
    return sum(f.stat().st_size for d in objects.iterdir() if len(d.name) == 2 for f in d.iterdir())


def build_desk(n: int, rebuild: bool) -> Path:
    """The cached benchmark desk with ``n`` records (built with history commits on first use)."""
    desk = WORK / f"desk-{n}"
    marker = desk / ".git" / "itsm-bench.json"
    if desk.exists() and marker.exists() and not rebuild:
        with contextlib.suppress(ValueError):
            if json.loads(marker.read_text()).get("shape") == DESK_SHAPE:
                return desk
    if desk.exists():
        shutil.rmtree(desk)
    print(f"building the {n:,}-record desk (once; kept in {desk})...", file=sys.stderr)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "gen_desk.py"), str(n), str(desk), "--commits"], check=True)
    git(desk, "tag", "-f", TAG)
    git(desk, "config", "gc.auto", "0")
    marker.write_text(json.dumps({"records": n, "shape": DESK_SHAPE, "built_in_s": round(time.perf_counter() - started, 1)}))
    return desk


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    except (OSError, IndexError, ValueError):
        mem = 0
    return {
        "host": socket.gethostname(), "cpu": cpu, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": mem, "os": platform.platform(), "python": platform.python_version(),
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# --- the benchmarks ----------------------------------------------------------------------------


def bench_size(n: int, r: Runner, args: argparse.Namespace) -> dict[str, Any]:
    """Every operation and its peer on the desk of ``n`` records."""
    desk = build_desk(n, args.rebuild)
    reset(desk)
    env = {"ITSM_USER": AGENT, "NO_COLOR": "1"}
    heavy = max(1, min(3, r.repeat))  # cold runs: three even at 100,000 records (one run varies by 20 %)
    tickets = sorted(p.name for p in (desk / "tickets").glob("*/*/*.yaml"))
    n_files = len(tickets) + sum(1 for p in (desk / "kb").iterdir() if p.suffix == ".md") + \
        sum(1 for p in (desk / "catalog").iterdir() if p.suffix == ".yaml")
    incidents = [t for t in tickets if t.startswith("INC-")]
    show_id = incidents[len(incidents) // 2].removesuffix(".yaml")
    # The newest incident: committed entry by entry (older records came in one bulk import).
    history_id = max(incidents, key=lambda t: int(t[4:].removesuffix(".yaml"))).removesuffix(".yaml")
    out: dict[str, Any] = {"records": n, "files": n_files, "commits": int(git(desk, "rev-list", "--count", "HEAD")),
                           "ops": {}, "peers": {}, "notes": []}
    ops, peers, notes = out["ops"], out["peers"], out["notes"]
    cache = desk / ".git" / "itsm-cache"

    def clear_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    print(f"\n== {n:,} records ({n_files:,} files, {out['commits']:,} commits) ==", file=sys.stderr)
    ops["help"] = r.median([*ITSM, "--help"], desk, env)
    ops["show"] = r.median([*ITSM, "show", show_id], desk, env)
    bench_startup(r, ops, peers)

    # validate: cold (no cache), warm (nothing changed)
    ops["validate_cold"] = r.median([*ITSM, "validate"], desk, env, repeat=heavy, before=clear_cache)
    ops["validate_warm"] = r.median([*ITSM, "validate"], desk, env)
    _, proc = r.once([*ITSM, "validate"], desk, env)
    ops["validate_warm"]["result"] = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]

    # list: cold, then warm (the command as it stands, and the cached query it is meant to call)
    lists = (("list_open", ["list", "--open"]), ("list_status", ["list", "--status", "in_progress"]),
             ("list_search", ["list", "--search", SEARCH_WORD]))
    for name, cmd in lists:
        ops[name + "_cold"] = r.median([*ITSM, *cmd], desk, env, repeat=heavy, before=clear_cache)
        ops[name + "_warm"] = r.median([*ITSM, *cmd], desk, env)
    script = WORK / "find_records.py"
    script.write_text(FIND_RECORDS)
    for name, cmd in lists:
        ops["lib_" + name + "_cold"] = r.median([sys.executable, str(script), *cmd[1:]], desk, env, repeat=heavy,
                                                before=clear_cache)
        ops["lib_" + name + "_warm"] = r.median([sys.executable, str(script), *cmd[1:]], desk, env)

    # history and audit, when this itsm has them; git log is the floor, with and without a commit-graph
    graph = desk / ".git" / "objects" / "info"
    for f in ("commit-graph",):
        (graph / f).unlink(missing_ok=True)
    shutil.rmtree(graph / "commit-graphs", ignore_errors=True)
    path = ticket_path("tickets", history_id)
    peers["git_log_path_no_graph"] = r.median(["git", "log", "--format=%H %an %s", "--", path], desk, repeat=1,
                                              warmup=False)  # minutes at 100,000 commits
    git(desk, "commit-graph", "write", "--reachable", "--changed-paths")
    peers["git_log_path"] = r.median(["git", "log", "--format=%H %an %s", "--", path], desk)
    if itsm_has(desk, "history"):
        # First: no commit index yet (every commit is diffed once, on both cores); then: the index answers.
        ops["history_first"] = r.median([*ITSM, "history", history_id], desk, env, repeat=1, warmup=False,
                                        before=clear_cache)
        ops["history"] = r.median([*ITSM, "history", history_id], desk, env)
    else:
        notes.append("itsm history: not in this build, skipped")
    if itsm_has(desk, "audit"):
        # Cold: no rows remembered (the cache under .git/itsm-cache/audit/); again: every commit remembered.
        ops["audit"] = r.median([*ITSM, "audit", "--format", "csv"], desk, env, repeat=heavy, warmup=False,
                                before=clear_cache)
        # With the commit index (as after a first `itsm history`) but no rows remembered.
        ops["audit_indexed"] = r.median([*ITSM, "audit", "--format", "csv"], desk, env, repeat=heavy, warmup=False,
                                        before=lambda: shutil.rmtree(cache / "audit", ignore_errors=True))
        ops["audit_again"] = r.median([*ITSM, "audit", "--format", "csv"], desk, env, repeat=heavy, warmup=False)
        peers["git_log_name_status"] = r.median(["git", "log", "--name-status", "--format=%H %an %ae %aI %s"], desk,
                                                repeat=heavy, warmup=False)
    else:
        notes.append("itsm audit: not in this build, skipped")

    # validate --base with 10 changed files, on a branch
    git(desk, "checkout", "-q", "-b", "bench-pr")
    _, proc = r.once([*ITSM, "list", "--open", "--format", "csv", "--limit", "10"], desk, env)
    changed = [line.split(",")[0] for line in proc.stdout.decode().splitlines()[1:]]
    for rid in changed:
        r.once([*ITSM, "comment", rid, "Benchmark comment on a pull request"], desk, env)
    ops["validate_base_10"] = r.median([*ITSM, "validate", "--base", "main"], desk, env)
    ops["validate_base_10"]["changed"] = len(changed)
    git(desk, "checkout", "-q", "main")

    # new and transition, each including its commit; plain git add + commit is the floor
    created: list[str] = []

    def new() -> None:
        _, p = r.once([*ITSM, "new", "incident", "--title", "Benchmark ticket", "--service", "email"], desk, env)
        created.append(p.stdout.decode().strip())

    took, grew = [], []
    for _ in range(r.repeat):
        before = loose_bytes(desk)
        started = time.perf_counter()
        new()
        took.append(time.perf_counter() - started)
        grew.append(loose_bytes(desk) - before)
    ops["new"] = {"median": statistics.median(took), "runs": [round(t, 4) for t in took],
                  "git_growth_kb": round(statistics.median(grew) / 1024, 1)}
    took = []
    for rid in created:
        t, _ = r.once([*ITSM, "transition", rid, "cancelled", "--note", "benchmark"], desk, env)
        took.append(t)
    ops["transition"] = {"median": statistics.median(took), "runs": [round(t, 4) for t in took]}

    # A day at the desk: a saved view, and one bulk change of 100 tickets read from `list --format ids`.
    if itsm_has(desk, "list", "--view", "x"):
        config = (desk / "itsm.yaml").read_text()
        if "\nviews:" not in config:  # a desk built before views: give it the one the benchmark runs
            (desk / "itsm.yaml").write_text(config + "views:\n  p1-open: {priority: [P1, P2], open: true, sort: updated}\n")
            git(desk, "-c", "user.email=bench@example.com", "-c", "user.name=Bench", "commit", "-q", "-am", "a view")
        ops["list_view"] = r.median([*ITSM, "list", "--view", "p1-open"], desk, env)
    if itsm_has(desk, "assign", "-"):
        _, listed = r.once([*ITSM, "list", "--status", "new", "--format", "ids", "--limit", str(100 * r.repeat)],
                           desk, env)
        new_ids = listed.stdout.decode().split()
        took = []
        for i in range(0, len(new_ids) - 99, 100):
            batch = "".join(f"{x}\n" for x in new_ids[i:i + 100]).encode()
            started = time.perf_counter()
            subprocess.run([*ITSM, "assign", "-", AGENT], cwd=desk, env={**os.environ, **env}, input=batch,
                           capture_output=True, check=True)
            took.append(time.perf_counter() - started)
        if took:
            ops["bulk_assign_100"] = {"median": statistics.median(took), "runs": [round(t, 4) for t in took]}
    counter = iter(range(10**6))

    def plain_file() -> None:
        (desk / "tickets" / f"ZZ-{next(counter)}.txt").write_text("x" * 2000)

    took = []
    for _ in range(r.repeat):
        plain_file()
        name = f"tickets/ZZ-{len(took)}.txt"
        t, _ = r.once(["sh", "-c", f"git add {name} && git commit -q -m bench -- {name}"], desk)
        took.append(t)
    peers["git_add_commit"] = {"median": statistics.median(took), "runs": [round(t, 4) for t in took]}
    reset(desk)

    # peers on the same files
    peers.update(bench_parse_floor(desk, r, heavy))
    peers.update(bench_check_jsonschema(desk, incidents, r, notes))
    try:  # a peer that fails or hangs costs its figures, not the run's
        peers.update(bench_backlog(n, r, notes, args))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        notes.append(f"Backlog.md failed or took over {PEER_TIMEOUT} s, skipped: {str(e).splitlines()[0][:200]}")
    if itsm_has(desk, "site", "build") and not args.no_site:
        site_out = WORK / f"site-{n}"
        shutil.rmtree(site_out, ignore_errors=True)
        ops["site_build"] = r.median([*ITSM, "site", "build", "-o", str(site_out)], desk, env, repeat=1, warmup=False)
        pages = count_pages(site_out)
        ops["site_build"]["pages"] = pages
        peers.update(bench_mkdocs(pages, r))
    else:
        notes.append("site build: skipped (no 'itsm site build' or --no-site)")
    reset(desk)
    return out


def bench_startup(r: Runner, ops: dict[str, Any], peers: dict[str, Any]) -> None:
    """Start-up on the demo desk, median of 15: ``itsm --help`` and ``itsm show``, with Python's and click + PyYAML's as floors."""
    demo = WORK / "demo-desk"
    if not (demo / "itsm.yaml").exists():
        shutil.rmtree(demo, ignore_errors=True)
        subprocess.run([*ITSM, "init", str(demo), "--demo"], check=True, capture_output=True)
    env = {"ITSM_USER": AGENT, "NO_COLOR": "1"}
    ops["help_demo"] = r.median([*ITSM, "--help"], demo, env, repeat=15)
    ops["show_demo"] = r.median([*ITSM, "show", "INC-0001"], demo, env, repeat=15)
    peers["python_pass"] = r.median([sys.executable, "-c", "pass"], demo, repeat=15)
    peers["import_click_yaml"] = r.median([sys.executable, "-c", "import click, yaml"], demo, repeat=15)


def build_site_desk(services: int, articles: int) -> Path:
    """The demo desk grown to ``services`` catalog services and ``articles`` published KB articles (built once)."""
    import re

    desk = WORK / f"site-desk-{services}-{articles}"
    marker = desk / ".git" / "itsm-bench.json"
    if marker.exists():
        return desk
    shutil.rmtree(desk, ignore_errors=True)
    subprocess.run([*ITSM, "init", str(desk), "--demo"], check=True, capture_output=True)
    service = (desk / "catalog" / "email.yaml").read_text()
    for i in range(1, services + 1):
        sid = f"email-{i:04d}"
        text = re.sub(r"(?m)^id: email$", f"id: {sid}", service, count=1)
        (desk / "catalog" / f"{sid}.yaml").write_text(text.replace("name: Email & calendars", f"name: Email & calendars {i}", 1))
    article = (desk / "kb" / "KB-0001.md").read_text()
    for i in range(1, articles + 1):
        aid = f"KB-{1000 + i}"
        text = article.replace("id: KB-0001", f"id: {aid}", 1)
        (desk / "kb" / f"{aid}.md").write_text(text.replace("title: Connect to the VPN", f"title: ({i}) Connect to the VPN", 1))
    git(desk, "add", "-A")
    git(desk, "-c", "user.email=bench@example.com", "-c", "user.name=Bench", "commit", "-q", "-m", "a big catalog")
    marker.write_text(json.dumps({"services": services, "articles": articles}))
    return desk


def bench_site(r: Runner, services: int, articles: int) -> dict[str, Any]:
    """``itsm site build`` of a catalog of ``services`` services and ``articles`` KB articles, and plain MkDocs."""
    print(f"\n== site: {services:,} services, {articles:,} KB articles ==", file=sys.stderr)
    desk = build_site_desk(services, articles)
    out = WORK / f"site-{services}-{articles}"
    shutil.rmtree(out, ignore_errors=True)
    env = {"ITSM_USER": AGENT, "NO_COLOR": "1"}
    built = r.median([*ITSM, "site", "build", "-o", str(out)], desk, env, repeat=1, warmup=False)
    built["pages"] = count_pages(out)
    # The peer: plain MkDocs (same theme, same navigation) building the very pages itsm generates.
    plain_project = WORK / f"site-plain-{services}-{articles}"
    shutil.rmtree(plain_project, ignore_errors=True)
    plain_project.mkdir(parents=True)
    script = WORK / "site_pages.py"
    script.write_text(SITE_PAGES)
    subprocess.run([sys.executable, str(script), str(desk), str(plain_project)], check=True, capture_output=True)
    mkdocs = BIN / "mkdocs"
    plain = r.median([str(mkdocs if mkdocs.exists() else "mkdocs"), "build", "-q", "-d", str(plain_project / "site")],
                     plain_project, repeat=1, warmup=False)
    plain["pages"] = count_pages(plain_project / "site")
    return {"records": services + articles, "files": services + articles, "commits": 0, "notes": [],
            "ops": {"site_build": built}, "peers": {"mkdocs_plain": plain}, "site": {"services": services,
                                                                                  "articles": articles}}


def count_pages(site: Path) -> int:
    """Pages the site build produced (for the plain MkDocs peer)."""
    return max(1, sum(1 for _ in site.rglob("*.html"))) if site.is_dir() else 1


def bench_parse_floor(desk: Path, r: Runner, repeat: int) -> dict[str, Any]:
    """The bare libyaml parse of every ticket file, 1 and 2 processes (the floor for validate)."""
    script = WORK / "parse_floor.py"
    script.write_text(PARSE_FLOOR)
    out = {}
    for procs in (1, 2):
        out[f"parse_floor_{procs}p"] = r.median([sys.executable, str(script), str(desk / "tickets"), str(procs)],
                                                desk, repeat=repeat)
    return out


def bench_check_jsonschema(desk: Path, incidents: list[str], r: Runner, notes: list[str]) -> dict[str, Any]:
    """check-jsonschema with the desk's incident schema over a sample of the incident files, extrapolated."""
    exe = BIN / "check-jsonschema"
    if not exe.exists() and shutil.which("check-jsonschema") is None:
        notes.append("check-jsonschema: not installed, skipped")
        return {}
    schema = desk / "schemas" / "incident.schema.json"
    sample = [ticket_path("tickets", n.removesuffix(".yaml")) for n in incidents[:SAMPLE]]
    cmd = [str(exe if exe.exists() else "check-jsonschema"), "--schemafile", str(schema), "--base-uri", schema.as_uri(), *sample]
    result = r.median(cmd, desk, repeat=1, warmup=True)
    rate = len(sample) / result["median"]
    result.update(files=len(sample), files_per_s=round(rate, 1),
                  note=f"a sample of {len(sample)} incident files; whole desk extrapolated at the same rate")
    return {"check_jsonschema_sample": result}


def bench_backlog(n: int, r: Runner, notes: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Backlog.md with the same number of tasks: create (with its commit), list, search."""
    if args.no_backlog:
        return {}
    exe = WORK / "node_modules" / ".bin" / "backlog"
    if not exe.exists():
        if shutil.which("npm") is None:
            notes.append("Backlog.md: npm not found, skipped")
            return {}
        proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(WORK), "backlog.md"],
                              capture_output=True, text=True, check=False, timeout=600)
        if proc.returncode != 0 or not exe.exists():
            notes.append("Backlog.md: npm install backlog.md failed (offline?), skipped")
            return {}
    project = WORK / f"backlog-{n}"
    marker = project / ".git" / "bench-ok"
    env = {"NO_COLOR": "1"}
    if not marker.exists():
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        git(project, "init", "-q", "-b", "main")
        r.once([str(exe), "init", "bench", "--defaults"], project, env)
        r.once([str(exe), "config", "set", "remoteOperations", "false"], project, env)
        r.once([str(exe), "config", "set", "autoCommit", "true"], project, env)
        write_backlog_tasks(project, n)
        git(project, "add", "-A")
        git(project, "-c", "user.email=b@example.com", "-c", "user.name=B", "commit", "-q", "-m", "tasks")
        git(project, "tag", "-f", TAG)
        marker.write_text(str(n))
    git(project, "reset", "-q", "--hard", TAG)
    git(project, "clean", "-q", "-fd")
    genv = {**env, "GIT_AUTHOR_NAME": "B", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "B",
            "GIT_COMMITTER_EMAIL": "b@example.com"}
    out: dict[str, Any] = {}
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False).stdout.strip()
    big = n > 20_000  # slow enough that one run each says enough
    out["backlog_create"] = r.median([str(exe), "task", "create", "Benchmark task", "-d", "made by the benchmark",
                                      "--plain"], project, genv, warmup=False, repeat=1 if big else None, timeout=PEER_TIMEOUT)
    out["backlog_list"] = r.median([str(exe), "task", "list", "-s", "In Progress", "--plain"], project, genv,
                                   repeat=1 if big else None, warmup=not big, timeout=PEER_TIMEOUT)
    out["backlog_search"] = r.median([str(exe), "search", SEARCH_WORD, "--plain"], project, genv,
                                     repeat=1 if big else None, warmup=not big, timeout=PEER_TIMEOUT)
    for v in out.values():
        v["version"] = version
    git(project, "reset", "-q", "--hard", TAG)
    return out


def write_backlog_tasks(project: Path, n: int) -> None:
    """``n`` Backlog.md task files of about the same size as the desk's tickets."""
    import random

    sys.path.insert(0, str(HERE))
    from gen_desk import paragraphs, text

    rng = random.Random(5)
    folder = project / "backlog" / "tasks"
    folder.mkdir(parents=True, exist_ok=True)
    statuses = ["To Do", "In Progress", "Done"]
    for i in range(1, n + 1):
        title = text(rng, rng.randint(5, 9)).rstrip(".")[:80]
        slug = "-".join(title.split()[:6])
        body = paragraphs(rng, rng.randint(120, 180))
        notes = "\n".join(f"- {text(rng, 20)}" for _ in range(rng.randint(1, 4)))
        folder.joinpath(f"task-{i} - {slug}.md").write_text(
            f"---\nid: TASK-{i}\ntitle: {json.dumps(title)}\nstatus: {rng.choice(statuses)}\nassignee: []\n"
            f"created_date: '2024-01-01 09:00'\nlabels: []\ndependencies: []\nordinal: {i * 1000}\n---\n\n"
            f"## Description\n\n<!-- SECTION:DESCRIPTION:BEGIN -->\n{body}<!-- SECTION:DESCRIPTION:END -->\n\n"
            f"## Implementation Notes\n\n<!-- SECTION:NOTES:BEGIN -->\n{notes}\n<!-- SECTION:NOTES:END -->\n"
        )


def bench_mkdocs(pages: int, r: Runner) -> dict[str, Any]:
    """Plain MkDocs (Material) building the same number of hand-written pages."""
    import random

    sys.path.insert(0, str(HERE))
    from gen_desk import paragraphs

    project = WORK / f"mkdocs-{pages}"
    if not (project / "docs" / f"page-{pages - 1}.md").exists():
        shutil.rmtree(project, ignore_errors=True)
        (project / "docs").mkdir(parents=True)
        rng = random.Random(9)
        (project / "docs" / "index.md").write_text("# Plain\n")
        for i in range(1, pages):
            (project / "docs" / f"page-{i}.md").write_text(f"# Page {i}\n\n{paragraphs(rng, 200)}\n")
    # A short navigation, as the itsm site has (its pages are reached from index pages): with every page
    # in the navigation, MkDocs renders the whole list into every page and the build grows quadratically.
    (project / "mkdocs.yml").write_text(
        "site_name: Plain\ntheme:\n  name: material\nplugins:\n  - search\nnav:\n  - index.md\n"
        "not_in_nav: |\n  /page-*.md\n"
    )
    mkdocs = BIN / "mkdocs"
    result = r.median([str(mkdocs if mkdocs.exists() else "mkdocs"), "build", "-q", "-d", str(project / "site")],
                      project, repeat=1, warmup=False)
    result["pages"] = pages
    return {"mkdocs_plain": result}


# --- the table -------------------------------------------------------------------------------------


def rows(size: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(operation, itsm, peer, peer time, ratio, target) lines for one desk size."""
    ops, peers = size["ops"], size["peers"]
    files = size["files"]
    out: list[tuple[str, str, str, str, str, str]] = []

    def t(entry: dict[str, Any] | None, memory: bool = False) -> str:
        if not entry:
            return "-"
        peak = f", {entry['peak_mb']:,.0f} MB" if memory and entry.get("peak_mb") else ""
        return f"{entry['median']:.3f} s{peak}"

    def add(label: str, op: str | None, peer: str | None, peer_label: str, target: str, ratio: str | None = None,
            peer_time: str | None = None, memory: bool = False) -> None:
        a, b = ops.get(op) if op else None, peers.get(peer) if peer else None
        if ratio is None:
            ratio = f"{b['median'] / a['median']:.1f}x faster" if a and b and a["median"] < b["median"] else (
                f"{a['median'] / b['median']:.2f}x" if a and b else "-")
        out.append((label, t(a, memory), peer_label if b or peer_time else "-", peer_time or t(b, memory), ratio,
                    target))

    if "site" in size:
        add(f"itsm site build ({ops['site_build'].get('pages')} pages)", "site_build", "mkdocs_plain",
            "plain mkdocs on the same pages as Markdown files", "<= 1.2x mkdocs")
        return out
    add("itsm --help", "help", None, "", "< 100 ms")
    add("itsm show ID", "show", None, "", "< 100 ms")
    add("itsm --help, demo desk (median of 15)", "help_demo", "import_click_yaml", "python -c 'import click, yaml'",
        "< 60 ms")
    add("itsm show INC-0001, demo desk (median of 15)", "show_demo", "import_click_yaml",
        "python -c 'import click, yaml'", "< 60 ms")
    add("", None, "python_pass", "python -c pass", "", ratio="")
    add("itsm new (incl. commit)", "new", "git_add_commit", "git add && git commit", "< 200 ms")
    growth = (ops.get("new") or {}).get("git_growth_kb")
    if growth is not None:
        out.append(("  .git growth per itsm new (loose objects)", f"{growth:,.1f} KB", "-", "-", "-", "<= 64 KB"))
    add("itsm transition (incl. commit)", "transition", "git_add_commit", "git add && git commit", "< 200 ms")
    add("itsm list --view p1-open, warm", "list_view", None, "", "< 1 s")
    add("itsm list --format ids | itsm assign - PERSON (100 tickets, one commit)", "bulk_assign_100", None, "",
        "")
    cj = peers.get("check_jsonschema_sample")
    cold = ops.get("validate_cold")
    if cold:
        rate = files / cold["median"]
        if cj:
            extra = cj["files_per_s"]
            add(f"itsm validate, cold ({rate:,.0f} files/s)", "validate_cold", None,
                f"check-jsonschema ({extra:,.0f} files/s, sample)", ">= 20x check-jsonschema",
                ratio=f"{rate / extra:.0f}x the files/s", peer_time=f"{files / extra:,.0f} s (extrap.)")
        floor = peers.get("parse_floor_2p")
        if floor:
            add("itsm validate, cold vs parse floor", "validate_cold", "parse_floor_2p", "libyaml parse, 2 procs",
                "<= 1.5x floor", ratio=f"{cold['median'] / floor['median']:.2f}x floor")
        add("", None, "parse_floor_1p", "libyaml parse, 1 proc", "", ratio="")
    add("itsm validate, nothing changed", "validate_warm", None, "", "< 1 s")
    add("itsm validate --base main (10 changed)", "validate_base_10", None, "", "< 1 s")
    for prefix, how in (("", ""), ("lib_", " [find_records]")):
        add(f"itsm list --status in_progress, warm{how}", prefix + "list_status_warm", "backlog_list",
            "backlog task list -s", "< 1 s")
        add(f"itsm list --status in_progress, cold{how}", prefix + "list_status_cold", None, "", "<= full parse")
        add(f"itsm list --open, warm{how}", prefix + "list_open_warm", None, "", "< 1 s")
        add(f"itsm list --open, cold{how}", prefix + "list_open_cold", None, "", "<= full parse")
        add(f"itsm list --search {SEARCH_WORD}, warm{how}", prefix + "list_search_warm", "backlog_search",
            "backlog search", "< 1 s")
        add(f"itsm list --search {SEARCH_WORD}, cold{how}", prefix + "list_search_cold", None, "", "<= full parse")
    add("itsm new vs Backlog.md create", "new", "backlog_create", "backlog task create", "")
    add("itsm history ID", "history", "git_log_path", "git log -- path (commit-graph)", "< 200 ms")
    add("itsm history ID, first (builds the commit index)", "history_first", "git_log_path_no_graph",
        "git log -- path (no commit-graph)", "")
    add("itsm audit, first (builds the commit index)", "audit", "git_log_name_status", "git log --name-status",
        "< 15 s, memory flat", memory=True)
    add("itsm audit, commit index present", "audit_indexed", "git_log_name_status", "git log --name-status",
        "< 15 s, memory flat", memory=True)
    add("itsm audit, again (rows remembered)", "audit_again", "git_log_name_status", "git log --name-status",
        "< 15 s, memory flat", memory=True)
    if "site_build" in ops:
        add(f"itsm site build ({ops['site_build'].get('pages')} pages)", "site_build", "mkdocs_plain", "plain mkdocs",
            "<= 1.2x mkdocs")
    return out


def print_table(results: dict[str, Any]) -> None:
    """Print the results as a Markdown table per size."""
    m = results["machine"]
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}, {m['git']}")
    for n, size in results["sizes"].items():
        when = f", measured {size['measured_at']} at {size.get('itsm_commit', '?')}" if "measured_at" in size else ""
        if "site" in size:
            print(f"\n### Site: {size['site']['services']:,} services, {size['site']['articles']:,} KB articles{when}\n")
        else:
            print(f"\n### {int(n):,} records ({size['files']:,} files, {size['commits']:,} commits{when})\n")
        head = ("operation", "itsm (median)", "peer", "peer (median)", "ratio", "target")
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for row in rows(size):
            print("| " + " | ".join(row) + " |")
        for note in size["notes"]:
            print(f"\n- {note}")


def save_results(results: dict[str, Any], target: Path) -> None:
    """Write ``results`` to ``target``, keeping the sizes an earlier run of the same day measured and this one did not."""
    try:
        earlier = json.loads(target.read_text())
        results["sizes"] = {**{k: v for k, v in earlier.get("sizes", {}).items() if k not in results["sizes"]},
                            **results["sizes"]}
        results["sizes"] = dict(sorted(results["sizes"].items(),
                                       key=lambda kv: (0, int(kv[0]), "") if kv[0].isdigit() else (1, 0, kv[0])))
    except (OSError, ValueError, AttributeError):
        pass
    target.write_text(json.dumps(results, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000", help="comma-separated desk sizes (default: 10000)")
    p.add_argument("--repeat", type=int, default=5, help="runs per measurement (median reported)")
    p.add_argument("--rebuild", action="store_true", help="build the desks again")
    p.add_argument("--no-backlog", action="store_true", help="skip Backlog.md")
    p.add_argument("--no-site", action="store_true", help="skip the site builds")
    p.add_argument("--site", default="1000,2000", metavar="SERVICES,ARTICLES",
                   help="also build a catalog of this many services and KB articles (default: 1000,2000; '' skips)")
    p.add_argument("--out", type=Path, default=RESULTS, help="the folder to write the JSON results into, named by date and machine, or a .json file")
    p.add_argument("-q", "--quiet", action="store_true", help="only the table")
    args = p.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    # An installed itsm runs from compiled bytecode; a machine with PYTHONDONTWRITEBYTECODE set would
    # otherwise compile every module from source in every timed process.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "itsm_cli")], check=False,
                   capture_output=True)
    runner = Runner(args.repeat, not args.quiet)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    itsm_commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True,
                                 text=True, check=False).stdout.strip()
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "itsm_commit": itsm_commit, "machine": machine(), "sizes": {}}
    if args.out.suffix == ".json":  # a file named by hand (a second run of the day beside the first)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        target = args.out
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / f"{results['date'][:10]}-{results['machine']['host']}.json"
    for n in sizes:
        size = bench_size(n, runner, args)
        size.update(measured_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), itsm_commit=itsm_commit)
        results["sizes"][str(n)] = size
        save_results(results, target)  # each size as it is done: a later failure loses only its own
    if args.site and not args.no_site:
        services, articles = (int(x) for x in args.site.split(","))
        size = bench_site(runner, services, articles)
        size.update(measured_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), itsm_commit=itsm_commit)
        results["sizes"][f"site-{services}-{articles}"] = size
    results["machine"]["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    save_results(results, target)
    print_table(results)
    print(f"\nresults: {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
