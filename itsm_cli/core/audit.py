"""The audit trail: what each commit did to the records, and whether the trail can be trusted.

Pure: the store hands in commits (:class:`CommitInfo`) with, for every record
file a commit changed, the file's version in each parent and after the commit
(:class:`Version` objects that parse lazily). This module works out which
history entries each commit *introduced*, turns them into audit rows, pairs a
record's entries with the commits behind them, and checks the trail:

- ``unbacked``: an entry was introduced by a commit whose author e-mail is not
  the entry's ``by`` (entries of records added by an ``init``/``import``
  commit are the imported baseline and exempt);
- ``rewritten``: a commit changed or removed an entry of a parent version
  (a plain commit must keep the old history as a prefix; a merge must keep
  each parent's history as a subsequence, as the merge driver does);
- ``deleted``: a record with history was deleted (entries moved to another
  file in the same commit, as ``itsm renumber`` does, do not count);
- ``approval``: an approval or rejection breaks separation of duties (or is
  by someone outside the approving group), or a later assignment or
  implementation by someone who approved does, judged by the same
  :class:`~itsm_cli.core.workflow.Replay` the commands use;
- ``unsigned``: the desk requires signed commits and a commit made since the
  requirement was switched on is unsigned or its signature is bad;
- ``unreadable``: a version of a record could not be parsed, so it cannot be checked.

An entry is "introduced" by a commit when it is in the new version and in no
parent's version; entries a merge brings from its second parent were
introduced by the branch commit that made them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from itsm_cli.core.config import Config
from itsm_cli.core.workflow import (
    Replay,
    approval_policy,
    implementation_states,
    is_standard,
    segregation,
    standard_model_problem,
)
from itsm_cli.errors import ItsmError

__all__ = [
    "BASELINE_ACTIONS",
    "CONFIG_KIND",
    "ROW_KEYS",
    "CommitInfo",
    "FileChange",
    "FileDelta",
    "Finding",
    "RecordTimeline",
    "Version",
    "audit_rows",
    "change_evidence",
    "commit_deltas",
    "file_delta",
    "in_period",
    "record_timeline",
    "verify",
]

#: Commits whose added records are an imported baseline (their entries predate the desk's git history).
BASELINE_ACTIONS = frozenset({"init", "import"})
#: ``FileChange.kind`` of the desk configuration, ``itsm.yaml``.
CONFIG_KIND = "config"
#: Keys of an audit row, in column order.
ROW_KEYS = (
    "date", "commit", "author", "author_name", "by", "id", "type", "action", "from", "to", "at", "itsm_action", "subject",
)
SIGNED_OK = frozenset({"G", "U"})

Entry = dict[str, Any]


class Version(Protocol):
    """One version of a record file (one blob). Parsing happens on first use.

    ``history`` and ``record`` raise ValueError or an ItsmError when the
    version cannot be parsed.
    """

    blob: str

    def history(self) -> list[Entry]:
        """The version's history entries."""
        ...

    def record(self) -> dict[str, Any]:
        """The version's whole record (front matter for articles)."""
        ...

    def appended_to(self, old: Version) -> list[Entry] | None:
        """Entries appended after ``old``'s history, when ``old``'s history text is an exact prefix; else None."""
        ...


@dataclass
class FileChange:
    """One record file a commit changed: its version in each parent (None = absent) and after (None = deleted)."""

    path: str
    record_id: str
    kind: str  # ticket | article | service | config
    parents: tuple[Version | None, ...]
    new: Version | None


@dataclass
class CommitInfo:
    """A commit of the desk's history with the record files it changed."""

    sha: str
    author_name: str
    author_email: str
    author_date: str
    commit_date: str  # UTC, ...Z
    signature: str  # git's %G? (G good, U good but untrusted key, N none, B bad...), "" when not asked
    parents: tuple[str, ...]
    subject: str
    ids: tuple[str, ...] = ()  # Itsm-Id trailers
    action: str | None = None  # Itsm-Action trailer
    rules: tuple[str, ...] = ()  # Itsm-Rule trailers: desk rules that acted (as the bot) inside this commit
    files: list[FileChange] = field(default_factory=list)

    @property
    def short(self) -> str:
        """The abbreviated commit ID used in messages."""
        return self.sha[:10]

    @property
    def is_merge(self) -> bool:
        """True for a merge commit."""
        return len(self.parents) > 1


