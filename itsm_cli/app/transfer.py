"""Import and export: records from CSV or JSON (another tool's, or an itsm export) and back.

An import is validated as ``itsm validate`` would and written in one commit
by the person running it; an export is whole records, filtered like ``itsm list``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from itsm_cli.app import App
from itsm_cli.clock import normalise_time, now_utc
from itsm_cli.core import ids, records
from itsm_cli.core.config import Config
from itsm_cli.core.query import Query, run_query
from itsm_cli.core.schema import SchemaSet
from itsm_cli.core.validate import validate_records
from itsm_cli.core.workflow import approval_policy
from itsm_cli.errors import BadArgument, EnvironmentProblem, InvalidRecord, ItsmError, Refused
from itsm_cli.store import transaction
from itsm_cli.store.desk import Desk, Record

MAX_IMPORT_BYTES = 50_000_000


class Rejection(NamedTuple):
    """A row an import rejects (numbered from 1, as a spreadsheet shows them) and why."""

    row: int
    reason: str


class _Built(NamedTuple):
    """A row made into a record, before validation; ``numbered`` when the import gives it its ID."""

    row: int
    record: Record
    numbered: bool


@dataclass
class ImportResult:
    """An import: the records it creates (or would), the rows it rejects with why, and its commit."""

    created: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    commit: str | None = None


def _property_schema(schemas: Mapping[str, Any], schema_name: str, name: str) -> dict[str, Any]:
    prop = schemas.get(schema_name, {}).get("properties", {}).get(name) or {}
    ref = prop.get("$ref", "")
    if ref.startswith("common.schema.json#/$defs/"):
        return schemas.get("common.schema.json", {}).get("$defs", {}).get(ref.rpartition("/")[2]) or {}
    return prop


def _cell(value: str, prop: Mapping[str, Any], column: str) -> Any:
    """A CSV cell as the value its schema property expects (JSON for lists and objects)."""
    kind = prop.get("type")
    if kind in ("array", "object") or (kind is None and "items" in prop):
        if value.lstrip().startswith(("[", "{")):
            try:
                return json.loads(value)
            except ValueError:
                raise BadArgument(f"column {column}: not valid JSON") from None
        if kind == "array":
            return [v.strip() for v in value.split(",") if v.strip()]
        raise BadArgument(f"column {column}: expected a JSON object")
    if kind == "boolean":
        low = value.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise BadArgument(f"column {column}: '{value}' is not true or false")
    if kind in ("integer", "number"):
        try:
            return int(value) if kind == "integer" else float(value)
        except ValueError:
            raise BadArgument(f"column {column}: '{value}' is not a number") from None
    return value


def _read_rows(kind: str, path: Path) -> list[dict[str, Any]]:
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise BadArgument(f"{path}: {size:,} bytes; imports are limited to {MAX_IMPORT_BYTES:,}")
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise EnvironmentProblem(f"cannot read: {e.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise InvalidRecord("not valid UTF-8", str(path)) from None
    if kind == "json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InvalidRecord(f"not valid JSON: {e}", str(path)) from None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise InvalidRecord("expected a JSON list of records", str(path))
        return data
    if kind != "csv":
        raise BadArgument(f"unknown import format '{kind}' (csv or json)")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        rows: list[dict[str, Any]] = []
        for row in reader:
            if None in row:
                raise InvalidRecord(f"line {reader.line_num}: more cells than columns", str(path))
            rows.append(row)
        if not reader.fieldnames:
            raise InvalidRecord("no header line", str(path))
    except csv.Error as e:
        raise InvalidRecord(f"not valid CSV: {e}", str(path)) from None
    return rows


def _workflow_path(config: Config, type_name: str, start: str, goal: str) -> list[str] | None:
    """The shortest chain of states from ``start`` to ``goal`` along the workflow's transitions."""
    if start == goal:
        return []
    transitions = config.workflow(type_name)["transitions"]
    previous: dict[str, str] = {start: start}
    queue = [start]
    while queue:
        state = queue.pop(0)
        for t in transitions:
            if state in t["from"] and t["to"] not in previous:
                previous[t["to"]] = state
                if t["to"] == goal:
                    chain = [goal]
                    while previous[chain[-1]] != start:
                        chain.append(previous[chain[-1]])
                    return chain[::-1]
                queue.append(t["to"])
    return None


