"""The clock every command reads: ``ITSM_NOW`` when set (imports, tests), else the system clock.

Times are ``YYYY-MM-DDTHH:MM:SSZ`` strings in UTC, as records hold them. The
application layer and the site both need it, so it sits beside ``errors``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from itsm_cli.errors import BadArgument

__all__ = ["normalise_time", "now_utc"]


def now_utc(env: Mapping[str, str] = os.environ) -> str:
    """The current time as ``YYYY-MM-DDTHH:MM:SSZ``: ``ITSM_NOW`` when set, else the system clock."""
    text = env.get("ITSM_NOW")
    if not text:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return normalise_time(text, "ITSM_NOW")


def normalise_time(text: str, what: str) -> str:
    """An ISO 8601 time (with Z or an offset; a bare date means midnight UTC) as a UTC ``...Z`` string."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadArgument(f"{what}: '{text}' is not an ISO 8601 time (e.g. 2026-03-02T09:15:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
