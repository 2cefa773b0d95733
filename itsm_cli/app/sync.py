"""``itsm sync`` and ``itsm settle``: bring a branch up to date with the record-aware merge, settle a workflow fork.

A Git host's merge button and a plain ``git merge`` in a clone that never set
up the merge driver both merge record files as text, so two pull requests
touching one ticket always conflict there. ``sync`` fetches, merges the target
branch into the current one with the driver enabled for that one command,
then checks the result as the pull-request check does (``validate --base``),
and pushes when asked and valid.

What the driver cannot decide (a workflow fork: both branches moved a record
to different states) stops the merge, in progress, as git leaves it;
``settle`` then writes the record with both sides' entries in time order plus
one settling entry, and stages it. A failure or Ctrl-C leaves the repository
as git left it: before the merge nothing has changed; during it, ``git merge
--abort`` undoes it.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itsm_cli.core.merge import MergeResult, fork_states, merge_records, settle_fork
from itsm_cli.errors import BadArgument, EnvironmentProblem, ItsmError, Refused
from itsm_cli.store import yaml_io
from itsm_cli.store.basecheck import check_against_base
from itsm_cli.store.check import CheckResult
from itsm_cli.store.desk import Desk, Record, kind_of_path
from itsm_cli.store.gitstore import Git

if TYPE_CHECKING:
    from itsm_cli.app import App

#: Record files the driver merges (the ``tickets/`` pattern covers the flat and the sharded layout).
RECORD_PATTERNS = ("tickets/**/*.yaml", "catalog/*.yaml", "kb/*.md", "suppliers/*.yaml")


def driver_command() -> str:
    """The merge driver as git runs it: this Python and this itsm, whatever is on PATH.

    ``-P`` keeps the work tree off ``sys.path``: git runs the driver in the
    repository's top folder, where a branch could carry an ``itsm_cli/`` of its own.
    """
    return f"{shlex.quote(sys.executable)} -P -m itsm_cli merge-driver %O %A %B %L %P"


@dataclass
class Fork:
    """A record a merge left conflicted: its ID and the states the sides reached (empty: not a settleable fork)."""

    path: str
    record_id: str | None
    states: list[str]
    conflicts: list[str] = field(default_factory=list)


@dataclass
class SyncOutcome:
    """What ``sync`` did: the target merged, git's words, the check's result, whether it pushed."""

    branch: str
    target: str
    merged: bool
    up_to_date: bool
    git_output: str
    result: CheckResult | None = None
    pushed_to: str | None = None


def _target(git: Git, remote: str, target: str | None) -> str:
    if target is None:
        branch = git.remote_default_branch(remote)
        if branch is None:
            raise BadArgument(f"cannot tell the default branch of '{remote}'; name it with --target BRANCH")
        return f"{remote}/{branch}"
    if target.startswith("-"):
        raise BadArgument(f"--target: '{target}' is not a branch")
    if git.run("rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{target}^{{commit}}", check=False).strip():
        return f"{remote}/{target}"
    if git.run("rev-parse", "-q", "--verify", f"{target}^{{commit}}", check=False).strip():
        return target
    raise BadArgument(f"--target: no branch '{target}' on '{remote}' (after git fetch {remote})")


def sync(desk: Desk, target: str | None = None, remote: str = "origin", push: bool = False) -> SyncOutcome:
    """Fetch ``remote``, merge ``target`` (default: the remote's default branch) with the record-aware driver,
    check the result against ``target`` and push when asked and valid.

    Refuses on a detached HEAD, a merge already in progress, or tracked changes.
    Raises :class:`Refused` naming the records when the merge leaves conflicts
    (the merge stays in progress).
    """
    git = Git(desk.root)
    branch = git.current_branch()
    if branch is None:
        raise EnvironmentProblem("HEAD is detached; switch to the branch to bring up to date first (git switch NAME)")
    if git.merge_in_progress():
        raise Refused("a merge is already in progress; settle it (itsm settle, git add) and git commit, "
                      "or undo it with git merge --abort, then run itsm sync again")
    # Untracked files do not stop a merge unless it would overwrite them, and git then says so.
    dirty = git.status_lines(untracked=False)
    if dirty:
        more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise Refused(f"the work tree has uncommitted changes: {dirty[0].strip()}{more}; commit or stash them first")
    git.fetch(remote)
    rev = _target(git, remote, target)
    before = git.head()
    clean, output = git.merge_with_driver(rev, driver_command(), RECORD_PATTERNS)
    if not clean:
        raise Refused(conflict_message(desk, git, rev))
    outcome = SyncOutcome(branch, rev, merged=git.head() != before, up_to_date=git.head() == before, git_output=output)
    outcome.result = check_against_base(Desk(desk.root), rev)  # a fresh Desk: the merge may change itsm.yaml
    if push and outcome.result.ok:
        upstream = git.upstream()
        to = upstream.split("/", 1)[1] if upstream and upstream.startswith(f"{remote}/") else branch
        git.push(remote, to)
        outcome.pushed_to = f"{remote}/{to}"
    return outcome


def forks(desk: Desk, git: Git) -> list[Fork]:
    """The unmerged paths of the merge in progress, with what it would take to settle each."""
    out = []
    for rel in git.unmerged_paths():
        kind = kind_of_path(rel)
        if kind is None or kind == "article":
            out.append(Fork(rel, None, []))
            continue
        try:
            result = _merge_stages(git, rel)
        except ItsmError:
            out.append(Fork(rel, None, []))
            continue
        record_id = result.merged.get("id") if isinstance(result.merged.get("id"), str) else None
        out.append(Fork(rel, record_id, fork_states(result) or []))
    return out


def conflict_message(desk: Desk, git: Git, rev: str) -> str:
    """One line: what the merge of ``rev`` left unmerged, and how to go on."""
    parts, settle = [], []
    for fork in forks(desk, git):
        if fork.states and fork.record_id:
            parts.append(f"{fork.record_id} (workflow fork: {' vs '.join(fork.states)})")
            settle.append(f"itsm settle {fork.record_id} {'|'.join(fork.states)}")
        else:
            parts.append(f"{fork.path} (resolve by hand, then git add)")
    how = "; settle with: " + ", ".join(settle) if settle else ""
    return (f"merging {rev} left conflicts in {', '.join(parts)}{how}; then git commit --no-edit "
            f"(or undo the merge: git merge --abort)")


def _merge_stages(git: Git, rel: str) -> MergeResult:
    """Merge the index stages of one unmerged record file again (pure core merge)."""
    raw = [git.stage(n, rel) for n in (1, 2, 3)]
    if raw[1] is None or raw[2] is None:
        raise Refused(f"{rel} was deleted on one side; that is no workflow fork, resolve it by hand")
    base = yaml_io.load_mapping(raw[0], rel) if raw[0] and raw[0].strip() else None
    return merge_records(base, yaml_io.load_mapping(raw[1], rel), yaml_io.load_mapping(raw[2], rel))


def settle(app: App, record_id: str, state: str, note: str | None = None) -> str:
    """Settle a workflow fork the merge in progress left in ``record_id``: stage the record with both sides'
    entries in time order and one settling entry by the acting agent, ``status`` = ``state``.

    ``app`` gives the desk, the acting person and the clock.
    Returns the record's path. The merge commit is the person's to make.
    """
    desk = app.desk
    git = Git(desk.root)
    if not git.merge_in_progress():
        raise Refused("no merge is in progress; itsm settle finishes a merge that itsm sync (or git merge) "
                      "stopped on a workflow fork")
    rel = desk.rel(desk.path_for(record_id))
    kind = kind_of_path(rel)
    if rel not in git.unmerged_paths():
        raise Refused(f"{record_id} has no merge conflict to settle", rel)
    if kind is None or kind == "article":
        raise Refused(f"{record_id}: only tickets and services are settled this way; resolve it by hand", rel)
    result = _merge_stages(git, rel)
    actor = app.actor
    config = desk.config
    if not config.has_role(actor, "agent"):
        raise Refused(f"{actor} is not a listed agent; only an agent may settle a workflow fork")
    try:
        data = settle_fork(result, state, actor, app.now, note)
    except ValueError as e:
        raise Refused(f"{record_id}: {e}", rel) from None
    record = Record(rel, data, kind)
    app.check([record])
    ours = git.stage(2, rel) or b""
    text = "".join(f"{line}\n" for line in _leading_comments(yaml_io.decode(ours, rel))) + record.serialise()
    # One writer at a time, as for every command that changes records. The layout check is skipped: the
    # merge may bring a flat ticket from an old branch, and 'itsm upgrade' can only run after this commit.
    with desk.lock(upgrading=True):
        desk.write_text(rel, text)
        git.add([rel])
    return rel


def _leading_comments(text: str) -> list[str]:
    """Ours' comment lines at the top of the file (e.g. a yaml-language-server schema line), to keep."""
    kept = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        kept.append(line)
    return kept


