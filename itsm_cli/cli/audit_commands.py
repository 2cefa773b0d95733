"""The trail from git: ``itsm history``, ``itsm audit`` (list, ``verify``, ``change``).

Every command here reads the history through :class:`itsm_cli.store.history.Trail`
(one ``git log`` and one ``git cat-file`` process, whatever the length of the
history). A record's commits (``history``, ``audit change``) come from the
desk's commit index (:mod:`itsm_cli.store.commit_index`), so git shows only
those instead of walking every commit for them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import click

from itsm_cli.cli import output
from itsm_cli.cli.output import format_option
from itsm_cli.errors import BadArgument

HISTORY_COLUMNS = ("date", "commit", "author", "subject", "at", "by", "action", "from", "to", "committer", "signer")
AUDIT_TABLE = (("date", 20), ("commit", 10), ("author", 24), ("by", 24), ("id", 12), ("action", 18), ("change", 0))
FINDING_COLUMNS = ("commit", "date", "record", "check", "message")
MAX_RENUMBER_HOPS = 20


def _git(desk: Any) -> Any:
    """The desk's git, for a walk over every commit (which git's commit-graph filters would not speed up)."""
    from itsm_cli.store.gitstore import Git

    return Git(desk.root)


def _record_history(desk: Any, rec: Any) -> list[Any]:
    """:func:`record_commits` with the desk's commit index where it keeps one (else git walks, commit-graph fresh)."""
    from itsm_cli.store.commit_index import CommitIndex
    from itsm_cli.store.gitstore import Git
    from itsm_cli.store.history import ensure_commit_graph

    git = Git(desk.root)
    index = CommitIndex.open(desk, git)
    if index is not None and not index.started() and _long_history(git):
        # A first question on a clone of a long history: git walks the record's own path (small trees: seconds at
        # 100,000 commits) rather than diffing every commit; that is left to `itsm audit`, which needs it anyway.
        # git's commit-graph, which makes the next walks fast, is written meanwhile in the background.
        index = None
        ensure_commit_graph(git, background=True)
    else:
        ensure_commit_graph(git, changed_paths=index is None)  # with the index, only ordering walks need the graph
    keys, signers = _signing(desk.config)
    return record_commits(git, rec, index, signatures=keys is not None, allowed_signers=signers)


#: Commits from which a first ``itsm history`` walks git rather than building the commit index (a short
#: history is indexed in a moment, and then answers every later question from the index).
LONG_HISTORY = 5000


def _long_history(git: Any) -> bool:
    """True when HEAD has more than :data:`LONG_HISTORY` commits (git stops counting there)."""
    count = git.run("rev-list", "--count", f"--max-count={LONG_HISTORY + 1}", "HEAD", check=False).strip()
    return count.isdigit() and int(count) > LONG_HISTORY


def _signing(config: Any) -> tuple[dict[str, str] | None, str]:
    """(fingerprint -> person, allowed-signers text) when the desk lists keys or requires signing, else (None, "").

    Only then are signatures worth checking (git runs gpg or ssh-keygen on every signed commit it shows).
    """
    from itsm_cli.core.signing import allowed_signers, desk_keys

    keys = desk_keys(config.data)
    if not keys and config.desk.get("require_signed_commits") is not True:
        return None, ""
    return keys, allowed_signers(config.data)


def _who(name: str, email: str) -> str:
    return output.cell(f"{name} <{email}>" if name and name != email else email)


def _move(entry: dict[str, Any]) -> str:
    if entry.get("to") and entry.get("from"):
        return output.cell(f"{entry['from']} -> {entry['to']}")
    return output.cell(f"-> {entry['to']}") if entry.get("to") else ""


