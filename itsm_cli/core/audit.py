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
- ``squashed`` / ``rebased``: instead of ``unbacked`` per entry, once per commit,
  when one commit carries entries of several other people (a squash merge) or a
  run of commits by one committer carries only others' entries (a rebase that
  rewrote the authors), with the fix;
- where the desk requires signed commits, from the commit that switched it on,
  an entry is backed only when its commit is signed by a key ``itsm.yaml`` gives
  to the entry's ``by`` (:mod:`itsm_cli.core.signing`): ``unsigned``,
  ``bad-signature``, ``cannot-check`` (with the reason), ``unknown-key``,
  ``wrong-key``;
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
from itsm_cli.core.signing import Signature, desk_keys, judge, signer_label
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
    "committer", "signer",
)

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
    signature: Signature  # git's verdict (%G?, %GK...); status "" when signatures were not asked for
    parents: tuple[str, ...]
    subject: str
    ids: tuple[str, ...] = ()  # Itsm-Id trailers
    action: str | None = None  # Itsm-Action trailer
    rules: tuple[str, ...] = ()  # Itsm-Rule trailers: desk rules that acted (as the bot) inside this commit
    files: list[FileChange] = field(default_factory=list)
    committer_name: str = ""
    committer_email: str = ""

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

    check: str  # unbacked | squashed | rebased | rewritten | deleted | approval | unreadable | signature kinds
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


def _row(
    commit: CommitInfo, change: FileChange, type_name: str, action: str, entry: Entry | None = None,
    signer: str = "",
) -> tuple[Any, ...]:
    """A row's values in :data:`ROW_KEYS` order."""
    get = (entry or _NO_ENTRY).get
    return (
        commit.commit_date, commit.sha, commit.author_email, commit.author_name, get("by"), change.record_id, type_name,
        action, get("from"), get("to"), get("at"), commit.action, commit.subject,
        commit.committer_email or commit.author_email, signer,
    )


_NO_ENTRY: Entry = {}


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
    keys: Mapping[str, str] | None = None,
    as_tuples: bool = False,
) -> Iterator[Any]:
    """One row per change to a record in ``[since, until)`` (commit dates, ``...Z`` strings), as they stream.

    A row per history entry a commit introduced (``action`` is the entry's), and
    rows for what has no entry: ``history-rewritten``, ``deleted``, ``moved`` (a file whose whole
    history went to another file of the commit: ``itsm renumber``, ``itsm upgrade``), ``unreadable``,
    ``added``/``changed`` (a file added or changed without a new entry, e.g. a
    catalog edit) and ``config`` (``itsm.yaml``). ``type_of`` names a file's record type;
    ``types`` keeps only those types. Keys: :data:`ROW_KEYS`; ``committer`` is
    the commit's committer, ``signer`` whom ``keys`` (fingerprint -> person,
    :func:`~itsm_cli.core.signing.desk_keys`) name as the signer, when the
    commits were read with their signatures. With ``as_tuples`` each row is the
    tuple of its values in :data:`ROW_KEYS` order instead of a dict.
    """
    rows = _row_values(commits, type_of, since, until, types, keys)
    return rows if as_tuples else (dict(zip(ROW_KEYS, row)) for row in rows)


