"""The published site as data: every page as a Markdown string, plus the assets they use.

This module knows the desk and nothing of MkDocs or Zensical. :func:`load_content`
reads every record file exactly once; :func:`build_site` turns that into a
:class:`Site` (pages, assets, navigation) that an engine adapter hands to its
engine (:mod:`itsm_cli.site.plugin` for MkDocs, :mod:`itsm_cli.site.build` writes
the same pages to a folder for Zensical). Same content, same URLs.

What may be published is decided here, by allow-list:

- services and their offerings (never an offering's fulfilment checklist);
- knowledge articles whose state is published (the article workflow's
  ``resolved`` category); drafts, articles in review and retired ones never appear;
- of tickets, for the status (:mod:`itsm_cli.site.status_pages`): incidents'
  ``id``, ``service``, ``priority`` and ``title`` (the title only when the schema
  does not mark it ``x-internal``), their outage windows and the time of their
  last update (never its text); changes' ``id``, ``title``, ``service`` and
  planned window. Nothing of an incident or change marked ``internal``. Counts
  for the metrics page. No description, requester, assignee or comment is
  published.

Text written by people is rendered and sanitised by :mod:`itsm_cli.site.sanitize`;
every other value is escaped where it is placed.
"""

from __future__ import annotations

import contextlib
import html
import marshal
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from itsm_cli.core import ids
from itsm_cli.core.config import Config
from itsm_cli.core.publishing import site_settings
from itsm_cli.core.security import is_security
from itsm_cli.errors import EnvironmentProblem, InvalidRecord, ItsmError
from itsm_cli.site import charts
from itsm_cli.site.sanitize import attr, front_matter, inline, one_line, render_markdown
from itsm_cli.site.status_pages import FEED, StatusModel, feed_link, pct

__all__ = ["DeskContent", "Site", "SiteContentError", "SitePage", "add_noindex", "build_site", "contact_html", "load_content",
           "natural", "prefill"]

INCIDENT = "incident"
MONTHS = 12
DAY_LABELS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
              "sat": "Saturday", "sun": "Sunday"}
FIELD_TYPES = {"text": "Text", "textarea": "Longer text", "choice": "Choice", "date": "Date", "number": "Number",
               "email": "E-mail address"}
NAV = (("Catalog", "index.md"), ("Knowledge base", "kb/index.md"), ("Status", "status.md"),
       ("Metrics", "metrics.md"), ("Tags", "tags.md"))
CSS = "assets/itsm.css"
JS = "assets/itsm.js"
_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([mhd])$")
_URL_OK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
_SLUG = re.compile(r"[^a-z0-9]+")
_DIGITS = re.compile(r"([0-9]+)")
_NOT_WORD = re.compile(r"[^\w\s-]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"\+[0-9][0-9 ().-]{5,}[0-9]|\bext\.? ?[0-9]{3,6}\b", re.IGNORECASE)
# Material's search: services and articles rank above the pages that only list them, and lists of links
# (tags, the KB index) stay out of the index, which every reader downloads before their first search.
BOOST = "search:\n  boost: 2\n"
EXCLUDE = "search:\n  exclude: true\n"
ROBOTS_INTERNAL = "# An internal site (site.visibility in itsm.yaml): no search engine may index it.\nUser-agent: *\nDisallow: /\n"
ROBOTS_PUBLIC = "User-agent: *\nAllow: /\n"


class SiteContentError(InvalidRecord):
    """A desk file holds something the site cannot publish (names the file)."""


@dataclass(frozen=True)
class SitePage:
    """One generated page: where it goes, its title, its Markdown, and the desk file it shows."""

    uri: str
    title: str
    markdown: str
    source: str | None = None
    in_nav: bool = False


@dataclass
class Site:
    """Everything an engine needs: pages, asset files, the navigation and the assets to link.

    ``noindex``: the site is internal, so every page asks search engines to keep out.
    """

    pages: list[SitePage]
    assets: dict[str, str]
    nav: list[dict[str, str]]
    noindex: bool = True
    extra_css: list[str] = field(default_factory=lambda: [CSS])
    extra_javascript: list[str] = field(default_factory=lambda: [JS])
    # The outage banner, given the URL of the status page from where it is shown (for the pages the
    # engine has that we did not make); empty while no service is down.
    banner: Callable[[str], str] = field(default=lambda href: "")
    status_uri: str = "status.md"
    feed_uri: str = FEED


@dataclass
class DeskContent:
    """The desk's records, each file read once: services, articles, tickets (full, kept private here)."""

    config: Config
    services: list[tuple[str, dict[str, Any]]]
    articles: list[tuple[str, dict[str, Any], str]]
    tickets: list[tuple[str, dict[str, Any]]]
    internal_fields: dict[str, set[str]]
    schemas: dict[str, str] = field(default_factory=dict)
    # Suppliers cut down on loading to what a service page may show (:func:`_public_suppliers`).
    suppliers: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- loading -------------------------------------------------------------------------


def load_content(desk: Any, parallel: bool = False) -> DeskContent:
    """Read the desk's catalog, KB and tickets once; a file that does not load stops the build, named.

    With ``parallel``, a large ``tickets/`` folder is parsed by worker
    processes, one per core (:func:`itsm_cli.parallel.parallel_map`): the
    metrics need every ticket, and a desk of 100,000 takes seconds per core.
    """
    config = desk.config
    services: list[tuple[str, dict[str, Any]]] = []
    articles: list[tuple[str, dict[str, Any], str]] = []
    tickets: list[tuple[str, dict[str, Any]]] = []

    def add(item: Any) -> None:
        if isinstance(item, ItsmError):
            raise SiteContentError(item.message, item.path, item.line, item.col)
        if item.kind == "service":
            services.append((item.path, item.data))
        elif item.kind == "article":
            articles.append((item.path, item.data, item.body or ""))
        else:
            tickets.append((item.path, item.data))

    for item in desk.iter_records(("catalog", "kb") if parallel else ("catalog", "kb", "tickets")):
        add(item)
    if parallel:
        from itsm_cli.parallel import parallel_map

        for part in parallel_map(_load_tickets, desk.record_paths(("tickets",)), _open_desk, (str(desk.root),)):
            if isinstance(part, bytes):
                tickets.extend(marshal.loads(part))
            else:
                add(part)
    # A security incident never reaches the site: not its status, availability, metrics or search index.
    tickets = [t for t in tickets if not is_security(t[1], config)]
    return DeskContent(config, services, articles, tickets, _internal_fields(desk, config), _schema_files(desk),
                       _public_suppliers(desk, config))


def _public_suppliers(desk: Any, config: Config) -> dict[str, dict[str, Any]]:
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


def _schema_files(desk: Any) -> dict[str, str]:
    """The desk's JSON Schemas as text by file name, published under ``schemas/`` for editors to point at."""
    from pathlib import Path

    folder = Path(desk.root) / "schemas"
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.json"))
            if p.is_file() and not p.is_symlink()}


_WORKER_DESK: list[Any] = []


