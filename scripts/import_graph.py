"""rfbench's import graph, built from the source with ``ast``; its cycles and layer violations.

    python scripts/import_graph.py              # cycles between sub-packages and between files, layer violations
    python scripts/import_graph.py --edges      # also every edge, with file:line and level (module / function)

Every ``import`` and ``from ... import`` statement counts, at module level and inside functions alike
(a function-level import still makes the module depend on the target; it only delays the import).
Statements under ``if TYPE_CHECKING:`` never run and are skipped. Resolution:

* relative imports are resolved against the importing module (``from ..cache import x`` in
  ``rfbench/models/trained.py`` is ``rfbench.cache``);
* ``from PKG import NAME`` is an edge to the module ``PKG.NAME`` when that module exists (a
  sub-module imported by name, e.g. ``from . import cache``), else to ``PKG`` itself (a name defined
  in PKG's ``__init__``, e.g. ``from .. import __version__`` is an edge to ``rfbench``);
* ``import a.b.c`` is an edge to the longest existing module prefix of ``a.b.c``;
* the parent packages Python runs first (``rfbench/__init__`` before any ``rfbench.x``) are not
  edges: every module would otherwise depend on the root package.

Nodes: modules (``rfbench.models.base``; a package's ``__init__`` is the package name). The
sub-package graph maps each module to ``rfbench.<first component>`` (``rfbench.models``,
``rfbench.samplers``, ...; top-level modules such as ``rfbench.cache`` and the root ``rfbench``
are their own nodes) and drops edges inside one sub-package.

The test ``tests/test_architecture.py`` uses this module; see docs/architecture-plan.md for the
target layers.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "rfbench"


@dataclass(frozen=True)
class Edge:
    src: str  # importing module
    dst: str  # imported module
    file: str  # path of the importing file, relative to the package's parent
    line: int
    level: str  # "module" (runs at import time) or "function" (inside a def: runs when called)

    def where(self) -> str:
        return f"{self.file}:{self.line} ({self.level})"


def module_name(path: Path, package_dir: Path) -> str:
    """``rfbench/models/base.py`` -> ``rfbench.models.base``; ``rfbench/models/__init__.py`` -> ``rfbench.models``."""
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover(package_dir: Path) -> dict[str, Path]:
    """Every module of the package: name -> file."""
    return {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))
            if "__pycache__" not in p.parts}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """(node, level) for every import statement, skipping ``if TYPE_CHECKING:`` bodies."""
    stack: list[tuple[ast.AST, str]] = [(tree, "module")]
    while stack:
        node, level = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:  # the else branch does run
                    stack.append((sub, level))
                continue
            child_level = "function" if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
                else level
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, level
            stack.append((child, child_level))


def _resolve_base(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from X import ...`` names (X, with relative dots resolved)."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    package_parts = parts if is_package else parts[:-1]  # a module's package; a package is its own
    if node.level - 1 > len(package_parts):
        raise ImportError(f"relative import beyond the top-level package in {module}")
    base = package_parts[: len(package_parts) - (node.level - 1)]
    if node.module:
        base = base + node.module.split(".")
    return ".".join(base)


def _longest_prefix(name: str, modules) -> str | None:
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules:
            return cand
    return None


def build_graph(package_dir: Path = ROOT / PACKAGE) -> tuple[dict[str, Path], list[Edge]]:
    """Modules of the package and every import edge between two of them (self-imports dropped)."""
    package_dir = Path(package_dir)
    modules = discover(package_dir)
    top = package_dir.name
    edges: list[Edge] = []
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        rel = str(path.relative_to(package_dir.parent))
        for node, level in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == top or alias.name.startswith(top + "."):
                        t = _longest_prefix(alias.name, modules)
                        if t:
                            targets.append(t)
            else:
                base = _resolve_base(mod, is_package, node)
                if not (base == top or base.startswith(top + ".")):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    if alias.name != "*" and sub in modules:
                        targets.append(sub)  # a sub-module imported by name
                    else:
                        t = _longest_prefix(base, modules)
                        if t:
                            targets.append(t)
            for t in dict.fromkeys(targets):
                if t != mod:
                    edges.append(Edge(mod, t, rel, node.lineno, level))
    return modules, edges


def subpackage(module: str) -> str:
    """``rfbench.models.nets.mlp`` -> ``rfbench.models``; ``rfbench.cache`` -> itself; ``rfbench`` -> itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def adjacency(edges: list[Edge], node_of=lambda m: m) -> dict[str, dict[str, list[Edge]]]:
    """node -> {node it imports: [the edges that make it so]}, without self-edges."""
    adj: dict[str, dict[str, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for e in edges:
        a, b = node_of(e.src), node_of(e.dst)
        if a != b:
            adj[a][b].append(e)
    return adj


def strongly_connected(adj: dict[str, dict[str, list]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one node, each sorted, in sorted order."""
    nodes = sorted(set(adj) | {b for bs in adj.values() for b in bs})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0

    for root in nodes:  # iterative Tarjan (the graph may be deep)
        if root in index:
            continue
        work = [(root, iter(sorted(adj.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(adj.get(w, {})))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def shortest_cycle_through(adj: dict[str, dict[str, list]], start: str, within: set[str]) -> list[str] | None:
    """The shortest path start -> ... -> start inside ``within`` (breadth first), or None."""
    prev: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        v = queue.popleft()
        for w in sorted(adj.get(v, {})):
            if w not in within:
                continue
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w not in seen:
                seen.add(w)
                prev[w] = v
                queue.append(w)
    return None


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    """A cycle a -> b -> c -> a as a rotation-independent key."""
    body = cycle[:-1]
    k = body.index(min(body))
    return tuple(body[k:] + body[:k])


def cycles(adj: dict[str, dict[str, list]]) -> list[list[str]]:
    """For every node on a cycle, the shortest cycle through it (duplicates removed): every member
    of every strongly connected component appears in at least one listed cycle."""
    found: dict[tuple[str, ...], list[str]] = {}
    for comp in strongly_connected(adj):
        members = set(comp)
        for node in comp:
            cyc = shortest_cycle_through(adj, node, members)
            if cyc is not None:
                key = _canonical(cyc)
                found.setdefault(key, list(key) + [key[0]])
    return sorted(found.values(), key=lambda c: (len(c), c))


def describe_cycle(cycle: list[str], adj: dict[str, dict[str, list[Edge]]]) -> str:
    """``a -> b -> a`` followed by one line per hop naming the import that makes it."""
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle[:-1], cycle[1:]):
        where = ", ".join(e.where() for e in adj[a][b][:3]) + (" ..." if len(adj[a][b]) > 3 else "")
        lines.append(f"    {a} -> {b}: {where}")
    return "\n".join(lines)


# -- layers -------------------------------------------------------------------------------------------
# The target layering of docs/architecture-plan.md, bottom to top. A module may import modules of its
# own layer and of the layers below it, never above. The first matching prefix decides a module's layer
# (the longest prefix wins), so ``rfbench.models.ode`` is "models"; ``rfbench`` itself means the root
# package's __init__ only ("entry"), and a module matching no prefix has no layer (a test fails on it).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("rfbench._version", "rfbench.errors", "rfbench.registry", "rfbench.identity", "rfbench.cache",
              "rfbench.parallel", "rfbench.progress")),
    ("data", ("rfbench.data",)),
    ("models", ("rfbench.models",)),
    ("training", ("rfbench.training",)),
    ("samplers", ("rfbench.samplers",)),
    ("metrics", ("rfbench.metrics",)),
    ("reporting", ("rfbench.reporting",)),
    ("runner", ("rfbench.runner",)),
    ("suites", ("rfbench.suites",)),
    ("entry", ("rfbench.cli", "rfbench.launch", "rfbench.pytest_plugin", "rfbench.__main__", "rfbench", "rfbench.plugins")),
]


def layer_of(module: str) -> str | None:
    best = None
    for layer, prefixes in LAYERS:
        for p in prefixes:
            covers = module == p or (p != PACKAGE and module.startswith(p + "."))  # the root: its __init__ only
            if covers and (best is None or len(p) > len(best[1])):
                best = (layer, p)
    return best[0] if best else None


def layer_rank(layer: str) -> int:
    return [name for name, _ in LAYERS].index(layer)


def layer_violations(edges: list[Edge]) -> list[Edge]:
    """Edges from a module to a module of a higher layer."""
    out = []
    for e in edges:
        a, b = layer_of(e.src), layer_of(e.dst)
        if a is not None and b is not None and layer_rank(b) > layer_rank(a):
            out.append(e)
    return out


def report(package_dir: Path = ROOT / PACKAGE, *, show_edges: bool = False) -> str:
    modules, edges = build_graph(package_dir)
    out = [f"{len(modules)} modules, {len(edges)} import edges "
           f"({sum(e.level == 'function' for e in edges)} inside functions)"]
    for title, node_of in (("sub-packages", subpackage), ("files", lambda m: m)):
        adj = adjacency(edges, node_of)
        cyc = cycles(adj)
        comps = strongly_connected(adj)
        out.append(f"\n== cycles between {title}: {len(cyc)} (in {len(comps)} strongly connected "
                   f"component{'s' if len(comps) != 1 else ''}) ==")
        for comp in comps:
            out.append(f"component: {', '.join(comp)}")
        for c in cyc:
            out.append(describe_cycle(c, adj))
    unplaced = sorted(m for m in modules if layer_of(m) is None)
    if unplaced:
        out.append(f"\n== modules without a layer: {', '.join(unplaced)} ==")
    bad = layer_violations(edges)
    out.append(f"\n== layer violations (an import of a higher layer): {len(bad)} ==")
    for e in sorted(bad, key=lambda e: (e.src, e.dst, e.line)):
        out.append(f"{e.src} [{layer_of(e.src)}] -> {e.dst} [{layer_of(e.dst)}]: {e.where()}")
    if show_edges:
        out.append("\n== edges ==")
        for e in sorted(edges, key=lambda e: (e.src, e.line)):
            out.append(f"{e.src} -> {e.dst}: {e.where()}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--package", default=str(ROOT / PACKAGE), help="package folder (default: rfbench/)")
    ap.add_argument("--edges", action="store_true", help="also list every edge")
    args = ap.parse_args(argv)
    print(report(Path(args.package), show_edges=args.edges))
    return 0


if __name__ == "__main__":
    sys.exit(main())
