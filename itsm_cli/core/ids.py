"""Record IDs: what a valid one looks like, where its file lives, and how the next one is chosen.

IDs are checked with ``fullmatch`` (``re.match`` accepts a trailing newline)
before they are ever used to build a path.

Layout (SPEC section 2). A ticket lives at ``tickets/<PREFIX>/<NNN>/<ID>.yaml``,
``NNN`` being the ID's number divided by 1,000, zero-padded to three digits, so
no folder ever holds more than 1,000 entries and a commit rewrites only small
trees. Articles and services stay flat (``kb/KB-0005.md``, ``catalog/email.yaml``).
Desks made before that kept tickets flat (``tickets/INC-0042.yaml``); ``itsm
upgrade`` moves them, and :func:`flat_ticket_path` still names where they were.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from itsm_cli.errors import BadArgument

RECORD_ID = re.compile(r"[A-Z]{2,5}-[0-9]{1,9}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ID_WIDTH = 4
#: Tickets per bucket folder: ``tickets/INC/012/`` holds INC-12000 to INC-12999.
BUCKET_SIZE = 1000
BUCKET_WIDTH = 3


def is_record_id(text: str) -> bool:
    """True for ticket and article IDs such as ``INC-0042``."""
    return RECORD_ID.fullmatch(text) is not None


def is_slug(text: str) -> bool:
    """True for service IDs such as ``email`` or ``vpn-access``."""
    return SLUG.fullmatch(text) is not None


def check_id(text: str) -> str:
    """Return ``text`` if it is a record ID or a service slug, else raise BadArgument."""
    if not isinstance(text, str) or not (is_record_id(text) or is_slug(text)):
        raise BadArgument(f"'{text}' is not a valid ID (expected e.g. INC-0042 or a service id like 'email')")
    return text


#: How a reference to a supplier is asked of a set of known IDs: ``suppliers/acme`` (never a ticket, article or service ID).
SUPPLIER_KEY = "suppliers/"


def supplier_key(supplier_id: str) -> str:
    """The key a supplier's existence is asked by in a set of known IDs."""
    return SUPPLIER_KEY + supplier_id


def number_of(record_id: str) -> int:
    """The numeric part of ``INC-0042`` (42)."""
    return int(record_id.rpartition("-")[2])


def bucket_of(record_id: str) -> str:
    """The bucket folder of a ticket ID: ``INC-0042`` -> ``000``, ``INC-12345`` -> ``012``, ``INC-1234567`` -> ``1234``."""
    return f"{number_of(record_id) // BUCKET_SIZE:0{BUCKET_WIDTH}d}"


def ticket_path(folder: str, record_id: str) -> str:
    """Where a ticket's file lives, relative to the desk: ``tickets/INC/000/INC-0042.yaml``."""
    prefix = record_id.partition("-")[0]
    return f"{folder}/{prefix}/{bucket_of(record_id)}/{record_id}.yaml"


def flat_ticket_path(folder: str, record_id: str) -> str:
    """Where a ticket lived in the earlier flat layout: ``tickets/INC-0042.yaml`` (``itsm upgrade`` moves it)."""
    return f"{folder}/{record_id}.yaml"


def record_path(kind: str, folder: str, record_id: str) -> str:
    """The desk-relative file of a record of ``kind`` (ticket, article, service) kept in ``folder``."""
    if kind == "ticket":
        return ticket_path(folder, record_id)
    return f"{folder}/{record_id}{'.md' if kind == 'article' else '.yaml'}"


def format_id(prefix: str, number: int) -> str:
    """``format_id("INC", 42)`` -> ``INC-0042``."""
    return f"{prefix}-{number:0{ID_WIDTH}d}"


def number_pattern(prefix: str) -> str:
    """A regex of the name of a record file with this prefix, its group the number (``INC-([0-9]{1,9})\\.[a-z]+``)."""
    return re.escape(prefix) + r"-([0-9]{1,9})\.[a-z]+"


#: A regex of a bucket folder's name (``000``, ``012``, ``1234``).
BUCKET_PATTERN = rf"[0-9]{{{BUCKET_WIDTH},9}}"


def highest_number(numbers: Iterable[str]) -> int:
    """The highest of record numbers as their files name them (``"0042"``), else 0."""
    return max(map(int, numbers), default=0)


def highest_bucket(names: Iterable[str]) -> str | None:
    """The highest-numbered of bucket folder names (``000``, ``012``...), else None."""
    return max(names, key=int, default=None)


def next_id(prefix: str, taken: Iterable[str]) -> str:
    """The ID after the highest taken ID with this prefix."""
    highest = 0
    lead = prefix + "-"
    for rid in taken:
        if rid.startswith(lead) and is_record_id(rid):
            highest = max(highest, number_of(rid))
    return format_id(prefix, highest + 1)