def _open_desk(root: str) -> None:
    """Set up a ticket-loading worker (:func:`load_content`)."""
    from pathlib import Path

    from itsm_cli.store.desk import Desk

    _WORKER_DESK[:] = [Desk(Path(root))]


def _load_tickets(paths: list[str]) -> list[Any]:
    """The chunk's tickets as one marshalled list of (path, data), or the first error that stopped one loading.

    marshal, not pickle: a desk's worth of small dicts unpickles at a third of
    the speed, in the one process that waits for them all. It carries every
    value the loader makes (str, int, float, bool, None, lists and mappings).
    """
    desk = _WORKER_DESK[0]
    loaded: list[tuple[str, dict[str, Any]]] = []
    for rel in paths:
        try:
            loaded.append((rel, desk.load(rel).data))
        except InvalidRecord as e:
            return [e]
    return [marshal.dumps(loaded)]


def _internal_fields(desk: Any, config: Config) -> dict[str, set[str]]:
    from itsm_cli.core.schema import SchemaSet

    try:
        schemas = desk.schemas()
    except (EnvironmentProblem, InvalidRecord):
        folder = resources.files("itsm_cli") / "data" / "schemas"
        import json

        schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".json")}
    schema_set = SchemaSet(schemas)
    return {name: schema_set.internal_fields(t.schema) for name, t in config.types.items()}


# -- URLs ----------------------------------------------------------------------------


def page_url(uri: str, directory_urls: bool) -> str:
    """The site-relative URL of a page source path (``services/vpn.md`` -> ``services/vpn/``)."""
    stem = uri[:-3]
    if not directory_urls:
        return stem + ".html"
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem[: -len("index")]
    return stem + "/"


def rel_url(from_uri: str, to_uri: str, directory_urls: bool, anchor: str = "") -> str:
    """A relative URL from one page to another, as raw HTML needs it (Markdown links use ``.md``)."""
    here = page_url(from_uri, directory_urls)
    base = here if here.endswith("/") or here == "" else posixpath.dirname(here) + "/"
    target = page_url(to_uri, directory_urls)
    if directory_urls:
        rel = posixpath.relpath(target or ".", base.rstrip("/") or ".")
        rel = "./" if rel == "." else rel + "/"
    else:
        rel = posixpath.relpath(target, base.rstrip("/") or ".")
    return rel + (f"#{anchor}" if anchor else "")


def md_link(from_uri: str, to_uri: str, text: str, anchor: str = "") -> str:
    """A Markdown link between generated pages (text escaped; MkDocs checks and rewrites the target)."""
    target = posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")
    return f"[{inline(text)}]({target}{'#' + anchor if anchor else ''})"


def slug(text: str) -> str:
    """A URL fragment for a category or heading name."""
    return _SLUG.sub("-", str(text).lower()).strip("-") or "other"


NOINDEX = '<meta name="robots" content="noindex, nofollow">'


