"""Unit tests of site/content.py: the desk's records read once, as named (path, data[, body]) tuples."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm_cli.site.content import ArticleFile, DeskContent, ServiceFile, SiteContentError, TicketFile, load_content
from itsm_cli.store.desk import Desk


def test_every_catalog_kb_and_ticket_file_is_loaded_once_by_name(site_content: DeskContent) -> None:
    services = {s.path: s for s in site_content.services}
    assert set(services) == {f"catalog/{sid}.yaml" for sid in ("email", "identity", "vpn", "fax", "portal", "printing")}
    assert all(isinstance(s, ServiceFile) and s.data["id"] == Path(s.path).stem for s in services.values())
    # Every article is loaded, drafts too: what is published is the builder's decision.
    articles = {a.path: a for a in site_content.articles}
    assert set(articles) == {f"kb/KB-000{n}.md" for n in range(1, 6)}
    assert all(isinstance(a, ArticleFile) for a in articles.values())
    assert articles["kb/KB-0003.md"].body.strip() == "DRAFT-SECRET-BODY"
    assert site_content.tickets and all(isinstance(t, TicketFile) and t.path.startswith("tickets/")
                                        for t in site_content.tickets)
    assert len({t.path for t in site_content.tickets}) == len(site_content.tickets)


def test_tickets_read_by_workers_are_named_tuples_too(site_desk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm_cli import parallel

    monkeypatch.setattr(parallel, "PARALLEL_MIN", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)
    spread = load_content(Desk(site_desk), parallel=True)
    assert spread.tickets and all(type(t) is TicketFile for t in spread.tickets)
    assert [t.data["id"] for t in spread.tickets] == [t.data["id"] for t in load_content(Desk(site_desk)).tickets]


def test_a_security_incident_never_reaches_the_content(site_desk: Path) -> None:
    from desk_testing import load_ticket, save_ticket

    config = site_desk / "itsm.yaml"
    config.write_text(config.read_text() + "security:\n  category: security\n")
    ticket = next(t for t in load_content(Desk(site_desk)).tickets if t.data.get("type") == "incident")
    data = load_ticket(site_desk, ticket.data["id"])
    data["category"] = "security"
    save_ticket(site_desk, data)
    left = {t.data["id"] for t in load_content(Desk(site_desk)).tickets}
    assert ticket.data["id"] not in left and left


def test_a_service_file_that_does_not_load_is_named(site_desk: Path) -> None:
    (site_desk / "catalog" / "vpn.yaml").write_text("id: [vpn\n")
    with pytest.raises(SiteContentError) as caught:
        load_content(Desk(site_desk))
    assert caught.value.path == "catalog/vpn.yaml"
