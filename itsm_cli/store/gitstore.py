"""Git, through the ``git`` command (fast to start; GitPython is not needed on hot paths).

The package's one git boundary, with :mod:`itsm_cli.store.gitprocess` (which
starts the processes): nothing else runs git or reads its byte formats. Knows
commits with trailers, restoring the work tree and index when a commit fails,
the IDs present on every branch, objects read through one ``git cat-file``
session (:class:`ObjectReader`), names in raw trees (:func:`tree_names`), and
streaming ``git log`` (:meth:`Git.stream`).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from itsm_cli.errors import BadArgument, EnvironmentProblem
from itsm_cli.store import gitprocess
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.gitprocess import Started, clean_env, error_detail

# The names this module had before gitprocess held them (other modules imported them from here).
_clean_env, _detail = clean_env, error_detail

if TYPE_CHECKING:
    import subprocess

# Control characters, and the <> and newline that delimit an identity in a commit header.
_BAD_IDENT = re.compile(r"[\x00-\x1f\x7f-\x9f<>]")


def check_identity(name: str, email: str) -> None:
    """Refuse an author git would store with escape sequences (shown raw by ``git log``) or mangle."""
    for what, value in (("name", name), ("e-mail address", email)):
        if not value.strip() or _BAD_IDENT.search(value):
            raise BadArgument(f"{value!r} cannot be a commit author's {what} (empty, or control characters or <>)")


def tree_names(raw: bytes, name: str, *, subtrees: bool = False) -> list[str]:
    """The names in a raw tree object (as :meth:`Git.cat_trees` gives it) that match the regex ``name``.

    Of subtrees only with ``subtrees``. When ``name`` has a group, its text is
    given instead of the whole name (``INC-([0-9]+)\\.yaml`` gives the numbers).
    One regex search over the bytes, not a walk of the entries (a bucket of
    1,000 entries in a quarter of a millisecond); a match found by chance inside
    a binary object ID is possible, so callers use the names where one extra
    only costs a little (the highest number in use: an ID skipped, never reused).
    ``name`` must not match a NUL (it ends a name in a tree).
    """
    # Led by a literal (the space after the mode), so the regex engine can search for it.
    lead = rb"40000 " if subtrees else rb" "
    pattern = name.encode("utf-8")
    found = re.findall(lead + (b"(?:%s)" if re.compile(pattern).groups else b"(%s)") % pattern + rb"\x00", raw)
    return b"\0".join(found).decode("utf-8", "surrogateescape").split("\0") if found else []


# An index this big (about 40,000 records) is written split; see Git._split_index_option.
SPLIT_INDEX_FROM = 4 * 1024 * 1024
# A commit message's Itsm-Action trailer line (see Git.last_itsm_actions).
_ITSM_ACTION_LINE = re.compile(r"^Itsm-Action: (\S+)$", re.M)
# What Git.locations asks git rev-parse (see _read_locations).
_LOCATIONS_ASKED = ("rev-parse", "--absolute-git-dir", "--show-prefix", "--git-path", "hooks", "--git-path", "objects",
                    "--show-object-format")
_COMMIT_HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit")
# Commands that never write git's index (objects, refs and questions only): they run while an index update
# started early (Git.start_index_update) holds index.lock. Any other command ends that update first.
_INDEX_UNTOUCHED = frozenset({
    "hash-object", "commit-tree", "update-ref", "cat-file", "rev-parse", "config", "for-each-ref", "ls-files",
    "ls-tree", "rev-list", "log", "diff-tree", "show", "grep", "symbolic-ref", "show-ref", "merge-base", "var",
    "check-attr", "check-ignore", "verify-commit", "count-objects",
})
# Files in the git dir that say a merge-like operation waits for its commit.
_IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")


def _commit_env(author_name: str, author_email: str, has_identity: bool) -> dict[str, str]:
    """The environment of a commit authored by the acting person.

    git's own identity commits (the committer) where it has one, else the
    author; ``ITSM_NOW`` dates the commit, as it dates the entries.
    """
    env = {"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email}
    if not has_identity:
        env.update({"GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email})
    now = os.environ.get("ITSM_NOW")
    if now and "GIT_AUTHOR_DATE" not in os.environ:
        env["GIT_AUTHOR_DATE"] = now
        env.setdefault("GIT_COMMITTER_DATE", os.environ.get("GIT_COMMITTER_DATE", now))
    return env


def _config_key(key: str) -> str:
    """A config key as git compares them: section and name in any case, a subsection exactly."""
    section, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    return f"{section.lower()}.{middle}.{name.lower()}" if middle else f"{section.lower()}.{name.lower()}"


def _is_plain_file_path(root: Path, path: str) -> bool:
    """True for a relative path to a regular file or to nothing (not ``.``, a folder, a link)."""
    parts = path.split("/")
    if not path or "\n" in path or any(part in ("", ".", "..") for part in parts):
        return False
    try:
        return stat.S_ISREG(os.lstat(root / path).st_mode)
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _loose_compression(settings: dict[str, str]) -> int:
    """The zlib level git deflates a loose object at: ``core.looseCompression``, else ``core.compression``, else 1."""
    for key in ("core.loosecompression", "core.compression"):
        value = settings.get(key, "").strip()
        if value.lstrip("-").isdigit():
            level = int(value)
            return 6 if level == -1 else min(max(level, 0), 9)
    return 1


def _file_mode(path: Path) -> bytes:
    """The git mode of a regular file in the work tree."""
    return b"100755" if os.lstat(path).st_mode & 0o100 else b"100644"


def _collect(started: Started) -> None:
    """Wait for a git process started early whose answer was never asked for."""
    if started.returncode is None:
        with contextlib.suppress(OSError, ValueError):
            started.output()


class _SessionEnded(Exception):
    """The ``cat-file`` session ended before it answered."""


#: Requests written to ``cat-file`` before its answers are read, at most: far below a pipe's buffer (64 KB),
#: so writing never blocks while git waits for its answers to be taken.
_BATCH = 200
_BATCH_BYTES = 16 * 1024

#: git's cache of delta bases (``core.deltaBaseCacheLimit``) for a session that reads a whole history. A pack
#: stores most versions of a file as deltas against another version, in chains up to 50 long; read in history
#: order, the bases a 100,000-record desk's versions need do not fit git's default of 96 MiB, and each miss
#: inflates its chain again: 7.1 s of cat-file for the 182,000 versions of the benchmark desk, 3.3 s with this.
#: It is a ceiling, reached only by a long walk; a clone's own setting is kept.
HISTORY_DELTA_CACHE = "256m"


class ObjectReader:
    """One ``git cat-file --batch-command`` for the life of a :class:`Git`: objects read by name, one process.

    The one reader of cat-file's output in the package. A command that reads
    trees at several steps (the next free ID, then the commit's trees) pays for
    one git process instead of one per step, and a history walk asks for a
    window of versions per round trip (:meth:`read_many`). The session is
    closed when the :class:`Git` is dropped (or at exit); a process forked from
    this one starts its own rather than share the pipe. It runs in a process
    group of its own, so Ctrl-C at the terminal reaches itsm, which still needs
    it to put things back, and not the reader; if it dies anyway, the next read
    starts another.
    """

    def __init__(self, root: Path):
        self.root = root
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.delta_cache: str | None = None  # core.deltaBaseCacheLimit for sessions started from now on

    def for_history(self, git: Git) -> ObjectReader:
        """This reader, its sessions started from now on sized for reading a whole history (:data:`HISTORY_DELTA_CACHE`).

        Unless the clone sets ``core.deltaBaseCacheLimit`` itself (``git`` reads its config).
        """
        if self.delta_cache is None and git.config_value("core.deltaBaseCacheLimit") is None:
            self.delta_cache = HISTORY_DELTA_CACHE
        return self

    def start(self) -> None:
        """Start the session now (git loads its pack indexes meanwhile) rather than at the first read."""
        with self._lock:
            self._session()

    def _session(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._pid != os.getpid() or self._proc.poll() is not None:
            sized = ["-c", f"core.deltaBaseCacheLimit={self.delta_cache}"] if self.delta_cache else []
            proc = gitprocess.spawn(
                [*sized, "cat-file", "--batch-command=%(objectname) %(objecttype) %(objectsize)"], self.root,
                stdin=gitprocess.PIPE, stderr=gitprocess.DEVNULL,
                own_group=True,  # a reader holds no lock: Ctrl-C is itsm's to handle
            )
            weakref.finalize(self, gitprocess.end_session, proc)
            self._proc, self._pid = proc, os.getpid()
        return self._proc

    def read(self, spec: str, contents: bool = True) -> tuple[str, str, bytes] | None:
        """(object ID, type, bytes) of what ``spec`` names (``rev:path``, an ID...), None if nothing.

        With ``contents`` false the bytes are empty (git reads only the header).
        """
        return self.read_many([spec], contents)[0]

    def read_many(self, specs: Sequence[str], contents: bool = True) -> list[tuple[str, str, bytes] | None]:
        """:meth:`read` of each of ``specs``, in order, a batch of requests per round trip."""
        verb = b"contents " if contents else b"info "
        out: list[tuple[str, str, bytes] | None] = []
        batch: list[bytes | None] = []
        size = 0
        with self._lock:
            for spec in specs:
                # A line-based protocol: a name with a line break cannot be asked for (None).
                request = None if "\n" in spec or "\r" in spec else verb + spec.encode("utf-8", "surrogateescape") + b"\n"
                batch.append(request)
                size += len(request or b"")
                if len(batch) >= _BATCH or size >= _BATCH_BYTES:
                    out += self._ask_again(batch, contents)
                    batch, size = [], 0
            if batch:
                out += self._ask_again(batch, contents)
        return out

    def _ask_again(self, requests: list[bytes | None], contents: bool) -> list[tuple[str, str, bytes] | None]:
        """:meth:`_ask`, once more with a new session if the one it had ended under it (killed)."""
        try:
            return self._ask(requests, contents)
        except _SessionEnded:
            self._proc = None
            try:
                return self._ask(requests, contents)
            except _SessionEnded:
                self._proc = None
                raise EnvironmentProblem("git cat-file stopped answering") from None

    def _ask(self, requests: list[bytes | None], contents: bool) -> list[tuple[str, str, bytes] | None]:
        proc = self._session()
        stdout = proc.stdout
        assert stdout is not None
        answers: list[tuple[str, str, bytes] | None] = []
        try:
            try:
                proc.stdin.write(b"".join(r for r in requests if r is not None))  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError):
                raise _SessionEnded from None
            for request in requests:
                if request is None:
                    answers.append(None)
                    continue
                header = stdout.readline().split()
                if not header:
                    raise _SessionEnded
                if len(header) != 3 or not header[2].isdigit():
                    answers.append(None)  # "<spec> missing" / "ambiguous"
                    continue
                data = b""
                if contents:
                    size = int(header[2])
                    data = stdout.read(size + 1)[:size]
                    if len(data) != size:
                        raise _SessionEnded
                answers.append((header[0].decode("ascii"), header[1].decode("ascii"), data))
        except BaseException:
            # A half-read answer (Ctrl-C, a broken pipe) would shift every later one: start again.
            with contextlib.suppress(OSError):
                proc.kill()
            gitprocess.end_session(proc)
            self._proc = None
            raise
        return answers

    def blobs(self, specs: Sequence[str]) -> list[tuple[str, bytes] | None]:
        """(blob ID, bytes) of each of ``specs``, None where it names no blob (missing, or a tree)."""
        return [(found[0], found[2]) if found is not None and found[1] == "blob" else None
                for found in self.read_many(specs)]

    def close(self) -> None:
        """End the session now (a later read starts another)."""
        if self._proc is not None and self._pid == os.getpid():
            gitprocess.end_session(self._proc)
        self._proc = None


@dataclass
class Snapshot:
    """What a set of paths looked like before a change: file bytes and index entries."""

    files: dict[str, bytes | None]
    # "mode,sha" or None when not in the index; the whole map None when the index was not read, for
    # a commit by plumbing, which changes the index only as its last step (see Git.restore)
    index: dict[str, str | None] | None
    head: str | None = None  # the commit HEAD pointed at, to undo a commit that completed


class Git:
    """A git work tree."""

    def __init__(self, root: Path):
        self.root = root
        self._locations: dict[str, str] | None = None
        self._config: dict[str, str] | None = None
        self.objects = ObjectReader(root)
        # Paths whose index entries a commit has begun to change (kept: the change may still be undone).
        self._index_changing: set[str] = set()
        # Questions started early by prepare_commit, answered when first asked (config, locations with branch).
        self._early: dict[str, Started] = {}
        # `git update-index --stdin`, started by start_index_update, waiting for the paths of a commit by plumbing.
        self._index_update: gitprocess.Fed | None = None
        self._branch: tuple[str | None] | None = None  # the early locations' branch, until check_can_commit asks

    def prepare_commit(self) -> None:
        """Start now, side by side, what every commit will ask git: its config, where things are, the object reader.

        A changing command calls this first: the three git processes start
        together and run on the other core while this one parses the desk,
        instead of one after another when each answer is needed (3-6 ms a
        command). Each answer is taken the first time it is asked for
        (:meth:`_settings`, :meth:`_read_locations`); one never asked for is
        collected when the :class:`Git` is dropped.
        """
        if self._config is None and "config" not in self._early:
            self._start_early("config", ["config", "-z", "--list"])
        if "locations" not in self._early:
            self._start_early("locations", [*_LOCATIONS_ASKED, "--symbolic-full-name", "HEAD"])
        self.objects.start()

    def start_index_update(self) -> None:
        """Start the ``git update-index`` that a commit by plumbing ends with, so git reads the index meanwhile.

        On a big desk git spends most of that command reading the index (20-25 ms
        for 100,000 entries) before it changes one entry. Started here, it reads
        it while this process works out the change, then waits for the paths
        (:meth:`_commit_plumbing` gives them, as before, only after the branch
        has moved). It holds git's ``index.lock`` from now on, so call it only
        while itsm's desk lock is held, and end it (:meth:`end_index_update`)
        before that lock is released. Any other git command that may write the
        index ends it first (:meth:`run_status`); so does a commit that turns
        out to need ``git commit`` (hooks). Not started when the repository has
        commit hooks, or no commit yet.
        """
        if self._index_update is not None or self.head() is None or not self.commits_by_plumbing(()):
            return
        updater = gitprocess.fed_later(
            [*self._split_index_option(), "update-index", "--add", "--remove", "-z", "--stdin"], self.root)
        if updater is not None:
            weakref.finalize(self, updater.abandon)  # a Git dropped with its update unused leaves no process behind
        self._index_update = updater

    def end_index_update(self) -> None:
        """End an index update never given paths: git leaves the index as it was and lets go of its lock."""
        updater, self._index_update = self._index_update, None
        if updater is not None:
            updater.abandon()

    def _start_early(self, name: str, args: list[str]) -> None:
        started = gitprocess.start(args, self.root)
        if started is not None:
            self._early[name] = started
            weakref.finalize(self, _collect, started)  # never asked for: wait for it, so no process is left behind

    def _early_answer(self, name: str) -> tuple[int, bytes] | None:
        """(exit code, output) of the question :meth:`prepare_commit` started as ``name``, once; None if none."""
        started = self._early.pop(name, None)
        if started is None:
            return None
        out = started.output()
        return started.returncode or 0, out

    def run(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True,
        shielded: bool = False,
    ) -> str:
        """Run git and return stdout; EnvironmentProblem (exit 3) with git's own message on failure.

        On Ctrl-C git is sent SIGINT and waited for, so it removes its own lock
        files (``index.lock``) instead of being killed holding them. A
        ``shielded`` run (used to undo a failed change) gets its own process group,
        so a second Ctrl-C at the terminal cannot interrupt it.
        """
        return self.run_bytes(*args, input=input, env=env, check=check, shielded=shielded).decode("utf-8", "replace")

    def run_bytes(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True,
        shielded: bool = False,
    ) -> bytes:
        """:meth:`run`, returning stdout as git wrote it (for file names that need not be UTF-8)."""
        if args and args[0] == "config":
            self._config = None  # it may be a change: read it again when next asked
            self._early.pop("config", None)
        code, out, err = self.run_status(*args, input=input, env=env, shielded=shielded)
        if check and code != 0:
            raise EnvironmentProblem(f"{gitprocess.command_name(args)} failed: {_detail(err, code)}")
        return out

    def run_status(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, shielded: bool = False,
    ) -> tuple[int, bytes, bytes]:
        """Run git; (exit code, stdout, stderr), for callers that act on how git failed (a merge's conflicts)."""
        if self._index_update is not None and gitprocess.command_name(args)[4:] not in _INDEX_UNTOUCHED:
            self.end_index_update()  # this command may need git's index lock, which the waiting update holds
        return gitprocess.run(args, self.root, input=input, env=env, shielded=shielded)

    def stream(self, *args: str, what: str | None = None, stdin: Sequence[str] | None = None) -> gitprocess.LineStream:
        """The lines ``git ARGS`` prints, while it runs (one pass, read ahead by a thread); see :func:`gitprocess.stream`.

        git starts at once. ``stdin``: lines written to git (commit IDs for ``--stdin``).
        EnvironmentProblem ``"<what> failed: <git's complaint>"`` when git fails; close it to end git early.
        """
        return gitprocess.stream(args, self.root, what, stdin)

    def start(self, *args: str, env: dict[str, str] | None = None) -> Started | None:
        """Start ``git ARGS`` now, to collect its output later (:class:`Started`); None when git cannot start."""
        return gitprocess.start(args, self.root, env)

    def run_shown(self, *args: str, shown: bool) -> int:
        """Run git with its progress on the terminal when ``shown`` (stdout discarded); its exit code."""
        return gitprocess.run_shown(args, self.root, shown)

    def run_detached(self, *args: str, done: tuple[Path, str] | None = None) -> None:
        """Leave ``git ARGS`` running on its own; ``done`` = (file, text) written when it succeeds."""
        gitprocess.run_detached(args, self.root, done)

    def is_repo(self) -> bool:
        """True when the desk is (inside) a git work tree."""
        return (self.root / ".git").exists() or self.run("rev-parse", "--is-inside-work-tree", check=False).strip() == "true"

    def _settings(self) -> dict[str, str]:
        """Every git config value as git resolves them (last one wins; one ``git config --list``, remembered).

        Keys as :func:`_config_key` spells them.
        """
        if self._config is None:
            early = self._early_answer("config")
            out = early[1].decode("utf-8", "replace") if early else self.run("config", "-z", "--list", check=False)
            values: dict[str, str] = {}
            for item in out.split("\0"):
                key, newline, value = item.partition("\n")
                if key:
                    values[_config_key(key)] = value if newline else "true"  # a bare boolean key means true
            self._config = values
        return self._config

    def config_value(self, key: str) -> str | None:
        """A git config value, or None."""
        return self._settings().get(_config_key(key)) or None

    def config_values(self, *keys: str) -> dict[str, str]:
        """The last value of each of ``keys`` that is set (keys in lower case)."""
        settings = self._settings()
        return {k.lower(): settings[_config_key(k)] for k in keys if _config_key(k) in settings}

    # --- commits ----------------------------------------------------------------------

    def check_can_commit(self) -> None:
        """Refuse (exit 3, with the fix) to commit on a detached HEAD or in the middle of a merge.

        ``git commit`` works on a detached HEAD, but the commit belongs to no
        branch and is lost at the next checkout: almost always a mistake. A merge,
        cherry-pick or revert in progress (git's state files say so) is the
        person's to finish first; only then is the whole index read, to name a
        path still unmerged.
        """
        if self._read_locations(with_branch=True) == "HEAD":
            raise EnvironmentProblem(
                "HEAD is detached, so the commit would belong to no branch; "
                "switch to a branch first (git switch main, or git switch -c NAME to keep this state)"
            )
        git_dir = Path(self.locations()["git_dir"])
        if not any((git_dir / name).exists() for name in _IN_PROGRESS):
            return
        unmerged = self.run("ls-files", "-u", "-z", check=False)
        if unmerged:
            first = unmerged.split("\0", 1)[0].partition("\t")[2]
            raise EnvironmentProblem(
                "the index has unmerged paths (a merge or rebase is in progress); "
                "resolve them and commit, or abort it, first", first or None,
            )
        raise EnvironmentProblem(
            "a merge, cherry-pick or revert is in progress; finish it (git commit) or abort it first"
        )

    def locations(self) -> dict[str, str]:
        """Where git keeps things for this work tree (one ``git rev-parse``, remembered).

        ``git_dir`` (absolute), ``prefix`` (the desk's folder in the repository,
        ``""`` or ending in ``/``), ``hooks`` and ``objects`` (relative to the desk
        or absolute; ``core.hooksPath`` and ``GIT_OBJECT_DIRECTORY`` honoured) and
        ``hash`` (``sha1`` or ``sha256``).
        """
        if self._locations is None:
            if "locations" in self._early:  # prepare_commit asked, with the branch: keep that for check_can_commit
                self._branch = (self._read_locations(with_branch=True),)
            else:
                self._read_locations()
        return self._locations  # type: ignore[return-value]

    def _read_locations(self, with_branch: bool = False) -> str | None:
        """Read :meth:`locations` again; with ``with_branch``, in the same call, the ref HEAD is on.

        That ref is ``HEAD`` itself when it is detached, and None on a branch with
        no commit yet (where git cannot name it; ``symbolic-ref`` can).
        """
        if with_branch and self._branch is not None:  # answered with the locations prepare_commit asked for
            branch, self._branch = self._branch[0], None
            return branch
        early = self._early_answer("locations") if with_branch else None
        if early is not None and early[0] == 0:
            code, out, err = 0, early[1], b""
        else:
            code, out, err = self.run_status(*_LOCATIONS_ASKED, *(["--symbolic-full-name", "HEAD"] if with_branch else []))
        if code != 0 and with_branch:  # no commit yet: HEAD names no object, so ask without it
            self._read_locations()
            return None if self.run("symbolic-ref", "-q", "HEAD", check=False).strip() else "HEAD"
        if code != 0:
            raise EnvironmentProblem(f"git rev-parse failed: {_detail(err, code)}")
        lines = out.decode("utf-8", "surrogateescape").split("\n")
        self._locations = dict(zip(("git_dir", "prefix", "hooks", "objects", "hash"), lines))
        return lines[5] if with_branch else None

    def head(self) -> str | None:
        """The commit ID of HEAD, or None on an unborn branch."""
        found = self.objects.read("HEAD^{commit}", contents=False)
        return found[0] if found else None

    def snapshot(self, paths: Sequence[str], index: bool = True) -> Snapshot:
        """Remember the bytes (and index entries, and HEAD) of ``paths`` so a failed change can be undone.

        With ``index`` false, neither the index nor HEAD (a change that will
        not be committed). When the commit will be made by plumbing
        (:meth:`commits_by_plumbing`), HEAD but not the index: that commit
        changes the index last, and :meth:`restore` knows what to put back.
        """
        files: dict[str, bytes | None] = {}
        for p in paths:
            try:
                files[p] = (self.root / p).read_bytes()
            except FileNotFoundError:
                files[p] = None
        if not index:
            return Snapshot(files, {}, None)
        head = self.head()
        if head is not None and self.commits_by_plumbing(paths):
            return Snapshot(files, None, head)
        entries: dict[str, str | None] = dict.fromkeys(paths)
        out = self.run("ls-files", "-s", "-z", "--", *paths, check=False)
        for item in out.split("\0"):
            if not item:
                continue
            meta, _, name = item.partition("\t")
            mode, sha, _stage = meta.split()
            entries[name] = f"{mode},{sha}"
        return Snapshot(files, entries, head)

    def restore(self, snap: Snapshot) -> None:
        """Put HEAD, files and index entries back exactly as the snapshot saw them.

        Files are written atomically. If the commit had completed before the
        failure (Ctrl-C while git was finishing), the branch is moved back to the
        snapshot's commit, compare-and-swap, so the change is undone, not half-kept;
        the commit stays reachable from the reflog. A commit by plumbing changes
        the index last, after the branch has moved: if it got that far, the
        paths' entries are set back to the snapshot's commit (a staged edit of
        the same file becomes an unstaged one; its bytes are put back whole).
        """
        if snap.head is not None:
            now = self.head()
            if now is not None and now != snap.head:
                self.run("update-ref", "-m", "itsm: undo interrupted change", "HEAD", snap.head, now,
                         check=False, shielded=True)
        for p, content in snap.files.items():
            target = self.root / p
            if content is None:
                target.unlink(missing_ok=True)
            else:
                write_atomic(target, content)
        if snap.index is None:
            changing = [p for p in snap.files if p in self._index_changing]
            if changing and snap.head is not None:
                self.run("reset", "-q", snap.head, "--", *changing, check=False, shielded=True)
            self._index_changing.difference_update(changing)
            return
        for p, entry in snap.index.items():
            if entry is None:
                self.run("rm", "--cached", "-q", "--ignore-unmatch", "--", p, check=False, shielded=True)
            else:
                self.run("update-index", "--add", "--cacheinfo", f"{entry},{p}", check=False, shielded=True)

    def commits_by_plumbing(self, paths: Sequence[str]) -> bool:
        """True when a commit of ``paths`` will be made with git's plumbing (see :meth:`_commit_plumbing`).

        That is: every path is a plain file (or nothing) and no commit hook is
        installed; otherwise ``git commit`` runs, hooks and all.
        """
        if not all(_is_plain_file_path(self.root, p) for p in paths):
            return False
        hooks = self.root / self.locations()["hooks"]
        return not any(os.access(hooks / name, os.X_OK) for name in _COMMIT_HOOKS)

    def commit(
        self, paths: Sequence[str], message: str, author_name: str, author_email: str, head: str | None = None
    ) -> str:
        """Stage ``paths`` and commit only them, authored by the acting person; returns the commit ID.

        Anything else staged stays staged and out of the commit (``git commit
        --only``). When the repository has no commit hooks to run, the commit is
        made with git's plumbing instead of ``git commit`` (see :meth:`_commit_plumbing`):
        the same commit, an order of magnitude faster on a desk of 100,000 records.
        ``head`` is the commit the change started from, when the caller knows it.
        """
        check_identity(author_name, author_email)
        settings = self.config_values("user.email", "commit.gpgsign", "core.filemode")
        env = _commit_env(author_name, author_email, bool(settings.get("user.email")))
        head = head or self.head()
        if head is not None and self.commits_by_plumbing(paths):
            return self._commit_plumbing(head, paths, message, env, settings)
        # A path that is neither on disk nor known to git (a record created and removed
        # within this change) has nothing to commit, and git would refuse its pathspec.
        tracked = set(self.run("ls-files", "-z", "--", *paths).split("\0"))
        paths = [p for p in paths if (self.root / p).exists() or p in tracked]
        self._index_changing.update(paths)
        self.run("add", "-A", "--", *paths)
        self.run("commit", "-q", "-m", message, "--only", "--", *paths, env=env)
        return self.run("rev-parse", "HEAD").strip()

    def status_lines(self, untracked: bool = True) -> list[str]:
        """``git status --porcelain`` lines for the whole work tree; ``untracked`` false leaves untracked files out."""
        out = self.run("status", "--porcelain", f"--untracked-files={'all' if untracked else 'no'}")
        return [line for line in out.splitlines() if line.strip()]

    def commit_moves(self, moves: Sequence[tuple[str, str]], extra: Sequence[str], message: str,
                     author_name: str, author_email: str) -> str:
        """Rename tracked files (``(old, new)`` pairs) and commit that, plus ``extra`` paths as they are now.

        The index learns the moves from the blob IDs it already has (no file is
        hashed again), so 100,000 renames cost one ``git update-index``; the
        commit is an ordinary ``git commit`` (hooks run, signing as configured),
        and git sees each move as a rename (same blob). The work tree must be
        clean; on any failure, files and index are put back.
        """
        check_identity(author_name, author_email)
        folders = sorted({old.partition("/")[0] for old, _ in moves})
        known: dict[str, str] = {}
        for item in (self.run("ls-files", "-s", "-z", "--", *folders) if folders else "").split("\0"):
            meta, _, name = item.partition("\t")
            if name:
                mode, sha, _stage = meta.split()
                known[name] = f"{mode} {sha}"
        untracked = [old for old, _ in moves if old not in known]
        if untracked:
            raise EnvironmentProblem("not tracked by git; commit or remove it first", untracked[0])
        done: list[tuple[str, str]] = []
        try:
            for old, new in moves:
                target = self.root / new
                target.parent.mkdir(parents=True, exist_ok=True)
                if os.path.lexists(target):
                    raise EnvironmentProblem("already exists", new)
                os.rename(self.root / old, target)
                done.append((old, new))
            if moves:
                zero = "0" * len(next(iter(known.values())).split()[1])
                info = "".join(f"0 {zero}\t{old}\0{known[old]}\t{new}\0" for old, new in moves)
                self.run("update-index", "-z", "--index-info", input=info.encode("utf-8", "surrogateescape"))
            if extra:
                self.run("add", "--", *extra)
            env = _commit_env(author_name, author_email, bool(self.config_value("user.email")))
            self.run("commit", "-q", "-F", "-", input=message.encode("utf-8"), env=env)
        except BaseException:
            for old, new in reversed(done):
                with contextlib.suppress(OSError):
                    os.rename(self.root / new, self.root / old)
            self.run("reset", "-q", "HEAD", "--", *folders, *extra, check=False, shielded=True)
            raise
        return self.run("rev-parse", "HEAD").strip()

    def _commit_plumbing(
        self, head: str, paths: Sequence[str], message: str, env: dict[str, str], settings: dict[str, str]
    ) -> str:
        """``git commit --only -- paths`` without building a second index from HEAD.

        ``git commit --only`` builds a temporary index from HEAD's tree (100,000
        entries on a big desk), so it costs a second or more. Instead: the
        paths' blobs are stored (``git hash-object -w``); the trees on the way
        from each path to the root are read from HEAD (through the
        :class:`ObjectReader`), changed where the paths are
        (:func:`itsm_cli.store.gittree.splice_tree`) and written back as loose
        objects (:meth:`_write_trees`); the commit is made with
        ``git commit-tree`` (signed when ``commit.gpgSign`` asks, as ``git
        commit`` would) and moved onto the branch with ``git update-ref``,
        compare-and-swap against the HEAD the change started from. Only
        ``paths`` are in the commit, as with ``--only``. The index learns the
        paths last (``git update-index``), so a failure before that leaves it
        untouched and the snapshot need not read it (:meth:`restore`); that
        ``git update-index`` has usually been started already
        (:meth:`start_index_update`) and has read the index meanwhile.
        """
        from itsm_cli.store.gittree import TREE_MODE, splice_tree

        prefix = self.locations()["prefix"]
        present = [p for p in paths if os.path.lexists(self.root / p)]
        shas = self.run("hash-object", "-w", "--", *present).split() if present else []
        blobs = dict.fromkeys((prefix + p).encode("utf-8", "surrogateescape") for p in paths)
        exec_bit = settings.get("core.filemode", "true").lower() not in ("false", "no", "off", "0")
        for p, sha in zip(present, shas):
            mode = _file_mode(self.root / p) if exec_bit else b"100644"
            blobs[(prefix + p).encode("utf-8", "surrogateescape")] = (mode, bytes.fromhex(sha))
        # The edits per folder; each folder is rebuilt after its subfolders (deepest first).
        edits: dict[bytes, dict[bytes, tuple[bytes, bytes] | None]] = {}
        for path, value in blobs.items():
            folder, _, name = path.rpartition(b"/")
            edits.setdefault(folder, {})[name] = value
            while folder:
                folder = folder.rpartition(b"/")[0]
                edits.setdefault(folder, {})
        folders = sorted(edits, key=lambda f: (-(f.count(b"/") + bool(f)), f))
        specs = [f"{head}:{f.decode('utf-8', 'surrogateescape')}" if f else f"{head}^{{tree}}" for f in folders]
        found = self.cat_trees(specs)
        old = {folder: item[1] if item else b"" for folder, item in zip(folders, found)}
        old_root = found[folders.index(b"")][0]  # type: ignore[index]
        id_size = len(old_root) // 2
        trees: dict[bytes, bytes | None] = {}
        new_trees: list[bytes] = []
        for folder in folders:
            for child, tree in trees.items():
                parent, _, name = child.rpartition(b"/")
                if parent == folder and child != folder:
                    edits[folder][name] = (TREE_MODE, tree) if tree else None
            raw = splice_tree(old[folder], edits[folder], id_size)
            trees[folder] = bytes.fromhex(self._tree_id(raw)) if raw else None
            if raw:
                new_trees.append(raw)
        root = (trees[b""] or b"").hex() or self._write_tree(b"")
        if root == old_root:
            raise EnvironmentProblem("git commit failed: nothing to commit (the change leaves the files as they were)")
        self._write_trees(new_trees, id_size)
        sign = settings.get("commit.gpgsign", "false").lower() in ("true", "yes", "on", "1")
        signing = ["-S"] if sign else []
        commit = self.run("commit-tree", *signing, root, "-p", head, "-F", "-", input=message.encode("utf-8"),
                          env=env).strip()
        subject = message.split("\n", 1)[0]
        self.run("update-ref", "-m", f"commit: {subject}", "HEAD", commit, head)
        self._index_changing.update(paths)
        updater, self._index_update = self._index_update, None
        if updater is None:
            self.run(*self._split_index_option(), "update-index", "--add", "--remove", "--", *paths)
        else:  # started by start_index_update: git has read the index already
            code, _, err = updater.finish(b"".join(p.encode("utf-8", "surrogateescape") + b"\0" for p in paths))
            if code != 0:
                raise EnvironmentProblem(f"git update-index failed: {_detail(err, code)}")
        if self._maintenance_due():
            self.run("maintenance", "run", "--auto", "--quiet", check=False)  # as git commit does
        return commit

    def _maintenance_due(self) -> bool:
        """Whether ``git maintenance run --auto`` after a commit (as ``git commit`` runs it) would have work to do.

        It is asked here, as git asks it, instead of starting git to find out
        (2-3 ms a commit): with no ``maintenance.*`` setting, the only automatic
        task is gc, due when there are more than ``gc.autoPackLimit`` packs or
        more loose objects in ``objects/17`` than ``gc.auto`` / 256. With any
        other maintenance setting git decides, and ``maintenance.auto=false``
        means git would not run it at all.
        """
        settings = self._settings()
        if settings.get("maintenance.auto", "true").lower() in ("false", "no", "off", "0"):
            return False
        if any(k.startswith("maintenance.") and k != "maintenance.auto" for k in settings):
            return True
        try:
            auto = int(settings.get("gc.auto", "6700"))
            pack_limit = int(settings.get("gc.autopacklimit", "50"))
        except ValueError:
            return True  # a value only git can read (1k): let git decide
        if auto <= 0:
            return False
        objects = self.root / self.locations()["objects"]
        name_length = (64 if self.locations()["hash"] == "sha256" else 40) - 2

        def names(folder: str) -> list[str]:
            try:
                return os.listdir(objects / folder)
            except FileNotFoundError:
                return []

        try:
            in_pack = names("pack") if pack_limit > 0 else []
            packs = [n for n in in_pack if n.endswith(".pack") and n[:-5] + ".keep" not in in_pack]
            if len(packs) > pack_limit > 0:
                return True
            return sum(len(n) == name_length for n in names("17")) > -(-auto // 256)
        except OSError:
            return True  # an object folder this process cannot read: git knows better

    # --- refs and trees ---------------------------------------------------------------

    def last_itsm_actions(self, rel: str) -> set[str]:
        """The ``Itsm-Action`` lines of the last commit that touched ``rel`` (empty: none, or not itsm's commit).

        How ``itsm upgrade`` and ``upgrade-tool`` tell a file itsm wrote and
        nobody edited since (its last commit is itsm's own) from one the desk changed.
        """
        return set(_ITSM_ACTION_LINE.findall(self.run("log", "-1", "--format=%B", "--", rel, check=False)))

    def refs(self) -> list[str]:
        """Every local branch and remote-tracking ref."""
        out = self.run("for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes", check=False)
        return [r for r in out.splitlines() if r and not r.endswith("/HEAD")]

    def _write_tree(self, raw: bytes) -> str:
        """Store a raw tree object; its ID (hex). Trees on a record's path are small (a bucket holds 1,000 entries)."""
        return self.run("hash-object", "-t", "tree", "-w", "--stdin", input=raw).strip()

    def _tree_id(self, raw: bytes) -> str:
        """The ID git gives a raw tree (hex), worked out here: a parent names it before git has stored it."""
        return self._stored_form(b"tree", raw)[0]

    def _stored_form(self, kind: bytes, raw: bytes) -> tuple[str, bytes]:
        """(ID in hex, bytes as git hashes them) of an object of ``kind``: its header, then ``raw``."""
        import hashlib

        content = b"%s %d\0" % (kind, len(raw)) + raw
        return hashlib.new(self.locations()["hash"], content, usedforsecurity=False).hexdigest(), content

    def _write_trees(self, raws: Sequence[bytes], id_size: int) -> None:
        """Store raw, non-empty trees, subtrees before the trees that name them.

        Written here as git writes loose objects (:meth:`_write_loose`): for a
        bucket of 1,000 records that is 0.6 ms, against 10-16 ms for ``git
        mktree --batch`` (which parses every entry as text again and sorts
        it) and 2-4 ms a tree for ``git hash-object``; ``itsm new`` writes four
        trees. A repository shared between users (``core.sharedRepository``,
        whose permissions are git's to get right) or one whose object folder
        is not a plain folder here gets ``git mktree`` instead.
        """
        if not raws:
            return
        objects = self._loose_objects()
        if objects is not None:
            for raw in raws:
                self._write_loose(objects, b"tree", raw)
            return
        from itsm_cli.store.gittree import TREE_MODE, entries

        request = bytearray()
        for raw in raws:
            for name, (mode, oid) in entries(raw, id_size).items():
                kind = b"tree" if mode == TREE_MODE else b"commit" if mode == b"160000" else b"blob"
                request += mode + b" " + kind + b" " + oid.hex().encode("ascii") + b"\t" + name + b"\0"
            request += b"\0"  # an empty line ends a tree
        # Every entry is already in git (a tree read from HEAD, a blob just stored, a subtree
        # written earlier in the batch), so git need not look each one up again (--missing).
        written = self.run("mktree", "-z", "--missing", "--batch", input=bytes(request)).split()
        expected = [self._tree_id(raw) for raw in raws]
        if written != expected:
            raise EnvironmentProblem(f"git mktree wrote trees {written}, not the expected {expected}")

    def _loose_objects(self) -> Path | None:
        """The object folder this process may write loose objects into itself, or None to leave it to git.

        None for a repository shared between users (``core.sharedRepository``
        decides the files' permissions) and when the folder is not there.
        """
        shared = self._settings().get("core.sharedrepository", "false").lower()
        if shared not in ("false", "umask", "0", "no", "off"):
            return None
        objects = self.root / self.locations()["objects"]
        return objects if objects.is_dir() else None

    def _write_loose(self, objects: Path, kind: bytes, raw: bytes) -> str:
        """Store one object as git stores a loose object; its ID (hex).

        The header and content are hashed with the repository's hash and
        deflated at ``core.looseCompression`` (git's default: 1, fastest) into
        a temporary file in the object's folder, made read-only and renamed
        into place, so a reader sees the whole object or none. An object
        already stored loose is left as it is; one already in a pack is
        stored again loose, which git's next gc folds away. Like git by
        default, the file is not fsynced (``core.fsync`` leaves loose objects out).
        """
        import zlib

        oid, content = self._stored_form(kind, raw)
        folder = objects / oid[:2]
        target = folder / oid[2:]
        if target.exists():
            return oid
        folder.mkdir(exist_ok=True)
        # Named as git names its own (tmp_obj_*), created exclusively; tempfile would cost 2.7 ms of imports.
        tmp = folder / f"tmp_obj_{os.urandom(6).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o444)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(zlib.compress(content, _loose_compression(self._settings())))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return oid

    def _split_index_option(self) -> list[str]:
        """``-c core.splitIndex=true`` for a write to a big index, unless the repository's config decides.

        A change rewrites git's whole index (9.5 MB at 100,000 records, 40 ms
        and more); split, git writes only the few changed entries and folds
        them into the shared part now and then. git keeps an index split once
        it is, for every later command too. ``git config core.splitIndex false``
        turns it off (and ``git update-index --no-split-index`` joins it again).
        """
        if "core.splitindex" in self._settings() or os.environ.get("GIT_INDEX_FILE"):
            return []
        try:
            size = os.path.getsize(Path(self.locations()["git_dir"]) / "index")
        except OSError:
            return []
        return ["-c", "core.splitIndex=true"] if size >= SPLIT_INDEX_FROM else []

    def _folder_trees(self, folders: Sequence[str]) -> list[tuple[str, str]]:
        """(ref, tree ID) of each folder on each local branch and remote-tracking ref that has it."""
        refs = self.refs()
        if not refs:
            return []
        # ./: relative to the desk, wherever it sits in the repository. One process, missing folders included.
        specs = [f"{ref}:./{folder}" for ref in refs for folder in folders]
        return [(spec.split(":", 1)[0], tree) for spec, tree in zip(specs, self.tree_ids(specs)) if tree]

    def trees_on_refs(self, *folders: str) -> list[str]:
        """The distinct tree IDs of ``folders`` on every local branch and remote-tracking ref (one git call each)."""
        return list(dict.fromkeys(tree for _, tree in self._folder_trees(folders)))

    def names_on_refs(self, folders: Sequence[str]) -> dict[str, set[str]]:
        """Files under each folder (paths relative to it, subfolders included), per ref (a tree is listed once)."""
        result: dict[str, set[str]] = {}
        seen: dict[str, set[str]] = {}
        for ref, tree in self._folder_trees(folders):
            if tree not in seen:
                listing = self.run("ls-tree", "-r", "--name-only", "-z", tree, check=False)
                seen[tree] = {n for n in listing.split("\0") if n}
            result.setdefault(ref, set()).update(seen[tree])
        return result

    def cat_trees(self, specs: Sequence[str]) -> list[tuple[str, bytes] | None]:
        """(tree ID, raw tree) of each tree-ish in ``specs`` (``REV:folder``...), None where there is none."""
        answers: dict[str, tuple[str, bytes] | None] = {}
        for spec in dict.fromkeys(specs):
            found = self.objects.read(spec)
            answers[spec] = (found[0], found[2]) if found and found[1] == "tree" else None
        return [answers[spec] for spec in specs]

    def tree_ids(self, specs: Sequence[str]) -> list[str | None]:
        """The object ID each of ``specs`` (``REV:folder``...) names, None where there is none."""
        ids: list[str | None] = []
        for spec in specs:
            found = self.objects.read(spec, contents=False)
            ids.append(found[0] if found and found[1] == "tree" else None)
        return ids

    def show(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at ``rev``, or None if it does not exist there."""
        found = self.objects.read(f"{rev}:{path}")
        return found[2] if found and found[1] == "blob" else None

    def merge_base(self, a: str, b: str = "HEAD") -> str:
        """The merge base of two revisions."""
        return self.run("merge-base", a, b).strip()

    # --- what implemented a change (itsm implement, validate, audit change) --------------

    def resolve_commit(self, rev: str) -> str | None:
        """The full ID of commit ``rev`` (an ID or a unique prefix of one), None when the repository has none."""
        if not rev or rev.startswith("-"):
            return None
        # Asked of the command's one object reader: validate checks every reference a desk's changes
        # name, and a git process each would cost more than the whole check.
        found = self.objects.read(f"{rev}^{{commit}}", contents=False)
        return found[0] if found is not None else None

    def has_tag(self, name: str) -> bool:
        """True when the repository has the tag ``name``."""
        if not name or name.startswith("-"):
            return False
        return self.objects.read(f"refs/tags/{name}", contents=False) is not None

    def commit_summary(self, sha: str) -> dict[str, str] | None:
        """A commit's subject, author name and e-mail and author date (ISO 8601), None when there is no such commit."""
        full = self.resolve_commit(sha)
        if full is None:
            return None
        out = self.run("show", "-s", "--format=%s%x00%an%x00%ae%x00%aI", full, "--")
        subject, name, email, date = ([*out.rstrip("\n").split("\x00"), "", "", "", ""])[:4]
        return {"commit": full, "subject": subject, "author_name": name, "author_email": email, "date": date}

    def changed(self, base: str, paths: Sequence[str] = ()) -> list[tuple[str, str]]:
        """(status letter, path) of files changed between ``base`` and the work tree, untracked ones as added.

        ``paths`` limits the comparison to those folders and files, so a big desk's
        other files (a built site, benchmark output) cost nothing.
        """
        spec = ["--", *paths]
        out = self.run("diff", "--name-status", "-z", "--no-renames", base, *spec)
        parts = out.split("\0")
        result = []
        i = 0
        while i < len(parts) - 1:
            status = parts[i]
            if not status:
                break
            result.append((status[0], parts[i + 1]))
            i += 2
        untracked = self.run("ls-files", "--others", "--exclude-standard", "-z", *spec, check=False)
        result.extend(("A", p) for p in untracked.split("\0") if p)
        return result

    # --- bringing a branch up to date (itsm sync, itsm settle) --------------------------

    def current_branch(self) -> str | None:
        """The checked-out branch's short name, or None when HEAD is detached."""
        ref = self.run("symbolic-ref", "-q", "HEAD", check=False).strip()
        return ref.removeprefix("refs/heads/") if ref else None

    def merge_in_progress(self) -> bool:
        """True while a merge waits for its commit (``MERGE_HEAD`` exists)."""
        return (Path(self.locations()["git_dir"]) / "MERGE_HEAD").exists()

    def unmerged_paths(self) -> list[str]:
        """Paths (relative to the desk) the index still holds as unmerged, each once, in index order."""
        out = self.run("ls-files", "-u", "-z")
        paths: list[str] = []
        for item in out.split("\0"):
            path = item.partition("\t")[2]
            if path and path not in paths:
                paths.append(path)
        return paths

    def stage(self, number: int, rel: str) -> bytes | None:
        """The bytes of an unmerged path's index stage (1 common ancestor, 2 ours, 3 theirs), None if absent."""
        code, out, _ = self.run_status("cat-file", "blob", f":{number}:./{rel}")
        return out if code == 0 else None

    def add(self, rels: Sequence[str]) -> None:
        """Stage files (marks an unmerged path as resolved)."""
        self.run("add", "--", *rels)

    def fetch(self, remote: str) -> None:
        """``git fetch REMOTE`` (no prompt for credentials: they must come from a helper or the environment)."""
        if remote.startswith("-"):
            raise BadArgument(f"--remote: '{remote}' is not a remote name")
        self.run("fetch", "--quiet", "--", remote)

    def remote_default_branch(self, remote: str) -> str | None:
        """The branch ``REMOTE/HEAD`` points at (set by clone), else ``main`` or ``master`` if fetched."""
        ref = self.run("symbolic-ref", "-q", f"refs/remotes/{remote}/HEAD", check=False).strip()
        if ref:
            return ref.removeprefix(f"refs/remotes/{remote}/")
        for name in ("main", "master"):
            if self.run("rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{name}", check=False).strip():
                return name
        return None

    def upstream(self) -> str | None:
        """The current branch's upstream as ``remote/branch``, or None."""
        code, out, _ = self.run_status("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}")
        name = out.decode("utf-8", "replace").strip()
        return name if code == 0 and name else None

    def merge_with_driver(self, rev: str, driver: str, attributes: Sequence[str]) -> tuple[bool, str]:
        """Merge ``rev`` into the current branch with the record-aware driver enabled for this one command.

        ``driver`` becomes ``merge.itsm.driver`` and the ``attributes`` patterns (relative to
        the desk) map record files to ``merge=itsm`` through a temporary ``core.attributesFile``
        that also keeps the person's own one; the clone's configuration is not changed. The
        desk's own ``.gitattributes`` still wins where it says otherwise. Returns (clean?,
        git's output); a conflicted merge is left in progress, exactly as git leaves it.
        """
        if rev.startswith("-"):
            raise BadArgument(f"--target: '{rev}' is not a revision")
        prefix = self.locations()["prefix"]
        lines = [f"/{prefix}{pattern} merge=itsm" for pattern in attributes]
        own = self.config_value("core.attributesFile")
        if own:
            with contextlib.suppress(OSError):
                lines.insert(0, Path(os.path.expanduser(own)).read_text(encoding="utf-8", errors="replace"))
        import tempfile

        with tempfile.TemporaryDirectory(prefix="itsm-sync-") as tmp:
            attributes_file = Path(tmp) / "attributes"
            attributes_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            code, out, err = self.run_status(
                "-c", f"merge.itsm.driver={driver}", "-c", "merge.itsm.name=itsm record merge",
                "-c", f"core.attributesFile={attributes_file}", "merge", "--no-edit", rev,
            )
        text = (out + err).decode("utf-8", "replace")
        if code != 0 and not self.merge_in_progress():
            raise EnvironmentProblem(f"git merge failed: {_detail(err or out, code)}")
        return code == 0, text

    def push(self, remote: str, branch: str) -> None:
        """Push HEAD to ``branch`` on ``remote`` (never forced: a branch that moved meanwhile is refused)."""
        if remote.startswith("-") or branch.startswith("-"):
            raise BadArgument(f"cannot push to '{remote}' '{branch}'")
        self.run("push", "--quiet", "--", remote, f"HEAD:refs/heads/{branch}")