def add_noindex(site_dir: Any) -> int:
    """Put the robots ``noindex`` tag in the head of every HTML page under ``site_dir``; returns how many."""
    count = 0
    for path in site_dir.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if NOINDEX in text or "<head>" not in text:
            continue
        path.write_text(text.replace("<head>", "<head>\n    " + NOINDEX, 1), encoding="utf-8")
        count += 1
    return count


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders the numbers in names by value: "Site 2" before "Site 10"."""
    parts = _DIGITS.split(str(text).lower())
    return tuple((0, int(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)


def contact_html(text: Any) -> str:
    """A contact line as HTML, its e-mail addresses as mailto: links and phone numbers as tel: links."""
    value = one_line(text)
    out, pos = [], 0
    spans = sorted([(m.start(), m.end(), "mailto:" + m.group()) for m in _EMAIL.finditer(value)]
                   + [(m.start(), m.end(), "tel:" + re.sub(r"[^0-9+]", "", m.group())) for m in _PHONE.finditer(value)])
    for start, end, href in spans:
        if start < pos:
            continue
        out.append(html.escape(value[pos:start]))  # not attr(): it would trim the spaces around a link
        out.append(f'<a href="{attr(href)}">{attr(value[start:end])}</a>')
        pos = end
    out.append(html.escape(value[pos:]))
    return "".join(out)


def prefill(url: str, title: str, details: str) -> str:
    """The request URL with the issue title and the offering's questions filled in.

    ``{title}`` and ``{details}`` in the desk's template are replaced; a GitHub
    "new issue" URL without them gets ``title`` and ``details`` query parameters
    (issue forms take a field's value from the parameter named by its id), a
    ``mailto:`` one a subject and body. Parameters the template sets are kept.
    """
    if "{title}" in url or "{details}" in url:
        return url.replace("{title}", quote(title, safe="")).replace("{details}", quote(details, safe=""))
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        names = ("subject", "body")
    elif parts.scheme == "https" and parts.path.rstrip("/").endswith("/issues/new"):
        names = ("title", "details")
    else:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    have = {k for k, _ in query}
    query += [(k, v) for k, v in zip(names, (title, details)) if k not in have and v]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


# -- the builder ---------------------------------------------------------------------


class _Builder:
    """Holds the checked content and the indexes the pages share; one instance per build."""

    def __init__(self, content: DeskContent, now: datetime, directory_urls: bool, parallel: bool = False):
        self.config = content.config
        self.parallel = parallel
        self.now = now.astimezone(UTC)
        self.today = self.now.date()
        self.directory_urls = directory_urls
        self.content = content
        self.desk = self.config.desk
        self.services: dict[str, dict[str, Any]] = {}
        self.service_paths: dict[str, str] = {}
        for path, data in content.services:
            self._check_service(path, data)
            self.services[data["id"]] = data
            self.service_paths[data["id"]] = path
        self.articles: dict[str, dict[str, Any]] = {}
        self.article_paths: dict[str, str] = {}
        self.bodies: dict[str, str] = {}
        for path, data, body in content.articles:
            if self._published(path, data):
                self._check_article(path, data)
                self.articles[data["id"]] = data
                self.article_paths[data["id"]] = path
                self.bodies[data["id"]] = body
        self.needed_by: dict[str, list[str]] = defaultdict(list)
        for sid, data in self.services.items():
            for dep in data.get("depends_on") or []:
                if dep not in self.services:
                    raise SiteContentError(f"depends_on: no service '{dep}' in the catalog", self.service_paths[sid])
                self.needed_by[dep].append(sid)
        self.kb_by_service: dict[str, list[str]] = defaultdict(list)
        for kid, data in self.articles.items():
            for sid in data.get("services") or []:
                if sid not in self.services:
                    raise SiteContentError(f"services: no service '{sid}' in the catalog", self.article_paths[kid])
                self.kb_by_service[sid].append(kid)
        self.category_ids = self._category_ids()
        live = [sid for sid in self.service_order(self.services)
                if self._service_category(self.services[sid]["status"]) == "open"]
        try:
            self.status = StatusModel(self.config.data, self.services, live, content.tickets,
                                      content.internal_fields.get(INCIDENT, set()),
                                      content.internal_fields.get("change", set()), self.now,
                                      one_line(self.desk.get("name") or "IT service desk"))
        except (ValueError, KeyError, TypeError) as e:
            raise SiteContentError(f"the service status cannot be computed: {e}", "itsm.yaml") from None

    # --- checks ---------------------------------------------------------------------

    def _fail(self, message: str, path: str) -> SiteContentError:
        return SiteContentError(message, path)

    def _check_service(self, path: str, data: dict[str, Any]) -> None:
        sid = data.get("id")
        if not isinstance(sid, str) or not ids.is_slug(sid):
            raise self._fail(f"id: {sid!r} is not a service ID (lower-case letters, digits and dashes)", path)
        if path != f"catalog/{sid}.yaml":
            raise self._fail(f"the file name must be the service ID: catalog/{sid}.yaml", path)
        for key in ("name", "status", "category"):
            if not isinstance(data.get(key), str) or not data.get(key):
                raise self._fail(f"{key}: a service needs a {key} (text)", path)
        for key in ("offerings", "depends_on", "tags"):
            if data.get(key) is not None and not isinstance(data.get(key), list):
                raise self._fail(f"{key}: must be a list", path)
        for tag in data.get("tags") or []:
            if not isinstance(tag, str) or not ids.is_slug(tag):
                raise self._fail(f"tags: {tag!r} is not a tag (lower-case letters, digits and dashes)", path)
        for i, offering in enumerate(data.get("offerings") or []):
            if not isinstance(offering, dict) or not ids.is_slug(str(offering.get("id", ""))):
                raise self._fail(f"offerings[{i}]: needs an id (lower-case letters, digits and dashes)", path)
            if not isinstance(offering.get("name"), str):
                raise self._fail(f"offerings[{i}]: needs a name", path)
            if not isinstance(offering.get("form") or [], list):
                raise self._fail(f"offerings[{i}].form: must be a list of fields", path)
        hours = data.get("support_hours")
        if hours is not None and hours not in self.config.calendars:
            raise self._fail(f"support_hours: no calendar '{hours}' in itsm.yaml", path)
        profile = data.get("sla")
        if profile is not None and profile not in (self.config.sla.get("profiles") or {}):
            raise self._fail(f"sla: no SLA profile '{profile}' in itsm.yaml", path)

    def _published(self, path: str, data: dict[str, Any]) -> bool:
        status = data.get("status")
        type_name = self._article_type()
        category = self.config.category(type_name, status) if type_name and isinstance(status, str) else None
        return category == "resolved" if category else status == "published"

    def _check_article(self, path: str, data: dict[str, Any]) -> None:
        kid = data.get("id")
        if not isinstance(kid, str) or not ids.is_record_id(kid):
            raise self._fail(f"id: {kid!r} is not a KB article ID", path)
        if path != f"kb/{kid}.md":
            raise self._fail(f"the file name must be the article ID: kb/{kid}.md", path)
        if not isinstance(data.get("title"), str) or not data["title"].strip():
            raise self._fail("title: an article needs a title", path)
        if not isinstance(data.get("services") or [], list):
            raise self._fail("services: must be a list", path)
        for tag in data.get("tags") or []:
            if not isinstance(tag, str) or not ids.is_slug(tag):
                raise self._fail(f"tags: {tag!r} is not a tag (lower-case letters, digits and dashes)", path)
        review = data.get("review_by")
        if review is not None:
            try:
                date.fromisoformat(str(review))
            except ValueError:
                raise self._fail(f"review_by: {review!r} is not a date (YYYY-MM-DD)", path) from None

    def _article_type(self) -> str | None:
        for name, t in self.config.types.items():
            if t.kind == "article":
                return name
        return None

    def _service_category(self, status: str) -> str:
        stype = self.config.service_type()
        category = self.config.category(stype.name, status) if stype else None
        return category or {"pipeline": "new", "live": "open", "retired": "closed"}.get(status, "new")

    def _category_ids(self) -> dict[str, str]:
        out: dict[str, str] = {}
        used: set[str] = set()
        for name in sorted({s["category"] for s in self.services.values()}, key=natural):
            base = "cat-" + slug(name)
            anchor, n = base, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            out[name] = anchor
        return out

    # --- helpers ----------------------------------------------------------------------

    def person(self, email: Any) -> str:
        """A person's display name (the address itself only when they are not listed)."""
        return self.config.display_name(str(email)) if email else "—"

    def group_name(self, group_id: str | None) -> str:
        """A group's name from itsm.yaml."""
        if not group_id:
            return ""
        return str((self.config.groups.get(group_id) or {}).get("name") or group_id)

    def badge(self, status: str, label: str | None = None) -> str:
        """A status badge as raw HTML (the text says the state; colour only repeats it)."""
        category = self._service_category(status)
        return f'<span class="itsm-badge itsm-badge--{category}">{attr(label or status.replace("_", " ").title())}</span>'

    def calendar_of(self, service: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = service.get("support_hours") or ("24x7" if "24x7" in self.config.calendars else None)
        if name is None and self.config.calendars:
            name = next(iter(self.config.calendars))
        return (name or "24x7"), dict(self.config.calendars.get(name) or {"timezone": "UTC", "always": True})

    def duration(self, text: Any, calendar: Mapping[str, Any]) -> str:
        match = _DURATION.match(str(text or ""))
        if not match:
            return inline(text) if text else "—"
        amount, unit = match.groups()
        number = float(amount)
        word = {"m": "minute", "h": "hour", "d": "day"}[unit]
        if unit == "d" and not calendar.get("always"):
            word = "business day"
        shown = amount if not number.is_integer() else str(int(number))
        return f"{shown} {word}{'' if number == 1 else 's'}"

    def request_url(self, service_id: str, offering_id: str) -> str | None:
        template = self.desk.get("request_url")
        if not template:
            return None
        if not isinstance(template, str) or not _URL_OK.match(template):
            raise SiteContentError("desk.request_url must be an https:// or mailto: URL", "itsm.yaml")
        return template.replace("{service}", quote(service_id, safe="")).replace("{offering}", quote(offering_id, safe=""))

    def resolver(self, from_uri: str) -> Callable[[str], str | None]:
        """Maps links people write in Markdown (``KB-0002.md``, ``../catalog/vpn.yaml``) to page URLs."""
        kb = re.compile(r"^(?:\./|\.\./kb/|/?kb/)?([A-Z]{2,5}-[0-9]{1,9})\.md(?:#(.*))?$")
        svc = re.compile(r"^(?:\.\./|/)?(?:catalog/([a-z0-9][a-z0-9-]*)\.yaml|services/([a-z0-9][a-z0-9-]*)\.md)$")

        def resolve(target: str) -> str | None:
            m = kb.match(target)
            if m and m.group(1) in self.articles:
                anchor = m.group(2)
                return rel_url(from_uri, f"kb/{m.group(1)}.md", self.directory_urls, f"kb-{anchor}" if anchor else "")
            m = svc.match(target)
            sid = m and (m.group(1) or m.group(2))
            if sid and sid in self.services:
                return rel_url(from_uri, f"services/{sid}.md", self.directory_urls)
            return None

        return resolve

    def prose(self, text: Any, from_uri: str) -> str:
        """People's Markdown as a sanitised raw-HTML block for a generated page."""
        if not text:
            return ""
        return f'<div class="itsm-prose">\n{render_markdown(str(text), self.resolver(from_uri))}\n</div>\n'

    def summary_of(self, data: Mapping[str, Any], limit: int = 160) -> str:
        text = one_line(data.get("summary") or "")
        if not text:
            description = one_line(data.get("description") or "")
            text = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0]
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

    def service_order(self, sids: Iterable[str]) -> list[str]:
        rank = {"open": 0, "new": 1, "closed": 2}
        return sorted(sids, key=lambda s: (rank.get(self._service_category(self.services[s]["status"]), 3),
                                           natural(self.services[s]["name"]), s))

    def page(self, uri: str, title: str, body: str, source: str | None = None, in_nav: bool = False,
             search: str = "") -> SitePage:
        head = front_matter({"title": title})
        if search:  # Material's per-page search settings (BOOST, EXCLUDE)
            head = head.removesuffix("---\n") + search + "---\n"
        banner = self.banner(uri)
        body = (banner + "\n\n" if banner else "") + body.rstrip()
        return SitePage(uri, title, head + "\n" + body + "\n", source, in_nav)

    def banner(self, uri: str) -> str:
        """The outage banner for the page at ``uri`` (raw HTML; empty while no service is down)."""
        return self.status.banner(rel_url(uri, "status.md", self.directory_urls))

    def status_of(self, sid: str, uri: str, reasons: bool = False) -> str:
        """A live service's lifecycle and its status now, both in words (``Live · Down since 05:48 UTC``)."""
        s = self.services[sid]
        st = self.status.by_service.get(sid)
        if st is None:
            return self.badge(s["status"])
        text = f"{self.badge(s['status'])} · {self.status.badge(st.level, st.since)}"
        if reasons and st.reasons:
            href = rel_url(uri, "status.md", self.directory_urls)
            text += " (" + "; ".join(f'<a href="{attr(href)}#{attr(i.id.lower())}">{attr(i.id)}</a>'
                                      for i in st.reasons) + ")"
        return text

    def words(self, s: Mapping[str, Any]) -> str:
        """What the catalog's Words filter matches for a service: name, id, category, tags, offerings, summary."""
        parts = [s["name"], s["id"], s["category"], *(s.get("tags") or [])]
        for o in s.get("offerings") or []:
            parts += [o.get("name") or "", o.get("id") or ""]
        parts.append(self.summary_of(s, limit=400))
        # Words only: punctuation is no use to the filter, and none of it can then look like markup.
        return " ".join(_NOT_WORD.sub(" ", " ".join(one_line(p) for p in parts if p)).lower().split())

    def help_section(self, uri: str) -> list[str]:
        """The home page's "Get help" route: how to report an incident, and how to reach the desk."""
        contact = self.desk.get("contact") if isinstance(self.desk.get("contact"), dict) else {}
        lines = ["## Get help {#get-help}", ""]
        report = self.desk.get("incident_url")
        if isinstance(report, str) and _URL_OK.match(report):
            lines.append(f'- **Something broken?** <a href="{attr(report)}">Report an incident</a>, '
                         f"and check the {md_link(uri, 'status.md', 'service status')} for known outages.")
        else:
            lines.append(f"- **Something broken?** Check the {md_link(uri, 'status.md', 'service status')}, "
                         "then report it to the service desk.")
        reach = []
        if contact.get("phone"):
            phone = str(contact["phone"])
            reach.append(f'call <a href="tel:{attr(re.sub(r"[^0-9+]", "", phone))}">{attr(phone)}</a>')
        if contact.get("email"):
            reach.append(f'e-mail <a href="mailto:{attr(contact["email"])}">{attr(contact["email"])}</a>')
        if isinstance(contact.get("url"), str) and _URL_OK.match(contact["url"]):
            reach.append(f'<a href="{attr(contact["url"])}">contact us online</a>')
        if reach:
            hours = self.config.calendars.get(str(contact.get("hours") or ""))
            when = f" ({attr((hours or {}).get('name') or contact['hours'])})" if hours else ""
            lines.append(f"- **Service desk:** {', '.join(reach)}{when}.")
        else:
            lines.append("- **Need something?** Find the service below and use its Request button.")
        if contact.get("note"):
            lines[-1] += f" {inline(contact['note'])}"
        return [*lines, ""]

    # --- pages ------------------------------------------------------------------------

    def catalog_page(self) -> SitePage:
        uri = "index.md"
        desk_name = one_line(self.desk.get("name") or "IT service desk")
        live = sum(1 for s in self.services.values() if self._service_category(s["status"]) == "open")
        lines = [f"# {inline(desk_name)}: service catalog", ""]
        total = len(self.services)
        lines.append(
            f"{total} service{'s' if total != 1 else ''} ({live} live) in {len(self.category_ids)} "
            f"categor{'ies' if len(self.category_ids) != 1 else 'y'}. Open a service to see what you can request, "
            f"its support hours and service levels. [Get help](#get-help) · "
            f"{md_link(uri, 'status.md', 'Service status')} · "
            f"{md_link(uri, 'kb/index.md', 'Knowledge base')} · {md_link(uri, 'tags.md', 'Browse by tag')}"
        )
        lines.append("")
        lines += self.help_section(uri)
        if not self.services:
            lines.append("The catalog is empty: add a service as `catalog/<id>.yaml`.")
            return self.page(uri, "Service catalog", "\n".join(lines), in_nav=True)
        lines += ["## Services {#itsm-catalog}", ""]
        lines.append('<div class="itsm-filter" data-itsm-filter></div>')
        lines.append("")
        cats = " · ".join(f"[{inline(name)}](#{anchor})" for name, anchor in self.category_ids.items())
        lines += [f"**Categories:** {cats}", ""]
        by_category: dict[str, list[str]] = defaultdict(list)
        for sid, data in self.services.items():
            by_category[data["category"]].append(sid)
        for name, anchor in self.category_ids.items():
            lines += [f"### {inline(name)} {{#{anchor} data-search-exclude}}", ""]
            rows = []
            for sid in self.service_order(by_category[name]):
                s = self.services[sid]
                href = rel_url(uri, f"services/{sid}.md", self.directory_urls)
                tags = " ".join(s.get("tags") or [])
                rows.append(
                    f'<tr data-itsm-tags="{attr(tags)}" data-itsm-status="{attr(s["status"])}"'
                    f' data-itsm-health="{attr(self.status.by_service[sid].level if sid in self.status.by_service else "")}"'
                    f' data-itsm-words="{attr(self.words(s))}">'
                    f'<td><a href="{attr(href)}">{attr(s["name"])}</a></td>'
                    f'<td data-label="Status">{self.status_of(sid, uri)}</td>'
                    f'<td data-label="Owner">{attr(self.person(s.get("owner")))}</td>'
                    f'<td data-label="Summary">{attr(self.summary_of(s))}</td></tr>'
                )
            lines.append(
                f'<table data-itsm-category="{attr(name)}" data-itsm-heading="{anchor}">'
                '<thead><tr><th scope="col">Service</th><th scope="col">Status</th><th scope="col">Owner</th>'
                '<th scope="col">Summary</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
            )
            lines.append("")
        return self.page(uri, "Service catalog", "\n".join(lines), in_nav=True)

    def service_page(self, sid: str) -> SitePage:
        s = self.services[sid]
        uri = f"services/{sid}.md"
        category = self._service_category(s["status"])
        anchor = self.category_ids[s["category"]]
        lines = [f"# {inline(s['name'])}", ""]
        facts = [self.status_of(sid, uri), f"**Category:** {md_link(uri, 'index.md', s['category'], anchor)}",
                 f"**Owner:** {inline(self.person(s.get('owner')))}"]
        if s.get("group"):
            facts.append(f"**Support group:** {inline(self.group_name(s['group']))}")
        lines += [" · ".join(facts), "{: data-search-exclude }", ""]
        if s.get("tags"):
            lines += ["**Tags:** " + ", ".join(md_link(uri, "tags.md", t, f"tag-{t}") for t in s["tags"]), ""]
        if s.get("summary"):
            lines += [f"**{inline(s['summary'])}**", ""]
        lines.append(self.prose(s.get("description"), uri))
        if s.get("contact"):
            lines += [f"<p><strong>Contact:</strong> {contact_html(s['contact'])}</p>", ""]
        if s.get("url") and _URL_OK.match(str(s["url"])):
            lines += [f'<p><a href="{attr(s["url"])}">Open {attr(s["name"])}</a></p>', ""]
        # The hours, targets, dependencies and article links (the same on many services) are left out of the
        # search index, and so are the home page's lists of services: each reader's browser builds that index
        # before the first search, and a catalog of 1,000 services made it take seconds.
        lines += self._incident_section(sid, uri)
        lines += self._offerings_section(s, uri, category)
        lines += self._hours_section(s)
        lines += self._sla_section(s)
        lines += self._availability_section(sid, uri)
        lines += self._dependency_section(sid, uri)
        lines += self._supplier_section(s)
        lines += ["## Knowledge articles {: data-search-exclude }", ""]
        related = sorted(self.kb_by_service.get(sid, []), key=lambda k: natural(self.articles[k]["title"]))
        if related:
            lines += [f"- {md_link(uri, f'kb/{k}.md', self.articles[k]['title'])}" for k in related]
        else:
            lines.append("No published articles for this service yet.")
        lines.append("")
        return self.page(uri, s["name"], "\n".join(lines), source=self.service_paths[sid], search=BOOST)

    def _incident_section(self, sid: str, uri: str) -> list[str]:
        st = self.status.by_service.get(sid)
        if st is None or not st.reasons:
            return []
        status_href = rel_url(uri, "status.md", self.directory_urls)
        kind = "danger" if st.level == "down" else "warning"
        lines = [f'<div class="admonition {kind}" role="status">',
                 f'<p class="admonition-title">{"Service down" if st.level == "down" else "Service degraded"} '
                 f"since {attr(self.status.when(st.since))}</p>", "<ul>"]
        for info in st.reasons:
            lines.append(f"<li>{self.status.reason_html(info, status_href + '#' + info.id.lower())}</li>")
        lines += ["</ul>", f'<p><a href="{attr(status_href)}">Service status</a></p>', "</div>", ""]
        return lines

    def _availability_section(self, sid: str, uri: str) -> list[str]:
        st = self.status.by_service.get(sid)
        if st is None:
            return []
        status_href = rel_url(uri, "status.md", self.directory_urls)
        # Figures and a strip of bars: nothing to search for, and 1,000 services of it weigh on the index.
        return ["## Availability {: data-search-exclude }", "", self.status.figure_text(st), "", self.status.strip(st), "",
                self.status.past_html(st, lambda i: f"{status_href}#{i.id.lower()}"), ""]

    def _approval_text(self, offering: Mapping[str, Any]) -> str:
        approval = offering.get("approval")
        if not approval:
            return "not needed"
        default = {}
        for t in self.config.types.values():
            if t.kind == "ticket" and t.name == "request" and t.approval:
                default = t.approval
        rule = approval if isinstance(approval, dict) else {}
        group = rule.get("group") or default.get("group")
        count = int(rule.get("count") or default.get("count") or 1)
        who = f" by {self.group_name(group)}" if group else ""
        return f"needed{who} ({count} approver{'s' if count != 1 else ''})"

    def _offerings_section(self, s: Mapping[str, Any], uri: str, category: str) -> list[str]:
        lines = ["## Request something {: data-search-exclude }", ""]
        offerings = s.get("offerings") or []
        if category == "new":
            lines += ["This service is not live yet: nothing can be requested from it. "
                      + ("What it will offer:" if offerings else ""), ""]
        elif category == "closed":
            lines += ["This service is retired: nothing can be requested from it any more."
                      + (" What it offered:" if offerings else ""), ""]
        elif not offerings:
            return [*lines, "This service has no offerings to request; ask the service desk for help.", ""]
        _, calendar = self.calendar_of(s)
        for o in offerings:
            lines += [f"### {inline(o['name'])}", ""]
            if o.get("description"):
                lines.append(self.prose(o["description"], uri))
            # The facts and questions are out of the search index (the offering's name and description
            # are in it), and the questions are a list, not a table, which a phone shows whole.
            facts = [f"<li><strong>Approval:</strong> {attr(self._approval_text(o))}</li>"]
            if o.get("fulfilment"):
                facts.append(f"<li><strong>Expected fulfilment:</strong> {self.duration(o['fulfilment'], calendar)}</li>")
            if o.get("audience"):
                facts.append(f"<li><strong>Who can ask:</strong> {attr(o['audience'])}</li>")
            lines += ['<ul data-search-exclude="">' + "".join(facts) + "</ul>", ""]
            form = o.get("form") or []
            questions = [f for f in form if isinstance(f, dict)]
            if questions:
                items = []
                for f in questions:
                    kind = FIELD_TYPES.get(str(f.get("type") or "text"), str(f.get("type")))
                    notes = [kind.lower(), "required" if f.get("required") else "optional"]
                    if f.get("options"):
                        notes.append("one of: " + ", ".join(one_line(x) for x in f["options"]))
                    help_text = f": {attr(f['help'])}" if f.get("help") else ""
                    items.append(f"<li><strong>{attr(f.get('label'))}</strong> ({attr('; '.join(notes))}){help_text}</li>")
                lines += ['<p data-search-exclude="">What you will be asked:</p>',
                          '<ul data-search-exclude="">' + "".join(items) + "</ul>", ""]
            url = self.request_url(s["id"], o["id"]) if category == "open" else None
            if url:
                details = "".join(f"### {one_line(f.get('label'))}\n\n\n" for f in questions if f.get("label"))
                url = prefill(url, f"[Request]: {one_line(o['name'])} ({one_line(s['name'])})", details)
                lines += [f'<p data-search-exclude=""><a class="md-button md-button--primary" href="{attr(url)}">'
                          f'Request {attr(o["name"])}</a></p>', ""]
        return lines

    def _hours_section(self, s: Mapping[str, Any]) -> list[str]:
        name, cal = self.calendar_of(s)
        title = one_line(cal.get("name") or name)
        tz = one_line(cal.get("timezone") or "UTC")
        lines = ["## Support hours {: data-search-exclude }", ""]
        if cal.get("always"):
            lines.append(f"**{inline(title)}:** around the clock, every day (time zone {inline(tz)}).")
        else:
            days = cal.get("days") or list(DAY_LABELS)
            shifts = cal.get("hours") or [["00:00", "24:00"]]
            hours = " and ".join(f"{one_line(a)}–{one_line(b)}" for a, b in shifts)
            lines.append(f"**{inline(title)}:** {inline(_day_ranges(days))}, {inline(hours)} ({inline(tz)} time).")
            upcoming = sorted(str(h) for h in cal.get("holidays") or [] if str(h) >= self.today.isoformat())
            if upcoming:
                shown = ", ".join(upcoming[:8]) + (" and more" if len(upcoming) > 8 else "")
                lines += ["", f"Closed on holidays: {inline(shown)}."]
        lines.append("")
        return lines

    def _sla_section(self, s: Mapping[str, Any]) -> list[str]:
        targets = s.get("sla_targets")
        source = "this service's own targets"
        if targets is None:
            profile = s.get("sla") or self.config.sla.get("default_profile")
            targets = (self.config.sla.get("profiles") or {}).get(profile) if profile else None
            source = f"the {one_line(profile)} profile" if profile else ""
        lines = ["## Service levels {: data-search-exclude }", ""]
        if not targets:
            return [*lines, "No service-level targets are set for this service.", ""]
        _, cal = self.calendar_of(s)
        lines += [f"Targets per priority ({inline(source)}), counted in the support hours above:", "",
                  "| Priority | First response | Resolution |", "|---|---|---|"]
        for priority in sorted(k for k in targets if k != "availability"):
            entry = targets.get(priority) or {}
            lines.append(f"| {inline(priority)} | {self.duration(entry.get('response'), cal)} "
                         f"| {self.duration(entry.get('resolution'), cal)} |")
        lines.append("")
        st = self.status.by_service.get(s["id"])
        if st is not None and st.target is not None:
            lines += [f"Availability target: **{pct(st.target)}** over {self.status.rules.days} days "
                      f"({inline(self.status.hours_text(st))}).", ""]
        return lines

    def _dependency_section(self, sid: str, uri: str) -> list[str]:
        def links(items: Iterable[str]) -> str:
            out = [md_link(uri, f"services/{d}.md", self.services[d]["name"]) for d in self.service_order(items)]
            return ", ".join(out) if out else "none"

        return ["## Dependencies {: data-search-exclude }", "", f"- **Depends on:** {links(self.services[sid].get('depends_on') or [])}",
                f"- **Needed by:** {links(self.needed_by.get(sid, []))}", ""]

    def _supplier_section(self, s: Mapping[str, Any]) -> list[str]:
        """The suppliers a service names: their names, and only what each lists as public."""
        from itsm_cli.core.suppliers import public_view

        named = [self.content.suppliers[x] for x in s.get("suppliers") or [] if x in self.content.suppliers]
        if not named:
            return []
        lines = ["## Suppliers {: data-search-exclude }", ""]
        for supplier in named:
            view = public_view(supplier, s["id"])
            website = view.get("website")
            name = inline(view["name"])
            if isinstance(website, str) and _URL_OK.match(website):
                name = f'<a href="{attr(website)}">{attr(view["name"])}</a>'
            lines.append(f"- **{name}**")
            if view.get("description"):
                lines.append(f"    {inline(one_line(str(view['description'])))}")
            for contact in view.get("contacts") or []:
                parts = [str(contact.get(k)) for k in ("name", "role", "email", "phone") if contact.get(k)]
                lines.append(f"    - {inline(', '.join(parts))}")
            for targets in view.get("targets") or []:
                words = [text.format(targets[key]) for key, text in
                         (("response", "responds within {}"), ("resolution", "resolves within {}"),
                          ("availability", "{} % available"), ("hours", "hours: {}")) if key in targets]
                lines.append(f"    - Supplier's targets: {inline('; '.join(words))}")
        lines.append("")
        return lines

    def article_page(self, kid: str) -> SitePage:
        a = self.articles[kid]
        uri = f"kb/{kid}.md"
        lines = [f"# {inline(a['title'])}", ""]
        facts = [f"**{inline(kid)}**"]
        services = [sid for sid in a.get("services") or [] if sid in self.services]
        if services:
            facts.append("**Services:** " + ", ".join(
                md_link(uri, f"services/{sid}.md", self.services[sid]["name"]) for sid in services))
        facts.append(f"**Owner:** {inline(self.person(a.get('owner')))}")
        if a.get("updated"):
            facts.append(f"**Updated:** {inline(str(a['updated'])[:10])}")
        if a.get("review_by"):
            facts.append(f"**Review by:** {inline(a['review_by'])}")
        lines += [" · ".join(facts), ""]
        if a.get("tags"):
            lines += ["**Tags:** " + ", ".join(md_link(uri, "tags.md", t, f"tag-{t}") for t in a["tags"]), ""]
        if self.due_for_review(a):
            lines += ['<div class="admonition warning">', '<p class="admonition-title">Due for review</p>',
                      f"<p>This article was due for review on {attr(a['review_by'])}; parts of it may be out of date.</p>",
                      "</div>", ""]
        if a.get("summary"):
            lines += [f"*{inline(a['summary'])}*", ""]
        body = self.bodies[kid]
        first = body.lstrip().split("\n", 1)
        if first and first[0].startswith("# "):
            body = first[1] if len(first) > 1 else ""
        if body.strip():
            lines.append(f'<div class="itsm-prose itsm-kb">\n{render_markdown(body, self.resolver(uri))}\n</div>\n')
        return self.page(uri, a["title"], "\n".join(lines), source=self.article_paths[kid], search=BOOST)

    def due_for_review(self, article: Mapping[str, Any]) -> bool:
        """True when the article's ``review_by`` date is before the build date."""
        review = article.get("review_by")
        return bool(review) and date.fromisoformat(str(review)) < self.today

    def kb_index_page(self) -> SitePage:
        uri = "kb/index.md"
        lines = ["# Knowledge base", ""]
        if not self.articles:
            return self.page(uri, "Knowledge base", "\n".join([*lines, "No published articles yet."]), in_nav=True)
        lines += [f"{len(self.articles)} published article{'s' if len(self.articles) != 1 else ''}.", "",
                  "| Article | Services | Updated |", "|---|---|---|"]
        for kid in sorted(self.articles, key=lambda k: (natural(self.articles[k]["title"]), k)):
            a = self.articles[kid]
            services = ", ".join(md_link(uri, f"services/{s}.md", self.services[s]["name"])
                                 for s in a.get("services") or [] if s in self.services) or "—"
            due = " (due for review)" if self.due_for_review(a) else ""
            lines.append(f"| {md_link(uri, f'kb/{kid}.md', a['title'])}{due} | {services} "
                         f"| {inline(str(a.get('updated') or '')[:10]) or '—'} |")
        return self.page(uri, "Knowledge base", "\n".join(lines), in_nav=True, search=EXCLUDE)

    def tags_page(self) -> SitePage:
        uri = "tags.md"
        tagged: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"services": [], "articles": []})
        for sid, s in self.services.items():
            for t in s.get("tags") or []:
                tagged[t]["services"].append(sid)
        for kid, a in self.articles.items():
            for t in a.get("tags") or []:
                tagged[t]["articles"].append(kid)
        lines = ["# Tags", ""]
        if not tagged:
            return self.page(uri, "Tags", "\n".join([*lines, "Nothing is tagged yet."]), in_nav=True)
        lines += [" · ".join(f"[{inline(t)}](#tag-{t})" for t in sorted(tagged)), ""]
        for t in sorted(tagged):
            lines += [f"## {inline(t)} {{#tag-{t}}}", ""]
            for sid in self.service_order(tagged[t]["services"]):
                lines.append(f"- {md_link(uri, f'services/{sid}.md', self.services[sid]['name'])} (service)")
            for kid in sorted(tagged[t]["articles"]):
                lines.append(f"- {md_link(uri, f'kb/{kid}.md', self.articles[kid]['title'])} (article)")
            lines.append("")
        return self.page(uri, "Tags", "\n".join(lines), in_nav=True, search=EXCLUDE)

    def status_page(self) -> SitePage:
        uri = "status.md"
        model = self.status
        states = model.by_service
        live = list(states)
        counts = {lvl: sum(1 for st in states.values() if st.level == lvl) for lvl in ("down", "degraded")}
        lines = ["# Service status", ""]
        feed = feed_link(uri, page_url(uri, self.directory_urls))
        lines += [f'<p class="itsm-feed"><a href="{attr(feed)}" type="application/atom+xml">Status changes as an Atom '
                  "feed</a></p>", ""]
        if counts["down"] or counts["degraded"]:
            parts = [f"{counts['down']} down" if counts["down"] else "",
                     f"{counts['degraded']} degraded" if counts["degraded"] else ""]
            lines.append(f"**{' and '.join(p for p in parts if p)}** of {len(live)} live services.")
        else:
            lines.append(f"**All {len(live)} live services are operating normally.**")
        lines += ["", f"As of {self.now.strftime('%Y-%m-%d %H:%M')} UTC. {inline(model.rules_text())}", ""]
        if not live:
            return self.page(uri, "Service status", "\n".join(lines), in_nav=True)
        rows = []
        order = sorted(live, key=lambda s: (-{"down": 2, "degraded": 1}.get(states[s].level, 0),
                                            self.services[s]["name"].lower()))
        for sid in order:
            st = states[sid]
            # The reasons sit under the status in its cell: three columns still fit a phone.
            why = "".join(f"<br>{model.reason_html(i, '#' + i.id.lower())}" for i in st.reasons)
            name = rel_url(uri, f"services/{sid}.md", self.directory_urls)
            rows.append(f'<tr id="svc-{attr(sid)}" data-itsm-level="{st.level}"><th scope="row"><a href="{attr(name)}">'
                        f"{attr(self.services[sid]['name'])}</a></th><td>{model.badge(st.level, st.since)}{why}</td>"
                        f"<td>{attr(model.figure_short(st))}</td></tr>")
        lines += ['<div class="itsm-status" data-search-exclude><table><thead><tr><th scope="col">Service</th>'
                  '<th scope="col">Status and why</th>'
                  f'<th scope="col">Availability, {model.rules.days} days</th></tr></thead>'
                  "<tbody>" + "".join(rows) + "</tbody></table></div>", ""]
        lines += ["## Scheduled maintenance", ""]
        if model.maintenance:
            lines += ["| Change | Service | Window |", "|---|---|---|"]
            for c in model.maintenance:
                lines.append(f"| {inline(c['id'])}: {inline(c['title'])} "
                             f"| {md_link(uri, 'services/' + c['service'] + '.md', self.services[c['service']]['name'])} "
                             f"| {inline(model.when(c['start']))} to {inline(model.when(c['end']))} |")
        else:
            lines.append("No maintenance is scheduled.")
        lines.append("")
        incidents = {i.id: i for st in states.values() for i in st.past}
        lines += ["## Incidents", ""]
        if not incidents:
            lines += [f"No incident affected a live service in the last {model.rules.days} days.", ""]
        for info in sorted(incidents.values(), key=lambda i: (i.level == "operational", -i.outages[0].start.timestamp())):
            lines += [f"### {inline(info.id)}: {inline(info.title)} {{#{info.id.lower()}}}", ""]
            spans = "; ".join(f"{o.level} from {model.when(o.start)} to {model.when(o.end) if o.end else 'now'}"
                              for o in info.outages)
            lines += [f"**Service:** {md_link(uri, 'services/' + info.service + '.md', self.services[info.service]['name'])}"
                      f" · **Status:** {'ongoing, ' + info.level if info.level != 'operational' else 'ended'}"
                      + (f" · **Priority:** {inline(info.priority)}" if info.priority else "")
                      + f" · **Last update:** {inline(model.when(info.last_update))}", "",
                      f"Affected the service: {inline(spans)}.", ""]
        # Day by day for the services something happened to; every service's own page has its strip.
        affected = [sid for sid in self.service_order(live) if states[sid].past]
        lines += [f"## Availability over the last {model.rules.days} days {{: data-search-exclude }}", ""]
        if affected:
            lines += ["Each bar is a day (hover one for its figures); the table under each strip lists every day "
                      "that was not fully operational.", ""]
        for sid in affected:
            st = states[sid]
            lines += [f"### {inline(self.services[sid]['name'])} {{#availability-{sid}}}", "",
                      model.figure_text(st), "", model.strip(st), ""]
        rest = len(live) - len(affected)
        if rest:
            lines += [f"{'The other' if affected else 'All'} {rest} live service{'s' if rest != 1 else ''} had no "
                      f"incident that changed {'their' if rest != 1 else 'its'} status in these {model.rules.days} days; "
                      "each service's page shows its days.", ""]
        return self.page(uri, "Service status", "\n".join(lines), in_nav=True)

    def metrics_page(self) -> SitePage:
        uri = "metrics.md"
        lines = ["# Metrics", ""]
        months = _last_months(self.today, MONTHS)
        volume, sla = self._reports(months[0])
        if volume is None:
            return self.page(uri, "Metrics", "\n".join([*lines, "No reports are available."]), in_nav=True)
        counts = {r["key"]: r for r in volume}
        opened = [int(counts.get(m, {}).get("opened", 0)) for m in months]
        resolved = [int(counts.get(m, {}).get("resolved", 0)) for m in months]
        closed = [int(counts.get(m, {}).get("closed", 0)) for m in months]
        labels = [_month_label(m) for m in months]
        # This month has only begun: it is drawn and listed as "so far", not as a finished month that fell.
        rows_labels = [*labels[:-1], f"{labels[-1]} (so far, {self.today.day} day{'s' if self.today.day != 1 else ''})"]
        lines += [f"Tickets of every type over the last {MONTHS} months, up to "
                  f"{self.now.strftime('%Y-%m-%d')}; {labels[-1]} is the month so far. "
                  "Closed includes cancelled and rejected tickets.", "",
                  "## Tickets opened and closed", ""]
        lines.append(charts.bar_chart("chart-volume", "Tickets opened and closed per month", labels,
                                      [("Opened", opened), ("Closed", closed)], partial=True))
        lines += ["", "| Month | Opened | Resolved | Closed |", "|---|---|---|---|"]
        lines += [f"| {rows_labels[i]} | {opened[i]} | {resolved[i]} | {closed[i]} |" for i in range(len(months))]
        lines.append("")
        if sla is not None:
            rows = {r["key"]: r for r in sla}
            response = [rows.get(m, {}).get("response_pct") for m in months]
            resolution = [rows.get(m, {}).get("resolution_pct") for m in months]
            lines += ["## Service-level attainment", "",
                      "Share of response and resolution targets met, by the month each target fell due.", ""]
            lines.append(charts.line_chart("chart-sla", "Service-level targets met per month (%)", labels,
                                           [("Response", response), ("Resolution", resolution)], y_max=100, unit="%",
                                           partial=True))
            lines += ["", "| Month | Response met | Resolution met |", "|---|---|---|"]
            lines += [f"| {rows_labels[i]} | {_pct(response[i])} | {_pct(resolution[i])} |" for i in range(len(months))]
            lines.append("")
        return self.page(uri, "Metrics", "\n".join(lines), in_nav=True)

    def _reports(self, first_month: str) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
        try:
            from itsm_cli.core import report
        except ImportError:  # the reports are optional for the site
            return None, None
        from itsm_cli.parallel import cpu_count, fork_map

        since = datetime.fromisoformat(first_month + "-01T00:00:00+00:00")
        count = len(self.content.tickets)
        # The figures are counts, so each worker can take its share of the tickets (see build_site).
        shares = cpu_count() if self.parallel and count >= TICKETS_PER_WORKER * 2 else 1
        bounds = [(i * count // shares, (i + 1) * count // shares, since) for i in range(shares)]
        try:
            with _shared(self):
                parts = fork_map(_report_share, bounds, 1)
        except (ValueError, KeyError, TypeError) as e:
            raise SiteContentError(f"the metrics cannot be computed: {e}", "tickets") from None
        return report.combine_rows(v for v, _ in parts), report.combine_rows(s for _, s in parts)

    def report_share(self, start: int, end: int, since: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The metrics page's volume and SLA rows over tickets ``start:end`` (in :attr:`content` order)."""
        from itsm_cli.core import report

        tickets = [data for _, data in self.content.tickets[start:end]]
        args = (tickets, self.config.data, self.services)
        return (report.volume_report(*args, now=self.now, since=since, group_by="month"),
                report.sla_report(*args, now=self.now, since=since, until=self.now, group_by="month"))

    def assets(self) -> dict[str, str]:
        """The stylesheet and script, robots.txt, and the desk's schemas (``schemas/<name>.json``)."""
        folder = resources.files("itsm_cli") / "site" / "assets"
        # From status/feed.xml to the status page: "./" (status/) or "../status.html".
        status_href = "./" if self.directory_urls else posixpath.relpath(page_url("status.md", False), "status")
        out = {CSS: (folder / "itsm.css").read_text(encoding="utf-8"), JS: (folder / "itsm.js").read_text(encoding="utf-8"),
               FEED: self.status.feed(status_href),
               "robots.txt": ROBOTS_INTERNAL if site_settings(self.config.data).internal else ROBOTS_PUBLIC}
        out.update({f"schemas/{name}": text for name, text in self.content.schemas.items()})
        return out


def _day_ranges(days: Iterable[str]) -> str:
    order = list(DAY_LABELS)
    idx = sorted(order.index(d) for d in days if d in DAY_LABELS)
    runs: list[list[int]] = []
    for i in idx:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        first, last = DAY_LABELS[order[run[0]]], DAY_LABELS[order[run[-1]]]
        parts.append(first if len(run) == 1 else (f"{first} and {last}" if len(run) == 2 else f"{first} to {last}"))
    return ", ".join(parts) if parts else "no days"


def _last_months(today: date, count: int) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _month_label(key: str) -> str:
    return datetime.strptime(key, "%Y-%m").strftime("%b %Y")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


# Service and article pages per worker task: each costs about a millisecond (rendering people's
# Markdown), so a task of this many outweighs handing it to a worker and its pages back.
PAGES_PER_TASK = 100
# Below this many tickets per core the metrics are computed in one process.
TICKETS_PER_WORKER = 5000
_CURRENT: dict[str, _Builder] = {}


@contextlib.contextmanager
def _shared(builder: _Builder) -> Iterator[None]:
    """Make ``builder`` the one that forked workers find (they inherit this module's state)."""
    _CURRENT["builder"] = builder
    try:
        yield
    finally:
        _CURRENT.clear()


def _record_page(job: tuple[str, str]) -> SitePage:
    """One service or article page (in a forked worker, from the builder it inherited)."""
    b = _CURRENT["builder"]
    kind, key = job
    return b.service_page(key) if kind == "service" else b.article_page(key)


def _report_share(bounds: tuple[int, int, datetime]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One share of the metrics (in a forked worker, from the builder it inherited)."""
    return _CURRENT["builder"].report_share(*bounds)


def build_site(content: DeskContent, now: datetime, directory_urls: bool = True, parallel: bool = False) -> Site:
    """Every page of the site, its assets and navigation, from the desk content and the build clock.

    With ``parallel``, the service and article pages and the metrics (most of
    the work) are made by forked workers, one per core, when that is safe (see
    :func:`itsm_cli.parallel.fork_map`); the pages are the same either way.
    """
    from itsm_cli.parallel import fork_map

    b = _Builder(content, now, directory_urls, parallel)
    pages = [b.catalog_page(), b.kb_index_page(), b.status_page(), b.metrics_page(), b.tags_page()]
    jobs = [("service", sid) for sid in sorted(b.services)] + [("article", kid) for kid in sorted(b.articles)]
    with _shared(b):
        pages += fork_map(_record_page, jobs, PAGES_PER_TASK) if parallel else [_record_page(job) for job in jobs]
    nav = [{title: uri} for title, uri in NAV]
    return Site(pages, b.assets(), nav, noindex=site_settings(b.config.data).internal, banner=b.status.banner)
