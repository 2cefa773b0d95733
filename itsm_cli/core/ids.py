"""Record IDs: what a valid one looks like, and how the next one is chosen.

IDs are checked with ``fullmatch`` (``re.match`` accepts a trailing newline)
before they are ever used to build a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from itsm_cli.errors import BadArgument

RECORD_ID = re.compile(r"[A-Z]{2,5}-[0-9]{1,9}")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ID_WIDTH = 4


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


def number_of(record_id: str) -> int:
    """The numeric part of ``INC-0042`` (42)."""
    return int(record_id.rpartition("-")[2])


def format_id(prefix: str, number: int) -> str:
    """``format_id("INC", 42)`` -> ``INC-0042``."""
    return f"{prefix}-{number:0{ID_WIDTH}d}"


def highest_number_in_tree(prefix: str, tree: bytes) -> int:
    """The highest number of a ``PREFIX-NNNN.ext`` file in a raw git tree object, else 0.

    A match found by chance inside an object ID or a longer name could only
    make the next ID skip numbers, never reuse one.
    """
    # Led by a literal (the space after the mode), so the regex engine can search for it.
    pattern = re.compile(rb" " + re.escape(prefix.encode()) + rb"-([0-9]{1,9})\.[a-z]+\x00")
    return max(map(int, pattern.findall(tree)), default=0)


def next_id(prefix: str, taken: Iterable[str]) -> str:
    """The ID after the highest taken ID with this prefix."""
    highest = 0
    lead = prefix + "-"
    for rid in taken:
        if rid.startswith(lead) and is_record_id(rid):
            highest = max(highest, number_of(rid))
    return format_id(prefix, highest + 1)
