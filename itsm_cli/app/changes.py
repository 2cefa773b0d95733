"""The library object behind every changing command: load, apply a core operation, check, write, commit.

The CLI parses options and prints; this module joins the core (rules) and
the store (files, git) so that each change is one validated, atomic write
and one commit, under the desk lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itsm_cli.core import ids, records, security
from itsm_cli.core.collab import with_time_spent
from itsm_cli.core.config import Config, RecordType
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import validate_records
from itsm_cli.core.workflow import ApprovalPolicy, approval_policy
from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, ItsmError, Refused
from itsm_cli.store import transaction
from itsm_cli.store.desk import Desk, Record
from itsm_cli.store.gitstore import Git, tree_names

if TYPE_CHECKING:
    from collections.abc import Set as AbstractSet

# Fields that hold one person, and lists of people: where `me` names the acting person.
PERSON_FIELDS = frozenset({"assignee", "requester", "requester_override", "owner"})
PERSON_LISTS = frozenset({"watchers"})


class BulkRefused(Refused):
    """Some of the records an ID of ``-`` named cannot be changed: one line per refusal, nothing written."""

    def __init__(self, refusals: list[str], total: int):
        super().__init__(f"{len(refusals)} of {total} records refused; nothing was changed")
        self.details = refusals


def review_date(now: str, type_config: Mapping[str, Any]) -> str:
    """When a new article is due for review: ``review_after_days`` (default 180) after ``now``."""
    from datetime import timedelta

    days = int(type_config.get("review_after_days", 180))
    start = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return (start + timedelta(days=days)).strftime("%Y-%m-%d")


def resolve_actor(explicit: str | None, desk: Desk, git: Git | None = None) -> str:
    """The acting person: ``--as``, else ``ITSM_USER``, else ``git config user.email``."""
    actor = explicit or os.environ.get("ITSM_USER") or (git or Git(desk.root)).config_value("user.email")
    if not actor:
        raise BadArgument("who is acting? pass --as EMAIL, set ITSM_USER, or set git config user.email")
    if "@" not in actor or any(c.isspace() or not c.isprintable() or c in "<>" for c in actor) or len(actor) > 320:
        raise BadArgument(f"'{actor}' is not an e-mail address")
    return actor


@dataclass
class Change:
    """The outcome of a command that changed records (``notes``: what the desk's rules did or skipped)."""

    record: dict[str, Any]
    commit: str | None
    notes: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # every record changed, for an ID of '-'


class App:
    """A desk, the person acting on it, and the clock."""

    def __init__(self, desk: Desk, actor: str | None, now: str, commit: bool = True):
        self.desk = desk
        self._actor = actor
        self._actor_checked = False
        self.now = now
        self.commit = commit
        self.time_spent: int | None = None  # minutes (--time), put on the history entry each change adds
        self.ids_input: Callable[[], list[str]] | None = None  # where an ID of '-' reads its IDs (stdin)
        self._schemas: SchemaSet | None = None
        self._git: Git | None = None
        self._encrypt: Callable[[str], str] | None = None

    @property
    def git(self) -> Git:
        """The desk's git, one for the whole command (its config read and its object reader started once)."""
        if self._git is None:
            self._git = Git(self.desk.root)
        return self._git

    @property
    def actor(self) -> str:
        """The acting person, resolved on first use (reading commands never need one)."""
        if not self._actor_checked:
            self._actor = resolve_actor(self._actor, self.desk, self.git)
            self._actor_checked = True
        return self._actor  # type: ignore[return-value]

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """The desk's lock for a change; git's answers every commit needs are started first (:meth:`Git.prepare_commit`).

        Once the lock is held, the index update the commit will end with starts
        too (:meth:`Git.start_index_update`); it is ended, if no commit used it,
        before the lock is let go.
        """
        if self.commit:
            self.git.prepare_commit()
        with self.desk.lock():
            if self.commit:
                self.git.start_index_update()
            try:
                yield
            finally:
                if self._git is not None:
                    self._git.end_index_update()

    @property
    def config(self) -> Config:
        """The desk configuration."""
        return self.desk.config

    # --- helpers -----------------------------------------------------------------------

    def policy(self, data: dict[str, Any]) -> ApprovalPolicy | None:
        """The approval this record needs."""
        return approval_policy(self.config, data, self.desk.service(data.get("service")))

    def schema_set(self) -> SchemaSet:
        """The desk's schemas, read and compiled once per App (a change of many records checks each against them)."""
        if self._schemas is None:
            self._schemas = SchemaSet(self.desk.schemas())
        return self._schemas

    def check_shape(self, record: Record) -> None:
        """Refuse to change a record whose file breaks its schema (fix the file first)."""
        rtype = self.config.types.get(record.type_name)
        schemas = self.schema_set()
        if rtype is None or not schemas.has(rtype.schema):
            raise InvalidRecord(f"unknown record type '{record.type_name}'; run 'itsm validate'", record.path)
        if not schemas.is_valid(rtype.schema, record.data):
            path, message = schemas.errors(rtype.schema, record.data)[0]
            line, col = record.locate(path)
            raise InvalidRecord(f"{message}; fix the file (see 'itsm validate') before changing it", record.path, line, col)

    def check(self, changed: list[Record], known: AbstractSet[str] | None = None) -> None:
        """Validate records about to be written (links checked against ``known``, default: the desk's IDs)."""
        schemas = self.schema_set()
        self.check_services_load(changed)
        known = (self.desk.taken_ids() if known is None else known) | {r.id for r in changed}
        problems = validate_records(self.config, schemas, changed, known, self.desk.services())
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise InvalidRecord(f"the result would be invalid: {first.message}{more}", first.path)

    def check_services_load(self, changed: list[Record]) -> None:
        """Name the broken catalog file when a record uses a service whose file does not load (not "unknown service")."""
        services = self.desk.services()
        for rec in changed:
            wanted = [rec.data.get("service"), *(rec.data.get("services") or [])]
            for sid in wanted:
                if not isinstance(sid, str) or sid in services or not ids.is_slug(sid):
                    continue
                rel = f"catalog/{sid}.yaml"
                if not (self.desk.root / rel).is_file():
                    continue
                try:
                    self.desk.load(rel)
                except InvalidRecord as e:
                    raise InvalidRecord(f"service '{sid}' cannot be used while its file is invalid: {e.message} "
                                        "(fix it first; see 'itsm validate')", e.path, e.line, e.col) from None

    def run_rules(
        self, data: dict[str, Any], event: str, known: AbstractSet[str] | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """Apply the desk's event rules (acting as the bot) to a record just changed by ``event``."""
        if not self.config.data.get("rules"):
            return data, []
        from itsm_cli.core.rules import apply_event_rules

        known_ids = known if known is not None else self.desk.taken_ids()
        return apply_event_rules(self.config, data, event, self.now, self.config.bot, self.desk.services(), known_ids)

    def _save(
        self,
        items: list[tuple[Record, dict[str, Any]]],
        action: str,
        summary: str,
        notes: list[str] | None = None,
        removed: Record | None = None,
        known: AbstractSet[str] | None = None,
        files: list[tuple[str, bytes]] | None = None,
        checked: bool = False,
    ) -> str | None:
        """Check every changed record, write them and ``files`` (and delete ``removed``), commit once with trailers."""
        items = [(rec, self.seal(data, None if action == "create" else rec.data)) for rec, data in items]
        changed = [Record(rec.path, data, rec.kind, rec.body, rec.body_line) for rec, data in items]
        if not checked:
            self.check(changed, known)
        writes: list[tuple[str, str | bytes | None]] = [(r.path, r.serialise()) for r in changed]
        writes.extend(files or [])
        others = [r.id for r in changed[1:]]
        if removed is not None:
            writes.append((removed.path, None))
            others.insert(0, removed.id)
        acted = [n.split(":", 1)[0] for n in notes or [] if ": skipped" not in n]
        message = transaction.commit_message(changed[0].id, action, summary, others, acted)
        return transaction.save(
            self.desk, writes, message, self.config.display_name(self.actor), self.actor, commit=self.commit,
            git=self.git,
        )

    def seal(self, data: dict[str, Any], before: Mapping[str, Any] | None) -> dict[str, Any]:
        """``data`` with what is confidential encrypted for the security group (see :mod:`itsm_cli.core.security`).

        Refused when the change would turn a security incident into an ordinary (published) one.
        """
        why = security.unmark_problem(before, data, self.config) if before is not None else None
        if why:
            raise Refused(why)
        if self._encrypt is None:
            from itsm_cli.store.crypto import encryptor

            self._encrypt = encryptor(self.config)
        return security.seal(data, before, self.config, self._encrypt)

    def _change(
        self, record_id: str, action: str, summary: Callable[[dict[str, Any]], str], op: Callable[[Record, ApprovalPolicy | None], dict[str, Any]]
    ) -> Change:
        if record_id == "-":
            return self.change_many(self.read_ids(), action, summary, op)
        with self._changing():
            rec = self.desk.get(record_id)
            self.check_shape(rec)
            if rec.kind != "ticket" and "history" not in rec.data:
                raise InvalidRecord(f"{record_id} has no history; add one before changing it with itsm", rec.path)
            new = records.ordered(with_time_spent(op(rec, self.policy(rec.data)), self.time_spent))
            title = summary(new)
            new, notes = self.run_rules(new, action)
            sha = self._save([(rec, new)], action, title, notes)
            return Change(new, sha, notes)

    def read_ids(self) -> list[str]:
        """The record IDs an ID of ``-`` stands for (from ``ids_input``), each once, in their order."""
        if self.ids_input is None:
            raise BadArgument("'-' as an ID reads IDs from standard input, which this command cannot do")
        found = list(dict.fromkeys(self.ids_input()))
        if not found:
            raise BadArgument("'-' as an ID: no IDs on standard input (e.g. itsm list --format ids | itsm assign - ME)")
        return found

    def change_many(
        self,
        record_ids: list[str],
        action: str,
        summary: Callable[[dict[str, Any]], str],
        op: Callable[[Record, ApprovalPolicy | None], dict[str, Any]],
        files: Callable[[Record, dict[str, Any]], list[tuple[str, bytes]]] | None = None,
    ) -> Change:
        """Apply one operation to many records: one commit of all of them, or nothing.

        Every record is loaded, changed, passed through the desk's rules and
        checked before anything is written; each refusal is kept (one per ID)
        and, if there is any, :class:`BulkRefused` names them all and nothing
        is written. ``files`` gives extra files to write with a record
        (attachments).
        """
        with self._changing():
            known = self.desk.taken_ids()
            items: list[tuple[Record, dict[str, Any]]] = []
            extra: list[tuple[str, bytes]] = []
            notes: list[str] = []
            refusals: list[str] = []
            title = ""
            for record_id in record_ids:
                try:
                    ids.check_id(record_id)
                    rec = self.desk.get(record_id)
                    self.check_shape(rec)
                    if rec.kind != "ticket" and "history" not in rec.data:
                        raise InvalidRecord(f"{record_id} has no history; add one before changing it with itsm", rec.path)
                    new = records.ordered(with_time_spent(op(rec, self.policy(rec.data)), self.time_spent))
                    title = title or summary(new)
                    new, rule_notes = self.run_rules(new, action, known)
                    new = self.seal(new, rec.data)  # checked as it will be written
                    self.check([Record(rec.path, new, rec.kind, rec.body, rec.body_line)], known)
                    more = files(rec, new) if files else []
                except ItsmError as e:
                    if len(record_ids) == 1:
                        raise  # one record: its own error, as for any change
                    message = e.message
                    refusals.append(message if message.startswith(record_id) else f"{record_id}: {message}")
                    continue
                items.append((rec, new))
                extra.extend(more)
                notes.extend(f"{record_id} {n}" for n in rule_notes)
            if refusals:
                raise BulkRefused(refusals, len(record_ids))
            if len(items) > 1:
                title = f"{title} ({len(items)} records)"
            sha = self._save(items, action, title, [n.split(" ", 1)[1] for n in notes], known=known,
                             files=extra, checked=True)
            changed = [data for _, data in items]
            return Change(changed[0], sha, notes, changed)

    # --- commands ----------------------------------------------------------------------

    def new(self, type_name: str, fields: dict[str, Any], body: str | None = None, template: str | None = None) -> Change:
        """Create a record with the next free ID on any branch, pre-filled from a template or its offering."""
        rtype = self.config.record_type(type_name)
        if rtype.kind == "service":
            raise BadArgument("services are catalog entries: start one with 'itsm service new ID --name NAME'")
        fields = self.as_lists(type_name, self.me_is_the_actor(fields))
        if template or fields.get("offering"):
            from itsm_cli.core.rules import apply_template

            fields = apply_template(self.config, self.desk.services(), type_name, fields, template)
        if fields.get("offering") and rtype.kind == "ticket":
            from itsm_cli.core.validate import missing_form_fields
            from itsm_cli.core.workflow import find_offering

            offering = find_offering(self.desk.service(fields.get("service")), fields["offering"])
            missing = missing_form_fields(offering, fields.get("form"))
            if missing:
                fid, label = missing[0]
                raise BadArgument(f"offering '{fields['offering']}' of service '{fields.get('service')}' needs "
                                  f"form field '{fid}' ({label}): add --set form.{fid}=VALUE")
        with self._changing():
            local = self.desk.taken_ids()  # link targets; IDs on other branches only block numbers
            record_id = self.next_free_id(rtype)
            data = records.new_record(self.config, type_name, record_id, fields, self.actor, self.now)
            path = self.desk.path_for(record_id)
            rel = path.relative_to(self.desk.root.resolve()).as_posix()
            if os.path.lexists(path):
                raise EnvironmentProblem(f"{rel} already exists", rel)
            if rtype.kind == "article":
                data.setdefault("owner", self.actor)
                data.setdefault("services", [])
                data.setdefault("review_by", review_date(self.now, self.config.data["types"][type_name]))
                data = records.ordered(data)
            data, notes = self.run_rules(data, "create", local | {record_id})
            rec = Record(rel, data, rtype.kind, body if rtype.kind == "article" else None)
            sha = self._save([(rec, data)], "create", f"create {type_name} \"{data.get('title')}\"", notes, known=local)
            return Change(data, sha, notes)

    def next_free_id(self, rtype: RecordType) -> str:
        """The ID after the highest of ``rtype``'s prefix on every branch, skipping any the work tree holds.

        For tickets, each branch's ``tickets/PREFIX`` tree names its buckets and
        only the highest bucket is read (plus ``tickets/`` itself, where a branch
        made before ``itsm upgrade`` still keeps tickets flat); articles are read
        from their folder. One ``git cat-file --batch`` a step, and a tree seen
        before not at all. Records not committed yet (``--no-commit``) are
        stepped over by looking for the file.
        """
        from itsm_cli.store.next_id import highest_on_trees

        prefix = rtype.prefix or ""
        numbers = ids.number_pattern(prefix)
        git = self.git

        def scan(trees: list[str]) -> list[int]:
            # Any of the trees read: tickets/ itself (flat tickets of a branch not upgraded yet), a
            # prefix folder (its highest bucket is read next), or a flat folder such as kb/.
            found = git.cat_trees(trees)
            buckets = [ids.highest_bucket(tree_names(item[1], ids.BUCKET_PATTERN, subtrees=True)) if item else None
                       for item in found]
            inner = iter(git.cat_trees([f"{t}:{b}" for t, b in zip(trees, buckets) if b is not None]))
            out = []
            for item, bucket in zip(found, buckets):
                flat = ids.highest_number(tree_names(item[1], numbers)) if item else 0
                deeper = next(inner) if bucket is not None else None
                out.append(max(flat, ids.highest_number(tree_names(deeper[1], numbers)) if deeper else 0))
            return out

        folders = [rtype.folder, f"{rtype.folder}/{prefix}"] if rtype.kind == "ticket" else [rtype.folder]
        highest = highest_on_trees(self.desk, git.trees_on_refs(*folders), prefix, scan)
        while any(os.path.lexists(p) for p in self.desk.paths_for(ids.format_id(prefix, highest + 1))):
            highest += 1
        return ids.format_id(prefix, highest + 1)

    def ids_on_branches(self) -> set[str]:
        """Record IDs present on any local or remote-tracking branch."""
        git = self.git
        folders = sorted({t.folder for t in self.config.types.values() if t.prefix})
        names: set[str] = set()
        for listing in git.names_on_refs(folders).values():
            names.update(n.rpartition("/")[2].rpartition(".")[0] for n in listing)
        return names

    def transition(self, record_id: str, to: str, note: str | None, fields: dict[str, Any]) -> Change:
        """Move a record along its workflow (``me`` in a person field of ``fields``: the acting person, as for new and edit)."""
        fields = self.me_is_the_actor(fields)
        return self._change(
            record_id, "transition",
            lambda d: f"transition {d['history'][-1]['from']} -> {to}",
            lambda rec, pol: records.transition(self.config, rec.data, to, self.actor, self.now, pol, note, fields),
        )

    def me(self, value: Any) -> Any:
        """``value``, or the acting person when it is ``me`` (in any case)."""
        return self.actor if isinstance(value, str) and value.lower() == "me" else value

    def me_is_the_actor(self, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` with ``me`` in a person field (assignee, requester, owner) read as the acting person."""
        return {k: self.me(v) if k in PERSON_FIELDS else v for k, v in fields.items()}

    def assign(self, record_id: str, person: str | None, group: str | None) -> Change:
        """Assign a record to a person (``me``: the acting person) and/or group."""
        person = self.me(person)
        return self._change(
            record_id, "assign",
            lambda d: "assign " + " ".join(x for x in (person, f"group {group}" if group else None) if x),
            lambda rec, pol: records.assign(self.config, rec.data, person, group, self.actor, self.now, pol),
        )

    def comment(self, record_id: str, text: str, internal: bool, reply: str | None = None,
                confidential: bool = False) -> Change:
        """Comment on a record; ``reply`` names a canned reply of itsm.yaml, filled in for each record, put before ``text``.

        ``confidential``: the note is encrypted for the security group (and internal).
        """
        from itsm_cli.core.collab import reply_text

        if confidential and security.settings(self.config) is None:
            raise BadArgument("--confidential encrypts for the security group, and itsm.yaml has no security: block")

        if reply is not None:
            reply_text(self.config, reply, {}, None)  # an unknown name is a usage error before anything is read

        def full_text(rec: Record) -> str:
            if reply is None:
                return text
            canned = reply_text(self.config, reply, rec.data, self.desk.service(rec.data.get("service")), self.actor)
            return canned + (f"\n\n{text}" if text.strip() else "")

        return self._change(
            record_id, "comment",
            lambda d: "confidential comment" if confidential else "internal comment" if internal else (
                "reply " + reply if reply else "comment"),
            lambda rec, pol: records.comment(self.config, rec.data, full_text(rec), self.actor, self.now, pol, internal,
                                             confidential),
        )

    def link(self, record_id: str, kind: str, other: str) -> Change:
        """Link a record to another existing record."""
        ids.check_id(other)
        if other not in self.desk.taken_ids():
            raise Refused(f"no record {other} to link to")
        return self._change(
            record_id, "link", lambda d: f"link {kind} {other}",
            lambda rec, pol: records.link(self.config, rec.data, kind, other, self.actor, self.now, pol),
        )

    def list_fields(self, type_name: str) -> set[str]:
        """The list-of-strings fields of a type (what ``--add``/``--remove`` and comma lists apply to)."""
        rtype = self.config.types.get(type_name)
        return records.list_fields(self.schema_set().schemas, rtype.schema) if rtype else set()

    def as_lists(self, type_name: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``fields`` with a text value of a list field read as a comma list (``--set tags=printer,vpn``)."""
        lists = self.list_fields(type_name)
        if isinstance(fields.get("checklist"), str):
            raise BadArgument("checklist is a list of items: use --add checklist=TEXT, --remove checklist=TEXT, "
                              "--done ITEM, --undone ITEM")
        return {k: records.split_list(v) if k in lists and not isinstance(v, list) else v for k, v in fields.items()}

    def edit(self, record_id: str, fields: dict[str, Any], add: tuple[tuple[str, str], ...] = (),
             remove: tuple[tuple[str, str], ...] = (), done: tuple[str, ...] = (), undone: tuple[str, ...] = ()) -> Change:
        """Edit fields of a record: set them, add to or remove from list fields, tick checklist items."""

        fields = self.me_is_the_actor(fields)
        add = tuple((name, self.me(value) if name in PERSON_LISTS else value) for name, value in add)
        remove = tuple((name, self.me(value) if name in PERSON_LISTS else value) for name, value in remove)

        def op(rec: Record, pol: ApprovalPolicy | None) -> dict[str, Any]:
            changes = self.as_lists(rec.type_name, fields)
            changes.update(records.edit_lists(rec.data, self.list_fields(rec.type_name), add, remove))
            ticked = records.tick({**rec.data, **changes}, done, undone)
            if ticked is not None:
                changes["checklist"] = ticked
            return records.edit(self.config, rec.data, changes, self.actor, self.now, pol)

        names = sorted({*fields, *(n for n, _ in add + remove), *(("checklist",) if done or undone else ())})
        return self._change(record_id, "edit", lambda d: "edit " + ", ".join(names), op)

    def duplicate(self, record_id: str, original_id: str) -> Change:
        """Close ``record_id`` as a duplicate of ``original_id`` and make its requester a watcher there; one commit."""
        ids.check_id(original_id)
        if original_id == record_id:
            raise BadArgument("a record cannot be a duplicate of itself")
        with self._changing():
            rec = self.desk.get(record_id)
            orig = self.desk.get(original_id)
            for r in (rec, orig):
                self.check_shape(r)
                if r.kind != "ticket":
                    raise BadArgument(f"{r.id} is not a ticket: only tickets are duplicates")
            if self.config.is_closed(orig.type_name, str(orig.data.get("status"))):
                raise Refused(f"{original_id} is closed; link to an open ticket (or reopen it first)")
            new = records.close_as_duplicate(self.config, rec.data, original_id, self.actor, self.now, self.policy(rec.data))
            new, notes = self.run_rules(new, "transition")
            items: list[tuple[Record, dict[str, Any]]] = [(rec, new)]
            requester = str(rec.data.get("requester") or "")
            watchers = list(orig.data.get("watchers") or [])
            known = {str(w).lower() for w in watchers} | {str(orig.data.get("requester") or "").lower()}
            if requester and requester.lower() not in known:
                watched = records.edit(self.config, orig.data, {"watchers": [*watchers, requester]}, self.actor,
                                       self.now, self.policy(orig.data))
                items.append((orig, watched))
            sha = self._save(items, "duplicate", f"duplicate of {original_id}, closed as {new['status']}", notes)
            return Change(new, sha, notes)

    def approve(self, record_id: str, note: str | None) -> Change:
        """Approve a record awaiting approval."""
        return self._change(
            record_id, "approve", lambda d: "approve" + (f" -> {d['status']}" if d["history"][-1].get("to") else ""),
            lambda rec, pol: records.approve(self.config, rec.data, self.actor, self.now, pol, note),
        )

    def reject(self, record_id: str, note: str) -> Change:
        """Reject a record awaiting approval."""
        return self._change(
            record_id, "reject", lambda d: f"reject -> {d['status']}",
            lambda rec, pol: records.reject(self.config, rec.data, self.actor, self.now, pol, note),
        )

    def renumber(self, record_id: str) -> Change:
        """Give a record the next free ID on every branch and point every link at it, in one commit."""
        if record_id == "-":
            raise BadArgument("renumber takes one ID at a time: each gets the next free number on every branch")
        with self._changing():
            rec = self.desk.get(record_id)
            rtype = self.desk.type_for(record_id)
            if not rtype.prefix:
                raise BadArgument("only tickets and articles have numbered IDs")
            new_id = self.next_free_id(rtype)
            data = records.ordered({**rec.data, "id": new_id})
            new_rel = self.desk.path_for(new_id).relative_to(self.desk.root.resolve()).as_posix()
            moved = Record(new_rel, data, rec.kind, rec.body, rec.body_line)
            items: list[tuple[Record, dict[str, Any]]] = [(moved, data)]
            for other in self.desk.records():
                if other.path == rec.path:
                    continue
                relinked = records.relink(other.data, record_id, new_id)
                if relinked is not None:
                    items.append((other, relinked))
            known = (self.desk.taken_ids() - {record_id}) | {new_id}
            sha = self._save(items, "renumber", f"renumber {record_id} -> {new_id}", removed=rec, known=known)
            return Change(data, sha)