def record_commits(
    git: Any, rec: Any, index: Any = None, *, signatures: bool = False, allowed_signers: str = ""
) -> list[Any]:
    """Commits that touched a record's file, oldest first, following ``itsm renumber`` back to the old ID.

    With the desk's commit ``index`` (:class:`~itsm_cli.store.commit_index.CommitIndex`),
    git shows only the commits it names; without one, git walks the whole history.
    ``signatures``: read each commit's signature too (see :class:`~itsm_cli.store.history.Trail`).
    """
    from itsm_cli.store.history import Trail

    sig = {"signatures": signatures, "allowed_signers": allowed_signers}

    def touching(path: str, rev: str = "HEAD") -> list[Any]:
        if index is None:
            return list(Trail(git, (path,), rev=rev, **sig).commits())
        touches = index.commits(path, rev)
        changes = {t.sha: [(t.old, t.new, "M", path)] for t in touches}
        return list(Trail(git, (path,), commits=list(changes), changes=changes, **sig).commits()) if touches else []

    commits = touching(rec.path)
    path = rec.path
    for _ in range(MAX_RENUMBER_HOPS):
        first = next((c for c in commits if any(f.path == path and f.parents == (None,) for f in c.files)), None)
        old_path = _path_before(path, first) if first is not None else None
        if first is None or old_path is None:
            break
        older = touching(old_path, first.sha)
        if not older or older[-1].sha != first.sha:
            break
        older[-1].files.extend(first.files)
        commits = older[:-1] + [older[-1]] + [c for c in commits if c.sha != first.sha]
        path = old_path
    return commits


def _path_before(path: str, first: Any) -> str | None:
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


# -- itsm history ----------------------------------------------------------------------------


@click.command("history")
@click.argument("record_id", metavar="ID")
@format_option("table", "json", "csv")
@click.pass_obj
def history_cmd(obj: Any, record_id: str, fmt: str) -> None:
    """A record's history entries side by side with the commits that made them.

    Each commit that touched the record's file is listed (oldest first) with the
    entries it introduced; merge commits show the entries they brought in from a
    branch; entries no commit introduced (uncommitted work, or changed since) come
    last. JSON: {"id", "path", "entries": [entry + "commit"], "commits": [commit +
    "entries", "brought_in" (indices into entries), "rewrote_history"]}.
    """
    from itsm_cli.core.audit import record_timeline

    desk = obj.desk
    rec = desk.get(record_id)
    entries = [e for e in (rec.data.get("history") or []) if isinstance(e, dict)]
    timeline = record_timeline(entries, _record_history(desk, rec))
    config = desk.config
    keys = _signing(config)[0] or {}
    if fmt == "json":
        click.echo(output.to_json({
            "id": rec.id,
            "path": rec.path,
            "entries": [{**e, "commit": timeline.entry_commit[i]} for i, e in enumerate(entries)],
            "commits": [_commit_json(c, timeline, keys) for c in timeline.commits],
        }))
        return
    rows = list(_history_rows(timeline, keys))
    if fmt == "csv":
        click.echo(output.csv_text(rows, HISTORY_COLUMNS), nl=False)
        return
    lines = [output.style(f"{rec.id}  {rec.data.get('title') or rec.data.get('name', '')}", bold=True)]
    for c in timeline.commits:
        mark = " (merge)" if c.is_merge else ""
        lines.append(f"{output.style(c.sha[:10], fg='yellow')}  {output.cell(c.commit_date)}  "
                     f"{_who(c.author_name, c.author_email)}{_differs(c, keys)}  {output.cell(c.subject)}{mark}")
        for i in timeline.introduced.get(c.sha, []):
            lines.append(_entry_line(entries[i], config))
        brought = timeline.brought.get(c.sha, [])
        if brought:
            lines.append(f"    brought in {len(brought)} entr{'y' if len(brought) == 1 else 'ies'} from the merged branch")
        if timeline.rewritten.get(c.sha):
            lines.append("    " + output.style("rewrote earlier history entries", fg="red"))
        if c.sha not in timeline.introduced and not brought and not c.is_merge:
            lines.append("    (no history entry)")
    loose = [i for i, sha in enumerate(timeline.entry_commit) if sha is None]
    if loose:
        lines.append(output.style("not in any commit (uncommitted, or changed since it was committed)", fg="red"))
        lines.extend(_entry_line(entries[i], config) for i in loose)
    click.echo("\n".join(lines))


def _entry_line(entry: dict[str, Any], config: Any) -> str:
    who = config.display_name(str(entry.get("by", "")))
    move = _move(entry)
    return output.cell(f"    {entry.get('at')}  {who}: {entry.get('action')}{' ' + move if move else ''}")