@dataclass
class FileDelta:
    """What one commit did to one record file's history."""

    change: FileChange
    added: list[Entry] = field(default_factory=list)  # entries this commit introduced
    lost: list[Entry] = field(default_factory=list)  # entries of a parent changed or removed
    rewritten: bool = False  # a parent's history does not survive in order
    brought: list[Entry] = field(default_factory=list)  # merges: entries new relative to the first parent
    error: str | None = None  # a version could not be read
    moved: bool = False  # a deleted file whose every entry went to another file of the commit (renumber, upgrade)


@dataclass(frozen=True)
class Finding:
    """One reason the audit trail cannot be trusted as it stands."""

    check: str  # unbacked | rewritten | deleted | approval | unsigned | unreadable
    commit: str  # abbreviated commit ID
    record: str
    message: str
    date: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"check": self.check, "commit": self.commit, "record": self.record, "date": self.date,
                "message": self.message}


def entry_key(entry: Any) -> str:
    """A canonical text for comparing entries as values (key order does not matter)."""
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, default=str)


def _minus(items: Sequence[Entry], other: Sequence[Entry]) -> list[Entry]:
    """Multiset difference in ``items`` order: each entry of ``other`` cancels one equal entry of ``items``."""
    return _take(list(items), Counter(entry_key(e) for e in other))


def _is_subsequence(small: Sequence[Entry], big: Sequence[Entry]) -> bool:
    it = iter(entry_key(e) for e in big)
    return all(any(k == b for b in it) for k in (entry_key(e) for e in small))


def _versus(parent: Version, new: Version, merge: bool) -> tuple[list[Entry], list[Entry], bool]:
    """(entries new relative to ``parent``, parent entries lost, rewritten?) for one parent."""
    if parent.blob == new.blob:
        return [], [], False
    fast = new.appended_to(parent)
    if fast is not None:
        return fast, [], False
    old_h, new_h = parent.history(), new.history()
    if new_h[: len(old_h)] == old_h:
        return new_h[len(old_h):], [], False
    if merge and _is_subsequence(old_h, new_h):
        return _minus(new_h, old_h), [], False
    return _minus(new_h, old_h), _minus(old_h, new_h), True


def file_delta(change: FileChange, *, merge: bool = False) -> FileDelta:
    """Which entries a commit introduced into one file, and which it changed or removed.

    For a merge (``merge=True``, one version per parent) an entry is introduced
    only if no parent has it, and each parent's history need only survive as a
    subsequence; ``brought`` lists what is new relative to the first parent.
    """
    delta = FileDelta(change)
    if change.kind == CONFIG_KIND:
        return delta
    try:
        parents = change.parents
        new = change.new
        if new is None:
            for p in parents:
                if p is not None:
                    delta.lost = p.history()
                    break
            return delta
        per_parent: list[list[Entry]] = []
        for p in parents:
            if p is None:
                per_parent.append(new.history())
                continue
            added, lost, rewritten = _versus(p, new, merge)
            per_parent.append(added)
            delta.lost.extend(_minus(lost, delta.lost))
            delta.rewritten = delta.rewritten or rewritten
        if not per_parent:
            per_parent.append(new.history())
        added = per_parent[0]
        for other in per_parent[1:]:
            added = [e for e in added if entry_key(e) in {entry_key(o) for o in other}]
        delta.added = added
        if merge:
            delta.brought = per_parent[0]
    except (ValueError, ItsmError) as e:
        delta.error = str(e)
    return delta


