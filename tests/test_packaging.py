"""What the package declares against what its code imports."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where an import name differs from its distribution's name.
DISTRIBUTION = {"yaml": "pyyaml"}


def _imported_packages() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "itsm_cli").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "itsm_cli"}


def test_every_package_the_code_imports_is_a_declared_dependency() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in declared}
    imported = _imported_packages()
    assert imported, "no third-party import found: the scan is broken"
    missing = sorted(name for name in imported if DISTRIBUTION.get(name, name).lower() not in names)
    assert missing == [], f"imported but not declared in pyproject.toml: {missing}"


def test_the_package_has_no_import_cycle() -> None:
    # Imports at module level and inside functions alike: a cycle is a cycle wherever it is written.
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "itsm_cli").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        edges = graph.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("itsm_cli"):
                edges.add(node.module)  # type: ignore[arg-type]
                edges.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name.startswith("itsm_cli"))
    for module in graph:
        graph[module] = {m for m in graph[module] if m in graph and m != module}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [c for c in (cycle_from(m) for m in sorted(graph)) if c]
    assert cycles == [], cycles


# Who may import whom (README, "Development"): each layer only what lies below it.
LAYERS = {
    "itsm_cli.core": ("itsm_cli.store", "itsm_cli.app", "itsm_cli.cli", "itsm_cli.site"),
    "itsm_cli.store": ("itsm_cli.app", "itsm_cli.cli", "itsm_cli.site"),
    "itsm_cli.site": ("itsm_cli.app", "itsm_cli.cli"),
    "itsm_cli.app": ("itsm_cli.cli",),
}


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = []
    for path in (ROOT / "itsm_cli").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        banned = next((b for layer, b in LAYERS.items() if module == layer or module.startswith(layer + ".")), ())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            wrong += [f"{module} imports {n}" for n in names
                      if any(n == b or n.startswith(b + ".") for b in banned)]
    assert wrong == []
