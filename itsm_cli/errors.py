"""The error types of itsm, one per kind of failure, each with its exit code.

Every failure a user can cause is one of these; the CLI prints it as a single
``itsm: error: ...`` line and exits with :attr:`ItsmError.exit_code`.
"""

from __future__ import annotations

import functools
import re

MAX_MESSAGE = 1000


# Values in messages come from hostile files and arguments: a newline would
# break the one-line contract, and an escape sequence would reach the terminal.
# Compiled on first use (0.4 ms): every command imports this module, few print an error.
@functools.cache
def _unprintable() -> re.Pattern[str]:
    return re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` safe to print as one terminal line: control characters escaped, the middle of long text cut."""
    if not text.isprintable():  # every character the pattern escapes is one str.isprintable() refuses
        text = _unprintable().sub(
            lambda m: repr(m.group())[1:-1] if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)
    if len(text) > limit:
        keep = limit // 2
        text = f"{text[:keep]} ...[{len(text) - 2 * keep:,} characters cut]... {text[-keep:]}"
    return text


class ItsmError(Exception):
    """Base class: a failure with a one-line message and an exit code."""

    exit_code = 1

    def __init__(self, message: str, path: str | None = None, line: int | None = None, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.col = col

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
                if self.col is not None:
                    where += f":{self.col}"
            where += ": "
        return one_line(where + self.message)


class Refused(ItsmError):
    """The request was understood but refused (illegal move, unknown ID, separation of duties)."""

    exit_code = 1


class InvalidRecord(ItsmError):
    """A file is not a valid record: unsafe or malformed YAML, or it breaks the schema."""

    exit_code = 1


class BadArgument(ItsmError):
    """A usage error: a bad option value or a malformed argument."""

    exit_code = 2


class EnvironmentProblem(ItsmError):
    """The environment is wrong: not a desk, git failed, a file cannot be read."""

    exit_code = 3
