"""What every page builder shares: the checked content, its indexes and the helpers pages are made with.

One :class:`Builder` per build: it checks the services and articles a site
may publish (a file that cannot be published stops the build, named), indexes
them (dependencies, articles by service, category anchors), computes the
status once, and makes a :class:`SitePage` of a page's Markdown. The pages
themselves are made by :mod:`~itsm_cli.site.catalog_pages`,
:mod:`~itsm_cli.site.kb_pages`, :mod:`~itsm_cli.site.status_pages` and
:mod:`~itsm_cli.site.metrics_pages`, from a builder.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from itsm_cli.core import ids
from itsm_cli.site.content import DeskContent, SiteContentError
from itsm_cli.site.links import natural, rel_url, slug
from itsm_cli.site.sanitize import attr, front_matter, one_line, render_markdown
from itsm_cli.site.status_model import StatusModel

__all__ = ["BOOST", "EXCLUDE", "Builder", "SitePage"]

INCIDENT = "incident"
# Material's search: services and articles rank above the pages that only list them, and lists of links
# (tags, the KB index) stay out of the index, which every reader downloads before their first search.
BOOST = "search:\n  boost: 2\n"
EXCLUDE = "search:\n  exclude: true\n"


@dataclass(frozen=True)
class SitePage:
    """One generated page: where it goes, its title, its Markdown, and the desk file it shows."""

    uri: str
    title: str
    markdown: str
    source: str | None = None
    in_nav: bool = False


class Builder:
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
        self.needed_by = self._naming_services(self.services, "depends_on", self.service_paths)
        self.kb_by_service = self._naming_services(self.articles, "services", self.article_paths)
        self.category_ids = self._category_ids()
        live = [sid for sid in self.service_order(self.services)
                if self.service_category(self.services[sid]["status"]) == "open"]
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

    def service_category(self, status: str) -> str:
        """The workflow category (new, open, closed) of a service status; live services are the open ones."""
        stype = self.config.service_type()
        category = self.config.category(stype.name, status) if stype else None
        return category or {"pipeline": "new", "live": "open", "retired": "closed"}.get(status, "new")

    def _naming_services(
        self, records: dict[str, dict[str, Any]], field: str, paths: dict[str, str]
    ) -> dict[str, list[str]]:
        """For each service, the records whose ``field`` names it; a name with no service is an error at the record's file."""
        named: dict[str, list[str]] = defaultdict(list)
        for rid, data in records.items():
            for sid in data.get(field) or []:
                if sid not in self.services:
                    raise SiteContentError(f"{field}: no service '{sid}' in the catalog", paths[rid])
                named[sid].append(rid)
        return named

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
        category = self.service_category(status)
        return f'<span class="itsm-badge itsm-badge--{category}">{attr(label or status.replace("_", " ").title())}</span>'

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

    def service_order(self, sids: Iterable[str]) -> list[str]:
        rank = {"open": 0, "new": 1, "closed": 2}
        return sorted(sids, key=lambda s: (rank.get(self.service_category(self.services[s]["status"]), 3),
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
