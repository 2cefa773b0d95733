"""What every reader of a desk file applies besides the YAML parser: no PyYAML needed to import it.

The size limit, strict UTF-8 decoding, itsm's rules for plain scalars and the
front-matter fences of a KB article. :mod:`itsm_cli.store.yaml_io` applies them
around libyaml; the history reader and the parsed-file memo use them without
loading PyYAML at all (importing it is 12 ms, much of a short command).
"""

from __future__ import annotations

import math
import re
from typing import Any

from itsm_cli.errors import InvalidRecord

__all__ = ["MAX_BYTES", "MAX_NUMBER_CHARS", "NUMBER_START", "PLAIN_WORDS", "decode", "resolve_plain",
           "split_front_matter"]

MAX_BYTES = 1_000_000  # the largest record, article or itsm.yaml itsm reads
MAX_NUMBER_CHARS = 100

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(0|[1-9][0-9]*)(\.[0-9]+)([eE][-+]?[0-9]+)?")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def resolve_plain(value: str) -> Any:
    """Resolve an unquoted scalar under itsm's narrowed YAML 1.2 core schema."""
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    c = value[0]
    if (c.isdigit() or c in "-+") and len(value) <= MAX_NUMBER_CHARS:
        # Longer numbers stay strings: int() refuses over 4,300 digits, and a
        # float like 1.0e999 would become inf, which neither JSON nor YAML can carry back.
        if _INT.fullmatch(value):
            return int(value)
        if _FLOAT.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return number
    return value


# resolve_plain returns any scalar unchanged unless it is one of these words or starts with one of
# these characters; the YAML loader skips the call for all others (keep the two in step).
PLAIN_WORDS = _NULLS | _TRUE | _FALSE
NUMBER_START = frozenset("0123456789+-")


def decode(data: bytes, path: str) -> str:
    """Check the size limit and decode strict UTF-8, or raise InvalidRecord."""
    if len(data) > MAX_BYTES:
        raise InvalidRecord(f"file is {len(data):,} bytes; the limit is {MAX_BYTES:,}", path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidRecord("the file is UTF-16; save it as UTF-8", path, 1, 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InvalidRecord(f"not valid UTF-8 (byte 0x{data[e.start]:02x})", path, line, col) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def split_front_matter(text: str, path: str) -> tuple[str, str, int]:
    """Split ``---``-fenced front matter from a Markdown body.

    Returns (front matter text, body, line number where the body starts).
    """
    # The opening fence's own line end is not part of the front matter: with a CRLF one, a stray
    # "\n" left in front of it put every position in the front matter, and the body, a line too low.
    if text.startswith("---\n"):
        start = 4
    elif text.startswith("---\r\n"):
        start = 5
    else:
        raise InvalidRecord("expected YAML front matter starting with '---'", path, 1, 1)
    end = re.search(r"^---[ \t]*\r?$", text[start:], flags=re.M)
    if end is None:
        raise InvalidRecord("front matter is not closed with '---'", path, 1, 1)
    front = text[start : start + end.start()]
    rest = text[start + end.end() :]
    if rest.startswith("\r\n"):
        rest = rest[2:]
    elif rest.startswith("\n"):
        rest = rest[1:]
    body_line = front.count("\n") + 3
    return front, rest, body_line