def commit_deltas(commit: CommitInfo) -> list[FileDelta]:
    """The deltas of every file of a commit; entries moved between files in the commit (renumber) cancel out.

    A merge that joins a branch made before ``itsm upgrade`` drops the branch's
    flat files: their entries live on in the moved files the merge keeps, so
    they count as moved too (the move itself was checked at the upgrade commit).
    """
    deltas = [file_delta(f, merge=commit.is_merge) for f in commit.files]
    if not any(d.change.new is None and d.lost for d in deltas):
        return deltas
    lost_keys: Counter[str] = Counter()
    added_keys: Counter[str] = Counter()
    for d in deltas:
        if d.change.new is None:
            lost_keys.update(entry_key(e) for e in d.lost)
        elif commit.is_merge:
            try:
                added_keys.update(entry_key(e) for e in d.change.new.history())
            except (ValueError, ItsmError):
                continue
        else:
            added_keys.update(entry_key(e) for e in d.added)
    moved = lost_keys & added_keys
    if moved:
        for d in deltas:
            if d.change.new is None:
                d.moved = bool(d.lost)
                d.lost = _take(d.lost, moved.copy())
                d.moved = d.moved and not d.lost
        for d in deltas:
            if d.change.new is not None and not commit.is_merge:
                d.added = _take(d.added, moved)
    if commit.is_merge:
        # Entries the merge gives a moved file that the branch's dropped file already held were
        # made on the branch, by the commits that made them there: brought in, not introduced.
        budget = lost_keys.copy()
        for d in deltas:
            if d.change.new is not None and d.added:
                d.added = _take(d.added, budget)
    return deltas


def _take(entries: list[Entry], budget: Counter[str]) -> list[Entry]:
    """``entries`` without those ``budget`` still covers (consuming the budget)."""
    out = []
    for e in entries:
        k = entry_key(e)
        if budget[k]:
            budget[k] -= 1
        else:
            out.append(e)
    return out


# -- audit rows ------------------------------------------------------------------------


def _row(commit: CommitInfo, change: FileChange, type_name: str, action: str, entry: Entry | None = None) -> dict[str, Any]:
    entry = entry or {}
    return {
        "date": commit.commit_date,
        "commit": commit.sha,
        "author": commit.author_email,
        "author_name": commit.author_name,
        "by": entry.get("by"),
        "id": change.record_id,
        "type": type_name,
        "action": action,
        "from": entry.get("from"),
        "to": entry.get("to"),
        "at": entry.get("at"),
        "itsm_action": commit.action,
        "subject": commit.subject,
    }


def in_period(date: str, since: str | None, until: str | None) -> bool:
    """True when ``date`` (a ``...Z`` commit date) is in ``[since, until)``; a missing end is open."""
    return (not since or date >= since) and (not until or date < until)


