"""What the site is made from: the desk's records, each file read once (:func:`load_content`).

Services, published-or-not articles and tickets are loaded here in full and
kept in :class:`DeskContent`; what of them a page may show is decided by the
page builders (:mod:`itsm_cli.site.pages`). Suppliers are cut down on loading
to what they list as public, so no page can show more of them by mistake.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

from itsm_cli.core.config import Config
from itsm_cli.core.security import is_security
from itsm_cli.errors import EnvironmentProblem, InvalidRecord, ItsmError

if TYPE_CHECKING:
    from itsm_cli.store.desk import Desk, Record

__all__ = ["ArticleFile", "DeskContent", "ServiceFile", "SiteContentError", "TicketFile", "load_content"]


class SiteContentError(InvalidRecord):
    """A desk file holds something the site cannot publish (names the file)."""


class ServiceFile(NamedTuple):
    """A service as loaded: its file (``catalog/<id>.yaml``) and its data."""

    path: str
    data: dict[str, Any]


class ArticleFile(NamedTuple):
    """A knowledge article as loaded: its file (``kb/<ID>.md``), its front matter and its Markdown body."""

    path: str
    data: dict[str, Any]
    body: str


class TicketFile(NamedTuple):
    """A ticket as loaded: its file and its data (every field: the pages choose what they show)."""

    path: str
    data: dict[str, Any]


@dataclass
class DeskContent:
    """The desk's records, each file read once: services, articles, tickets (full, kept private here)."""

    config: Config
    services: list[ServiceFile]
    articles: list[ArticleFile]
    tickets: list[TicketFile]
    internal_fields: dict[str, set[str]]
    schemas: dict[str, str] = field(default_factory=dict)
    # Suppliers cut down on loading to what a service page may show (:func:`_public_suppliers`).
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_content(desk: Desk, parallel: bool = False) -> DeskContent:
    """Read the desk's catalog, KB and tickets once; a file that does not load stops the build, named.

    With ``parallel``, a large ``tickets/`` folder is parsed by worker
    processes, one per core (:func:`itsm_cli.parallel.parallel_map`): the
    metrics need every ticket, and a desk of 100,000 takes seconds per core.
    """
    config = desk.config
    services: list[ServiceFile] = []
    articles: list[ArticleFile] = []
    tickets: list[TicketFile] = []

    def add(item: Record | ItsmError) -> None:
        if isinstance(item, ItsmError):
            raise SiteContentError(item.message, item.path, item.line, item.col)
        if item.kind == "service":
            services.append(ServiceFile(item.path, item.data))
        elif item.kind == "article":
            articles.append(ArticleFile(item.path, item.data, item.body or ""))
        else:
            tickets.append(TicketFile(item.path, item.data))

    for item in desk.iter_records(("catalog", "kb") if parallel else ("catalog", "kb", "tickets")):
        add(item)
    if parallel:
        from itsm_cli.parallel import open_desk, parallel_map

        for part in parallel_map(_load_tickets, desk.record_paths(("tickets",)), open_desk, (str(desk.root),)):
            if isinstance(part, bytes):
                tickets.extend(map(TicketFile._make, marshal.loads(part)))
            else:
                add(part)
    # A security incident never reaches the site: not its status, availability, metrics or search index.
    tickets = [t for t in tickets if not is_security(t.data, config)]
    return DeskContent(config, services, articles, tickets, _internal_fields(desk, config), _schema_files(desk),
                       _public_suppliers(desk, config))
def _public_suppliers(desk: Desk, config: Config) -> dict[str, dict[str, Any]]:
    """Each supplier as the site may know it: its name and the fields it lists as public, nothing more.

    Contract references, dates, notice, renewal, contacts (unless public) and
    the owner never enter the site's content, so no page can show them by
    mistake. A supplier file that does not load is left to ``itsm validate``.
    """
    from itsm_cli.core.suppliers import PUBLIC_FIELDS

    stype = config.supplier_type()
    if stype is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for item in desk.iter_records((stype.folder,)):
        if isinstance(item, ItsmError) or not isinstance(item.data.get("name"), str):
            continue
        data = item.data
        shown = [f for f in data.get("public") or [] if f in PUBLIC_FIELDS]
        view: dict[str, Any] = {"id": item.id, "name": data["name"], "public": shown}
        for name in shown:
            if name == "targets":
                view["contracts"] = [{"services": c.get("services") or [], "targets": c["targets"]}
                                     for c in data.get("contracts") or []
                                     if isinstance(c, dict) and isinstance(c.get("targets"), dict)]
            elif name in data:
                view[name] = data[name]
        out[item.id] = view
    return out


def _schema_files(desk: Desk) -> dict[str, str]:
    """The desk's JSON Schemas as text by file name, published under ``schemas/`` for editors to point at."""
    from pathlib import Path

    folder = Path(desk.root) / "schemas"
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.json"))
            if p.is_file() and not p.is_symlink()}


def _load_tickets(paths: list[str]) -> list[Any]:
    """The chunk's tickets as one marshalled list of (path, data), or the first error that stopped one loading.

    Plain tuples (marshal takes no NamedTuple): :func:`load_content` makes them
    :class:`TicketFile` again. marshal, not pickle: a desk's worth of small dicts unpickles at a third of
    the speed, in the one process that waits for them all. It carries every
    value the loader makes (str, int, float, bool, None, lists and mappings).
    """
    from itsm_cli.parallel import worker_state

    desk: Desk = worker_state()  # parallel.open_desk
    loaded: list[tuple[str, dict[str, Any]]] = []
    for rel in paths:
        try:
            loaded.append((rel, desk.load(rel).data))
        except InvalidRecord as e:
            return [e]
    return [marshal.dumps(loaded)]


def _internal_fields(desk: Desk, config: Config) -> dict[str, set[str]]:
    from itsm_cli.core.schema import SchemaSet

    try:
        schemas = desk.schemas()
    except (EnvironmentProblem, InvalidRecord):
        folder = resources.files("itsm_cli") / "data" / "schemas"
        import json

        schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".json")}
    schema_set = SchemaSet(schemas)
    return {name: schema_set.internal_fields(t.schema) for name, t in config.types.items()}