def _not_the_author(author: Any, committer: Any, signer: Any) -> list[str]:
    """["committed by X", "signed by Y"] for whichever of committer and signer is someone other than the author."""
    author = str(author or "").lower()
    return [f"{label} {who}" for label, who in (("committed by", committer), ("signed by", signer))
            if who and str(who).lower() != author]


def _differs(c: Any, keys: dict[str, str]) -> str:
    """" (committed by X, signed by Y)" where committer or signer are not the author; "" otherwise."""
    from itsm_cli.core.signing import signer_label

    notes = _not_the_author(c.author_email, c.committer_email, signer_label(c.signature, keys))
    return output.cell(f" ({', '.join(notes)})") if notes else ""


def _commit_json(c: Any, timeline: Any, keys: dict[str, str]) -> dict[str, Any]:
    from itsm_cli.core.signing import signer_label

    return {
        "commit": c.sha, "date": c.commit_date, "author_date": c.author_date, "author_name": c.author_name,
        "author_email": c.author_email, "committer_name": c.committer_name or c.author_name,
        "committer_email": c.committer_email or c.author_email, "signer": signer_label(c.signature, keys),
        "subject": c.subject, "parents": list(c.parents), "merge": c.is_merge,
        "action": c.action, "entries": timeline.introduced.get(c.sha, []),
        "brought_in": timeline.brought.get(c.sha, []), "rewrote_history": timeline.rewritten.get(c.sha, False),
    }


def _history_rows(timeline: Any, keys: dict[str, str]) -> Iterator[dict[str, Any]]:
    from itsm_cli.core.signing import signer_label

    for c in timeline.commits:
        base = {"date": c.commit_date, "commit": c.sha, "author": c.author_email, "subject": c.subject,
                "committer": c.committer_email or c.author_email, "signer": signer_label(c.signature, keys)}
        indices = timeline.introduced.get(c.sha, [])
        if not indices:
            yield base
        for i in indices:
            yield {**base, **_entry_cells(timeline.entries[i])}
    for i, sha in enumerate(timeline.entry_commit):
        if sha is None:
            yield _entry_cells(timeline.entries[i])


def _entry_cells(e: dict[str, Any]) -> dict[str, Any]:
    return {"at": e.get("at"), "by": e.get("by"), "action": e.get("action"), "from": e.get("from"), "to": e.get("to")}


# -- itsm audit --------------------------------------------------------------------------------


@click.group("audit", invoke_without_command=True)
@click.option("--since", metavar="TIME", help="Only commits made at or after TIME (ISO date or time, UTC unless it says).")
@click.option("--until", metavar="TIME", help="Only commits made before TIME.")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only records of this type (repeatable; 'config' for itsm.yaml).")
@format_option("table", "json", "csv")
@click.pass_context
def audit_group(ctx: click.Context, since: str | None, until: str | None, types: tuple[str, ...], fmt: str) -> None:
    """Who changed which record, and when, from git: one row per change.

    Each row: the commit date, the commit, its author (git) and the history
    entry's 'by', the record, the action and the move, oldest first; JSON and
    CSV also name the commit's committer and signer (the person itsm.yaml
    gives the signing key to; checked where the desk lists signing keys). Rows
    stream as git is read, so a long period costs no memory, and each
    commit's rows are remembered under .git/itsm-cache, so the next run reads
    only new commits from git; '--format csv' is for auditors.
    Subcommands: 'verify' checks the trail, 'change ID' shows a change's evidence.
    """
    if ctx.invoked_subcommand is not None:
        if since or until or types:
            raise BadArgument("--since, --until and --type belong to the listing, not to a subcommand")
        return
    from itsm_cli.app import normalise_time
    from itsm_cli.core.audit import ROW_KEYS

    obj = ctx.obj
    desk = obj.desk
    config = desk.config
    start = normalise_time(since, "--since") if since else None
    end = normalise_time(until, "--until") if until else None
    if start and end and start >= end:
        raise BadArgument("--since must be before --until")
    wanted = None
    if types:
        for t in types:
            if t != "config":
                config.record_type(t)
        wanted = frozenset(types)
    from itsm_cli.store import audit_cache

    # Rows of commits an earlier run saw come from the cache; git streams the others.
    keys, signers = _signing(config)
    rows = audit_cache.listing(desk, _git(desk), _type_namer(config), since=start, until=end, types=wanted,
                               keys=keys, allowed_signers=signers)
    _emit_stream(rows, ROW_KEYS, fmt)


