"""The validation and list cache: whatever happens to the files, a cached run answers like an uncached one.

Every test compares ``check_desk`` with a plain reference implementation (the
validator before the cache: load every file, validate all, no shortcuts), so
"same problems, same order" is checked, not assumed.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
import yaml
from desk_testing import ANN, BOB, git, record_calls, run

from itsm_cli import parallel
from itsm_cli.app.listing import find_records
from itsm_cli.core.query import Query, run_query
from itsm_cli.core.validate import Problem, dependency_cycles, validate_records
from itsm_cli.errors import InvalidRecord, ItsmError
from itsm_cli.store import cache as cache_module
from itsm_cli.store.cache import Cache, summaries
from itsm_cli.store.check import CheckResult, _problem_from_error, check_desk, load_config
from itsm_cli.store.desk import Desk, Record, kind_of_path

# --- the reference: validation as it was before the cache -------------------------------------


def reference(desk_path: Path, paths: list[str] | None = None) -> list[Problem]:
    """Every problem, found the slow and obvious way."""
    desk = Desk(desk_path)
    result = CheckResult()
    loaded = load_config(desk, result)
    if loaded is None:
        return result.problems
    config, schemas = loaded
    all_paths = desk.record_paths()
    known_ids = {rel.rpartition("/")[2].rpartition(".")[0] for rel in all_paths}
    targets = all_paths if paths is None else [p for p in paths if kind_of_path(p)]
    services: dict[str, dict] = {}
    service_records: list[Record] = []
    for rel in all_paths:
        if rel.startswith("catalog/"):
            try:
                rec = desk.load(rel)
            except InvalidRecord:
                continue
            if isinstance(rec.data.get("id"), str):
                services[rec.data["id"]] = rec.data
            service_records.append(rec)
    records: list[Record] = []
    for rel in targets:
        try:
            records.append(desk.load(rel))
        except ItsmError as e:
            result.problems.append(_problem_from_error(e))
    result.problems.extend(validate_records(config, schemas, records, known_ids, services))
    in_scope = {r.path for r in records}
    by_id = {r.id: r for r in service_records}
    for cycle in dependency_cycles(services):
        rec = by_id.get(cycle[0])
        if rec is not None and rec.path in in_scope:
            line, col = rec.locate(("depends_on",))
            result.problems.append(Problem(rec.path, line, col, "dependency cycle: " + " -> ".join(cycle), "cycle"))
    result.problems.sort()
    return result.problems


def same(desk: Path, paths: list[str] | None = None) -> list[Problem]:
    """Check the desk twice with the cache (cold or warm as it stands, then warm) against the reference."""
    expected = reference(desk, paths)
    first = check_desk(Desk(desk), paths).problems
    assert first == expected
    assert check_desk(Desk(desk), paths).problems == expected
    return expected


def cache_dir(desk: Path) -> Path:
    return desk / ".git" / "itsm-cache"


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# --- a small desk with a bit of everything -----------------------------------------------------


@pytest.fixture
def busy(desk: Path) -> Path:
    """Incidents and a request (one of them linking to another), committed through the CLI."""
    for title in ("Mail is slow", "VPN drops", "Printer jams"):
        assert run("new", "incident", "--title", title, "--service", "email").exit_code == 0
    assert run("assign", "INC-0001", BOB).exit_code == 0
    assert run("link", "INC-0002", "relates", "INC-0001").exit_code == 0
    r = run("new", "request", "--title", "Team mailbox", "--service", "email", "--offering", "shared-mailbox", "--set", "form.name=sales")
    assert r.exit_code == 0, r.stderr
    assert same(desk) == []
    return desk


def edit(desk: Path, rel: str, fn) -> None:
    data = yaml.safe_load((desk / rel).read_text())
    fn(data)
    (desk / rel).write_text(yaml.safe_dump(data, sort_keys=False))


def test_a_warm_run_reads_nothing_and_answers_the_same(busy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (cache_dir(busy) / "validate.bin").is_file()
    calls = record_calls(monkeypatch, Desk, "read_bytes")
    assert check_desk(Desk(busy)).ok
    assert [c for c in calls if kind_of_path(c)] == []  # no record file was even opened


def test_a_file_edited_outside_itsm_is_checked_again(busy: Path) -> None:
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(colour="red"))
    found = same(busy)
    assert any("unknown field" in p.message and p.path == "tickets/INC/000/INC-0003.yaml" for p in found)
    git(busy, "checkout", "--", "tickets/INC/000/INC-0003.yaml")
    assert same(busy) == []


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(busy: Path) -> None:
    path = busy / "tickets/INC/000/INC-0003.yaml"
    text = path.read_text()
    st = path.stat()
    changed = text.replace("status: new", "status: wen")
    assert len(changed) == len(text)
    path.write_text(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert any("'wen' is not a state" in p.message for p in same(busy))


def test_staged_untracked_and_assume_unchanged_files(busy: Path) -> None:
    edit(busy, "tickets/INC/000/INC-0001.yaml", lambda d: d.update(priority="P9"))
    git(busy, "add", "tickets/INC/000/INC-0001.yaml")
    assert any(p.rule == "priority" for p in same(busy))
    git(busy, "reset", "-q", "--hard")
    (busy / "tickets/INC/000/INC-0009.yaml").write_text("id: INC-0009\n")
    assert any(p.path == "tickets/INC/000/INC-0009.yaml" for p in same(busy))
    (busy / "tickets/INC/000/INC-0009.yaml").unlink()
    git(busy, "update-index", "--assume-unchanged", "tickets/INC/000/INC-0003.yaml")
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(title=""))
    assert any(p.path == "tickets/INC/000/INC-0003.yaml" for p in same(busy))


def test_deleting_a_link_target_reaches_the_unchanged_record_that_links_to_it(busy: Path) -> None:
    (busy / "tickets/INC/000/INC-0001.yaml").unlink()
    found = same(busy)
    assert "link target INC-0001 does not exist" in [p.message for p in found if p.path == "tickets/INC/000/INC-0002.yaml"]
    git(busy, "checkout", "--", "tickets/INC/000/INC-0001.yaml")
    assert same(busy) == []


def test_a_new_file_can_satisfy_a_link_that_was_broken(busy: Path) -> None:
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(links=[{"kind": "relates", "id": "INC-0004"}]))
    assert any("INC-0004 does not exist" in p.message for p in same(busy))
    assert run("new", "incident", "--title", "Fourth").exit_code == 0
    assert not any("INC-0004 does not exist" in p.message for p in same(busy))


def test_editing_a_service_rechecks_the_tickets_that_use_it(busy: Path) -> None:
    edit(busy, "catalog/email.yaml", lambda d: d.update(offerings=[o for o in d["offerings"] if o["id"] != "shared-mailbox"]))
    assert "service 'email' has no offering 'shared-mailbox'" in [p.message for p in same(busy)]
    git(busy, "checkout", "--", "catalog/email.yaml")
    assert same(busy) == []
    (busy / "catalog/email.yaml").unlink()
    assert any(p.message == "unknown service 'email'" for p in same(busy))


def test_config_and_schema_changes_start_afresh(busy: Path) -> None:
    config = (busy / "itsm.yaml").read_text()
    (busy / "itsm.yaml").write_text(re.sub(r"  - \{email: bob@example.com.*\n", "", config))
    assert any("is not a listed agent" in p.message for p in same(busy))
    (busy / "itsm.yaml").write_text(config)
    assert same(busy) == []
    schema_path = busy / "schemas/incident.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["required"].append("due")
    schema_path.write_text(json.dumps(schema))
    assert any("'due' is required" in p.message for p in same(busy))


def test_branch_switch_stash_and_rebase(busy: Path) -> None:
    git(busy, "checkout", "-q", "-b", "feature")
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(status="closed"))
    git(busy, "commit", "-q", "-am", "close by hand")
    on_feature = same(busy)
    assert any(p.path == "tickets/INC/000/INC-0003.yaml" for p in on_feature)
    git(busy, "checkout", "-q", "main")
    assert same(busy) == []
    git(busy, "checkout", "-q", "feature")
    assert same(busy) == on_feature
    git(busy, "checkout", "-q", "main")
    edit(busy, "tickets/INC/000/INC-0001.yaml", lambda d: d.update(urgency="extreme"))
    dirty = same(busy)
    assert dirty
    git(busy, "stash", "-q")
    assert same(busy) == []
    git(busy, "stash", "pop", "-q")
    assert same(busy) == dirty
    git(busy, "checkout", "-q", "--", ".")
    assert run("comment", "INC-0002", "on main meanwhile").exit_code == 0
    git(busy, "checkout", "-q", "feature")
    git(busy, "rebase", "-q", "main")
    rebased = same(busy)
    assert messages(rebased) == messages(on_feature)


def test_a_damaged_cache_is_ignored_and_rebuilt(busy: Path) -> None:
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(colour="red"))
    expected = same(busy)
    folder = cache_dir(busy)
    files = sorted(p for p in folder.rglob("*") if p.is_file())  # the parsed-file memo's entries too
    for path in files:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    assert check_desk(Desk(busy)).problems == expected
    for path in files:
        path.write_bytes(b"ITSMCCH1" + os.urandom(200))
    assert check_desk(Desk(busy)).problems == expected
    (folder / "validate.bin").write_bytes(b"")
    (folder / "result.bin").unlink()
    assert check_desk(Desk(busy)).problems == expected
    # Flip one byte in the middle: the checksum catches it.
    data = bytearray((folder / "validate.bin").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "validate.bin").write_bytes(bytes(data))
    (folder / "result.bin").unlink()
    assert check_desk(Desk(busy)).problems == expected


def test_cross_record_rules_are_evaluated_on_every_run(busy: Path) -> None:
    # A second file claiming INC-0001's ID, and two services depending on each other.
    text = (busy / "tickets/INC/000/INC-0003.yaml").read_text().replace("id: INC-0003", "id: INC-0001")
    (busy / "tickets/INC/000/INC-0003.yaml").write_text(text)
    storage = (busy / "catalog/email.yaml").read_text().replace("id: email", "id: storage")
    (busy / "catalog/storage.yaml").write_text(storage.replace("depends_on: []", "depends_on: [email]"))
    edit(busy, "catalog/email.yaml", lambda d: d.update(depends_on=["storage"]))
    found = same(busy)
    assert any(p.rule == "unique-id" for p in found)
    assert any(p.rule == "cycle" for p in found)
    (busy / "tickets/INC/000/INC-0003.yaml").write_text(text.replace("id: INC-0001", "id: INC-0003"))
    found = same(busy)
    assert not any(p.rule == "unique-id" for p in found)
    assert any(p.rule == "cycle" for p in found)


@pytest.mark.parametrize("few", [0, 200])
def test_named_paths_and_broken_files(busy: Path, few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("itsm_cli.store.check.FEW", few)  # 0: named files go through the cache as well
    (busy / "tickets/INC/000/INC-0005.yaml").write_text("id: [unclosed\n")
    (busy / "tickets/INC/000/INC-0006.yaml").symlink_to(busy / "tickets/INC/000/INC-0001.yaml")
    same(busy)
    same(busy, ["tickets/INC/000/INC-0001.yaml", "tickets/INC/000/INC-0005.yaml", "tickets/INC/000/INC-0404.yaml"])
    same(busy, ["tickets/INC/000/INC-0002.yaml", "tickets/INC/000/INC-0002.yaml"])


def test_no_cache_without_git_or_when_disabled(busy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_module.clear(Desk(busy))
    monkeypatch.setenv("ITSM_NO_CACHE", "1")
    assert same(busy) == []
    assert not cache_dir(busy).exists()


def test_parallel_workers_find_the_same(busy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if parallel.cpu_count() < 2:
        pytest.skip("one core: no workers")
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(colour="red"))
    (busy / "tickets/INC/000/INC-0005.yaml").write_text("id: [unclosed\n")
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)
    cache_module.clear(Desk(busy))
    same(busy)
    cache_module.clear(Desk(busy))
    query = Query(search="mail")
    assert find_records(Desk(busy), query, full=True) == run_query(Desk(busy).config, (r.data for r in Desk(busy).records(("tickets",))), query)


def test_the_cli_reports_the_same_when_warm(busy: Path) -> None:
    edit(busy, "tickets/INC/000/INC-0003.yaml", lambda d: d.update(colour="red"))
    cold = run("validate", "--format", "json")
    warm = run("validate", "--format", "json")
    assert cold.exit_code == warm.exit_code == 1
    assert cold.stdout == warm.stdout


def test_random_edits_never_fool_the_cache(busy: Path) -> None:
    rng = random.Random(8)
    rels = ["tickets/INC/000/INC-0001.yaml", "tickets/INC/000/INC-0002.yaml", "tickets/INC/000/INC-0003.yaml", "tickets/REQ/000/REQ-0001.yaml",
            "catalog/email.yaml"]
    originals = {rel: (busy / rel).read_text() for rel in rels}
    mutations = [
        lambda d: d.update(status="closed"),
        lambda d: d.update(links=[{"kind": "relates", "id": rng.choice(["INC-0001", "INC-0003", "INC-0777"])}]),
        lambda d: d.pop("history", None),
        lambda d: d.update(service=rng.choice(["email", "nope"])),
        lambda d: d.update(offerings=[]) if "offerings" in d else d.update(offering="distribution-list"),
        lambda d: d.update(assignee=rng.choice([ANN, BOB, "zed@example.com"])),
        lambda d: d.update(id="INC-0001"),
    ]
    for _ in range(25):
        rel = rng.choice(rels)
        action = rng.random()
        if action < 0.15:
            (busy / rel).unlink(missing_ok=True)
        elif action < 0.35:
            (busy / rel).write_text(originals[rel])
        elif (busy / rel).exists():
            edit(busy, rel, rng.choice(mutations))
        if rng.random() < 0.3:
            git(busy, "add", "-A")
            git(busy, "commit", "-q", "-m", "step", "--allow-empty")
        same(busy)


# --- `itsm list` from summaries -----------------------------------------------------------------


def _plain(desk: Path, query: Query) -> list[dict]:
    d = Desk(desk)
    return run_query(d.config, (r.data for r in d.records(("tickets",))), query)


@pytest.mark.parametrize("query", [
    Query(), Query(statuses={"new"}), Query(open_only=True), Query(closed_only=True), Query(search="MAIL slow"),
    Query(search="nothing-like-this"), Query(assignee="none"), Query(assignee=BOB.upper()), Query(service="email"),
    Query(sort="-updated", limit=2), Query(sort="title"), Query(sort="description"), Query(type_name="request"),
    Query(priorities={"P3"}, sort="-id"),
])
def test_list_from_summaries_selects_and_orders_like_whole_records(busy: Path, query: Query) -> None:
    assert run("comment", "INC-0003", "the MAIL server is slow again").exit_code == 0
    expected = _plain(busy, query)
    for _ in range(2):  # cold, then warm
        full = find_records(Desk(busy), query, full=True)
        assert full == expected
        short = find_records(Desk(busy), query)
        assert [r["id"] for r in short] == [r["id"] for r in expected]
        for s, r in zip(short, expected):
            assert all(r.get(k) == v for k, v in s.items())


def test_summaries_follow_edits(busy: Path) -> None:
    before = {s["id"]: s for s in summaries(Desk(busy))}
    assert before["INC-0001"]["assignee"] == BOB
    edit(busy, "tickets/INC/000/INC-0001.yaml", lambda d: d.update(title="Renamed by hand"))
    (busy / "tickets/INC/000/INC-0002.yaml").write_text("id: [broken\n")
    after = {s["id"]: s for s in summaries(Desk(busy))}
    assert after["INC-0001"]["title"] == "Renamed by hand"
    assert "INC-0002" not in after
    found = find_records(Desk(busy), Query(search="renamed"))
    assert [{k: v for k, v in s.items() if v is not None} for s in found] == [after["INC-0001"]]


def test_keys_come_from_git_and_from_content(busy: Path) -> None:
    d = Desk(busy)
    cache = Cache.open(d)
    assert cache is not None
    paths = d.record_paths()
    keys = cache.keys(paths)
    assert keys["tickets/INC/000/INC-0001.yaml"] == git(busy, "rev-parse", "HEAD:tickets/INC/000/INC-0001.yaml").strip()
    edit(busy, "tickets/INC/000/INC-0001.yaml", lambda x: x.update(title="changed"))
    keys = Cache.open(d).keys(paths)  # type: ignore[union-attr]
    assert keys["tickets/INC/000/INC-0001.yaml"] == git(busy, "hash-object", "tickets/INC/000/INC-0001.yaml").strip()


def test_a_section_keeps_base_and_delta_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli.store.cache import MISSING, Section

    paths = [f"tickets/INC-{i:04d}.yaml" for i in range(300)]
    first = Section(tmp_path, "t", "env")
    for i, p in enumerate(paths):
        first.put(p, f"k{i}", ("v", i))
    first.save(paths)
    second = Section(tmp_path, "t", "env")
    assert second.get(paths[5], "k5") == ("v", 5)
    second.put(paths[5], "changed", ("v", "new"))
    second.save(paths)
    assert (tmp_path / "t.delta").is_file()  # a few rows: only a delta is written
    third = Section(tmp_path, "t", "env")
    assert third.get(paths[5], "changed") == ("v", "new")
    assert third.get(paths[5], "k5") == ("v", 5)  # the file went back to what the base knows
    keys = [f"k{i}" for i in range(300)]
    keys[7] = "other"
    got = third.get_many(paths, keys)
    assert got[5] == ("v", 5) and got[7] is MISSING and got[8] == ("v", 8)
    assert Section(tmp_path, "t", "another env").get(paths[0], "k0") is MISSING
    monkeypatch.setattr("itsm_cli.store.cache.DELTA_MAX", 0)
    fourth = Section(tmp_path, "t", "env")
    fourth.put(paths[9], "nine", 9)
    fourth.save(paths[:100])  # a rewrite keeps only the files that still exist
    fifth = Section(tmp_path, "t", "env")
    assert len(fifth) == 100 and fifth.get(paths[9], "nine") == 9 and not (tmp_path / "t.delta").exists()


def test_list_of_articles_with_service_lists(busy: Path) -> None:
    for i, services in enumerate((["email"], [], ["email", "vpn"])):
        (busy / f"kb/KB-000{i + 1}.md").write_text(
            f"---\nid: KB-000{i + 1}\ntype: article\ntitle: Article {i}\nstatus: published\nservices: {services}\n"
            f"owner: {ANN}\nreview_by: '2027-01-01'\nupdated: '2026-01-01T00:00:00Z'\n---\n# Body {i}\n")
    d = Desk(busy)
    for query in (Query(type_name="article"), Query(type_name="article", service="email"), Query(service="vpn")):
        expected = run_query(d.config, (r.data for r in d.records(("kb",))), query)
        assert find_records(Desk(busy), query, ("kb",), full=True) == expected
        assert [s["id"] for s in find_records(Desk(busy), query, ("kb",))] == [r["id"] for r in expected]


def test_base_versions_come_from_one_git_process(busy: Path) -> None:
    from itsm_cli.store.basecheck import _blobs_at
    from itsm_cli.store.gitstore import Git

    g = Git(busy)
    rels = ["tickets/INC/000/INC-0001.yaml", "tickets/INC/000/INC-0404.yaml", "tickets", "catalog/email.yaml", "tickets/REQ/000/REQ-0001.yaml"]
    assert _blobs_at(g, "HEAD", rels) == {r: g.show("HEAD", r) for r in rels}
    assert _blobs_at(g, "HEAD", rels)["tickets/INC/000/INC-0404.yaml"] is None