def _row_values(
    commits: Iterable[CommitInfo], type_of: Callable[[FileChange], str], since: str | None, until: str | None,
    types: frozenset[str] | None, keys: Mapping[str, str] | None,
) -> Iterator[tuple[Any, ...]]:
    """:func:`audit_rows`, each row a tuple."""
    for commit in commits:
        if not in_period(commit.commit_date, since, until):
            continue
        signer = signer_label(commit.signature, keys or {})
        for delta in commit_deltas(commit):
            change = delta.change
            type_name = type_of(change)
            if types is not None and type_name not in types:
                continue
            if change.kind == CONFIG_KIND:
                yield _row(commit, change, type_name, "config", signer=signer)
                continue
            if delta.error:
                yield _row(commit, change, type_name, "unreadable", signer=signer)
                continue
            for entry in delta.added:
                yield _row(commit, change, type_name, str(entry.get("action", "")), entry, signer)
            if delta.rewritten:
                yield _row(commit, change, type_name, "history-rewritten", signer=signer)
            if change.new is None:
                yield _row(commit, change, type_name, "moved" if delta.moved else "deleted", signer=signer)
            elif not delta.added and not delta.rewritten and not commit.is_merge:
                yield _row(commit, change, type_name, "added" if change.parents == (None,) else "changed", signer=signer)


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
    start: Mapping[str, Any] | None = None,
) -> Iterator[Finding]:
    """Check the trail commit by commit (oldest first) and yield every finding (see the module docstring).

    ``config`` and ``services`` are today's: approvals are judged by today's
    people, groups and approval rules. With ``require_signed`` (today's
    ``desk.require_signed_commits``), commits are checked from the one whose
    ``itsm.yaml`` switched the requirement on, each against the signing keys
    of the ``itsm.yaml`` in effect when it was made (the last version the walk
    has passed). ``start`` is the ``itsm.yaml`` in effect before the first
    commit, when the walk does not begin at the desk's first commit
    (``validate --base``); without it, today's keys count until the walk meets
    a version of ``itsm.yaml``.

    A commit whose entries are by several other people (a squash merge), or a
    run of commits by one committer whose entries are all by others (a rebase
    that rewrote the authors), is reported once per commit as ``squashed`` or
    ``rebased``, naming whose entries it carries, instead of an ``unbacked``
    finding per entry.
    """
    state = _SigningState(config, start, require_signed)
    run: list[_Judged] = []  # commits that may be a rebase: all by one committer, entries all by others
    for commit in commits:
        state.see(commit)
        judged = _judge_commit(commit, config, services, state)
        key = judged.rebase_key
        if run and (key is None or key != run[-1].rebase_key):
            yield from _flush(run)
            run = []
        if key is not None:
            run.append(judged)
            continue
        yield from judged.findings(None)
    yield from _flush(run)


class _SigningState:
    """Whether signatures are required at this point of the walk, and the desk's keys then."""

    def __init__(self, config: Config, start: Mapping[str, Any] | None, required: bool):
        self.required = required
        source = start if start is not None else config.data
        self.keys = desk_keys(source)
        desk = source.get("desk") if start is not None else None
        self.on = required and isinstance(desk, dict) and desk.get("require_signed_commits") is True

    def see(self, commit: CommitInfo) -> None:
        """Follow a version of ``itsm.yaml`` the commit wrote."""
        if not self.required:
            return
        for change in commit.files:
            if change.kind == CONFIG_KIND and change.new is not None:
                try:
                    data = change.new.record()
                except (ValueError, ItsmError):
                    continue  # unreadable: what was in effect stays in effect
                desk = data.get("desk") or {}
                self.on = isinstance(desk, dict) and desk.get("require_signed_commits") is True
                self.keys = desk_keys(data)


#: The fix a squash or a rebase finding names.
MERGE_FIX = "land pull requests with merge commits (see SECURITY.md, 'Merging pull requests')"


@dataclass
class _Judged:
    """One commit's findings, its unbacked entries held back until it is known whether it was part of a rebase."""

    commit: CommitInfo
    ids: list[str]
    before: list[Finding] = field(default_factory=list)  # signature findings, whatever the commit turns out to be
    unbacked: list[Finding] = field(default_factory=list)
    wrong_key: list[Finding] = field(default_factory=list)
    after: list[Finding] = field(default_factory=list)  # rewritten, deleted, approval, unreadable
    others: Counter[str] = field(default_factory=Counter)  # entries by people other than the author, per person
    squashed: bool = False
    rebase_key: str | None = None  # the committer, when every entry is by someone else

    def findings(self, rebased_with: int | None) -> Iterator[Finding]:
        """The commit's findings; ``rebased_with``: the length of the run of rebased commits it is part of."""
        c = self.commit
        yield from self.before
        people = ", ".join(f"{who} ({n})" for who, n in sorted(self.others.items()))
        if self.squashed:
            yield Finding("squashed", c.short, ", ".join(self.ids),
                          f"one commit by {c.author_email} carries history entries of {people}: a squash merge (or a "
                          f"commit made in others' names) lost who did what; {MERGE_FIX}", c.commit_date)
        elif rebased_with is not None:
            committer = c.committer_email or c.author_email
            yield Finding("rebased", c.short, ", ".join(self.ids),
                          f"commit by {c.author_email} (committed by {committer}, one of {rebased_with} in a row) "
                          f"carries only entries of {people}: a rebase rewrote who did what; {MERGE_FIX}",
                          c.commit_date)
        else:
            yield from self.unbacked
            yield from self.wrong_key
        yield from self.after


