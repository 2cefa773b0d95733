"""Release and deployment: what implemented a change (``implemented_by``) and changes by release.

A change names the work that implemented it: commits, tags or pull requests,
each optionally in another repository (a name under ``repositories:`` in
itsm.yaml) and in a release (a tag name). Pure functions: the caller says
which references exist (it has the repositories at hand, or not).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

KINDS = ("commit", "tag", "pr")
UNRELEASED = "(no release)"
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
REF_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,99}$")
RELEASE_COLUMNS = ("release", "change", "title", "service", "status", "done_at", "implemented_by")

Ref = Mapping[str, Any]


def kind_of(ref: Ref) -> str | None:
    """``commit``, ``tag`` or ``pr``: what an implemented_by item names (None for a malformed one)."""
    found = [k for k in KINDS if k in ref]
    return found[0] if len(found) == 1 else None


def describe(ref: Ref) -> str:
    """One item for people: ``commit 1a2b3c4d5e (shop-web), release v2.3``, ``tag v2.3``, ``PR #42``."""
    kind = kind_of(ref)
    if kind == "commit":
        text = f"commit {str(ref['commit'])[:10]}"
    elif kind == "tag":
        text = f"tag {ref['tag']}"
    elif kind == "pr":
        text = f"PR #{ref['pr']}"
    else:
        text = "?"
    if ref.get("repo"):
        text += f" ({ref['repo']})"
    if ref.get("release"):
        text += f", release {ref['release']}"
    return text


def make_reference(kind: str, value: str | int, repo: str | None = None, release: str | None = None) -> dict[str, Any]:
    """An implemented_by item; ValueError naming the option when a value cannot be one."""
    item: dict[str, Any]
    if kind == "commit":
        text = str(value).lower()
        if not COMMIT.match(text):
            raise ValueError(f"--commit: '{value}' is not a commit ID (7 to 40 hex digits)")
        item = {"commit": text}
    elif kind == "tag":
        if not REF_NAME.match(str(value)) or ".." in str(value):
            raise ValueError(f"--tag: '{value}' is not a tag name (letters, digits, '.', '_', '+', '-')")
        item = {"tag": str(value)}
    elif kind == "pr":
        number = str(value).removeprefix("#")
        if not number.isdigit() or int(number) < 1:
            raise ValueError(f"--pr: '{value}' is not a pull request number")
        item = {"pr": int(number)}
    else:
        raise ValueError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
    if repo is not None:
        item["repo"] = repo
    if release is not None:
        if not REF_NAME.match(release) or ".." in release:
            raise ValueError(f"--release: '{release}' is not a tag name")
        item["release"] = release
    return item


def same_work(a: Ref, b: Ref) -> bool:
    """True when two items name the same commit, tag or PR in the same repository (release aside)."""
    kind = kind_of(a)
    if kind is None or kind != kind_of(b) or a.get("repo") != b.get("repo"):
        return False
    if kind == "commit":
        x, y = str(a["commit"]), str(b["commit"])
        return x.startswith(y) or y.startswith(x)
    return a[kind] == b[kind]


def repository_problems(record: Mapping[str, Any], repositories: Mapping[str, Any]) -> list[tuple[tuple, str]]:
    """(json path, message) for each implemented_by item naming a repository itsm.yaml does not declare."""
    out = []
    for i, ref in enumerate(record.get("implemented_by") or []):
        if isinstance(ref, Mapping) and ref.get("repo") is not None and ref["repo"] not in repositories:
            known = ", ".join(sorted(repositories)) or "none declared"
            out.append((("implemented_by", i, "repo"),
                        f"unknown repository '{ref['repo']}' (repositories: in itsm.yaml: {known})"))
    return out


def existence_problems(record: Mapping[str, Any],
                       exists: Callable[[str | None, str, str], bool | None]) -> list[tuple[tuple, str]]:
    """(json path, message) for each commit or tag that is missing where its repository is at hand.

    ``exists(repo, kind, value)`` answers True, False, or None when it cannot
    tell (the repository is not at hand); None is never a problem. Pull
    requests live on a Git host and are not checked.
    """
    out = []
    for i, ref in enumerate(record.get("implemented_by") or []):
        if not isinstance(ref, Mapping):
            continue
        kind = kind_of(ref)
        if kind not in ("commit", "tag") or not isinstance(ref[kind], str):
            continue
        if exists(ref.get("repo"), kind, ref[kind]) is False:
            where = f"repository '{ref['repo']}'" if ref.get("repo") else "this desk's repository"
            noun = "commit" if kind == "commit" else "tag"
            out.append((("implemented_by", i, kind), f"{noun} {ref[kind]} does not exist in {where}"))
    return out


def _release(ref: Ref) -> str | None:
    release = ref.get("release") or (ref.get("tag") if kind_of(ref) == "tag" else None)
    return str(release) if release else None


def releases_of(record: Mapping[str, Any]) -> list[str]:
    """The releases a change shipped in: each item's ``release``, a tag item's own tag; in order, each once."""
    found: list[str] = []
    for ref in record.get("implemented_by") or []:
        if not isinstance(ref, Mapping):
            continue
        release = _release(ref)
        if release and release not in found:
            found.append(release)
    return found


def done_at(record: Mapping[str, Any], config: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a change was done: its last move into a resolved or closed state (its review, its closure).

    A change still open counts from the last entry that recorded implementing
    work (an edit of ``implemented_by``), so work in progress shows in the
    period it was done; None when neither happened.
    """
    from itsm_cli.core.sla import category_of, parse_timestamp, state_timeline

    done = None
    for at, state in state_timeline(record, config, now):
        if category_of(config, record.get("type"), state) in ("resolved", "closed"):
            done = at
    if done is not None:
        return done
    for entry in record.get("history") or []:
        if isinstance(entry, Mapping) and "implemented_by" in (entry.get("fields") or {}):
            try:
                done = parse_timestamp(entry.get("at"))
            except (TypeError, ValueError):
                continue
    return done


def releases_report(changes: Iterable[Mapping[str, Any]], config: Mapping[str, Any], *, now: datetime,
                    since: datetime | None = None, until: datetime | None = None,
                    service: str | None = None) -> list[dict[str, Any]]:
    """One row per (release, change) for changes with implemented_by done in ``[since, until)``.

    A change in two releases appears under both; one whose items name no
    release is listed under :data:`UNRELEASED`. Rows are sorted by release
    (newest-looking last: by the time its first change was done), then by
    when each change was done. ``implemented_by`` holds the items as the change
    records them; ``items`` the same, described for people.
    """
    rows: list[dict[str, Any]] = []
    for change in changes:
        refs = [r for r in change.get("implemented_by") or [] if isinstance(r, Mapping)]
        if not refs or (service is not None and change.get("service") != service):
            continue
        when = done_at(change, config, now)
        if when is None or (since is not None and when < since) or (until is not None and when >= until):
            continue
        for release in releases_of(change) or [UNRELEASED]:
            # Work that names no release belongs to every release of its change.
            mine = [r for r in refs if _release(r) in (release, None)]
            rows.append({
                "release": release, "change": change.get("id"), "title": change.get("title"),
                "service": change.get("service"), "status": change.get("status"),
                "done_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "implemented_by": [dict(r) for r in mine], "items": [describe(r) for r in mine],
            })
    first: dict[str, str] = {}
    for row in rows:
        first[row["release"]] = min(first.get(row["release"], row["done_at"]), row["done_at"])
    rows.sort(key=lambda r: (r["release"] == UNRELEASED, first[r["release"]], r["release"], r["done_at"], str(r["change"])))
    return rows