class _Importer:
    def __init__(self, app: App, type_name: str, mapping: Mapping[str, str], source: str):
        self.app = app
        self.config = app.config
        self.type_name = type_name
        self.rtype = self.config.record_type(type_name)
        if self.rtype.kind == "service":
            raise BadArgument("services are catalog entries; add catalog/<id>.yaml files instead")
        self.schemas = app.desk.schemas()
        self.properties = set(self.schemas.get(self.rtype.schema, {}).get("properties", {}))
        if self.rtype.kind == "article":
            self.properties.add("body")
        for column, target in mapping.items():
            if target != "-" and target not in self.properties:
                raise BadArgument(f"--map {column}={target}: '{target}' is not a field of {type_name}")
        self.mapping = mapping
        self.source = source
        self.ignored: dict[str, None] = {}
        self.taken = set(app.desk.taken_ids()) | app.ids_on_branches()
        self.services = app.desk.services()

    def fields(self, row: Mapping[str, Any], from_csv: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, value in row.items():
            target = self.mapping.get(column, column)
            if target == "-":
                continue
            if target not in self.properties:
                self.ignored[column] = None
                continue
            if value is None or (from_csv and value == ""):
                continue
            if from_csv:
                value = _cell(value, _property_schema(self.schemas, self.rtype.schema, target), column)
            out[target] = value
        return out

    def record(self, n: int, fields: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The record a row becomes: as given when it has a history, else created now and moved to its status."""
        body = fields.pop("body", None) if self.rtype.kind == "article" else None
        if fields.get("type", self.type_name) != self.type_name:
            raise Refused(f"type is '{fields['type']}', not {self.type_name}")
        record_id = fields.get("id")
        if record_id is not None:
            if not isinstance(record_id, str) or not ids.is_record_id(record_id) or \
                    not record_id.startswith(f"{self.rtype.prefix}-"):
                raise Refused(f"id '{record_id}' is not a {self.type_name} ID ({self.rtype.prefix}-0001); "
                              "map the column elsewhere or drop it with --map COLUMN=-")
            if record_id in self.taken:
                raise Refused(f"{record_id} already exists")
        else:
            record_id = ids.next_id(self.rtype.prefix or "", self.taken)
        if "history" in fields:  # kept as exported, key order included
            data = fields if "id" in fields else {"id": record_id, **fields}
            data.setdefault("type", self.type_name)
            return data, body
        if not fields.get("title"):
            raise Refused("no title (map a column to it with --map COLUMN=title)")
        try:
            return self._create(n, record_id, fields, body)
        except ItsmError as e:
            raise Refused(e.message.removeprefix(f"{record_id}: ")) from None

    def _create(self, n: int, record_id: str, fields: dict[str, Any], body: str | None) -> tuple[dict[str, Any], str | None]:
        actor = self.app.actor
        created = normalise_time(str(fields.pop("created")), "created") if fields.get("created") else self.app.now
        updated = normalise_time(str(fields.pop("updated")), "updated") if fields.get("updated") else created
        updated = max(updated, created)
        status = fields.pop("status", None)
        requester = fields.pop("requester", None)
        if fields.pop("links", None):
            raise Refused("links can only be imported with a history; add them afterwards with 'itsm link'")
        priority = fields.pop("priority", None)
        protected = sorted(set(fields) & (records.PROTECTED - {"id", "type"}))
        if protected:
            raise Refused(f"'{protected[0]}' cannot be imported without a history")
        fields.pop("id", None)
        fields.pop("type", None)
        if requester:
            fields["requester_override"] = requester
        data = records.new_record(self.config, self.type_name, record_id, fields, actor, created)
        data["history"][0]["note"] = f"Imported from {self.source}, row {n}."
        if priority is not None and data.get("priority") != priority:
            raise Refused(f"priority {priority} does not follow from impact {data.get('impact')} and urgency "
                          f"{data.get('urgency')}; import impact and urgency instead")
        if status and status != data["status"]:
            chain = _workflow_path(self.config, self.type_name, data["status"], status)
            if chain is None:
                raise Refused(f"no way in the {self.type_name} workflow from '{data['status']}' to '{status}'")
            service = self.services.get(data.get("service") or "")
            for state in chain:
                policy = approval_policy(self.config, data, service)  # type: ignore[arg-type]
                data = records.transition(self.config, data, state, actor, updated, policy, f"Imported as '{status}'.")
        if self.rtype.kind == "article":
            data.setdefault("owner", actor)
            data.setdefault("services", [])
        return data, body


def import_records(
    desk: Desk,
    kind: str,
    path: Path,
    type_name: str,
    mapping: Mapping[str, str],
    dry_run: bool,
    actor: str | None = None,
    now: str | None = None,
    skip_rejected: bool = False,
) -> ImportResult:
    """Import records from CSV or JSON: a dry run lists what would be created and every rejected row with why.

    ``mapping`` renames columns to fields (``-`` drops a column). Rows carrying
    a ``history`` (an export of a desk) are kept as they are, IDs included;
    other rows become new records created by ``actor`` and moved along the
    workflow to their ``status``. Every record is validated as ``itsm
    validate`` would. A real run writes all records in one commit
    (``Itsm-Action: import``), and refuses if any row would be rejected unless
    ``skip_rejected``.
    """
    app = App(desk, actor, now or now_utc())
    result = ImportResult()
    rows = _read_rows(kind, path)
    with desk.lock():
        importer = _Importer(app, type_name, mapping, path.name)
        already = set(importer.taken)
        built: list[_Built] = []
        for n, row in enumerate(rows, 1):
            try:
                if not isinstance(row, dict):
                    raise Refused("not an object")
                fields = importer.fields(row, kind == "csv")
                numbered = "id" not in fields
                fresh = "history" not in fields
                data, body = importer.record(n, fields)
                if fresh:  # a security incident's confidential text is encrypted as itsm new would
                    data = app.seal(data, None)
            except ItsmError as e:
                result.rejected.append(Rejection(n, e.message))
                continue
            importer.taken.add(data["id"])
            rel = desk.path_for(data["id"]).relative_to(desk.root.resolve()).as_posix()
            built.append(_Built(n, Record(rel, data, importer.rtype.kind, body), numbered))
        problems = validate_records(app.config, SchemaSet(importer.schemas), [b.record for b in built],
                                    importer.taken, importer.services) if built else []
        bad: dict[str, str] = {}
        for p in problems:
            bad.setdefault(p.path, p.message)
        accepted: list[Record] = []
        # Rows numbered here get their final IDs only now, so rejected rows leave no gaps.
        taken = already | {b.record.id for b in built if not b.numbered and b.record.path not in bad}
        for n, rec, numbered in built:
            if rec.path in bad:
                result.rejected.append(Rejection(n, bad[rec.path]))
                continue
            if numbered:
                new_id = ids.next_id(importer.rtype.prefix or "", taken)
                rec = Record(desk.path_for(new_id).relative_to(desk.root.resolve()).as_posix(),
                             records.ordered({**rec.data, "id": new_id}), rec.kind, rec.body)
            taken.add(rec.id)
            accepted.append(rec)
        result.created = [rec.data for rec in accepted]
        result.rejected.sort()
        result.ignored_columns = list(importer.ignored)
        if dry_run or not accepted:
            return result
        if result.rejected and not skip_rejected:
            first_rejected = result.rejected[0]
            raise Refused(f"{len(result.rejected)} of {len(rows)} rows would be rejected "
                          f"(row {first_rejected.row}: {first_rejected.reason}); "
                          "see them all with --dry-run, or import the rest with --skip-rejected")
        writes: list[tuple[str, str | bytes | None]] = [(rec.path, rec.serialise()) for rec in accepted]
        first, *others = [rec.id for rec in accepted]
        summary = f"import {len(writes)} {type_name} record{'s' if len(writes) != 1 else ''} from {path.name}"
        message = transaction.commit_message(first, "import", summary, others)
        result.commit = transaction.save(desk, writes, message, app.config.display_name(app.actor), app.actor)
    return result


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def export_records(desk: Desk, query: Query, fmt: str) -> str:
    """Records as JSON (full records; articles with their ``body``) or CSV (lists and history as JSON cells).

    Importing the output into an empty desk with the same configuration and
    catalog reproduces the records.
    """
    config = desk.config
    if query.type_name is not None:
        folders: tuple[str, ...] = (config.record_type(query.type_name).folder,)
    else:
        folders = ("tickets",)
    loaded = desk.records(folders)
    bodies = {r.id: r.body for r in loaded if r.kind == "article"}
    found = run_query(config, (r.data for r in loaded), query)
    out = [{**d, "body": bodies[d["id"]]} if d.get("id") in bodies else d for d in found]
    if fmt == "json":
        return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
    if fmt != "csv":
        raise BadArgument(f"unknown export format '{fmt}' (csv or json)")
    columns: dict[str, None] = {}
    for key in records.FIELD_ORDER:
        if any(key in d for d in out):
            columns[key] = None
    for d in out:
        columns.update((k, None) for k in d if k not in ("history", "body"))
    for key in ("body", "history"):
        if any(key in d for d in out):
            columns[key] = None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(list(columns))
    for d in out:
        writer.writerow([_csv_value(d.get(c)) for c in columns])
    return buf.getvalue()
