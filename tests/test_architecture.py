"""Architecture: rfbench's import graph has no cycles and respects the layers, and nothing in the
repository cites a file it does not contain.

The graph is built from the source with ``ast`` (scripts/import_graph.py): module-level and
function-level imports, relative imports resolved, ``from PKG import NAME`` resolved to the module
``PKG.NAME`` where it exists. The target layers and the plan that gets there are in
docs/architecture-plan.md. The checks of the real tree name every cycle, layer violation or missing
citation they find; the tests of the tools themselves run on synthetic packages.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


ig = _load("rfbench_import_graph", ROOT / "scripts" / "import_graph.py")
cc = _load("rfbench_check_citations", ROOT / "scripts" / "check_citations.py")


@pytest.fixture(scope="module")
def graph():
    return ig.build_graph(ROOT / "rfbench")


def _cycle_report(adj) -> str:
    return "\n".join(ig.describe_cycle(c, adj) for c in ig.cycles(adj))


# -- the real tree -------------------------------------------------------------------------------------

def test_no_cycle_between_subpackages(graph):
    _, edges = graph
    adj = ig.adjacency(edges, ig.subpackage)
    assert not ig.cycles(adj), "import cycles between sub-packages:\n" + _cycle_report(adj)


def test_no_cycle_between_files(graph):
    _, edges = graph
    adj = ig.adjacency(edges)
    assert not ig.cycles(adj), "import cycles between files:\n" + _cycle_report(adj)


def test_layers_import_only_below(graph):
    _, edges = graph
    bad = ig.layer_violations(edges)
    assert not bad, "imports of a higher layer:\n" + "\n".join(
        f"{e.src} [{ig.layer_of(e.src)}] -> {e.dst} [{ig.layer_of(e.dst)}]: {e.where()}" for e in bad)


def test_every_module_has_a_layer(graph):
    """A new module or sub-package must be placed in the layer table (scripts/import_graph.py LAYERS)."""
    modules, _ = graph
    assert not [m for m in modules if ig.layer_of(m) is None]


def test_nothing_cites_a_file_the_repository_does_not_contain():
    problems = cc.find_problems(ROOT)
    assert not problems, "\n".join(map(str, problems))


def test_docs_pages_cite_only_what_exists():
    """The docs/ pages themselves (and their links and anchors) already resolve."""
    files = sorted((ROOT / "docs").glob("*.md"))
    assert files
    problems = cc.find_problems(ROOT, files)
    assert not problems, "\n".join(map(str, problems))


# -- the import-graph tool on synthetic packages ----------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_imports_are_resolved_like_python_does(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "__version__ = '1'\nfrom . import a\n",
        "a/__init__.py": "from .x import f\n",
        "a/x.py": "from .. import __version__\nfrom ..b import y\nimport pkg.b.z\n",
        "a/w.py": "def g():\n    from . import x\n    from ..b import helper\n",
        "b/__init__.py": "def helper(): pass\n",
        "b/y.py": "import os\nfrom pkg.a import x as _x\n",
        "b/z.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import w\n",
    })
    modules, edges = ig.build_graph(root)
    assert set(modules) == {"pkg", "pkg.a", "pkg.a.x", "pkg.a.w", "pkg.b", "pkg.b.y", "pkg.b.z"}
    got = {(e.src, e.dst, e.level) for e in edges}
    assert got == {
        ("pkg", "pkg.a", "module"),                # from . import a: the sub-package a
        ("pkg.a", "pkg.a.x", "module"),            # from .x import f
        ("pkg.a.x", "pkg", "module"),              # from .. import __version__: the root __init__
        ("pkg.a.x", "pkg.b.y", "module"),          # from ..b import y: the module y
        ("pkg.a.x", "pkg.b.z", "module"),          # import pkg.b.z
        ("pkg.a.w", "pkg.a.x", "function"),        # inside a function
        ("pkg.a.w", "pkg.b", "function"),          # a name defined in b/__init__
        ("pkg.b.y", "pkg.a.x", "module"),          # absolute from-import of a module
    }                                              # (the TYPE_CHECKING import is skipped)


def test_cycles_are_found_and_named(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "a/__init__.py": "", "a/one.py": "from ..b import two\n",
        "b/__init__.py": "", "b/two.py": "def f():\n    from ..a import one\n",
        "c.py": "from . import d\n", "d.py": "from . import e\n", "e.py": "from . import c\n",
        "f.py": "from .a import one\n",
    })
    _, edges = ig.build_graph(root)
    files = ig.adjacency(edges)
    assert ig.cycles(files) == [["pkg.a.one", "pkg.b.two", "pkg.a.one"], ["pkg.c", "pkg.d", "pkg.e", "pkg.c"]]
    assert ig.strongly_connected(files) == [["pkg.a.one", "pkg.b.two"], ["pkg.c", "pkg.d", "pkg.e"]]
    packages = ig.adjacency(edges, ig.subpackage)
    assert ["pkg.a", "pkg.b", "pkg.a"] in ig.cycles(packages)
    text = ig.describe_cycle(["pkg.a.one", "pkg.b.two", "pkg.a.one"], files)
    assert "pkg.b.two -> pkg.a.one: pkg/b/two.py:2 (function)" in text


def test_acyclic_graph_has_no_cycles(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "a.py": "from . import b\n", "b.py": "from . import c\n",
                               "c.py": "import os\n"})
    _, edges = ig.build_graph(root)
    assert ig.cycles(ig.adjacency(edges)) == []


def test_layer_table():
    assert ig.layer_of("rfbench") == "entry" and ig.layer_of("rfbench.cli") == "entry"
    assert ig.layer_of("rfbench.cache") == "core" and ig.layer_of("rfbench.models.ode") == "models"
    assert ig.layer_of("rfbench.training.fit") == "training" and ig.layer_of("rfbench.nowhere") is None
    names = [name for name, _ in ig.LAYERS]
    assert names.index("models") < names.index("training") < names.index("samplers") < names.index("metrics")
    edge = ig.Edge("rfbench.models.trained", "rfbench.samplers.adaptive", "f.py", 1, "function")
    assert ig.layer_violations([edge]) == [edge]
    assert ig.layer_violations([ig.Edge("rfbench.samplers.api", "rfbench.models.base", "f.py", 1, "module")]) == []


# -- the citation checker on a synthetic repository -----------------------------------------------------

def test_citation_checker(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## The 3M finding\n\nsee [other](missing.md), "
                                               "[ok](page.md#the-3m-finding), [bad anchor](#nowhere)\n"
                                               "```\n[in code](not-checked.md)\n```\n")
    (tmp_path / "mod.py").write_text(
        '"""Derivation: docs/page.md#the-3m-finding. Output: results.md. Web: https://x.org/a.md"""\n'
        "# the update (notes \u00a75.4)\n"
        "# also algorithms.md and docs/page.md#no-such-anchor\n"
        "# section \u00a72 of docs/page.md\n"
        "digest = hashlib.md5(b'')\n")
    got = sorted((p.file, p.line, p.text.split(":")[0].split(",")[0]) for p in cc.find_problems(
        tmp_path, [tmp_path / "docs" / "page.md", tmp_path / "mod.py"]))
    assert got == [
        ("docs/page.md", 5, "cites missing.md"),
        ("docs/page.md", 5, "links to #nowhere"),
        ("mod.py", 2, "cites a section of notes the repository does not contain"),
        ("mod.py", 2, "section sign without a file of this repository"),
        ("mod.py", 3, "cites algorithms.md"),
        ("mod.py", 3, "cites docs/page.md#no-such-anchor"),
    ]


