"""Setting a desk up by command: people and groups added to ``itsm.yaml``, a starting catalog file for a service.

``itsm.yaml`` is written by hand and its comments explain it, so it is never
re-dumped: a new list item is inserted as text after the last item of its
top-level list, in that list's own style and indentation. The caller re-parses
the result and checks it equals the old configuration plus exactly that item
(:func:`added_item`); a file whose shape this cannot edit safely is refused, not
rewritten. Pure text in, text out: no file system here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from itsm_cli.errors import Refused

_TOP_KEY = re.compile(r"^[^\s#-][^:]*:")
_KEYWORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n", "none", "~"}


def _scalar(value: Any) -> str:
    """A YAML scalar for ``value``: plain for slugs and simple addresses, else double-quoted (JSON is valid YAML)."""
    text = str(value)
    # Plain when it cannot be read as anything but this string (the caller re-parses the result to make sure).
    if re.fullmatch(r"[A-Za-z][\w.@+'-]*( [\w.@+'-]+)*", text) and text.lower() not in _KEYWORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(item: Mapping[str, Any]) -> str:
    parts = []
    for key, value in item.items():
        if isinstance(value, list):
            parts.append(f"{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            parts.append(f"{key}: {_scalar(value)}")
    return "{" + ", ".join(parts) + "}"


def _block(item: Mapping[str, Any], indent: str) -> list[str]:
    lines = []
    for n, (key, value) in enumerate(item.items()):
        lead = f"{indent}- " if n == 0 else f"{indent}  "
        if isinstance(value, list):
            lines.append(f"{lead}{key}: [{', '.join(_scalar(v) for v in value)}]")
        else:
            lines.append(f"{lead}{key}: {_scalar(value)}")
    return lines


def insert_list_item(text: str, key: str, item: Mapping[str, Any]) -> str:
    """``text`` (an itsm.yaml) with ``item`` appended to its top-level list ``key``, comments and order untouched.

    Handles ``key: []`` and a block list of flow (``- {id: x}``) or block
    items; anything else (a flow list with items, a list written elsewhere
    than at the top level) is refused.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"^{re.escape(key)}:(\s|$)", line)), None)
    if start is None:
        raise Refused(f"itsm.yaml has no top-level '{key}:' list to add to; add one by hand")
    head = lines[start].split("#", 1)[0].rstrip()
    rest = head[len(key) + 1:].strip()
    if rest == "[]":
        newline = "\n"
        body = _block(item, "  ") if len(item) > 2 else [f"  - {_flow(item)}"]
        lines[start] = f"{key}:" + (" #" + lines[start].split("#", 1)[1].rstrip("\n") if "#" in lines[start] else "") + newline
        return "".join(lines[: start + 1]) + "".join(b + "\n" for b in body) + "".join(lines[start + 1:])
    if rest:
        raise Refused(f"itsm.yaml's '{key}:' is written in flow style ([...]); itsm adds to a block list "
                      f"(one '- ' item a line) only: add the entry by hand, or rewrite the list as a block")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if _TOP_KEY.match(lines[i]) or lines[i].startswith(("---", "...")):
            end = i
            break
    content = [i for i in range(start + 1, end) if lines[i].strip() and not lines[i].lstrip().startswith("#")]
    items = [i for i in content if lines[i].lstrip().startswith("- ")]
    if not items or content[0] != items[0]:
        raise Refused(f"itsm.yaml's '{key}:' list is not in a shape itsm can edit safely; add the entry by hand")
    indent = lines[items[0]][: len(lines[items[0]]) - len(lines[items[0]].lstrip())]
    last = content[-1]
    if lines[items[-1]].lstrip().startswith("- {"):
        body = [f"{indent}- {_flow(item)}"]
    else:
        body = _block(item, indent)
    after = lines[last] if lines[last].endswith("\n") else lines[last] + "\n"
    return "".join(lines[:last]) + after + "".join(b + "\n" for b in body) + "".join(lines[last + 1:])


def added_item(old: Mapping[str, Any], new: Mapping[str, Any], key: str, item: Mapping[str, Any]) -> bool:
    """True when ``new`` is ``old`` with ``item`` appended to the list ``key`` and nothing else changed."""
    if set(old) != set(new):
        return False
    for k in new:
        if k == key:
            if list(new[k] or []) != [*(old.get(k) or []), dict(item)]:
                return False
        elif old.get(k) != new[k]:
            return False
    return True


def service_text(service_id: str, name: str, owner: str, group: str | None, support_hours: str,
                 sla: str | None, state: str) -> str:
    """A complete catalog file for a new service: valid as it is, with comments saying what to fill in."""
    lines = [
        "# yaml-language-server: $schema=../schemas/service.schema.json",
        "# Made by 'itsm service new'. Fill in the summary, description, offerings and",
        "# dependencies, check with 'itsm validate', and commit (or open a pull request).",
        f"id: {service_id}",
        "type: service",
        f"name: {_scalar(name)}",
        f"status: {state}",
        f"summary: {_scalar('One line on what ' + name + ' is, for the catalog page.')}",
        "description: |",
        f"  What {name} is, who it is for and how to get help with it (Markdown).",
        "category: General",
        "tags: []",
        f"owner: {_scalar(owner)}",
    ]
    if group:
        lines.append(f"group: {group}")
    lines.append(f"support_hours: {support_hours}")
    if sla:
        lines.append(f"sla: {sla}")
    lines += [
        "depends_on: [] # other services' IDs, e.g. [identity, network]",
        "# What people can request. Each offering: id, name, approval (false, or {group: ...}),",
        "# fulfilment (e.g. 2d), and a form of fields ({id, label, type, required}).",
        "offerings: []",
    ]
    return "\n".join(lines) + "\n"
