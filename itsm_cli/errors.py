"""The error types of itsm, one per kind of failure, each with its exit code.

Every failure a user can cause is one of these; the CLI prints it as a single
``itsm: error: ...`` line and exits with :attr:`ItsmError.exit_code`.
"""

from __future__ import annotations


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
        return where + self.message


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