def test_heading_slugs_follow_github():
    assert cc.slug("The 3M finding: `dpm-solver(++)-3m` is second order") == \
        "the-3m-finding-dpm-solver-3m-is-second-order"
    assert cc.slug("Ends where lambda is infinite") == "ends-where-lambda-is-infinite"
    assert cc.slug("BOSS: Bellman optimal step sizes") == "boss-bellman-optimal-step-sizes"


# -- the behaviour check of the step: result rows before and after --------------------------------------

def test_compare_results_ignores_timing_and_finds_every_difference(tmp_path):
    cr = _load("rfbench_compare_results", ROOT / "scripts" / "compare_results.py")
    head = "suite,model,data,sampler,nfe,seed,ref_rmse,wall_clock_s,git_commit,reason,notes\n"
    a = tmp_path / "a.csv"
    a.write_text(head + "toy2d,1-rf,8gaussians,euler,4,0,0.125,0.5,abc,,\n"
                        "toy2d,1-rf,8gaussians,heun,4,0,0.0625,0.7,abc,ValueError: x (at sweep.py:12),\n"
                        "toy2d,analytic-gmm-rf,,dopri5,,0,1e-9,0.1,abc,,\n")
    same = tmp_path / "same.csv"  # other timings, commit and exception location: identical rows
    same.write_text(head + "toy2d,1-rf,8gaussians,euler,4,0,0.125,0.9,def,,\n"
                           "toy2d,1-rf,8gaussians,heun,4,0,0.0625,0.1,def,ValueError: x (at cell.py:99),\n"
                           "toy2d,analytic-gmm-rf,,dopri5,,0,1e-9,0.2,def,,\n")
    assert cr.main([str(a), str(same)]) == 0
    other = tmp_path / "other.csv"
    other.write_text(head + "toy2d,1-rf,8gaussians,euler,4,0,0.12500000000000003,0.5,abc,,\n"
                            "toy2d,1-rf,8gaussians,heun,8,0,0.0625,0.7,abc,,\n"
                            "toy2d,analytic-gmm-rf,,dopri5,,0,1e-9,0.1,abc,,w2 not computed\n")
    diffs = cr.compare(cr._load(str(a)), cr._load(str(other)), exclude=cr.EXCLUDED)
    assert any("euler/4/0: ref_rmse" in d for d in diffs)           # bit-for-bit by default
    assert any(d.startswith("row only in A") and "'heun'" in d and "'4'" in d for d in diffs)
    assert any(d.startswith("row only in B") and "'8'" in d for d in diffs)
    assert any("dopri5/0: notes" in d for d in diffs)
    assert not any("wall_clock_s" in d or "git_commit" in d for d in diffs)
    assert cr.main([str(a), str(other)]) == 1
    assert not any("ref_rmse" in d for d in cr.compare(cr._load(str(a)), cr._load(str(other)),
                                                          exclude=cr.EXCLUDED, rtol=1e-12))
