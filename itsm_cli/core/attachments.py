"""Files kept with a ticket: safe names, the size limit, and the history entry that records them.

A ticket's files live in ``attachments/<ID>/`` next to the records, committed
with the entry that adds them. Names come from people and from e-mail, so they
are reduced to a plain file name that cannot climb out of the folder, hide
itself, or carry terminal escapes. Nothing here touches the file system.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from itsm_cli.errors import Refused

if TYPE_CHECKING:  # `itsm show` lists attachments and needs neither records nor workflow (2.5 ms of imports)
    from itsm_cli.core.config import Config
    from itsm_cli.core.workflow import ApprovalPolicy

FOLDER = "attachments"
DEFAULT_MAX_BYTES = 10_000_000
_MAX_NAME = 100
# Names Windows will not open as files, whatever the extension.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))}


def max_bytes(config: Config) -> int:
    """The desk's size limit for one attachment (``attachments.max_bytes``, default 10 MB)."""
    return int((config.data.get("attachments") or {}).get("max_bytes", DEFAULT_MAX_BYTES))


def safe_name(name: str | None, n: int = 1) -> str:
    """A plain, visible file name for ``name``: no folders, no leading dots, no control or odd characters.

    Letters, digits, ``.``, ``_`` and ``-`` are kept (accented letters lose
    their accents); runs of anything else become ``_``. An empty result is
    ``attachment-N``.
    """
    import unicodedata

    base = re.split(r"[\\/]", name or "")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("_").lstrip(".-_")
    base = re.sub(r"\.{2,}", ".", base).rstrip(".")
    if len(base) > _MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = stem[: _MAX_NAME - len(ext) - 1] + "." + ext if dot and len(ext) <= 10 else base[:_MAX_NAME]
    if base.split(".")[0].lower() in _RESERVED:
        base = "_" + base
    return base or f"attachment-{n}"


def unique_name(name: str, taken: Collection[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``... the first not in ``taken`` (compared without case)."""
    lower = {t.lower() for t in taken}
    if name.lower() not in lower:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 2
    while True:
        candidate = f"{stem}-{n}" + (f".{ext}" if ext else "")
        if candidate.lower() not in lower:
            return candidate
        n += 1


def content_type(name: str, declared: str | None = None) -> str:
    """The MIME type by the file's extension, else what the sender declared, else ``application/octet-stream``."""
    import mimetypes  # here, not at the top: `itsm show` lists attachments and needs none of it (8 ms)

    guessed = mimetypes.guess_type(name, strict=False)[0]
    return guessed or declared or "application/octet-stream"


def check_size(config: Config, name: str, size: int) -> None:
    """Refuse a file over the desk's limit, naming the setting and Git LFS."""
    limit = max_bytes(config)
    if size > limit:
        raise Refused(f"{name} is {size:,} bytes; this desk takes attachments up to {limit:,} bytes "
                      "(attachments.max_bytes in itsm.yaml; keep larger files in Git LFS, see the README)")


def attach(config: Config, record: dict[str, Any], files: list[tuple[str, bytes, str]], actor: str, now: str,
           policy: ApprovalPolicy | None, note: str | None = None) -> dict[str, Any]:
    """One ``attach`` entry per file (``(stored name, bytes, content type)``): name, type, size and SHA-256."""
    import hashlib

    from itsm_cli.core.records import _append, _entry

    new = record
    for name, data, ctype in files:
        check_size(config, name, len(data))
        info: Mapping[str, Any] = {"name": name, "content_type": ctype, "bytes": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
        new = _append(config, new, policy, _entry(now, actor, "attach", attachment=dict(info), note=note))
    return new


def listed(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The files a record's history says were attached, in order (``name``, ``content_type``, ``bytes``...)."""
    out = []
    for entry in record.get("history") or []:
        if isinstance(entry, dict) and entry.get("action") == "attach" and isinstance(entry.get("attachment"), dict):
            out.append({**entry["attachment"], "at": entry.get("at"), "by": entry.get("by")})
    return out
