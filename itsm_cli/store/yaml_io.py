"""The one YAML loader and the one YAML writer of itsm.

The loader treats every file as hostile. Before any object is built it checks
the size, then walks libyaml's event stream (never its recursive composer, which
segfaults on deep nesting) and refuses anchors, aliases, explicit tags, merge
keys, duplicate keys, more than one document and nesting past a depth limit.
Plain scalars are resolved with YAML 1.2 core-schema rules, narrowed further:
only ``true``/``false`` are booleans, only ``null``/``~``/empty are null,
numbers have no leading zeros, and everything else (``no``, ``2026-01-01``,
``1:30``, ``0755``) stays a string.

The writer emits stable, diffable YAML: key order kept, multi-line text as
block literals, anything that could be misread quoted.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import yaml

from itsm_cli.errors import InvalidRecord
from itsm_cli.store.file_text import (
    MAX_BYTES,
    MAX_NUMBER_CHARS,
    NUMBER_START,
    PLAIN_WORDS,
    decode,
    resolve_plain,
    split_front_matter,
)

try:
    from yaml._yaml import CParser as _Parser

    HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

    HAVE_LIBYAML = False

__all__ = [  # the size limit, decoding, plain scalars and front matter come from file_text, to be used without PyYAML
    "HAVE_LIBYAML", "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_NUMBER_CHARS", "decode", "dumps", "dumps_front_matter",
    "load_bytes", "load_mapping", "loads", "resolve_plain", "split_front_matter",
]

MAX_DEPTH = 32
MAX_NODES = 200_000

Position = tuple[int, int]
Positions = dict[tuple, Position]

if not HAVE_LIBYAML:  # pragma: no cover
    warnings.warn(
        "PyYAML was built without libyaml: itsm will be about 10x slower; "
        "reinstall PyYAML with libyaml (apt install libyaml-dev; pip install --force-reinstall pyyaml)",
        stacklevel=1,
    )


def _err(message: str, path: str, mark: Any) -> InvalidRecord:
    return InvalidRecord(message, path, mark.line + 1, mark.column + 1)


def loads(text: str, path: str = "<string>", positions: Positions | None = None) -> Any:
    """Parse one YAML document safely; fill ``positions`` (path tuple -> line, col) if given.

    Raises InvalidRecord naming line and column for anything unsafe or malformed.
    """
    if len(text) > MAX_BYTES:
        raise InvalidRecord(f"document is {len(text):,} characters; the limit is {MAX_BYTES:,}", path)
    parser = _Parser(text)
    # Each stack frame: [container, key_path, pending_key, key_mark, seen_keys]
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    nodes = 0
    get_event = parser.get_event
    try:
        while True:
            event = get_event()
            if event is None:
                break
            cls = type(event)
            if cls is _SCALAR:
                # The commonest event first; the same checks, in the same order, as for any other node below.
                nodes += 1
                if nodes > MAX_NODES:
                    raise _err(f"more than {MAX_NODES:,} values in one file", path, event.start_mark)
                if event.anchor is not None:
                    raise _err(f"anchors (&{event.anchor}) are not allowed", path, event.start_mark)
                if event.tag is not None and event.tag != "!":
                    raise _err(f"explicit tags ({event.tag}) are not allowed", path, event.start_mark)
                value = event.value
                plain = not event.style and event.implicit[0]
                if plain:
                    if value in PLAIN_WORDS or value[:1] in NUMBER_START:
                        value = resolve_plain(value)
                    if value == "<<" and stack and isinstance(stack[-1][0], dict) and stack[-1][2] is _NO_KEY:
                        # Only a plain << is a merge key; a quoted '<<' is an ordinary key (and the writer quotes it).
                        raise _err("merge keys (<<) are not allowed", path, event.start_mark)
                if not stack:
                    root = value
                    continue
                # _attach, inlined for speed.
                frame = stack[-1]
                container = frame[0]
                if type(container) is list:
                    if positions is not None and not isinstance(value, (dict, list)):
                        mark = event.start_mark
                        positions[(*frame[1], len(container))] = (mark.line + 1, mark.column + 1)
                    container.append(value)
                elif frame[2] is _NO_KEY:
                    if not isinstance(value, str):
                        raise _err("mapping keys must be strings (quote numbers, true, false, null)", path,
                                   event.start_mark)
                    if value in container:
                        raise _err(f"duplicate key '{value}'", path, event.start_mark)
                    frame[2] = value
                    frame[3] = event.start_mark
                else:
                    if positions is not None:
                        key_mark = frame[3]
                        positions[(*frame[1], frame[2])] = (key_mark.line + 1, key_mark.column + 1)
                    container[frame[2]] = value
                    frame[2] = _NO_KEY
                continue
            if cls in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent):
                if cls is yaml.StreamEndEvent:
                    break
                continue
            if cls is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _err("more than one YAML document in the file", path, event.start_mark)
                continue
            if cls is yaml.AliasEvent:
                raise _err("aliases (*name) are not allowed", path, event.start_mark)
            if cls in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
                frame = stack.pop()
                value = frame[0]
                if not stack:
                    root = value
                else:
                    _attach(stack, value, path, event.start_mark, positions, frame[5])
                continue
            # A node: scalar, sequence start or mapping start.
            nodes += 1
            if nodes > MAX_NODES:
                raise _err(f"more than {MAX_NODES:,} values in one file", path, event.start_mark)
            if event.anchor is not None:
                raise _err(f"anchors (&{event.anchor}) are not allowed", path, event.start_mark)
            if cls is yaml.ScalarEvent:
                if event.tag is not None and event.tag != "!":
                    raise _err(f"explicit tags ({event.tag}) are not allowed", path, event.start_mark)
                plain = not event.style and event.implicit[0]
                value = resolve_plain(event.value) if plain else event.value
                if plain and value == "<<" and stack and isinstance(stack[-1][0], dict) and stack[-1][2] is _NO_KEY:
                    # Only a plain << is a merge key; a quoted '<<' is an ordinary key (and the writer quotes it).
                    raise _err("merge keys (<<) are not allowed", path, event.start_mark)
                if not stack:
                    root = value
                else:
                    _attach(stack, value, path, event.start_mark, positions, event.start_mark)
                continue
            # Collection start.
            if event.tag is not None:
                raise _err(f"explicit tags ({event.tag}) are not allowed", path, event.start_mark)
            if len(stack) >= MAX_DEPTH:
                raise _err(f"nested deeper than {MAX_DEPTH} levels", path, event.start_mark)
            container: Any = {} if cls is yaml.MappingStartEvent else []
            key_path = _child_path(stack)
            if positions is not None:
                positions[key_path] = (event.start_mark.line + 1, event.start_mark.column + 1)
            stack.append([container, key_path, _NO_KEY, None, None, event.start_mark])
    except yaml.reader.ReaderError as e:
        # A character YAML forbids (NUL, most C0/C1 controls): report where, on one line.
        line = text.count("\n", 0, e.position) + 1
        col = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise InvalidRecord(f"control character U+{e.character:04X} is not allowed", path, line, col) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or e.context or "malformed YAML"
        if mark is not None:
            raise InvalidRecord(f"malformed YAML: {problem}", path, mark.line + 1, mark.column + 1) from None
        raise InvalidRecord(f"malformed YAML: {problem}", path) from None
    except yaml.YAMLError as e:
        raise InvalidRecord(f"malformed YAML: {e}", path) from None
    if positions is not None and () not in positions:
        positions[()] = (1, 1)
    return root


_NO_KEY = object()
_SCALAR = yaml.ScalarEvent


def _child_path(stack: list[list[Any]]) -> tuple:
    if not stack:
        return ()
    frame = stack[-1]
    container = frame[0]
    if isinstance(container, dict):
        return (*frame[1], frame[2])
    return (*frame[1], len(container))


def _attach(stack: list[list[Any]], value: Any, path: str, mark: Any, positions: Positions | None, node_mark: Any) -> None:
    frame = stack[-1]
    container = frame[0]
    if isinstance(container, list):
        if positions is not None and not isinstance(value, (dict, list)):
            positions[(*frame[1], len(container))] = (node_mark.line + 1, node_mark.column + 1)
        container.append(value)
        return
    if frame[2] is _NO_KEY:
        if not isinstance(value, str):
            raise _err("mapping keys must be strings (quote numbers, true, false, null)", path, mark)
        if value in container:
            raise _err(f"duplicate key '{value}'", path, mark)
        frame[2] = value
        frame[3] = mark
        return
    key = frame[2]
    if positions is not None:
        key_mark = frame[3]
        positions[(*frame[1], key)] = (key_mark.line + 1, key_mark.column + 1)
    container[key] = value
    frame[2] = _NO_KEY


def load_bytes(data: bytes, path: str, positions: Positions | None = None) -> Any:
    """Decode and parse file content with every limit applied."""
    return loads(decode(data, path), path, positions)


def load_mapping(data: bytes, path: str, positions: Positions | None = None) -> dict:
    """Like :func:`load_bytes`, but the document must be a mapping."""
    value = load_bytes(data, path, positions)
    if not isinstance(value, dict):
        kind = "empty" if value is None else type(value).__name__
        raise InvalidRecord(f"expected a mapping at the top level, found {kind}", path, 1, 1)
    return value


# --- writer -----------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, no aliases, multi-line strings as literals."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent sequences inside mappings, as people write them.
        return super().increase_indent(flow, False)


# Line breaks only in YAML 1.1's eyes: libyaml folds them inside plain, single-quoted
# and block scalars (NEL became a space), so text holding one is double-quoted, where
# it is written as an escape (\N, \L, \P) and read back as itself.
_ODD_BREAKS = frozenset("\x85\u2028\u2029")


def _repr_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if not _ODD_BREAKS.isdisjoint(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    if "\n" in data:
        clean = all(line == line.rstrip() for line in data.split("\n")) and not data.startswith(" ")
        if clean and "\t" not in data and "\r" not in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    node = dumper.represent_scalar("tag:yaml.org,2002:str", data)
    # PyYAML decides quoting with YAML 1.1 rules, a superset of what our loader
    # resolves, so everything it leaves plain reads back as the same string,
    # except a few 1.2 forms we must force.
    if node.style is None and resolve_plain(data) != data:
        node.style = "'"
    return node


def _repr_int(dumper: yaml.SafeDumper, data: int) -> yaml.ScalarNode:
    # The loader reads longer numbers as text, so writing one would change the value.
    if data.bit_length() > 4 * MAX_NUMBER_CHARS or len(str(data)) > MAX_NUMBER_CHARS:
        raise InvalidRecord(f"a number longer than {MAX_NUMBER_CHARS} characters cannot be stored; quote it as text")
    return dumper.represent_int(data)


def _repr_float(dumper: yaml.SafeDumper, data: float) -> yaml.ScalarNode:
    # The loader reads .inf and .nan as text, so writing them would change the value.
    if not math.isfinite(data):
        raise InvalidRecord(f"the number {data} cannot be stored; quote it as text")
    return dumper.represent_float(data)


_Dumper.add_representer(str, _repr_str)
_Dumper.add_representer(int, _repr_int)
_Dumper.add_representer(float, _repr_float)


def dumps(data: Any) -> str:
    """Serialise to stable, human-diffable YAML (key order kept)."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100_000,
        indent=2,
    )


def dumps_front_matter(meta: dict, body: str) -> str:
    """Serialise a Markdown file with YAML front matter."""
    body = body if body.endswith("\n") or not body else body + "\n"
    return f"---\n{dumps(meta)}---\n{body}"


