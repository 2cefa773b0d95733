"""The application layer: the services the commands call.

Between the CLI (which parses, calls and prints) and the core (pure rules)
and store (files, git) sit the services, one module a job:

- ``changes``: :class:`App`, the object behind every changing command (load,
  apply a core operation, check, write, commit under the desk lock);
- ``collaboration`` (watch, attach, rate), ``setup_desk`` (person, group,
  service), ``suppliers`` (escalate, the contracts report), ``releases``
  (implement; commits and tags checked where the repository is at hand),
  ``service_review``;
- ``listing`` (the ``itsm list`` engine), ``trail`` (history, audit, audit
  change, audit verify);
- ``sweep`` (the time rules), ``notify`` (e-mail, webhooks), ``mail_intake``,
  ``transfer`` (import and export), with ``bot`` for what sweep and notify
  share; ``sync`` (itsm sync / settle: the record-aware merge of a branch).

What most callers need is re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from itsm_cli.app.changes import App, BulkRefused, Change, resolve_actor, review_date
    from itsm_cli.clock import normalise_time, now_utc

# Where each re-exported name lives. Looked up on first use (PEP 562), so that
# importing one service (app.listing for `itsm list`) does not import App too.
_EXPORTS = {
    "App": "itsm_cli.app.changes", "BulkRefused": "itsm_cli.app.changes", "Change": "itsm_cli.app.changes",
    "resolve_actor": "itsm_cli.app.changes", "review_date": "itsm_cli.app.changes",
    "normalise_time": "itsm_cli.clock", "now_utc": "itsm_cli.clock",
}
__all__ = ["App", "BulkRefused", "Change", "normalise_time", "now_utc", "resolve_actor", "review_date"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'itsm_cli.app' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
