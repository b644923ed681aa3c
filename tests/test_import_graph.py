"""The package's import graph: no module imports itself back, and ``bench.run`` stays below
``bench.tune`` and ``bench.personalise`` (they bring their tasks to it, never the reverse).

Every ``import`` and ``from ... import`` statement counts, wherever it stands in a module:
at the top, inside a function (a lazy import) or under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bench"
LOWER = "bench.run"  # the layer that executes work items
UPPER = ("bench.tune", "bench.personalise")  # the layers that bring tasks to it


def module_name(path: Path) -> str:
    """``bench/run/plan.py`` -> ``bench.run.plan``; ``bench/run/__init__.py`` -> ``bench.run``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(node: ast.AST, here: str, is_package: bool, known: set[str]) -> list[str]:
    """The package's modules an import statement names: ``import a.b`` -> ``a.b``;
    ``from a import b`` -> ``a.b`` when that is a module, else ``a``; relative imports are
    resolved against ``here`` (a package's own name when ``is_package``)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = here if is_package else here.rpartition(".")[0]
            for _ in range(node.level - 1):
                anchor = anchor.rpartition(".")[0]
            base = f"{anchor}.{base}" if base else anchor
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    else:
        return []
    return [name for name in names if name in known]


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its source)."""
    found = modules()
    known = set(found)
    graph = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = {m for node in ast.walk(tree) for m in imported(node, name, is_package, known)}
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted:
    every import cycle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle_and_resolves_imports():
    """The helpers see a cycle where there is one, and resolve ``from`` imports to modules."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    known = {"bench.run", "bench.run.grid", "bench.tune.apply"}
    tree = ast.parse("from bench.run import grid, Selection\nimport bench.tune.apply as a\n")
    named = [m for node in tree.body for m in imported(node, "bench.x", False, known)]
    assert named == ["bench.run.grid", "bench.run", "bench.tune.apply"]
    relative = ast.parse("from .grid import x\nfrom . import grid\n")
    named = [m for node in relative.body for m in imported(node, "bench.run.plan", False, known)]
    assert named == ["bench.run.grid", "bench.run.grid"]


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles (modules that import each other, directly or not): " + (
        "; ".join(" <-> ".join(component) for component in found)
    )


@pytest.mark.parametrize("upper", UPPER)
def test_run_imports_nothing_from_the_layers_above_it(upper: str):
    graph = import_graph()
    edges = [
        f"{module} -> {target}"
        for module, targets in sorted(graph.items())
        if module == LOWER or module.startswith(LOWER + ".")
        for target in sorted(targets)
        if target == upper or target.startswith(upper + ".")
    ]
    assert not edges, f"{LOWER} must not import {upper}: " + ", ".join(edges)
