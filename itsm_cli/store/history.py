"""The desk's history as git holds it: one streaming ``git log`` pass plus one ``git cat-file`` session.

:class:`Trail` runs ``git log --raw`` over the record folders and ``itsm.yaml``
(oldest first, every parent of a merge followed) and reads the versions of
the changed files through the work tree's ``git cat-file`` session
(:class:`itsm_cli.store.gitstore.ObjectReader`), a window of commits at a
time. Never a process per commit or per file, so the cost is one walk of the
history whatever its length, and memory stays flat: commits
are yielded as they are read, and parsed versions are kept in a small cache.

Versions parse lazily and cheaply: most commits append entries to the end of
a history, which :meth:`BlobVersion.appended_to` sees as a text prefix, so
only the new entries are parsed; anything else falls back to parsing the
history block, then the whole file, with the strict loader.

:func:`ensure_commit_graph` keeps ``git log -- PATH`` fast on long histories
(see its docstring).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsm_cli.errors import EnvironmentProblem, InvalidRecord
from itsm_cli.store.desk import CONFIG_FILE, kind_of_path, parse_record
from itsm_cli.store.file_text import decode, resolve_plain
from itsm_cli.store.gitstore import Git, ObjectReader

if TYPE_CHECKING:
    from itsm_cli.core.audit import CommitInfo
    from itsm_cli.core.signing import Signature
    from itsm_cli.store.gitprocess import LineStream

# core.audit and core.signing are imported where used: a first `itsm history` starts git's walk before it needs
# them, and their import (7 ms) runs while git walks.

__all__ = ["COMMIT_GRAPH_STALE", "BlobVersion", "Trail", "ensure_commit_graph"]

#: Add to the commit-graph when this many commits are not in it yet. On a big desk each
#: commit outside the graph costs ``git log -- PATH`` a diff of two large trees (6 ms at
#: 100,000 records) on every call, and adding it costs about that once.
COMMIT_GRAPH_STALE = 16
_MARKER = "itsm-commit-graph"
_ZERO = "0" * 40
_SEP = "\x1e"
_LOG_FORMAT = "%x1e" + "%x00".join([
    "%H", "%an", "%ae", "%aI", "%cI", "{sig}", "%P", "%s",
    "%(trailers:key=Itsm-Id,valueonly,separator=%x2C)",
    "%(trailers:key=Itsm-Action,valueonly,separator=%x2C)",
    "%(trailers:key=Itsm-Rule,valueonly,separator=%x2C)",
    "%cn", "%ce", "{sigx}",
])
_FIELDS = 17
# git's key, fingerprint, primary key fingerprint and signer (each runs the verification, as %G? does).
_SIG_FIELDS = "%GK%x00%GF%x00%GP%x00%GS"
_WINDOW = 256  # commits resolved per cat-file round trip
_CACHE = 4096  # parsed versions kept
# The history key at the top level, and where its block ends: the next top-level key or a '---' fence.
_HISTORY_KEY = re.compile(r"history:[ \t]*(?:#.*)?\n")
_BLOCK_END = re.compile(r"\n(?:---|[^ \t\-#\n])")
_FIRST_LINE = re.compile(r"( *- )")  # the block's first line must start its first item
# The fast reader of history entries (_fast_entries) takes a block only when every line is a "key: value" or
# "key:" line at one of the indents itsm writes, and each value a one-line scalar that YAML reads as the
# reader does: plain (no '#' or ':', no space at either end) or single-quoted, printable characters only
# (no control character, and none of the line breaks only YAML 1.1 knows), keys that are not null or booleans.
# Printable beyond ASCII is everything from \xa0 up but the line and paragraph separators, the surrogates and
# \ufffe-\uffff; the classes below are written as what they leave out, which is the same set of characters
# (tests/store/test_history_parsing.py checks every code point) and compiles ten times faster (4.5 ms a class
# spelled as ranges up to \U0010ffff, paid by every history and audit).
_NOT_WIDE = r"\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff"
_QUOTED_CHAR = rf"[^\x00-\x1f\x27{_NOT_WIDE}]"  # printable, but not a quote
_PLAIN_CHAR = rf"[^\x00-\x1f\x23\x3a{_NOT_WIDE}]"  # printable, but not '#' or ':'
_PLAIN_END = rf"[^\x00-\x20\x23\x3a{_NOT_WIDE}]"  # the same, and not a space
_TOKEN = re.compile(
    r"^( *(?:- )?)"  # the indent, and the item marker
    r"((?!(?:null|true|false):)[a-z_][a-z0-9_]*):"
    rf"(?: ('{_QUOTED_CHAR}*(?:''{_QUOTED_CHAR}*)*'"  # single-quoted, '' for a quote
    rf"|[A-Za-z0-9_.+/(](?:{_PLAIN_CHAR}*{_PLAIN_END})?))?$",  # plain
    re.M,
)
_BLANK_LINES = re.compile(r"\n\n+")
_RESOLVE_FIRST = frozenset("0123456789+-~nNtTfF")  # how every number, null and boolean starts
_LEVELS: dict[str, dict[str, int]] = {}  # per item marker: what each indent is


def ensure_commit_graph(
    git: Git, stale_after: int = COMMIT_GRAPH_STALE, changed_paths: bool = True, background: bool = False
) -> bool:
    """Write git's commit-graph (with changed-path Bloom filters) when it is missing or stale; True if written.

    ``git log -- PATH`` on a long history is fast only with a commit-graph
    holding changed-path filters. Writing one after every itsm commit would cost
    more than it saves, so the reading commands call this instead: one
    ``git rev-parse`` when nothing changed; when HEAD moved, one
    ``git rev-list --count`` since the last write; and a rewrite
    (``git commit-graph write --reachable --changed-paths``, incremental with
    ``--split`` once one exists) only when ``stale_after`` commits are missing.
    The last written HEAD is remembered in ``.git/itsm-commit-graph``. With
    ``changed_paths`` false (the commit index answers path questions; the graph
    only speeds up walks) a new graph gets no filters, which takes seconds, not
    minutes; git keeps the filters of a graph that has them. Set
    ``ITSM_COMMIT_GRAPH=0`` to leave the commit-graph alone. Failures are ignored:
    the graph only makes things faster. With ``background``, git writes it in a
    detached process (as ``git maintenance --auto`` does) and this returns at
    once: the caller walks without it this time.
    """
    if os.environ.get("ITSM_COMMIT_GRAPH") == "0":
        return False
    out = git.run("rev-parse", "--git-common-dir", "--verify", "-q", "HEAD", check=False).split()
    if len(out) != 2:
        return False  # not a repository, or no commits yet
    common, head = out
    common_dir = git.root / common
    marker = common_dir / _MARKER
    graph = common_dir / "objects" / "info"
    has_graph = (graph / "commit-graph").is_file() or (graph / "commit-graphs" / "commit-graph-chain").is_file()
    last = ""
    with contextlib.suppress(OSError):
        last = marker.read_text(encoding="ascii").strip()
    if has_graph and last == head:
        return False
    split: list[str] = []
    if has_graph and re.fullmatch(r"[0-9a-f]{40,64}", last):
        count = git.run("rev-list", "--count", f"{last}..{head}", check=False).strip()
        if count.isdigit():
            if int(count) < stale_after:
                return False
            split = ["--split"]
    elif has_graph and (_has_changed_paths(graph) or not changed_paths):
        split = ["--split"]  # written by someone else (git gc, a clone's host) with filters: add to it
    args = ["commit-graph", "write", "--reachable", *(["--changed-paths"] if changed_paths else []), *split]
    if background:
        # git goes on alone (no pipe of ours held), then notes the HEAD it covered.
        git.run_detached(*args, "--no-progress", done=(marker, head))
        return False
    # The first write on a long history takes a while (a minute for 100,000 commits): say so on a terminal.
    shown = sys.stderr.isatty()
    if shown and not split and changed_paths:
        print("itsm: indexing the history for fast lookups (once; git commit-graph)...", file=sys.stderr, flush=True)
    if git.run_shown(*args, "--progress" if shown else "--no-progress", shown=shown) != 0:
        return False
    with contextlib.suppress(OSError):
        marker.write_text(head + "\n", encoding="ascii")
    return True


def _has_changed_paths(info: Path) -> bool:
    """True when every commit-graph file under ``objects/info`` holds changed-path filters (a BIDX chunk)."""
    files = [info / "commit-graph"] if (info / "commit-graph").is_file() else []
    chain = info / "commit-graphs" / "commit-graph-chain"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        files += [info / "commit-graphs" / f"graph-{h.strip()}.graph" for h in chain.read_text("ascii").split() if h.strip()]
    if not files:
        return False
    for path in files:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
                if len(head) < 8 or head[:4] != b"CGPH":
                    return False
                table = f.read(12 * (head[6] + 1))  # chunk IDs (4 bytes) and offsets (8 bytes)
        except OSError:
            return False
        if not any(table[i:i + 4] == b"BIDX" for i in range(0, len(table), 12)):
            return False
    return True


def _utc(text: str) -> str:
    if text.endswith("+00:00") and len(text) == 25:
        return text[:19] + "Z"
    try:
        return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return text


class BlobVersion:
    """One version of a record file, parsed on demand (implements :class:`itsm_cli.core.audit.Version`)."""

    __slots__ = ("_block", "_error", "_history", "_record", "blob", "kind", "path", "text")

    def __init__(self, blob: str, path: str, kind: str, raw: bytes):
        self.blob = blob
        self.path = path
        self.kind = kind
        self._error: InvalidRecord | None = None
        try:
            self.text = decode(raw, path)
        except InvalidRecord as e:
            self.text, self._error = "", e
        self._block: tuple[str, str] | bool | None = False  # (item marker, block text); None: no block
        self._history: list[dict[str, Any]] | None = None
        self._record: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"BlobVersion({self.path!r}, {self.blob[:10]})"

    def block(self) -> tuple[str, str] | None:
        """(item marker such as ``'  - '``, text) of the top-level ``history:`` block list, or None."""
        if self._block is False:
            self._block = None
            text = self.text
            key = 0 if text.startswith("history:") else text.find("\nhistory:") + 1
            start = _HISTORY_KEY.match(text, key) if key or text.startswith("history:") else None
            if start is not None:
                first = _FIRST_LINE.match(text, start.end())
                if first is not None:
                    end = _BLOCK_END.search(text, start.end())
                    self._block = (first.group(1), text[start.end(): end.start() + 1 if end else len(text)])
        return self._block  # type: ignore[return-value]

    def history(self) -> list[dict[str, Any]]:
        """The history entries (InvalidRecord when the file cannot be parsed)."""
        if self._history is None:
            block = self.block()
            entries = None
            if block is not None:
                with contextlib.suppress(InvalidRecord):
                    entries = parse_entries(block[1], block[0], self.path)
            if entries is None:
                value = self.record().get("history")
                entries = value if isinstance(value, list) else []
            self._history = entries
        return self._history

    def record(self) -> dict[str, Any]:
        """The whole record, or the configuration mapping for ``itsm.yaml``."""
        if self._error is not None:
            raise self._error
        if self._record is None:
            raw = self.text.encode("utf-8")
            from itsm_cli.core.audit import CONFIG_KIND

            if self.kind == CONFIG_KIND:
                from itsm_cli.store import yaml_io  # here: most history is read without PyYAML

                self._record = yaml_io.load_mapping(raw, self.path)
            else:
                self._record = parse_record(raw, self.path, self.kind).data
        return self._record

    def appended_to(self, old: Any) -> list[dict[str, Any]] | None:
        """Entries after ``old``'s history when ``old``'s history block is, as text, the start of this one."""
        if not isinstance(old, BlobVersion):
            return None
        mine, theirs = self.block(), old.block()
        if mine is None or theirs is None or mine[0] != theirs[0]:
            return None
        new_text, old_text = mine[1], theirs[1]
        if not new_text.startswith(old_text) or not old_text.endswith("\n"):
            return None
        rest = new_text[len(old_text):]
        if not rest.strip():
            return []
        if not rest.startswith(mine[0]):
            return None
        try:
            return parse_entries(rest, mine[0], self.path)
        except InvalidRecord:
            return None


def parse_entries(block: str, marker: str, path: str) -> list[dict[str, Any]] | None:
    """Parse the items of a history block list (``marker`` is how each item starts, e.g. ``'  - '``).

    Entries as itsm writes them (one ``key: scalar`` per line, plain or
    single-quoted) are read line by line, which is what keeps a pass over a
    long history quick; anything else goes to the strict YAML loader.
    """
    fast = _fast_entries(block, marker)
    if fast is not None:
        return fast
    # Item by item: the loader reads only the items the line reader cannot (a link's nested list).
    entries: list[dict[str, Any]] = []
    for item in _items(block, marker):
        one = _fast_entries(item, marker)
        if one is None or len(one) != 1:
            from itsm_cli.store import yaml_io

            data = yaml_io.loads("history:\n" + item, path)
            one = data.get("history") if isinstance(data, dict) else None
            if not isinstance(one, list):
                return None
        entries.extend(one)
    return entries


def _items(block: str, marker: str) -> list[str]:
    """The text of each item of a block list (a line starting with ``marker`` starts an item)."""
    starts = [0] if block.startswith(marker) else []
    at = block.find("\n" + marker)
    while at != -1:
        starts.append(at + 1)
        at = block.find("\n" + marker, at + 1)
    if not starts or starts[0] != 0:
        return [block]  # text before the first item: let the loader judge the whole block
    return [block[a:b] for a, b in zip(starts, [*starts[1:], len(block)])]


def _levels(marker: str) -> dict[str, int]:
    """What each indent of a block whose items start with ``marker`` is, 1 to 5 (see :func:`_fast_entries`)."""
    found = _LEVELS.get(marker)
    if found is None:
        inner = " " * len(marker)  # an entry's further keys
        nested = inner + "  "  # the keys of a mapping an entry's "key:" opens
        item = nested + "  - "  # an item of a list a nested "key:" opens (a link's)
        item_inner = nested + "    "  # that item's further keys
        found = _LEVELS[marker] = {marker: 1, inner: 2, nested: 3, item: 4, item_inner: 5}
    return found


def _fast_entries(block: str, marker: str) -> list[dict[str, Any]] | None:
    """The entries of a block as itsm writes them, read in one pass of a regular expression; None for anything else.

    Anything else (a comment, a multi-line or double-quoted scalar, a flow
    collection, another indent, a duplicate key, a "key:" with nothing under it)
    is left to the strict loader, so the result is always what it would say.
    """
    levels = _levels(marker)
    if "\n\n" in block:
        block = _BLANK_LINES.sub("\n", block)  # blank lines mean nothing between one-line scalars
    tokens = _TOKEN.findall(block)
    if len(tokens) != block.count("\n") + (not block.endswith("\n")):
        return None  # a line the pattern does not take
    entries: list[dict[str, Any]] = []
    entry = target = item = None  # the entry, the mapping its "key:" opened, the list item being read
    items: list[dict[str, Any]] | None = None  # the list a nested "key:" opened
    expect = 0  # after a "key:", the level of the line that must follow
    for lead, key, value in tokens:
        level = levels.get(lead)
        if level is None:
            return None  # an indent itsm does not write
        if expect and level != expect:
            return None
        expect = 0
        if level == 1:
            entry, target, items, item = {}, None, None, None
            entries.append(entry)
            into = entry
        elif level == 2:
            if entry is None:
                return None
            into, target, items, item = entry, None, None, None
        elif level == 3:
            if target is None:
                return None
            into, items, item = target, None, None
        elif level == 4:
            if items is None:
                return None
            item = {}
            items.append(item)
            into = item
        else:
            if item is None:
                return None
            into = item
        if key in into:
            return None  # YAML refuses a duplicate key
        if not value:  # "key:" opens a mapping (an entry's key) or a list of mappings (a nested key)
            if level <= 2:
                target = into[key] = {}
                expect = 3
            elif level == 3:
                items = into[key] = []
                expect = 4
            else:
                return None
        elif value[0] == "'":
            into[key] = value[1:-1].replace("''", "'")
        elif value[0] in _RESOLVE_FIRST:
            into[key] = resolve_plain(value)
        else:
            into[key] = value
    return None if expect else entries


@dataclass
class _RawCommit:
    fields: list[str]
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (old sha, new sha, status, path)
    paths: dict[str, None] = field(default_factory=dict)  # an ordered set: a bulk commit has thousands


class Trail:
    """Commits that changed records, oldest first, each with its files' versions before and after.

    ``paths`` limits the walk (default: the whole desk; every file is read
    relative to the desk, which may be a folder of a larger repository);
    ``since``/``until`` (``...Z``) skip commits whose commit date is outside
    ``[since, until)`` before their files are read (git's own ``--since`` stops at
    the first old commit, which misses commits behind a skewed clock);
    ``signatures`` asks git for ``%G?`` and the key (``%GK``, ``%GF``, ``%GP``,
    ``%GS``), which runs gpg or ssh-keygen on signed commits, so only when
    signatures matter; SSH signatures are checked against ``allowed_signers``
    (the text of git's allowed-signers file, built from the desk's keys), never
    against whatever the clone's git config names, so an auditor's fresh clone
    needs no set-up. ``newest_first`` streams in git's own order: with a
    path limit (a desk in a folder of a larger repository), oldest first makes
    git simplify the whole history before it prints the first commit (24 s at
    100,000 commits), so nothing overlaps with that walk. ``commits`` names the
    very commits to show, in that order, instead of walking from ``rev``; with
    ``changes`` (commit ID -> ``(old blob, new blob, status, path)`` of the
    files it changed, as :mod:`itsm_cli.store.commit_index` keeps them) git
    only reads those commits and diffs no trees.
    """

    def __init__(
        self,
        git: Git,
        paths: Sequence[str] = (),
        *,
        rev: str = "HEAD",
        since: str | None = None,
        until: str | None = None,
        signatures: bool = False,
        allowed_signers: str = "",
        signature_cache: Path | None = None,
        newest_first: bool = False,
        commits: Sequence[str] | None = None,
        changes: Mapping[str, Sequence[tuple[str, str, str, str]]] | None = None,
    ):
        self.git = git
        self.only = list(commits) if commits is not None else None
        self.changes = changes if commits is not None else None
        self.newest_first = newest_first
        self.paths = tuple(paths)
        self.rev = rev
        self.since = since
        self.until = until
        self.signatures = signatures
        self.allowed_signers = allowed_signers
        self.signature_cache = signature_cache
        # With a cache, the main pass reads no signatures: those the cache lacks are asked for per window.
        self._inline = signatures and signature_cache is None
        self._signers_file: str | None = None
        self._stream: LineStream | None = None  # a walk start() began
        self._cache: OrderedDict[tuple[str, str], BlobVersion] = OrderedDict()

    def _log_args(self) -> list[str]:
        args = [
            "-c", "core.quotePath=false", "-c", "log.showRoot=true", "-c", "log.follow=false",
            "log", *([] if self.newest_first else ["--reverse"]), "--date-order", "--full-history", "--diff-merges=separate", "--raw",
            "--relative", "--no-abbrev", "--no-renames", "--no-color", "--no-show-signature",
            "--format=" + _LOG_FORMAT.replace("{sig}", "%G?" if self._inline else "")
            .replace("{sigx}", _SIG_FIELDS if self._inline else "%x00%x00%x00"),
        ]
        if self._inline:
            # Always name a file: without one git 2.39 aborts on the first SSH signature (a BUG() in
            # gpg-interface.c), and another clone's file would make "good" mean something else.
            args = ["-c", f"gpg.ssh.allowedSignersFile={self._signers_file}", *args]
        if self.changes is not None:  # their changes are known: no diff, no path limit (git would diff to apply it)
            return [*[a for a in args if a != "--raw"], "--no-patch", "--no-walk=unsorted", "--stdin"]
        if self.only is not None:  # exactly these commits, as given: their IDs come on stdin
            return [*args, "--no-walk=unsorted", "--stdin", "--", *self.paths]
        return [*args, self.rev, "--", *self.paths]

    def start(self) -> Trail:
        """Start git's walk now, for :meth:`commits` to read: what the caller does meanwhile overlaps with git.

        Only a walk of ``paths`` from ``rev`` starts early (given commits are
        fed to git as they are read). If ``rev`` names no commit, commits() says
        so as it always does, and ends git. :meth:`close` ends a walk never read.
        """
        if self._stream is None and self.only is None and self.paths:
            self._stream = self._spawn()
        return self

    def close(self) -> None:
        """End a walk :meth:`start` began that is not going to be read."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()
        self._forget_signers()

    def _spawn(self) -> LineStream:
        if self.signatures and self._signers_file is None:
            import tempfile

            fd, self._signers_file = tempfile.mkstemp(prefix="itsm-allowed-signers-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.allowed_signers)
        return self.git.stream(*self._log_args(), what="git log", stdin=self.only)

    def _forget_signers(self) -> None:
        signers, self._signers_file = self._signers_file, None
        if signers is not None:
            with contextlib.suppress(OSError):
                os.unlink(signers)

    def commits(self) -> Iterator[CommitInfo]:
        """Stream the commits; EnvironmentProblem if git fails."""
        lines, self._stream = self._stream, None
        try:
            if self.changes is not None:
                # Commits given with what they changed (found in this repository): git only shows them, with no
                # walk and no path limit, so there is no revision or folder to check (a process saved per stretch).
                if not self.only:
                    return  # (git log given no commit would show HEAD)
            else:
                found = self.git.run("rev-parse", "--show-prefix", "--verify", "-q", f"{self.rev}^{{commit}}",
                                     check=False).split("\n")
                if len(found) < 2 or not found[1].strip():
                    if not self.git.run("rev-parse", "--git-dir", check=False).strip():
                        raise EnvironmentProblem(
                            f"the desk is not in a git repository, so it has no history: {self.git.root}")
                    if self.rev == "HEAD":
                        return  # a repository without commits has no history
                    raise EnvironmentProblem(f"unknown revision '{self.rev}'")
                if found[0] and not self.paths:
                    self.paths = (".",)  # the desk is a folder of a larger repository: only its commits
            if lines is None:
                lines = self._spawn()
            yield from self._read(lines)
        finally:
            if lines is not None:
                lines.close()  # stopped early: git is ended here, not whenever the generator is collected
            self._forget_signers()

    def _read(self, lines: Iterable[bytes]) -> Iterator[CommitInfo]:
        from itsm_cli.core.audit import in_period

        reader = self.git.objects
        reasons = _SignatureReasons(self.git) if self.signatures else None
        known = _SignatureCache(self.signature_cache) if self.signatures and self.signature_cache else None
        try:
            window: list[_RawCommit] = []
            for raw in _parse_log(lines):
                if self.changes is not None:
                    raw.changes = list(self.changes.get(raw.fields[0], ()))
                    raw.paths = dict.fromkeys(c[3] for c in raw.changes)
                if (self.since or self.until) and not in_period(_utc(raw.fields[4]), self.since, self.until):
                    continue
                window.append(raw)
                if len(window) >= _WINDOW:
                    if known is not None:
                        self._sign(window, known)
                    yield from self._resolve(window, reader, reasons)
                    window = []
            if known is not None:
                self._sign(window, known)
            yield from self._resolve(window, reader, reasons)
        finally:
            if known is not None:
                known.close()

    def _sign(self, window: list[_RawCommit], known: _SignatureCache) -> None:
        """Fill in the window's signatures: from the cache, and the rest from one ``git log`` over just those."""
        missing = []
        for raw in window:
            found = known.get(raw.fields[0])
            if found is None:
                missing.append(raw)
            else:
                raw.fields[5], raw.fields[13:17] = found[0], found[1:]
        if not missing:
            return
        args = ["-c", f"gpg.ssh.allowedSignersFile={self._signers_file}", "log", "--no-walk=unsorted", "--stdin",
                "--no-show-signature", "--format=%H%x00%G?%x00" + _SIG_FIELDS]
        answers: dict[str, list[str]] = {}
        for line in self.git.stream(*args, what="git log (signatures)", stdin=[raw.fields[0] for raw in missing]):
            parts = line.decode("utf-8", "replace").rstrip("\n").split("\0")
            if len(parts) == 6:
                answers[parts[0]] = parts[1:]
        for raw in missing:
            got = answers.get(raw.fields[0])
            if got is None:
                continue
            raw.fields[5], raw.fields[13:17] = got[0], got[1:]
            known.add(raw.fields[0], got)

    def _remember(self, blob: str, path: str, raw: bytes) -> BlobVersion | None:
        kind = _kind(path)
        if kind is None:
            return None
        version = self._cache.get((blob, path))
        if version is None:
            version = self._cache[(blob, path)] = BlobVersion(blob, path, kind, raw)
            if len(self._cache) > _CACHE:
                self._cache.popitem(last=False)
        return version

    def _resolve(
        self, window: list[_RawCommit], reader: ObjectReader, reasons: _SignatureReasons | None = None
    ) -> Iterator[CommitInfo]:
        """Fetch every version the window's commits need (one batch), then yield the commits."""
        from itsm_cli.core.audit import CommitInfo, FileChange
        from itsm_cli.core.signing import Signature

        names: list[str] = []
        wanted: dict[tuple[str, str], int] = {}
        local: dict[tuple[str, str], BlobVersion | None] = {}

        def want(name: str, path: str) -> None:
            key = (name, path)
            if key in local or key in wanted:
                return
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                local[key] = cached
            else:
                wanted[key] = len(names)
                names.append(name)

        for raw in window:
            parents = raw.fields[6].split()
            if len(parents) > 1:
                for path in raw.paths:
                    if _kind(path) is not None:
                        for rev in (raw.fields[0], *parents):
                            want(f"{rev}:./{path}", path)
            else:
                for old, new, _, path in raw.changes:
                    if _kind(path) is not None:
                        for sha in (old, new):
                            if sha != _ZERO:
                                want(sha, path)
        fetched = reader.blobs(names) if names else []
        for (name, path), index in wanted.items():
            got = fetched[index]
            local[(name, path)] = self._remember(got[0], path, got[1]) if got is not None else None

        for raw in window:
            f = raw.fields
            parents = tuple(f[6].split())
            sig = Signature(f[5], f[13], f[14], f[15], f[16])
            if reasons is not None and sig.status in ("B", "E"):
                sig = reasons.explain(f[0], sig)
            info = CommitInfo(
                sha=f[0], author_name=f[1], author_email=f[2], author_date=_utc(f[3]), commit_date=_utc(f[4]),
                signature=sig, parents=parents, subject=f[7],
                ids=tuple(x.strip() for x in f[8].split(",") if x.strip()),
                action=(f[9].split(",")[-1].strip() or None),
                rules=tuple(x.strip() for x in f[10].split(",") if x.strip()),
                committer_name=f[11], committer_email=f[12],
            )
            if len(parents) > 1:
                for path in raw.paths:
                    kind = _kind(path)
                    if kind is None:
                        continue
                    new = local.get((f"{f[0]}:./{path}", path))
                    olds = tuple(local.get((f"{p}:./{path}", path)) for p in parents)
                    if any(o is None or new is None or o.blob != new.blob for o in olds):
                        info.files.append(FileChange(path, _record_id(path), kind, olds, new))
            else:
                for old, new_sha, _, path in raw.changes:
                    kind = _kind(path)
                    if kind is None:
                        continue
                    before = local.get((old, path)) if old != _ZERO else None
                    after = local.get((new_sha, path)) if new_sha != _ZERO else None
                    info.files.append(FileChange(path, _record_id(path), kind, (before,), after))
            yield info


class _SignatureCache:
    """git's verdict on each commit's signature, kept in a file (a commit and the allowed signers never change).

    One line per commit: the commit ID and git's ``%G?``, ``%GK``, ``%GF``,
    ``%GP``, ``%GS``, tab-separated. The file's name carries a fingerprint of the
    allowed-signers list, so a change of keys starts a new one. Verdicts that
    depend on this machine (B: maybe no ssh-keygen here; E: a key not in the
    keyring) are not kept. Lines are appended when the walk ends; a damaged
    line is skipped, so its commit is simply checked again.
    """

    def __init__(self, path: Path):
        self.path = path
        self.known: dict[str, list[str]] = {}
        self.new: list[str] = []
        with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 6 and line.endswith("\n"):
                    self.known[parts[0]] = parts[1:]

    def get(self, sha: str) -> list[str] | None:
        """The cached verdict of a commit, or None."""
        return self.known.get(sha)

    def add(self, sha: str, verdict: list[str]) -> None:
        """Remember a verdict (those this machine may judge differently later are not kept)."""
        if verdict[0] in ("B", "E") or any("\t" in v or "\n" in v for v in verdict):
            return
        self.known[sha] = verdict
        self.new.append("\t".join([sha, *verdict]) + "\n")

    def close(self) -> None:
        """Append what was learned (a failure only costs the next run the checks again)."""
        if not self.new:
            return
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write("".join(self.new))
        self.new = []


class _SignatureReasons:
    """Why git could not check a signature (it says only B or E): the program is missing, or the key is.

    Asked only for commits whose signature git could not verify, which are
    rare: one ``git cat-file`` each to see what kind of signature it is.
    """

    def __init__(self, git: Git):
        self.git = git
        self._programs: dict[str, str | None] = {}

    def _missing(self, kind: str) -> str | None:
        """The configured program for ``kind`` (ssh or openpgp) when it cannot be found on this machine."""
        if kind not in self._programs:
            import shutil

            key, default = ("gpg.ssh.program", "ssh-keygen") if kind == "ssh" else ("gpg.program", "gpg")
            program = self.git.config_value(key) or default
            self._programs[kind] = None if shutil.which(program) else program
        return self._programs[kind]

    def explain(self, sha: str, sig: Signature) -> Signature:
        """``sig`` with a reason when this machine could not check it; unchanged for a plainly bad signature."""
        from dataclasses import replace

        header = self.git.run("cat-file", "commit", sha, check=False)
        kind = "ssh" if "-----BEGIN SSH SIGNATURE-----" in header.split("\n\n", 1)[0] else "openpgp"
        missing = self._missing(kind)
        if missing:
            return replace(sig, reason=f"{missing} is not installed on this machine (or not on PATH)")
        if sig.status == "E":
            what = f"GPG key {sig.key}" if sig.key else "the signing key"
            return replace(sig, reason=f"{what} is not in this machine's GPG keyring (gpg --import it)")
        return sig


@functools.lru_cache(maxsize=1 << 16)  # asked three times for each file a commit changed
def _kind(path: str) -> str | None:
    from itsm_cli.core.audit import CONFIG_KIND

    return CONFIG_KIND if path == CONFIG_FILE else kind_of_path(path)


def _record_id(path: str) -> str:
    return path if path == CONFIG_FILE else path.rpartition("/")[2].rpartition(".")[0]


def _parse_log(stream: Iterable[bytes]) -> Iterator[_RawCommit]:
    """Commits from ``git log --format=<sentinel>... --raw``; a merge's per-parent diffs are joined into one."""
    current: _RawCommit | None = None
    for line in stream:
        text = line.decode("utf-8", "replace").rstrip("\n")
        if text.startswith(_SEP):
            fields = text[1:].split("\0")
            if len(fields) < _FIELDS:
                fields += [""] * (_FIELDS - len(fields))
            if current is not None and current.fields[0] == fields[0]:
                continue  # the same merge, diffed against its next parent
            if current is not None:
                yield current
            current = _RawCommit(fields)
        elif text.startswith(":") and current is not None:
            meta, _, path = text.partition("\t")
            parts = meta.split()
            if len(parts) < 5 or path.startswith('"'):
                continue  # git quoted a path with control characters: not a record file
            current.paths[path] = None
            current.changes.append((parts[2], parts[3], parts[4], path))
    if current is not None:
        yield current
