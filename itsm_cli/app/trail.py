"""The audit trail from git: a record's trail, the audit listing, a change's evidence, the trail's check.

The services behind ``itsm history`` and ``itsm audit`` (list, ``change``,
``verify``); the commands only parse their options, call these and print.

Every question reads the history through :class:`itsm_cli.store.history.Trail`
(one ``git log`` and one ``git cat-file`` process, whatever the length of the
history). A record's commits (:func:`record_trail`, :func:`change_evidence`)
come from the desk's commit index (:mod:`itsm_cli.store.commit_index`), so
git shows only those instead of walking every commit for them, and they follow
the record back through ``itsm renumber`` and ``itsm upgrade`` moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from itsm_cli.core.config import Config
from itsm_cli.errors import BadArgument
from itsm_cli.store.desk import Desk, Record
from itsm_cli.store.gitstore import Git

if TYPE_CHECKING:
    from itsm_cli.core.audit import CommitInfo, FileChange, Finding, RecordTimeline
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.history import Trail

#: Renumbers (and the upgrade move) a record's trail follows back at most: a bound against a cycle of moves.
MAX_RENUMBER_HOPS = 20

#: Commits from which a first ``itsm history`` walks git rather than building the commit index (a short
#: history is indexed in a moment, and then answers every later question from the index).
LONG_HISTORY = 5000

Entry = dict[str, Any]

# An audit row's keys are core.audit.ROW_KEYS; "from" is a Python keyword, hence the functional form.
AuditRow = TypedDict("AuditRow", {
    "date": str, "commit": str, "author": str, "author_name": str, "by": Any, "id": str, "type": str,
    "action": Any, "from": Any, "to": Any, "at": Any, "itsm_action": Any, "subject": str, "committer": str,
    "signer": str,
})


# -- signing keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signing:
    """What the desk says of signing keys: fingerprint -> person (None: signatures not worth checking) and git's list."""

    keys: dict[str, str] | None
    allowed_signers: str = ""


def signing(config: Config) -> Signing:
    """The desk's keys when it lists any or requires signing, else ``Signing(None)``.

    Only then are signatures worth checking (git runs gpg or ssh-keygen on every signed commit it shows).
    """
    from itsm_cli.core.signing import allowed_signers, desk_keys

    keys = desk_keys(config.data)
    if not keys and config.desk.get("require_signed_commits") is not True:
        return Signing(None)
    return Signing(keys, allowed_signers(config.data))


# -- one record's trail ------------------------------------------------------------------------


@dataclass
class TrailCommit:
    """One commit of a record's trail, as ``itsm history`` lists it (fields in its JSON order).

    ``committer_*`` fall back to the author's; ``signer`` is whom the desk's keys
    give the signing key to ("" when unsigned or not checked); ``entries`` and
    ``brought_in`` are indices into the record's entries this commit introduced,
    or (a merge) brought in from the merged branch.
    """

    commit: str
    date: str
    author_date: str
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    signer: str
    subject: str
    parents: list[str]
    merge: bool
    action: str | None
    entries: list[int]
    brought_in: list[int]
    rewrote_history: bool


@dataclass
class RecordTrail:
    """A record's history entries paired with the commits that touched its file (oldest first).

    ``entry_commit[i]``: the commit that introduced entry ``i`` (None: not
    committed, or changed since); ``timeline`` is the core's pairing, which
    :func:`itsm_cli.core.audit.change_evidence` reads.
    """

    record: Record
    entries: list[Entry]
    commits: list[TrailCommit]
    entry_commit: list[str | None]
    timeline: RecordTimeline


def record_trail(desk: Desk, record_id: str) -> RecordTrail:
    """The trail of one record (Refused when there is none): its entries and the commits behind them."""
    return _trail(desk, desk.get(record_id))


def _trail(desk: Desk, rec: Record) -> RecordTrail:
    from itsm_cli.core.signing import signer_label

    entries = [e for e in (rec.data.get("history") or []) if isinstance(e, dict)]
    walked = _record_history(desk, rec)
    from itsm_cli.core.audit import record_timeline  # not before the walk: see _record_history

    timeline = record_timeline(entries, walked)
    keys = signing(desk.config).keys or {}
    commits = [
        TrailCommit(
            commit=c.sha, date=c.commit_date, author_date=c.author_date, author_name=c.author_name,
            author_email=c.author_email, committer_name=c.committer_name or c.author_name,
            committer_email=c.committer_email or c.author_email, signer=signer_label(c.signature, keys),
            subject=c.subject, parents=list(c.parents), merge=c.is_merge, action=c.action,
            entries=timeline.introduced.get(c.sha, []), brought_in=timeline.brought.get(c.sha, []),
            rewrote_history=timeline.rewritten.get(c.sha, False),
        )
        for c in timeline.commits
    ]
    return RecordTrail(rec, entries, commits, timeline.entry_commit, timeline)


