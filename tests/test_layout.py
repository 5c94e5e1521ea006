"""The layout shows the architecture: no import cycles, and nothing below imports what is above it.

The graph is read from the source with :mod:`ast` (every ``import`` and
``from ... import`` of a ``hoist`` module, type-checking imports included),
so it needs no tool; ``python tests/test_layout.py`` prints it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """``{module: hoist modules it imports}`` for every module of ``src/hoist``."""
    modules = {module_name(p): p for p in SRC.joinpath("hoist").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search (as a path that returns to its start)."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            # A package's __init__ that re-exports its submodules is not a cycle
            # with them: Python imports the package first by construction.
            if node.startswith(nxt + "."):
                continue
            if state.get(nxt) == "open":
                found.append([*path[path.index(nxt):], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_cycles() -> None:
    assert cycles(imports()) == []


def test_targets_import_nothing_above_them() -> None:
    """Targets know nothing of the steps, the pipeline or the commands."""
    above = ("hoist.steps", "hoist.pipeline", "hoist.commands", "hoist.cli", "hoist.planning", "hoist.context",
             "hoist.session", "hoist.tasks")
    upward = {m: sorted(t for t in edges if t.startswith(above))
              for m, edges in imports().items() if m.startswith("hoist.targets")}
    assert {m: t for m, t in upward.items() if t} == {}


def test_buildtime_stands_alone() -> None:
    """What runs inside debian/rules imports nothing of the library (only of hoist.buildtime)."""
    outside = {m: sorted(x for x in e if not x.startswith("hoist.buildtime"))
               for m, e in imports().items() if m.startswith("hoist.buildtime")}
    assert {m: e for m, e in outside.items() if e} == {}
    assert "hoist.buildtime.sbom" in imports()["hoist.buildtime.fixup"]  # the check sees buildtime's own imports



def test_the_cycle_search_finds_a_cycle() -> None:
    """The check above can fail: a cycle through three modules is found."""
    graph = {"hoist.a": {"hoist.b"}, "hoist.b": {"hoist.c"}, "hoist.c": {"hoist.a"}, "hoist.d": {"hoist.a"}}
    assert cycles(graph) == [["hoist.a", "hoist.b", "hoist.c", "hoist.a"]]


if __name__ == "__main__":
    graph = imports()
    for module in sorted(graph):
        print(f"{module} -> {', '.join(sorted(graph[module])) or '(none)'}")
    print(f"cycles: {cycles(graph) or 'none'}", file=sys.stderr)
