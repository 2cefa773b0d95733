"""Generate a realistic synthetic desk for benchmarks: ``python benchmarks/gen_desk.py N PATH [--commits]``.

The desk is made by ``itsm init`` (config, schemas, skeleton), then gets a
dozen catalog services, a few more listed agents and approvers, and N
records of every type (incidents, requests, problems, changes, KB articles)
whose histories of 3-10 entries are built with the core operations of
:mod:`itsm_cli.core.records` (the same rules the CLI applies, without its
process-per-command cost), with links between them and ~2 KB per file.
The result validates cleanly.

``--commits`` also builds git history quickly with ``git fast-import``: the
older records in one plain commit first (a backlog moved from another tool),
then the newest records one commit per history entry (or per record with
``--per-record``), authored by the entry's ``by`` at its ``at`` and carrying the
``Itsm-Id``/``Itsm-Action`` trailers, up to ``--commit-count`` commits.
Without it, all records are added in one plain commit.
Everything is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itsm_cli.core import ids
from itsm_cli.core import records as ops
from itsm_cli.core.config import Config
from itsm_cli.core.workflow import approval_policy, missing_required
from itsm_cli.store import yaml_io
from itsm_cli.store.desk import Record
from itsm_cli.store.skeleton import init_desk

DOMAIN = "example.com"
AGENTS = [
    ("ann.agent", "Ann Agent", ["service-desk", "cab"]),
    ("bob.builder", "Bob Builder", ["service-desk"]),
    ("chen.li", "Chen Li", ["service-desk"]),
    ("dora.mensah", "Dora Mensah", ["service-desk"]),
    ("emil.novak", "Emil Novak", ["service-desk", "cab"]),
    ("fatima.zahra", "Fatima Zahra", ["service-desk"]),
    ("gus.berg", "Gus Berg", ["service-desk"]),
    ("hana.sato", "Hana Sato", ["service-desk", "service-owners"]),
]
APPROVERS = [
    ("carol.approver", "Carol Approver", ["cab", "service-owners"]),
    ("dan.approver", "Dan Approver", ["cab", "service-owners", "ecab"]),
    ("erin.cio", "Erin Cio", ["cab", "ecab"]),
    ("frank.owner", "Frank Owner", ["service-owners"]),
]
SERVICES = [
    ("email", "E-mail and calendars", "Communication", []),
    ("identity", "Identity and single sign-on", "Security", []),
    ("network", "Office network and Wi-Fi", "Infrastructure", []),
    ("vpn", "Remote access VPN", "Infrastructure", ["network", "identity"]),
    ("laptops", "Laptops and peripherals", "Workplace", ["identity"]),
    ("printing", "Printing and scanning", "Workplace", ["network"]),
    ("file-shares", "File shares", "Collaboration", ["identity", "network"]),
    ("backup", "Backup and restore", "Infrastructure", ["file-shares"]),
    ("erp", "ERP and finance system", "Business applications", ["identity", "network"]),
    ("crm", "CRM", "Business applications", ["identity"]),
    ("phones", "Desk and mobile phones", "Communication", ["network"]),
    ("password-manager", "Password manager", "Security", ["identity"]),
]
WORDS = (  # noqa: SIM905 - easier to edit as prose
    "the a user cannot open reports error after update since morning laptop screen mailbox password reset "
    "access denied slow network printer queue stuck invoice export fails timeout server restart cache disk "
    "full quota backup restore share folder permission group policy certificate expired browser plugin "
    "calendar invite meeting room display cable dock keyboard battery charger replacement order request new "
    "starter leaver account license renewal firewall rule port change window maintenance rollback plan risk "
    "vendor ticket escalated monitoring alert threshold dashboard latency packet loss switch firmware patch "
    "security scan vulnerability fixed workaround documented knowledge article steps confirmed resolved"
).split()
RARE = ["zeppelin", "quasar", "marmalade", "obsidian", "tangerine"]  # searchable, each in ~1% of records
TYPE_WEIGHTS = [("incident", 50), ("request", 25), ("problem", 7), ("change", 13), ("article", 5)]
START = datetime(2021, 1, 4, 8, 0, tzinfo=UTC)
SPAN_DAYS = 5 * 365
SECTION_ORDER = ("desk", "types", "workflows", "priority", "sla", "calendars", "people", "groups")


def email(local: str) -> str:
    """A desk address for a local part."""
    return f"{local}@{DOMAIN}"


def ts(dt: datetime) -> str:
    """A record timestamp."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def text(rng: random.Random, words: int) -> str:
    """Plausible filler prose of about ``words`` words, in sentences."""
    out: list[str] = []
    sentence: list[str] = []
    for _ in range(words):
        sentence.append(rng.choice(WORDS))
        if len(sentence) >= rng.randint(6, 14):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    if sentence:
        out.append(" ".join(sentence).capitalize() + ".")
    if rng.random() < 0.05:
        out.append(f"Seen together with {rng.choice(RARE)}.")
    return " ".join(out)