def _record_history(desk: Desk, rec: Record) -> list[CommitInfo]:
    """:func:`record_commits` with the desk's commit index where it keeps one (else git walks, commit-graph fresh).

    Nothing here, in :mod:`itsm_cli.store.history` or at this module's top imports :mod:`itsm_cli.core.audit`
    before git's walk starts: its import then runs while git walks.
    """
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.history import Trail, ensure_commit_graph

    git = Git(desk.root)
    sig = signing(desk.config)
    signed: dict[str, Any] = {"signatures": sig.keys is not None, "allowed_signers": sig.allowed_signers}
    index = CommitIndex.open(desk, git)
    if index is not None and not index.started():
        # A question before any commit index: on a long history git walks the record's own path (small trees:
        # about 0.1 s at 100,000 commits with the commit-graph) rather than diffing every commit, which is left to
        # `itsm audit`, which needs it anyway. The walk starts now, while the history is counted.
        walk = Trail(git, (rec.path,), **signed).start()
        if long_history(git):
            # git's commit-graph, which makes the next walks fast, is written meanwhile in the background.
            ensure_commit_graph(git, background=True)
            return record_commits(git, rec.path, None, walk=walk, **signed)
        walk.close()  # a short history: the index is built, and answers this and every later question
    ensure_commit_graph(git, changed_paths=index is None)  # with the index, only ordering walks need the graph
    return record_commits(git, rec.path, index, **signed)


def long_history(git: Git) -> bool:
    """True when HEAD has more than :data:`LONG_HISTORY` commits (git stops counting there)."""
    count = git.run("rev-list", "--count", f"--max-count={LONG_HISTORY + 1}", "HEAD", check=False).strip()
    return count.isdigit() and int(count) > LONG_HISTORY


def record_commits(
    git: Git, path: str, index: CommitIndex | None = None, *, signatures: bool = False, allowed_signers: str = "",
    walk: Trail | None = None,
) -> list[CommitInfo]:
    """Commits that touched a record's file ``path``, oldest first, following renumbers and upgrades back.

    With the desk's commit ``index`` (:class:`~itsm_cli.store.commit_index.CommitIndex`),
    git shows only the commits it names; without one, git walks the whole history
    (``walk``: that walk of ``path`` from HEAD, already started).
    ``signatures``: read each commit's signature too (see :class:`~itsm_cli.store.history.Trail`).
    """
    from itsm_cli.store.history import Trail

    def touching(path: str, rev: str = "HEAD") -> list[CommitInfo]:
        nonlocal walk
        if walk is not None:
            first, walk = walk, None
            return list(first.commits())
        if index is None:
            return list(Trail(git, (path,), rev=rev, signatures=signatures, allowed_signers=allowed_signers).commits())
        touches = index.commits(path, rev)
        if not touches:
            return []
        changes = {t.sha: [(t.old, t.new, "M", path)] for t in touches}
        return list(Trail(git, (path,), commits=list(changes), changes=changes, signatures=signatures,
                          allowed_signers=allowed_signers).commits())

    commits = touching(path)
    for _ in range(MAX_RENUMBER_HOPS):
        first = next((c for c in commits if any(f.path == path and f.parents == (None,) for f in c.files)), None)
        old_path = path_before(path, first) if first is not None else None
        if first is None or old_path is None:
            break
        older = touching(old_path, first.sha)
        if not older or older[-1].sha != first.sha:
            break
        # The moving commit is in both walks: one commit, with the files of both paths.
        older[-1].files.extend(first.files)
        commits = older[:-1] + [older[-1]] + [c for c in commits if c.sha != first.sha]
        path = old_path
    return commits


def path_before(path: str, first: CommitInfo) -> str | None:
    """Where a record's file was before ``first``, the commit that created ``path``, when that moved it.

    ``itsm upgrade`` moved a ticket from its flat place to its bucket folder;
    ``itsm renumber`` moved a record from its old ID's file (in the layout of
    the time, the folder depth says which). Both places follow from IDs alone.
    """
    from itsm_cli.core import ids

    folder = path.partition("/")[0]
    name = path.rpartition("/")[2]
    record_id, ext = name[: name.rfind(".")], name[name.rfind("."):]
    if first.action == "upgrade" and path.count("/") == 3:
        return ids.flat_ticket_path(folder, record_id)
    if first.action != "renumber" or len(first.ids) < 2 or not ids.is_record_id(first.ids[1]):
        return None
    old_id = first.ids[1]
    return ids.ticket_path(folder, old_id) if path.count("/") == 3 else f"{folder}/{old_id}{ext}"


# -- the audit listing -------------------------------------------------------------------------