def _flush(run: list[_Judged]) -> Iterator[Finding]:
    for judged in run:
        yield from judged.findings(len(run) if len(run) >= 2 else None)


def _judge_commit(
    commit: CommitInfo, config: Config, services: Mapping[str, Mapping[str, Any]], state: _SigningState
) -> _Judged:
    deltas = commit_deltas(commit)
    judged = _Judged(commit, sorted({d.change.record_id for d in deltas}) or ["-"])
    author = commit.author_email.lower()
    bot = config.bot.lower() if commit.rules else None  # bot entries ride in the commit of the rule's trigger
    acting: dict[str, None] = {}
    whens: set[str] = set()
    own = 0
    for delta in deltas:
        change = delta.change
        for f in _check_delta(commit, delta, config, services):
            (judged.unbacked if f.check == "unbacked" else judged.after).append(f)
        if change.kind == CONFIG_KIND or delta.error:
            continue
        if commit.action in BASELINE_ACTIONS and all(p is None for p in change.parents):
            continue
        for entry in delta.added:
            by = str(entry.get("by", "")).lower()
            if by == bot:
                continue
            acting[by] = None
            whens.add(str(entry.get("at")))
            if by == author:
                own += 1
            else:
                judged.others[by] += 1
    # A merge that brings entries in introduces none of its own and acts for no one: it needs no
    # signature (CI's synthetic merge of a pull request, a host's merge button, are unsigned).
    if state.on and not (commit.is_merge and not acting):
        who = list(acting) if acting else [author]
        verdict = judge(commit.signature, state.keys, who)
        if verdict is not None:
            kind, message = verdict
            person = ", ".join(who)
            finding = Finding(kind, commit.short, ", ".join(judged.ids), f"{message} [acting: {person}]",
                              commit.commit_date)
            (judged.wrong_key if kind == "wrong-key" else judged.before).append(finding)
    n_others = sum(judged.others.values())
    if n_others >= 2 and (len(acting) >= 2 or len(whens) >= 2):
        judged.squashed = True
    elif n_others and not own and not commit.is_merge:
        judged.rebase_key = (commit.committer_email or commit.author_email).lower()
    return judged


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
    keys: Mapping[str, str] | None = None,
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
    Each entry names its commit's author, committer (``committed_by``) and
    signer (``signed_by``: whom ``keys`` give the signing key to; "" when
    unsigned or not checked), so an approval made ``--as`` someone, or signed
    with another person's key, shows it.
    """
    by_sha = {c.sha: c for c in timeline.commits}
    entries = timeline.entries

    def commit_of(i: int) -> str | None:
        return timeline.entry_commit[i]

    def who(i: int) -> dict[str, Any]:
        sha = commit_of(i)
        c = by_sha.get(sha) if sha else None
        if c is None:
            return {"commit": sha, "authored_by": None, "committed_by": None, "signed_by": None}
        return {"commit": sha, "authored_by": c.author_email, "committed_by": c.committer_email or c.author_email,
                "signed_by": signer_label(c.signature, keys or {})}

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
            created = {"by": by, "at": e.get("at"), **who(i)}
        if action in ("approve", "reject"):
            try:
                problems = replay.check(e)
            except (KeyError, TypeError, ValueError) as exc:
                problems = [f"cannot replay: {exc}"]
            person = config.person(by)
            approvals.append({
                "decision": action, "by": by, "name": person.name if person else None,
                "groups": sorted(person.groups) if person else [], "group": e.get("group"), "at": e.get("at"),
                "note": e.get("note"), "to": e.get("to"), **who(i),
                "independent": not problems, "problems": problems,
            })
        elif action != "create":
            try:
                duty = replay.duty_problems(e)
            except (KeyError, TypeError, ValueError) as exc:
                duty = [f"cannot replay: {exc}"]
            duties.extend({"at": e.get("at"), "by": by, "action": action, "entry": i, "problem": p,
                           **who(i)} for p in duty)
        if e.get("to") and action in ("create", "transition", "approve", "reject"):
            transitions.append({
                "at": e.get("at"), "by": by, "action": action, "from": e.get("from"), "to": e.get("to"),
                "note": e.get("note"), **who(i),
            })
        try:
            replay.apply(e)
        except (KeyError, TypeError, ValueError):
            break
    commits = [
        {
            "commit": c.sha, "date": c.commit_date, "author_name": c.author_name, "author_email": c.author_email,
            "committer_email": c.committer_email or c.author_email, "signer": signer_label(c.signature, keys or {}),
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