def paragraphs(rng: random.Random, words: int) -> str:
    """Multi-line text (written as a YAML block literal)."""
    parts = [text(rng, max(8, words // 3)) for _ in range(3)]
    return "\n\n".join(parts) + "\n"


# --- the desk's configuration and catalog ----------------------------------------------------


def people_yaml() -> str:
    """The ``people:`` section listing agents and approvers."""
    lines = ["people:"]
    for local, name, groups in AGENTS:
        lines.append(f"  - {{email: {email(local)}, name: {name}, roles: [agent], groups: [{', '.join(groups)}]}}")
    for local, name, groups in APPROVERS:
        lines.append(f"  - {{email: {email(local)}, name: {name}, roles: [approver], groups: [{', '.join(groups)}]}}")
    return "\n".join(lines) + "\n"


def service_record(index: int, sid: str, name: str, category: str, deps: list[str], rng: random.Random) -> dict[str, Any]:
    """One catalog service with offerings of every approval kind."""
    owner = email(APPROVERS[index % len(APPROVERS)][0])
    offerings = [
        {"id": "access", "name": f"Access to {name}", "approval": True, "fulfilment": "2d",
         "form": [{"id": "reason", "label": "Why you need it", "type": "textarea", "required": True}]},
        {"id": "how-to", "name": "Help using it", "approval": False, "fulfilment": "1d"},
        {"id": "bulk-change", "name": "Bulk change", "approval": {"group": "service-owners", "count": 2},
         "fulfilment": "5d"},
    ]
    return {
        "id": sid, "name": name, "status": "live", "owner": owner, "group": "service-desk",
        "description": text(rng, 60), "summary": text(rng, 12)[:290], "category": category,
        "support_hours": "business" if index % 3 else "24x7", "sla": "standard",
        "depends_on": deps, "offerings": offerings,
    }


def configure(path: Path) -> Config:
    """Add listed people to ``itsm.yaml`` and write the catalog; returns the desk's Config."""
    cfg_path = path / "itsm.yaml"
    config_text = cfg_path.read_text(encoding="utf-8")
    config_text = config_text.replace("  name: IT Service Desk\n", "  name: Benchmark Desk\n", 1)
    config_text = re.sub(r"^people:.*?(?=^groups:)", lambda _: people_yaml(), config_text, count=1, flags=re.S | re.M)
    # Standard changes need a pre-authorised model the CAB approved (itsm.yaml standard_changes).
    model = (f"standard_changes:\n  - {{id: routine-maintenance, title: Routine maintenance, risk: low, "
             f"approved_by: {email(APPROVERS[0][0])}, approved_at: \"2020-12-01T14:00:00Z\"}}\n")
    config_text = config_text.replace("standard_changes: []\n", model, 1)
    cfg_path.write_text(config_text, encoding="utf-8")
    rng = random.Random(7)
    for i, (sid, name, category, deps) in enumerate(SERVICES):
        data = service_record(i, sid, name, category, deps, rng)
        (path / "catalog" / f"{sid}.yaml").write_text(yaml_io.dumps(data), encoding="utf-8")
    return Config(yaml_io.load_mapping(cfg_path.read_bytes(), "itsm.yaml"))


# --- records ---------------------------------------------------------------------------------


def plan_types(n: int, seed: int) -> list[str]:
    """The type of each of the n records (deterministic)."""
    rng = random.Random(seed)
    names = [t for t, _ in TYPE_WEIGHTS]
    weights = [w for _, w in TYPE_WEIGHTS]
    return rng.choices(names, weights, k=n)


def plan_ids(types: list[str], config: Config) -> list[str]:
    """The ID of each record: per-type counters, in creation order."""
    counters: dict[str, int] = {}
    out = []
    for t in types:
        prefix = config.types[t].prefix or ""
        counters[prefix] = counters.get(prefix, 0) + 1
        out.append(f"{prefix}-{counters[prefix]:04d}" if counters[prefix] < 10_000 else f"{prefix}-{counters[prefix]}")
    return out


class Builder:
    """Builds one record's life with the core operations, like people using the CLI would."""

    def __init__(self, config: Config, services: dict[str, dict[str, Any]], total: int):
        self.config = config
        self.total = max(1, total)
        self.services = services
        self.agents = [email(a[0]) for a in AGENTS]
        self.approvers = {g: [email(a[0]) for a in (*AGENTS, *APPROVERS) if g in a[2]]
                          for g in ("cab", "ecab", "service-owners", "service-desk")}

    def requester(self, rng: random.Random) -> str:
        """Mostly staff who are not listed; sometimes an agent files it."""
        if rng.random() < 0.15:
            return rng.choice(self.agents)
        return email(f"user{rng.randint(1, 4000)}")

    def build(self, index: int, type_name: str, record_id: str, earlier: list[str], seed: int,
              steps_out: list[tuple[dict[str, Any], dict[str, Any]]] | None = None) -> dict[str, Any]:
        """The final record; ``steps_out`` collects (record after step, entry) pairs when given."""
        rng = random.Random(seed * 1_000_003 + index)
        at = START + timedelta(days=SPAN_DAYS * index / self.total, minutes=rng.randint(0, 600))
        requester = self.requester(rng)
        service = rng.choice(SERVICES)[0]
        fields: dict[str, Any] = {"title": text(rng, rng.randint(5, 9)).rstrip(".")[:120], "service": service}
        rtype = self.config.types[type_name]
        if type_name in ("incident", "problem"):
            fields["impact"] = rng.choice(self.config.priority_levels)
            fields["urgency"] = rng.choice(self.config.priority_levels)
        if type_name == "request":
            fields["offering"] = rng.choices(["how-to", "access", "bulk-change"], [5, 4, 1])[0]
            if fields["offering"] == "access":
                fields["form"] = {"reason": text(rng, 10)}
        if type_name == "change":
            fields["change_class"] = rng.choices(["standard", "normal", "emergency"], [5, 4, 1])[0]
            if fields["change_class"] == "standard":
                fields["standard_model"] = "routine-maintenance"
        if rtype.kind == "article":
            fields.pop("service")
            fields["services"] = [service]
            fields["owner"] = rng.choice(self.agents)
            fields["review_by"] = (at + timedelta(days=365)).strftime("%Y-%m-%d")
            fields["summary"] = text(rng, 15)[:480]
        else:
            fields["description"] = paragraphs(rng, rng.randint(90, 150))
        if rng.random() < 0.2:
            fields["tags"] = sorted({rng.choice(["vpn", "laptop", "outage", "access", "printer", "mfa"]) for _ in range(2)})
        actor = requester if rtype.kind != "article" else fields["owner"]
        rec = ops.new_record(self.config, type_name, record_id, fields, actor, ts(at))
        if steps_out is not None:
            steps_out.append((rec, rec["history"][0]))
        policy = approval_policy(self.config, rec, self.services.get(rec.get("service") or ""))
        steps = rng.randint(3, 10)
        guard = 0
        while len(rec["history"]) < steps and guard < 40:
            guard += 1
            at += timedelta(minutes=rng.randint(5, 60 * 30))
            new = self._step(rng, rec, policy, ts(at), earlier)
            if new is None:
                break
            rec = new
            if steps_out is not None:
                steps_out.append((rec, rec["history"][-1]))
        return rec

    def _step(self, rng: random.Random, rec: dict[str, Any], policy: Any, now: str, earlier: list[str]) -> dict[str, Any] | None:
        cfg = self.config
        pos = ops.position_of(cfg, rec, policy)
        state = pos.state or ""
        if cfg.is_closed(rec["type"], state):
            return None
        gate = (cfg.state(rec["type"], state) or {}).get("approval")
        if gate and policy is not None:
            return self._approve(rng, rec, policy, pos, now)
        roll = rng.random()
        if roll < 0.18:
            note = text(rng, rng.randint(15, 40))
            who = rng.choice([rec.get("requester") or rng.choice(self.agents), rng.choice(self.agents)])
            return ops.comment(cfg, rec, note, who, now, policy, internal=rng.random() < 0.2)
        if roll < 0.25 and earlier:
            target = rng.choice(earlier[-500:])
            if target != rec["id"] and {"kind": "relates", "id": target} not in (rec.get("links") or []):
                kind = rng.choice(["relates", "caused-by", "parent", "duplicate-of"])
                if not any(link["id"] == target for link in rec.get("links") or []):
                    return ops.link(cfg, rec, kind, target, rng.choice(self.agents), now, policy)
        if rec.get("assignee") is None and rec["type"] != "article" and roll < 0.45:
            return ops.assign(cfg, rec, self._assignee(rng, rec), "service-desk", rng.choice(self.agents), now, policy)
        agent = rec.get("assignee") or rng.choice(self.agents)
        targets = pos.legal_targets(agent)
        forward = [t for t in targets if t not in ("cancelled", "rejected")] or targets
        if not forward:
            return None
        to = rng.choice(forward) if rng.random() < 0.97 else rng.choice(targets)
        need = missing_required(cfg, rec, to)
        if "assignee" in need:
            return ops.assign(cfg, rec, self._assignee(rng, rec), "service-desk", agent, now, policy)
        sets: dict[str, Any] = {}
        for f in need:
            if f in ("planned_start", "planned_end"):
                sets[f] = now
            elif f == "risk":
                sets[f] = rng.choice(["low", "medium", "high"])
            else:
                sets[f] = text(rng, rng.randint(10, 30))
        note = text(rng, rng.randint(6, 20)) if rng.random() < 0.5 else None
        return ops.transition(cfg, rec, to, agent, now, policy, note, sets)

    def _assignee(self, rng: random.Random, rec: dict[str, Any]) -> str:
        # Someone who approved the record may not become its assignee (separation of duties).
        approvers = {str(e.get("by", "")).lower() for e in rec["history"] if e.get("action") in ("approve", "reject")}
        return rng.choice([a for a in self.agents if a.lower() not in approvers])

    def _approve(self, rng: random.Random, rec: dict[str, Any], policy: Any, pos: Any, now: str) -> dict[str, Any]:
        exclude = {str(rec.get("requester", "")).lower(), str(rec.get("assignee") or "").lower(),
                   str(pos.assignee or "").lower(), *pos.approvers}
        candidates = [p for p in self.approvers.get(policy.group, []) if p.lower() not in exclude]
        who = rng.choice(candidates)
        if rng.random() < 0.08:
            return ops.reject(self.config, rec, who, now, policy, text(rng, 12))
        return ops.approve(self.config, rec, who, now, policy, text(rng, 8) if rng.random() < 0.3 else None)


def serialise(kind: str, path: str, data: dict[str, Any], body: str | None) -> str:
    """The file text itsm itself would write."""
    return Record(path, data, kind, body).serialise()


def rel_path(config: Config, type_name: str, record_id: str) -> tuple[str, str]:
    """(kind, desk-relative path) of a record."""
    rtype = config.types[type_name]
    return rtype.kind, ids.record_path(rtype.kind, rtype.folder, record_id)


# Worker state (set once per process by _init).
_W: dict[str, Any] = {}


def _init(root: str, seed: int, types: list[str], ids_: list[str]) -> None:
    config = Config(yaml_io.load_mapping((Path(root) / "itsm.yaml").read_bytes(), "itsm.yaml"))
    services = {p.stem: yaml_io.load_mapping(p.read_bytes(), p.name) for p in (Path(root) / "catalog").glob("*.yaml")}
    _W.update(root=Path(root), seed=seed, types=types, ids=ids_, config=config,
              builder=Builder(config, services, len(types)))


def _record(i: int, steps: list | None) -> tuple[str, str, dict[str, Any], str | None]:
    config, builder = _W["config"], _W["builder"]
    type_name, record_id = _W["types"][i], _W["ids"][i]
    kind, rel = rel_path(config, type_name, record_id)
    earlier = [x for x in _W["ids"][max(0, i - 500):i] if not x.startswith("KB-")]
    data = builder.build(i, type_name, record_id, earlier, _W["seed"], steps)
    body = None
    if kind == "article":
        rng = random.Random(i)
        body = f"# {data['title']}\n\n" + paragraphs(rng, 200) + "\n## Steps\n\n1. " + text(rng, 12) + "\n"
    return kind, rel, data, body


def _write_chunk(bounds: tuple[int, int]) -> list[tuple[int, int, str, str]]:
    """Build and write records [lo, hi); returns (index, history length, last author, last time) of each."""
    out = []
    for i in range(*bounds):
        kind, rel, data, body = _record(i, None)
        (_W["root"] / rel).parent.mkdir(parents=True, exist_ok=True)
        (_W["root"] / rel).write_text(serialise(kind, rel, data, body), encoding="utf-8")
        last = data["history"][-1]
        out.append((i, len(data["history"]), last["by"], last["at"]))
    return out


def _steps_chunk(bounds: tuple[int, int]) -> list[tuple[str, str, str, str, str, str]]:
    """The commits of records [lo, hi), one per history entry: (path, id, by, at, action, file text)."""
    out = []
    for i in range(*bounds):
        steps: list[tuple[dict[str, Any], dict[str, Any]]] = []
        kind, rel, _, body = _record(i, steps)
        for state, entry in steps:
            out.append((rel, _W["ids"][i], entry["by"], entry["at"], entry["action"], serialise(kind, rel, state, body)))
    return out


# --- git -------------------------------------------------------------------------------------


def git(root: Path, *args: str, input: bytes | None = None) -> str:
    """Run git in the desk."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    proc = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {args[0]} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode()


def _unix(at: str) -> int:
    return int(datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


class FastImport:
    """A ``git fast-import`` process appending commits to ``main``."""

    def __init__(self, root: Path):
        self.root = root
        self.parent: str | None = git(root, "rev-parse", "HEAD").strip()
        self.count = 0
        self.proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=root, stdin=subprocess.PIPE)

    def commit(self, files: list[tuple[str, bytes]], message: str, by: str, at: str) -> None:
        """One commit of ``files`` (path, content) authored by ``by`` at ``at``."""
        assert self.proc.stdin is not None
        name = by.split("@")[0].replace(".", " ").title()
        when = _unix(at)
        msg = message.encode()
        chunks = [f"commit refs/heads/main\nauthor {name} <{by}> {when} +0000\n"
                  f"committer itsm-bench <bench@example.com> {when} +0000\n".encode(),
                  b"data %d\n" % len(msg), msg]
        if self.parent:
            chunks.append(f"from {self.parent}\n".encode())
            self.parent = None
        for rel, blob in files:
            chunks.append(f"M 100644 inline {rel}\n".encode() + b"data %d\n" % len(blob) + blob + b"\n")
        self.proc.stdin.write(b"".join(chunks))
        self.count += 1

    def close(self) -> None:
        """Finish the import and point the index at the new HEAD (the work tree already holds the files)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"done\n")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            raise SystemExit("git fast-import failed")
        git(self.root, "reset", "-q")


def build(n: int, root: Path, commits: bool = False, commit_count: int | None = None, per_step: bool = True,
          seed: int = 42, jobs: int | None = None) -> None:
    """Create the desk at ``root`` with ``n`` records (see the module docstring)."""
    started = time.monotonic()
    root = root.resolve()
    os.environ.setdefault("ITSM_USER", email(AGENTS[0][0]))
    init_desk(root, actor=email(AGENTS[0][0]))
    config = configure(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Benchmark desk: people and catalog")
    types = plan_types(n, seed)
    ids_ = plan_ids(types, config)
    jobs = jobs or os.cpu_count() or 1
    size = max(50, min(1000, n // (jobs * 8) or 1))
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(str(root), seed, types, ids_)) as pool:
        written: list[tuple[int, int, str, str]] = []
        for chunk in pool.map(_write_chunk, [(lo, min(n, lo + size)) for lo in range(0, n, size)]):
            written.extend(chunk)
        print(f"gen_desk: {n} records written in {time.monotonic() - started:.1f}s", file=sys.stderr)
        if not commits:
            git(root, "add", "-A")
            git(root, "commit", "-q", "-m", f"Benchmark desk: {n} records")
            return
        limit = n if commit_count is None else commit_count
        # How many of the newest records fit: each costs one commit, or one per history entry.
        used, fit = 0, 0
        for _, length, _, _ in reversed(written):
            cost = length if per_step else 1
            if used + cost > limit:
                break
            used += cost
            fit += 1
        first = n - fit
        imp = FastImport(root)
        # The older records first, in one commit, as when a team moves its backlog from another tool:
        # dated after the last entry any of them has. The newest then follow commit by commit.
        if first:
            rest = [rel_path(config, types[i], ids_[i])[1] for i, _, _, _ in written[:first]]
            imp.commit([(rel, (root / rel).read_bytes()) for rel in rest], "Bulk import of the earlier records\n",
                       "bench@example.com", max(at for _, _, _, at in written[:first]))
        if per_step:
            bounds = [(lo, min(n, lo + 200)) for lo in range(first, n, 200)]
            for chunk in pool.map(_steps_chunk, bounds):
                for rel, record_id, by, at, action, content in chunk:
                    message = f"{record_id}: {action}\n\nItsm-Id: {record_id}\nItsm-Action: {action}\n"
                    imp.commit([(rel, content.encode("utf-8"))], message, by, at)
        else:
            for i, _, by, at in written[first:]:
                _, rel = rel_path(config, types[i], ids_[i])
                message = f"{ids_[i]}: import\n\nItsm-Id: {ids_[i]}\nItsm-Action: import\n"
                imp.commit([(rel, (root / rel).read_bytes())], message, by, at)
    imp.close()
    print(f"gen_desk: {imp.count} commits ({fit} records with history, {first} in one bulk commit first) "
          f"in {time.monotonic() - started:.1f}s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int, help="number of records (tickets of every type and KB articles)")
    p.add_argument("path", type=Path, help="where to create the desk (must not exist or be empty)")
    p.add_argument("--commits", action="store_true", help="build git history with git fast-import")
    p.add_argument("--commit-count", type=int, help="how many history commits (default: N)")
    p.add_argument("--per-record", dest="per_step", action="store_false",
                   help="one commit per record (default: one per history entry)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--jobs", type=int, help="worker processes (default: all cores)")
    args = p.parse_args(argv)
    if args.path.exists() and any(args.path.iterdir()):
        p.error(f"{args.path} exists and is not empty")
    build(args.n, args.path, args.commits, args.commit_count, args.per_step, args.seed, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