def audit_rows(
    commits: Iterable[CommitInfo],
    type_of: Callable[[FileChange], str],
    *,
    since: str | None = None,
    until: str | None = None,
    types: frozenset[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per change to a record in ``[since, until)`` (commit dates, ``...Z`` strings), as they stream.

    A row per history entry a commit introduced (``action`` is the entry's), and
    rows for what has no entry: ``history-rewritten``, ``deleted``, ``moved`` (a file whose whole
    history went to another file of the commit: ``itsm renumber``, ``itsm upgrade``), ``unreadable``,
    ``added``/``changed`` (a file added or changed without a new entry, e.g. a
    catalog edit) and ``config`` (``itsm.yaml``). ``type_of`` names a file's record type;
    ``types`` keeps only those types. Keys: :data:`ROW_KEYS`.
    """
    for commit in commits:
        if not in_period(commit.commit_date, since, until):
            continue
        for delta in commit_deltas(commit):
            change = delta.change
            type_name = type_of(change)
            if types is not None and type_name not in types:
                continue
            if change.kind == CONFIG_KIND:
                yield _row(commit, change, type_name, "config")
                continue
            if delta.error:
                yield _row(commit, change, type_name, "unreadable")
                continue
            for entry in delta.added:
                yield _row(commit, change, type_name, str(entry.get("action", "")), entry)
            if delta.rewritten:
                yield _row(commit, change, type_name, "history-rewritten")
            if change.new is None:
                yield _row(commit, change, type_name, "moved" if delta.moved else "deleted")
            elif not delta.added and not delta.rewritten and not commit.is_merge:
                yield _row(commit, change, type_name, "added" if change.parents == (None,) else "changed")


# -- verification -----------------------------------------------------------------------


def _describe(entry: Entry) -> str:
    move = f" {entry.get('from', '')} -> {entry.get('to')}" if entry.get("to") else ""
    return f"'{entry.get('action')}'{move} entry at {entry.get('at')}"


def verify(
    commits: Iterable[CommitInfo],
    config: Config,
    services: Mapping[str, Mapping[str, Any]],
    *,
    require_signed: bool = False,
) -> Iterator[Finding]:
    """Check the trail commit by commit (oldest first) and yield every finding (see the module docstring).

    ``config`` and ``services`` are today's: approvals are judged by today's
    people, groups and approval rules. With ``require_signed`` (today's
    ``desk.require_signed_commits``), commits are checked from the one whose
    ``itsm.yaml`` switched the requirement on.
    """
    signing = False
    for commit in commits:
        if require_signed:
            for change in commit.files:
                if change.kind == CONFIG_KIND and change.new is not None:
                    signing = _requires_signing(change.new, signing)
        deltas = commit_deltas(commit)
        ids = sorted({d.change.record_id for d in deltas}) or ["-"]
        if signing and commit.signature not in SIGNED_OK:
            what = "unsigned" if commit.signature in ("N", "") else f"signature status {commit.signature}"
            yield Finding("unsigned", commit.short, ", ".join(ids),
                          f"commit is {what} but the desk requires signed commits", commit.commit_date)
        for delta in deltas:
            yield from _check_delta(commit, delta, config, services)


def _requires_signing(version: Version, current: bool) -> bool:
    try:
        desk = version.record().get("desk") or {}
    except (ValueError, ItsmError):
        return current
    return isinstance(desk, dict) and desk.get("require_signed_commits") is True


def _check_delta(
    commit: CommitInfo, delta: FileDelta, config: Config, services: Mapping[str, Mapping[str, Any]]
) -> Iterator[Finding]:
    change = delta.change
    rid = change.record_id
    if change.kind == CONFIG_KIND:
        return

    def finding(check: str, message: str) -> Finding:
        return Finding(check, commit.short, rid, message, commit.commit_date)

    if delta.error:
        yield finding("unreadable", f"cannot read this version to check it: {delta.error}")
        return
    if delta.rewritten:
        what = "; ".join(_describe(e) for e in delta.lost[:3]) or "entries reordered"
        more = f" (and {len(delta.lost) - 3} more)" if len(delta.lost) > 3 else ""
        yield finding("rewritten", f"history rewritten: changed or removed {what}{more}")
    if change.new is None and delta.lost:
        yield finding("deleted", f"record deleted with {len(delta.lost)} history entries")
    baseline = commit.action in BASELINE_ACTIONS and all(p is None for p in change.parents)
    if not baseline:
        author = commit.author_email.lower()
        # Entries by the bot ride in the commit of the person whose change triggered
        # a desk rule; the commit's Itsm-Rule trailers declare it.
        bot = config.bot.lower() if commit.rules else None
        for entry in delta.added:
            by = str(entry.get("by", ""))
            if by.lower() != author and by.lower() != bot:
                yield finding("unbacked", f"{_describe(entry)} says by {by} but the commit's author is {commit.author_email}")
    rtype = config.type_for_id(rid)
    if change.new is not None and any(_may_break_duties(e, config, rtype.name if rtype else None) for e in delta.added):
        yield from (finding("approval", m) for m in _approval_problems(change.new, delta.added, config, services))


def _may_break_duties(entry: Entry, config: Config, type_name: str | None) -> bool:
    """Whether separation of duties judges ``entry``: a decision, a new assignee, entering an implementation state."""
    if entry.get("action") in ("approve", "reject"):
        return True
    fields = entry.get("fields")
    if isinstance(fields, dict) and fields.get("assignee"):
        return True
    return (entry.get("action") == "transition" and type_name is not None
            and entry.get("to") in implementation_states(config, type_name))


def _approval_problems(
    version: Version, added: list[Entry], config: Config, services: Mapping[str, Mapping[str, Any]]
) -> Iterator[str]:
    """Replay the record as this commit left it and judge what the commit introduced.

    Approvals and rejections are judged in full (approving group, separation
    of duties); other entries only for separation of duties (an approver
    assigned, or taking the record into an implementation state).
    """
    try:
        record = version.record()
    except (ValueError, ItsmError) as e:
        yield f"cannot read the record to check its approvals: {e}"
        return
    service = services.get(str(record.get("service"))) if record.get("service") else None
    policy = approval_policy(config, record, dict(service) if service else None)
    type_name = record.get("type") if record.get("type") in config.types else None
    pending = Counter(entry_key(e) for e in added if _may_break_duties(e, config, type_name))
    replay = Replay(config, record, policy)
    for entry in record.get("history") or []:
        if not isinstance(entry, dict):
            continue
        key = entry_key(entry)
        if pending[key]:
            pending[key] -= 1
            try:
                if entry.get("action") in ("approve", "reject"):
                    problems = replay.check(entry)
                else:
                    problems = replay.duty_problems(entry)
            except (KeyError, TypeError, ValueError) as e:
                problems = [f"cannot replay: {type(e).__name__}: {e}"]
            for problem in problems:
                yield f"{_describe(entry)} by {entry.get('by')}: {problem}"
        try:
            replay.apply(entry)
        except (KeyError, TypeError, ValueError):
            return


# -- one record's timeline --------------------------------------------------------------


@dataclass
class RecordTimeline:
    """A record's current entries and the commits that touched its file, paired up.

    ``entry_commit[i]`` is the commit that introduced entry ``i`` (None: not
    committed, or changed since); ``introduced[sha]`` and ``brought[sha]`` are
    entry indices a commit introduced, or (merges) brought in from a branch.
    """

    entries: list[Entry]
    commits: list[CommitInfo]
    entry_commit: list[str | None]
    introduced: dict[str, list[int]]
    brought: dict[str, list[int]]
    rewritten: dict[str, bool]


def record_timeline(entries: list[Entry], commits: Iterable[CommitInfo]) -> RecordTimeline:
    """Pair a record's current ``entries`` with the ``commits`` (oldest first) that changed its file."""
    positions: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        positions.setdefault(entry_key(e), []).append(i)
    claimed: set[int] = set()
    entry_commit: list[str | None] = [None] * len(entries)
    introduced: dict[str, list[int]] = {}
    brought: dict[str, list[int]] = {}
    rewritten: dict[str, bool] = {}
    kept: list[CommitInfo] = []

    def find(e: Entry, claim: bool) -> int | None:
        for i in positions.get(entry_key(e), ()):
            if not claim or i not in claimed:
                return i
        return None

    for commit in commits:
        kept.append(commit)
        for delta in commit_deltas(commit):
            for e in delta.added:
                i = find(e, claim=True)
                if i is not None:
                    claimed.add(i)
                    entry_commit[i] = commit.sha
                    introduced.setdefault(commit.sha, []).append(i)
            for e in delta.brought:
                i = find(e, claim=False)
                if i is not None:
                    brought.setdefault(commit.sha, []).append(i)
            if delta.rewritten:
                rewritten[commit.sha] = True
    return RecordTimeline(entries, kept, entry_commit, introduced, brought, rewritten)


# -- the evidence chain of a change ---------------------------------------------------------


def change_evidence(
    record: Mapping[str, Any],
    timeline: RecordTimeline,
    config: Config,
    service: Mapping[str, Any] | None,
    incoming: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Everything an auditor asks of a change (or any record with approvals), as JSON-ready data.

    Request (requester, created, the creating commit), assessment (risk, whether
    a plan is written), the approval rule and each approval or rejection with the
    approver's groups, whether it was independent (replayed with the workflow's
    own rules) and who committed it, the standard-change model a standard
    change names (who approved the model, when, and whether it covers the
    change), the workflow's separation of duties and any later entry that
    breaks it (an approver assigned or implementing), the schedule, every
    state change, links both ways (``incoming``: records that link to this
    one) and every commit.
    """
    by_sha = {c.sha: c for c in timeline.commits}
    entries = timeline.entries

    def commit_of(i: int) -> str | None:
        return timeline.entry_commit[i]

    def committed_by(i: int) -> str | None:
        sha = commit_of(i)
        return by_sha[sha].author_email if sha in by_sha else None

    data = dict(record)
    policy = approval_policy(config, data, dict(service) if service else None)
    replay = Replay(config, data, policy)
    approvals: list[dict[str, Any]] = []
    duties: list[dict[str, Any]] = []  # later entries that break separation of duties (an approver assigned...)
    transitions: list[dict[str, Any]] = []
    created: dict[str, Any] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            continue
        action = e.get("action")
        by = str(e.get("by", ""))
        if action == "create" and not created:
            created = {"by": by, "at": e.get("at"), "commit": commit_of(i), "committed_by": committed_by(i)}
        if action in ("approve", "reject"):
            try:
                problems = replay.check(e)
            except (KeyError, TypeError, ValueError) as exc:
                problems = [f"cannot replay: {exc}"]
            person = config.person(by)
            approvals.append({
                "decision": action, "by": by, "name": person.name if person else None,
                "groups": sorted(person.groups) if person else [], "group": e.get("group"), "at": e.get("at"),
                "note": e.get("note"), "to": e.get("to"), "commit": commit_of(i), "committed_by": committed_by(i),
                "independent": not problems, "problems": problems,
            })
        elif action != "create":
            try:
                duty = replay.duty_problems(e)
            except (KeyError, TypeError, ValueError) as exc:
                duty = [f"cannot replay: {exc}"]
            duties.extend({"at": e.get("at"), "by": by, "action": action, "entry": i, "problem": p,
                           "commit": commit_of(i), "committed_by": committed_by(i)} for p in duty)
        if e.get("to") and action in ("create", "transition", "approve", "reject"):
            transitions.append({
                "at": e.get("at"), "by": by, "action": action, "from": e.get("from"), "to": e.get("to"),
                "note": e.get("note"), "commit": commit_of(i), "committed_by": committed_by(i),
            })
        try:
            replay.apply(e)
        except (KeyError, TypeError, ValueError):
            break
    commits = [
        {
            "commit": c.sha, "date": c.commit_date, "author_name": c.author_name, "author_email": c.author_email,
            "subject": c.subject, "merge": c.is_merge, "action": c.action,
            "entries": timeline.introduced.get(c.sha, []), "brought_in": timeline.brought.get(c.sha, []),
            "rewrote_history": timeline.rewritten.get(c.sha, False),
        }
        for c in timeline.commits
    ]
    return {
        "id": data.get("id"),
        "type": data.get("type"),
        "title": data.get("title"),
        "status": data.get("status"),
        "change_class": data.get("change_class"),
        "request": {"requester": data.get("requester"), "created": data.get("created"), **created},
        "assessment": {"risk": data.get("risk"), "plan": bool(data.get("plan"))},
        "standard_model": _model_evidence(config, data),
        "approval_rule": {"group": policy.group, "count": policy.count} if policy else None,
        "approvals": approvals,
        "segregation": {"roles": list(segregation(config, data["type"])) if data.get("type") in config.types else [],
                        "violations": duties},
        "schedule": {"planned_start": data.get("planned_start"), "planned_end": data.get("planned_end")},
        "transitions": transitions,
        "links": {"outgoing": list(data.get("links") or []), "incoming": list(incoming)},
        "commits": commits,
        "uncommitted_entries": [i for i, sha in enumerate(timeline.entry_commit) if sha is None],
    }


def _model_evidence(config: Config, record: dict[str, Any]) -> dict[str, Any] | None:
    """The standard-change model a change names, as the desk lists it today, and whether it covers the change."""
    name = record.get("standard_model")
    if name is None and not is_standard(record):
        return None
    model = config.standard_changes.get(str(name)) if name is not None else None
    person = config.person(model["approved_by"]) if model else None
    return {
        "id": name,
        "title": model.get("title") if model else None,
        "services": model.get("services") if model else None,
        "risk": model.get("risk") if model else None,
        "approved_by": model.get("approved_by") if model else None,
        "approved_by_name": person.name if person else None,
        "approved_at": model.get("approved_at") if model else None,
        "expires": model.get("expires") if model else None,
        "problem": standard_model_problem(config, record),
    }