def _type_namer(config: Any) -> Any:
    service_type = config.service_type()

    def type_of(change: Any) -> str:
        if change.kind == "config":
            return "config"
        if change.kind == "service":
            return service_type.name if service_type else "service"
        rtype = config.type_for_id(change.record_id)
        return rtype.name if rtype else "unknown"

    return type_of


def _text(value: Any) -> str:
    return output.cell(value)


def _csv_cells(row: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """The row's cells in ``keys`` order: text as it is when it needs no escaping, None empty, the rest as a cell.

    An audit at 100,000 commits prints half a million rows; one function call
    per cell was most of its time.
    """
    get = row.get
    return [v if type(v) is str and v.isprintable() else ("" if v is None else output.cell(v))
            for v in map(get, keys)]


def _emit_stream(rows: Iterator[dict[str, Any]], keys: tuple[str, ...], fmt: str, batch: int = 512) -> None:
    """Print rows as they come, a batch at a time: a JSON array, CSV, or a table with fixed column widths."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    count = 0
    if fmt == "csv":
        writer.writerow(keys)
    elif fmt == "json":
        buf.write("[")
    for row in rows:
        if fmt == "csv":
            writer.writerow(_csv_cells(row, keys))
        elif fmt == "json":
            buf.write(("," if count else "") + "\n  " + json.dumps(row, ensure_ascii=False))
        else:
            if not count:
                buf.write(output.style("  ".join(n.upper().ljust(w) for n, w in AUDIT_TABLE).rstrip(), bold=True) + "\n")
            cells = {**row, "commit": (row["commit"] or "")[:10], "change": _move(row)}
            buf.write("  ".join(_text(cells.get(n)).ljust(w) for n, w in AUDIT_TABLE).rstrip() + "\n")
        count += 1
        if count % batch == 0:
            click.echo(buf.getvalue(), nl=False)
            buf.seek(0)
            buf.truncate()
    if fmt == "json":
        buf.write("\n]\n" if count else "]\n")
    click.echo(buf.getvalue(), nl=False)
    if fmt == "table" and not count:
        click.echo("nothing to show", err=True)


@audit_group.command("verify")
@format_option("table", "json")
@click.pass_obj
def verify_cmd(obj: Any, fmt: str) -> int:
    """Check the trail: every entry backed by a commit of its author, no history rewritten, approvals independent.

    Also, where itsm.yaml sets desk.require_signed_commits, every commit since
    that setting was switched on must carry a good signature by a key that
    itsm.yaml gives to the person who acted (people's signing_keys; SSH keys
    are checked with an allowed-signers list built from itsm.yaml, so a fresh
    clone needs no set-up; GPG keys must be in the local keyring). Findings:
    unsigned, bad-signature, cannot-check, unknown-key, wrong-key. A squash
    merge or a rebase that lost who did what is reported once per commit
    (squashed, rebased). Entries of records added by 'itsm init' or an import
    are the baseline and need no backing commit. Exit 1 when anything is found.
    """
    from itsm_cli.core.audit import verify
    from itsm_cli.core.signing import allowed_signers
    from itsm_cli.store.history import Trail

    desk = obj.desk
    config = desk.config
    required = config.desk.get("require_signed_commits") is True
    counted = [0]

    def counting(commits: Iterator[Any]) -> Iterator[Any]:
        for c in commits:
            counted[0] += 1
            yield c

    from itsm_cli.store.audit_cache import indexed_changes

    git = _git(desk)
    indexed = indexed_changes(desk, git)  # what each commit changed, diffed on every core and kept
    signers = allowed_signers(config.data) if required else ""
    sig = {"signatures": required, "allowed_signers": signers, "signature_cache": _signature_cache(desk, signers)}
    trail = Trail(git, **sig) if indexed is None else Trail(git, commits=indexed[0], changes=indexed[1], **sig)
    findings = [f.as_dict() for f in verify(counting(trail.commits()), config, desk.services(), require_signed=required)]
    if fmt == "json":
        click.echo(output.to_json({"ok": not findings, "commits": counted[0], "findings": findings}))
    else:
        if findings:
            click.echo(output.table(findings, FINDING_COLUMNS, max_width=200))
        n = len(findings)
        summary = f"{n} finding(s)" if n else "the trail is intact"
        click.echo(f"itsm: {counted[0]} commit(s) checked, {summary}", err=True)
    return 1 if findings else 0


def _signature_cache(desk: Any, signers: str) -> Any:
    """Where git's verdicts on signatures are kept for this allowed-signers list (None: the desk keeps no cache).

    Checking a signature runs ssh-keygen or gpg (about 9 ms a commit): a long
    signed history is checked once, and later runs read the verdicts.
    """
    from itsm_cli.store.cache import Cache, fingerprint

    cache = Cache.open(desk)
    return None if cache is None else cache.directory / f"signatures-{fingerprint('signatures', signers)[:16]}"


@audit_group.command("change")
@click.argument("record_id", metavar="CHG-ID")
@format_option("table", "json")
@click.pass_obj
def change_cmd(obj: Any, record_id: str, fmt: str) -> None:
    """The evidence chain of a change: request, assessment, approvals, schedule, work, links, commits.

    Approvals show the approver's groups and whether they were independent
    (a member of the approving group, not the requester, assignee or
    implementer as the workflow's segregation asks), and any later entry
    that broke it; a standard change shows its pre-authorised model; every
    entry names the commit that introduced it, who authored it, and who
    committed and signed it where they are someone else;
    merge commits (pull requests) that brought the work in are listed too.
    """
    from itsm_cli.core.audit import change_evidence, record_timeline

    desk = obj.desk
    rec = desk.get(record_id)
    if rec.kind != "ticket":
        raise BadArgument(f"{record_id} is not a ticket; 'audit change' shows changes and other tickets")
    entries = [e for e in (rec.data.get("history") or []) if isinstance(e, dict)]
    timeline = record_timeline(entries, _record_history(desk, rec))
    incoming = [
        {"kind": link.get("kind"), "id": other.id}
        for other in desk.records()
        if other.id != rec.id
        for link in (other.data.get("links") or [])
        if isinstance(link, dict) and link.get("id") == rec.id
    ]
    evidence = change_evidence(rec.data, timeline, desk.config, desk.service(rec.data.get("service")), incoming,
                               _signing(desk.config)[0])
    from itsm_cli.app.releases import implementation_details

    evidence["implemented_by"] = implementation_details(desk, rec.data)
    if fmt == "json":
        click.echo(output.to_json(evidence))
    else:
        click.echo(_render_evidence(evidence, desk.config))


def _implementation_row(item: dict[str, Any]) -> str:
    """One implemented_by item: what it is and what its repository (where at hand) says of it."""
    row = item["description"]
    if item.get("subject"):
        row += f"  {item['date']}  {_who(item['author_name'], item['author_email'])}  {item['subject']}"
    elif item["exists"] is False:
        row += "  MISSING from its repository"
    elif not item["checked"] and item.get("kind") != "pr":
        row += "  (repository not at hand: not checked)"
    if item.get("url"):
        row += f"  <{item['url']}>"
    return row


def _render_evidence(ev: dict[str, Any], config: Any) -> str:
    short = {c["commit"]: c["commit"][:10] for c in ev["commits"]}

    def at_commit(item: dict[str, Any]) -> str:
        sha = item.get("commit")
        if not sha:
            return "  [not committed]"
        author = item.get("authored_by")
        notes = [f"by {author}", *_not_the_author(author, item.get("committed_by"), item.get("signed_by"))]
        return f"  [{short.get(sha, sha[:10])} {', '.join(notes)}]"

    def name(email: str | None) -> str:
        return config.display_name(email) if email else "?"

    title = f"{ev['id']}  {ev.get('title') or ''}  ({ev.get('status')}"
    title += f", {ev['change_class']} change)" if ev.get("change_class") else ")"
    lines = [output.style(title, bold=True)]

    def section(label: str, *rows: str) -> None:
        lines.append(output.style(label, bold=True))
        lines.extend("  " + output.cell(r) for r in rows)

    req = ev["request"]
    section("Request", f"{name(req.get('requester'))} ({req.get('requester')}), created {req.get('created')}"
            + (at_commit(req) if "commit" in req else ""))
    risk = ev["assessment"]["risk"]
    section("Assessment", f"risk {risk or '(none)'}, plan {'written' if ev['assessment']['plan'] else 'missing'}")
    model = ev.get("standard_model")
    if model:
        if model.get("title"):
            row = (f"{model['id']}  {model['title']}: pre-authorised by {name(model['approved_by'])} "
                   f"<{model['approved_by']}> at {model['approved_at']}")
            row += f", expires {model['expires']}" if model.get("expires") else ""
        else:
            row = f"{model.get('id') or '(none named)'}"
        rows_model = [row] + ([f"NOT VALID: {model['problem']}"] if model.get("problem") else [])
        section("Standard change model", *rows_model)
    rule = ev["approval_rule"]
    rows = [f"needs {rule['count']} approval(s) from group {rule['group']}" if rule else "no approval required"]
    for a in ev["approvals"]:
        groups = ", ".join(a["groups"]) or "no groups"
        verdict = "independent" if a["independent"] else "NOT INDEPENDENT: " + "; ".join(a["problems"])
        rows.append(f"{a['at']}  {a['decision']} by {name(a['by'])} <{a['by']}> (groups: {groups}) for "
                    f"{a.get('group') or '?'}: {verdict}{at_commit(a)}")
        if a.get("note"):
            rows.append(f"    \"{a['note']}\"")
    seg = ev.get("segregation") or {}
    if seg.get("roles") and (rule or ev["approvals"]):
        rows.append(f"separation of duties: the approver is not the {', '.join(seg['roles'])}")
    for v in seg.get("violations") or []:
        rows.append(f"{v['at']}  {v['action']} by {name(v['by'])}: NOT INDEPENDENT: {v['problem']}{at_commit(v)}")
    section("Approvals", *rows)
    sched = ev["schedule"]
    section("Schedule", f"{sched['planned_start'] or '(not planned)'} -> {sched['planned_end'] or '(not planned)'}")
    section("Transitions", *(f"{t['at']}  {_move(t)}  by {name(t['by'])}{at_commit(t)}" for t in ev["transitions"]))
    links = [f"{link.get('kind')} {link.get('id')}" for link in ev["links"]["outgoing"]]
    links += [f"{link['id']} links here ({link['kind']})" for link in ev["links"]["incoming"]]
    section("Links", *(links or ["(none)"]))
    if ev.get("implemented_by") or ev.get("type") == "change":
        section("Implemented by", *(_implementation_row(item) for item in ev.get("implemented_by") or []),
                *([] if ev.get("implemented_by") else ["(nothing recorded; itsm implement adds it)"]))
    commit_rows = []
    for c in ev["commits"]:
        notes = []
        if c["entries"]:
            notes.append(f"{len(c['entries'])} entr{'y' if len(c['entries']) == 1 else 'ies'}")
        if c["merge"] and c["brought_in"]:
            notes.append(f"brought in {len(c['brought_in'])} entries")
        if c["rewrote_history"]:
            notes.append("REWROTE HISTORY")
        tail = f"  ({', '.join(notes)})" if notes else ""
        also = _not_the_author(c["author_email"], c.get("committer_email"), c.get("signer"))
        shown = f" ({', '.join(also)})" if also else ""
        commit_rows.append(f"{c['commit'][:10]}  {c['date']}  {_who(c['author_name'], c['author_email'])}{shown}"
                           f"  {c['subject']}{tail}")
    if ev["uncommitted_entries"]:
        commit_rows.append(f"{len(ev['uncommitted_entries'])} entries not in any commit")
    section("Commits", *commit_rows)
    return "\n".join(lines)


COMMANDS = [history_cmd, audit_group]
