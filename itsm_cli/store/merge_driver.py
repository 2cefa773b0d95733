"""The record-aware git merge driver: ``itsm merge-driver %O %A %B %L %P``.

A desk enables it with::

    git config merge.itsm.driver "itsm merge-driver %O %A %B %L %P"
    # .gitattributes
    tickets/**/*.yaml merge=itsm
    kb/*.md merge=itsm

git hands the driver three temporary files (common ancestor, ours, theirs);
the result goes into the "ours" file, and the exit code says whether the merge
was clean (0) or left conflicts (1). Records are merged field by field by
:func:`itsm_cli.core.merge.merge_records`; a conflicted file keeps ours'
values and starts with ``# itsm merge conflict: ...`` comment lines. KB
articles merge their front matter the same way and their Markdown body line by
line, with git-style conflict markers where both sides changed the same lines.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from itsm_cli.core.merge import conflict_summary, merge_records
from itsm_cli.errors import InvalidRecord
from itsm_cli.store import yaml_io
from itsm_cli.store.atomic import write_atomic
from itsm_cli.store.gitprocess import merge_file

CONFLICT_PREFIX = "# itsm merge conflict: "
USAGE = "usage: itsm merge-driver BASE OURS THEIRS [MARKER_SIZE [PATH]]  (git: %O %A %B %L %P)"


@dataclass
class _Outcome:
    text: str
    problems: list[str] = field(default_factory=list)


def run_merge_driver(base_path: str, ours_path: str, theirs_path: str, marker_size: int, file_path: str) -> int:
    """Merge one record file the way git expects of a merge driver.

    Writes the result over ``ours_path`` (atomically) and returns 0 when clean,
    1 when conflicts were left for a human. If a file cannot be read or parsed,
    returns 1 without touching ``ours_path``, so git reports an ordinary conflict.
    """
    shown = file_path or ours_path
    try:
        raw = [_read(p) for p in (base_path, ours_path, theirs_path)]
    except OSError as e:
        _say(f"itsm: error: {shown}: cannot read {e.filename}: {e.strerror}")
        return 1
    try:
        if shown.lower().endswith(".md"):
            outcome = _merge_article(*raw, marker_size=marker_size, path=shown)
        else:
            outcome = _merge_yaml(*raw, path=shown)
    except InvalidRecord as e:
        _say(f"itsm: error: {e} (left for a manual merge)")
        return 1
    except Exception as e:  # git must get a conflict, never a traceback
        _say(f"itsm: error: {shown}: merge driver failed ({type(e).__name__}: {e}); left for a manual merge")
        return 1
    try:
        write_atomic(Path(ours_path), outcome.text)
    except OSError as e:
        _say(f"itsm: error: {shown}: cannot write the merge result: {e.strerror}")
        return 1
    for line in outcome.problems:
        _say(f"itsm: merge conflict in {shown}: {line}")
    return 1 if outcome.problems else 0


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _merge_yaml(base: bytes, ours: bytes, theirs: bytes, path: str) -> _Outcome:
    """Merge YAML records; an empty base (both sides added the file) counts as no base."""
    base_rec = yaml_io.load_mapping(base, path) if base.strip() else None
    ours_rec = yaml_io.load_mapping(ours, path)
    theirs_rec = yaml_io.load_mapping(theirs, path)
    result = merge_records(base_rec, ours_rec, theirs_rec)
    problems = _lines(conflict_summary(result.conflicts))
    header = _leading_comments(yaml_io.decode(ours, path)) + [CONFLICT_PREFIX + p for p in problems]
    return _Outcome("".join(f"{line}\n" for line in header) + yaml_io.dumps(result.merged), problems)


def _merge_article(base: bytes, ours: bytes, theirs: bytes, marker_size: int, path: str) -> _Outcome:
    """Merge a KB article: front matter as a record, the Markdown body line by line."""
    text = yaml_io.decode(base, path)
    base_part = _split_article(text, path) if text.strip() else None
    ours_part = _split_article(yaml_io.decode(ours, path), path)
    theirs_part = _split_article(yaml_io.decode(theirs, path), path)
    result = merge_records(base_part[0] if base_part else None, ours_part[0], theirs_part[0])
    problems = _lines(conflict_summary(result.conflicts))
    body, body_clean = _merge_body(base_part[1] if base_part else None, ours_part[1], theirs_part[1], marker_size)
    if not body_clean:
        problems.append("body: both sides changed the same text (see the conflict markers)")
    header = _leading_comments(ours_part[2]) + [CONFLICT_PREFIX + p for p in problems]
    text = yaml_io.dumps_front_matter(result.merged, body)
    if header:
        text = "---\n" + "".join(f"{line}\n" for line in header) + text[len("---\n") :]
    return _Outcome(text, problems)


def _split_article(text: str, path: str) -> tuple[dict, str, str]:
    """(front matter mapping, body, front matter text) of a Markdown file."""
    front, body, _ = yaml_io.split_front_matter(text, path)
    return yaml_io.load_mapping(front.encode("utf-8"), path), body, front


def _merge_body(base: str | None, ours: str, theirs: str, marker_size: int) -> tuple[str, bool]:
    """Three-way merge of Markdown text; returns (text, clean)."""
    if ours == theirs or theirs == base:
        return ours, True
    if ours == base:
        return theirs, True
    line_merge = _git_merge_file(base or "", ours, theirs, marker_size)
    if line_merge is not None:
        return line_merge
    size = max(marker_size, 1)
    ours_text = ours if ours.endswith("\n") or not ours else ours + "\n"
    theirs_text = theirs if theirs.endswith("\n") or not theirs else theirs + "\n"
    text = f"{'<' * size} ours\n{ours_text}{'=' * size}\n{theirs_text}{'>' * size} theirs\n"
    return text, False


def _git_merge_file(base: str, ours: str, theirs: str, marker_size: int) -> tuple[str, bool] | None:
    """Line-level merge with ``git merge-file``, so edits to different paragraphs both survive.

    Returns None when git cannot do it (the caller then marks the whole body).
    """
    with tempfile.TemporaryDirectory(prefix="itsm-merge-") as tmp:
        names = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            file = os.path.join(tmp, name)
            with open(file, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            names.append(file)
        result = merge_file(*names, marker_size)
    if result is None:
        return None
    code, out = result
    # git merge-file exits with the number of conflicts (capped at 127), or >127 on error.
    if code < 0 or code > 127:
        return None
    try:
        return out.decode("utf-8"), code == 0
    except UnicodeDecodeError:
        return None


def _lines(summary: str) -> list[str]:
    return summary.split("\n") if summary else []


def _leading_comments(text: str) -> list[str]:
    """Comment lines at the top of ours' file (e.g. a yaml-language-server schema line), minus old conflict notes."""
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        if stripped.startswith("#") and not stripped.startswith(CONFLICT_PREFIX.strip()):
            kept.append(line.rstrip())
    return kept


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m itsm_cli.store.merge_driver %O %A %B %L %P``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4, 5):
        _say(USAGE)
        _say("itsm: error: merge-driver needs the base, ours and theirs files")
        return 2
    try:
        marker_size = int(args[3]) if len(args) > 3 else 7
    except ValueError:
        _say(USAGE)
        _say(f"itsm: error: marker size must be a number, not {args[3]!r}")
        return 2
    file_path = args[4] if len(args) > 4 else args[1]
    return run_merge_driver(args[0], args[1], args[2], marker_size, file_path)


if __name__ == "__main__":
    sys.exit(main())