def audit_listing(
    desk: Desk, *, since: datetime | None = None, until: datetime | None = None, types: Iterable[str] = (),
    as_tuples: bool = False,
) -> Iterator[AuditRow]:
    """Who changed which record, and when: one row per change, oldest first, streamed.

    ``since``/``until``: commits made in ``[since, until)`` (timezone-aware);
    ``types``: only records of these types ('config' for itsm.yaml; an unknown
    type is refused here, before any row). Rows of commits an earlier run saw
    come from the cache; git streams the others. With ``as_tuples`` each row is
    a tuple of its values in :data:`~itsm_cli.core.audit.ROW_KEYS` order instead
    (cheaper, for CSV).
    """
    from itsm_cli.store import audit_cache

    config = desk.config
    wanted = None
    if types:
        for t in types:
            if t != "config":
                config.record_type(t)  # refuses a type the desk does not have
        wanted = frozenset(types)
    sig = signing(config)
    # The store's rows are plain dicts with exactly core.audit.ROW_KEYS: AuditRow names them.
    return audit_cache.listing(desk, Git(desk.root), type_namer(config), since=_utc(since), until=_utc(until),
                               types=wanted, keys=sig.keys, allowed_signers=sig.allowed_signers, as_tuples=as_tuples)


def _utc(moment: datetime | None) -> str | None:
    """A time as the trail compares them: UTC, to the second, ``...Z``."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def type_namer(config: Config) -> Callable[[FileChange], str]:
    """What an audit row calls a changed file's type: its record type's name, 'config' or 'unknown'."""
    service_type = config.service_type()

    def type_of(change: FileChange) -> str:
        if change.kind == "config":
            return "config"
        if change.kind == "service":
            return service_type.name if service_type else "service"
        rtype = config.type_for_id(change.record_id)
        return rtype.name if rtype else "unknown"

    return type_of


# -- the evidence of a change ------------------------------------------------------------------


def change_evidence(desk: Desk, record_id: str) -> dict[str, Any]:
    """The evidence chain of a ticket, JSON-ready (see :func:`itsm_cli.core.audit.change_evidence`).

    Besides the core's keys: ``implemented_by``, each item with what its
    repository (where at hand) says of it. BadArgument for a record that is
    not a ticket.
    """
    from itsm_cli.app.releases import implementation_details
    from itsm_cli.core.audit import change_evidence as evidence_of

    rec = desk.get(record_id)
    if rec.kind != "ticket":
        raise BadArgument(f"{record_id} is not a ticket; 'audit change' shows changes and other tickets")
    trail = _trail(desk, rec)
    incoming = [
        {"kind": link.get("kind"), "id": other.id}
        for other in desk.records()
        if other.id != rec.id
        for link in (other.data.get("links") or [])
        if isinstance(link, dict) and link.get("id") == rec.id
    ]
    evidence = evidence_of(rec.data, trail.timeline, desk.config, desk.service(rec.data.get("service")), incoming,
                           signing(desk.config).keys)
    evidence["implemented_by"] = implementation_details(desk, rec.data)
    return evidence


# -- the check of the trail --------------------------------------------------------------------


@dataclass
class TrailCheck:
    """What ``itsm audit verify`` found: how many commits it checked, and every finding (oldest first)."""

    commits: int
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def verify_trail(desk: Desk) -> TrailCheck:
    """Check the whole trail (see :func:`itsm_cli.core.audit.verify`), signatures too where the desk requires them."""
    from itsm_cli.core.audit import verify
    from itsm_cli.core.signing import allowed_signers
    from itsm_cli.store.audit_cache import indexed_changes
    from itsm_cli.store.history import Trail

    config = desk.config
    required = config.desk.get("require_signed_commits") is True
    counted = 0

    def counting(commits: Iterator[CommitInfo]) -> Iterator[CommitInfo]:
        nonlocal counted
        for c in commits:
            counted += 1
            yield c

    git = Git(desk.root)
    git.objects.for_history(git)  # every version of every record is read
    indexed = indexed_changes(desk, git)  # what each commit changed, diffed on every core and kept
    signers = allowed_signers(config.data) if required else ""
    cache = signature_cache(desk, signers)
    if indexed is None:
        trail = Trail(git, signatures=required, allowed_signers=signers, signature_cache=cache)
    else:
        trail = Trail(git, commits=indexed[0], changes=indexed[1], signatures=required, allowed_signers=signers,
                      signature_cache=cache)
    findings = list(verify(counting(trail.commits()), config, desk.services(), require_signed=required))
    return TrailCheck(counted, findings)


def signature_cache(desk: Desk, signers: str) -> Path | None:
    """Where git's verdicts on signatures are kept for this allowed-signers list (None: the desk keeps no cache).

    Checking a signature runs ssh-keygen or gpg (about 9 ms a commit): a long
    signed history is checked once, and later runs read the verdicts.
    """
    from itsm_cli.store.cache import Cache, fingerprint

    cache = Cache.open(desk)
    return None if cache is None else cache.directory / f"signatures-{fingerprint('signatures', signers)[:16]}"
