"""The application layer: the services the commands call.

Between the CLI (which parses, calls and prints) and the core (pure rules)
and store (files, git) sit the services, one module a job:

- ``changes``: :class:`App`, the object behind every changing command (load,
  apply a core operation, check, write, commit under the desk lock);
- ``collaboration`` (watch, attach, rate), ``setup_desk`` (person, group,
  service), ``suppliers`` (escalate, the contracts report), ``releases``
  (implement; commits and tags checked where the repository is at hand),
  ``service_review``, ``automation`` (sweep, notify, mail intake, import and
  export).

What most callers need is re-exported here.
"""

from __future__ import annotations

from itsm_cli.app.changes import App, BulkRefused, Change, resolve_actor, review_date
from itsm_cli.clock import normalise_time, now_utc

__all__ = ["App", "BulkRefused", "Change", "normalise_time", "now_utc", "resolve_actor", "review_date"]
