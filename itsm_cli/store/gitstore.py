"""Git, through the ``git`` command (fast to start; GitPython is not needed on hot paths).

Knows commits with trailers, restoring the work tree and index when a commit
fails, the IDs present on every branch, and streaming ``git log``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from itsm_cli.errors import EnvironmentProblem

_DEVNULL = subprocess.DEVNULL


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    env["GIT_TERMINAL_PROMPT"] = "0"
    if extra:
        env.update(extra)
    return env


@dataclass
class Snapshot:
    """What a set of paths looked like before a change: file bytes and index entries."""

    files: dict[str, bytes | None]
    index: dict[str, str | None]  # "mode sha" or None when not in the index


class Git:
    """A git work tree."""

    def __init__(self, root: Path):
        self.root = root

    def run(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, check: bool = True) -> str:
        """Run git and return stdout; EnvironmentProblem (exit 3) with git's own message on failure."""
        try:
            proc = subprocess.run(
                ["git", *args], cwd=self.root, input=input, capture_output=True, env=_clean_env(env)
            )
        except FileNotFoundError:
            raise EnvironmentProblem("git is not installed or not on PATH") from None
        if check and proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            detail = message[-1] if message else f"exit {proc.returncode}"
            raise EnvironmentProblem(f"git {args[0]} failed: {detail}")
        return proc.stdout.decode("utf-8", "replace")

    def is_repo(self) -> bool:
        """True when the desk is (inside) a git work tree."""
        return (self.root / ".git").exists() or self.run("rev-parse", "--is-inside-work-tree", check=False).strip() == "true"

    def config_value(self, key: str) -> str | None:
        """A git config value, or None."""
        value = self.run("config", "--get", key, check=False).strip()
        return value or None

    # --- commits ----------------------------------------------------------------------

    def snapshot(self, paths: Sequence[str], index: bool = True) -> Snapshot:
        """Remember the bytes (and index entries) of ``paths`` so a failed change can be undone."""
        files: dict[str, bytes | None] = {}
        for p in paths:
            try:
                files[p] = (self.root / p).read_bytes()
            except FileNotFoundError:
                files[p] = None
        entries: dict[str, str | None] = {}
        if index:
            entries = dict.fromkeys(paths)
            out = self.run("ls-files", "-s", "-z", "--", *paths, check=False)
            for item in out.split("\0"):
                if not item:
                    continue
                meta, _, name = item.partition("\t")
                mode, sha, _stage = meta.split()
                entries[name] = f"{mode},{sha}"
        return Snapshot(files, entries)

    def restore(self, snap: Snapshot) -> None:
        """Put files and index entries back exactly as the snapshot saw them."""
        for p, content in snap.files.items():
            target = self.root / p
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(content)
        for p, entry in snap.index.items():
            if entry is None:
                self.run("rm", "--cached", "-q", "--ignore-unmatch", "--", p, check=False)
            else:
                self.run("update-index", "--add", "--cacheinfo", f"{entry},{p}", check=False)

    def commit(self, paths: Sequence[str], message: str, author_name: str, author_email: str) -> str:
        """Stage ``paths`` and commit only them, authored by the acting person; returns the commit ID."""
        env = {"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email}
        if not self.config_value("user.email"):
            env.update({"GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email})
        now = os.environ.get("ITSM_NOW")
        if now and "GIT_AUTHOR_DATE" not in os.environ:
            env["GIT_AUTHOR_DATE"] = now
            env.setdefault("GIT_COMMITTER_DATE", os.environ.get("GIT_COMMITTER_DATE", now))
        # A path that is neither on disk nor known to git (a record created and removed
        # within this change) has nothing to commit, and git would refuse its pathspec.
        tracked = set(self.run("ls-files", "-z", "--", *paths).split("\0"))
        paths = [p for p in paths if (self.root / p).exists() or p in tracked]
        self.run("add", "-A", "--", *paths)
        self.run("commit", "-q", "-m", message, "--only", "--", *paths, env=env)
        return self.run("rev-parse", "HEAD").strip()

    # --- refs and trees ---------------------------------------------------------------

    def refs(self) -> list[str]:
        """Every local branch and remote-tracking ref."""
        out = self.run("for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes", check=False)
        return [r for r in out.splitlines() if r and not r.endswith("/HEAD")]

    def names_on_refs(self, folders: Sequence[str]) -> dict[str, set[str]]:
        """File names under each folder, per ref (refs sharing a tree are listed once)."""
        result: dict[str, set[str]] = {}
        refs = self.refs()
        if not refs:
            return result
        specs = [f"{ref}:{folder}" for ref in refs for folder in folders]
        out = self.run("rev-parse", "--verify", "-q", *specs, check=False).split()
        # rev-parse stops at the first missing folder; fall back to one call each then.
        trees = out if len(out) == len(specs) else [self.run("rev-parse", "-q", "--verify", s, check=False).strip() for s in specs]
        seen: dict[str, set[str]] = {}
        for spec, tree in zip(specs, trees):
            if not tree:
                continue
            if tree not in seen:
                listing = self.run("ls-tree", "--name-only", "-z", tree, check=False)
                seen[tree] = {n for n in listing.split("\0") if n}
            result.setdefault(spec.split(":", 1)[0], set()).update(seen[tree])
        return result

    def show(self, rev: str, path: str) -> bytes | None:
        """A file's bytes at ``rev``, or None if it does not exist there."""
        proc = subprocess.run(
            ["git", "cat-file", "blob", f"{rev}:{path}"], cwd=self.root, capture_output=True, env=_clean_env()
        )
        return proc.stdout if proc.returncode == 0 else None

    def merge_base(self, a: str, b: str = "HEAD") -> str:
        """The merge base of two revisions."""
        return self.run("merge-base", a, b).strip()

    def changed(self, base: str) -> list[tuple[str, str, str | None]]:
        """Files changed between ``base`` and the work tree: (status letter, path, old path for renames)."""
        out = self.run("diff", "--name-status", "-z", "--no-renames", base, "--")
        parts = out.split("\0")
        result = []
        i = 0
        while i < len(parts) - 1:
            status = parts[i]
            if not status:
                break
            result.append((status[0], parts[i + 1], None))
            i += 2
        untracked = self.run("ls-files", "--others", "--exclude-standard", "-z", check=False)
        result.extend(("A", p, None) for p in untracked.split("\0") if p)
        return result

    def log_stream(self, *args: str) -> Iterator[str]:
        """Lines of ``git log`` (or any git command), streamed as they come."""
        proc = subprocess.Popen(["git", *args], cwd=self.root, stdout=subprocess.PIPE, stderr=_DEVNULL, env=_clean_env())
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                yield raw.decode("utf-8", "replace").rstrip("\n")
        finally:
            proc.stdout.close()
            proc.wait()
