"""The package's tiers (docs/architecture.md), enforced over the source: every import counts (function-level
ones too), importing a module counts as importing every package above it (its __init__ runs), and no edge
may point from a tier to one it is not allowed to use. The torch-free tiers are checked in a fresh process."""
import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hslib"

# module -> tier. A new module must be placed here (the test fails on an unplaced one).
TIERS = {
    "spec": ["hslib", "hslib.registry", "hslib.vocabulary", "hslib.seeds", "hslib.config", "hslib.architectures",
             "hslib.erk", "hslib.paper", "hslib.findings", "hslib.series"],
    "planning": ["hslib.planning"],
    "store": ["hslib.files", "hslib.store"],
    "engine": ["hslib.data", "hslib.models", "hslib.device", "hslib.flops", "hslib.sparse", "hslib.sparse.masks",
               "hslib.sparse.distributions", "hslib.sparse.methods", "hslib.sparse.check", "hslib.scores",
               "hslib.rundata", "hslib.corruptions", "hslib._corruption_ops", "hslib.corrupted", "hslib.adversarial",
               "hslib.el2n", "hslib.train", "hslib.sparse.structured", "hslib.speed", "hslib.solutions",
               "hslib.solutions.magnitude_erk"],
    "execution": ["hslib.executors", "hslib.sweep"],
    "analysis": ["hslib.tables", "hslib.claims", "hslib.power", "hslib.synthetic", "hslib.estimate", "hslib.prose",
                 "hslib.exercise", "hslib.reference"],
    "presentation": ["hslib.plots", "hslib.figures"],
    "notebook": ["hslib.notebook", "hslib.reproduce", "hslib.book", "hslib.grade"],
}
# tier -> the tiers it may import (besides itself): only downward.
ALLOWED = {
    "spec": set(),
    "planning": {"spec"},
    "store": {"spec"},
    "engine": {"spec", "planning", "store"},
    "execution": {"spec", "planning", "store", "engine"},
    "analysis": {"spec", "planning", "store"},
    "presentation": {"spec", "planning", "store", "analysis"},
    "notebook": {"spec", "planning", "store", "engine", "execution", "analysis", "presentation"},
}
TORCH_FREE = [m for t in ("spec", "planning", "store", "analysis", "presentation") for m in TIERS[t]]


def modules(package: Path) -> dict:
    """{module name: file} of every module of the package rooted at `package`."""
    out = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def import_graph(package: Path = PACKAGE) -> dict:
    """{module: the hslib modules it imports}, every import statement anywhere in the file, plus the package
    __init__ of every module it imports (importing hslib.sparse.check runs hslib/sparse/__init__.py)."""
    mods = modules(package)
    graph = {}
    for name, f in mods.items():
        pkg = name if f.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for n in ast.walk(ast.parse(f.read_text())):
            if isinstance(n, ast.ImportFrom):
                if n.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (n.level - 1)]
                    target = ".".join(base + ([n.module] if n.module else []))
                else:
                    target = n.module
                deps |= {c for c in [target] + [f"{target}.{a.name}" for a in n.names] if c in mods}
            elif isinstance(n, ast.Import):
                deps |= {a.name for a in n.names if a.name in mods}
        own = {".".join(name.split(".")[:i]) for i in range(1, len(name.split(".")) + 1)}
        for d in list(deps):  # the packages above an imported module run their __init__ first (unless they are
            parts = d.split(".")  # this module's own packages, which are already running)
            deps |= {".".join(parts[:i]) for i in range(2, len(parts))} - own
        graph[name] = deps - {name}
    return graph


def violations(graph: dict) -> list[str]:
    tier_of = {m: t for t, ms in TIERS.items() for m in ms}
    out = [f"{m}: not placed in a tier" for m in graph if m not in tier_of]
    for m, deps in sorted(graph.items()):
        for d in sorted(deps):
            if m in tier_of and d in tier_of and d != "hslib" and tier_of[d] != tier_of[m] \
                    and tier_of[d] not in ALLOWED[tier_of[m]]:
                out.append(f"{m} ({tier_of[m]}) imports {d} ({tier_of[d]})")
    return out


def cycle(graph: dict) -> list | None:
    state = {}

    def visit(node, path):
        state[node] = "open"
        for d in sorted(graph.get(node, ())):
            if state.get(d) == "open":
                return path[path.index(d):] + [d]
            if d not in state:
                found = visit(d, path + [d])
                if found:
                    return found
        state[node] = "done"
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [m])):
            return found
    return None


def test_every_module_sits_in_one_tier_and_imports_only_downward():
    graph = import_graph()
    assert "hslib.store" in graph["hslib.train"] and "hslib.sparse" in graph["hslib.train"]  # the graph is real
    assert violations(graph) == []
    placed = [m for ms in TIERS.values() for m in ms]
    assert len(placed) == len(set(placed)) and set(placed) == set(graph)


def test_the_import_graph_has_no_cycle_package_inits_included():
    assert cycle(import_graph()) is None


@pytest.mark.parametrize("plant, expected", [
    ("config", "hslib.config (spec) imports hslib.train (engine)"),  # an upward import at module level
    ("paper", "hslib.paper (spec) imports hslib.sparse (engine)"),  # a function-level one, via a package __init__
])
def test_a_planted_upward_import_is_caught(tmp_path, plant, expected):
    copy = tmp_path / "hslib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    f = copy / f"{plant}.py"
    line = "from .train import run\n" if plant == "config" else "def _late():\n    from .sparse.masks import count\n"
    f.write_text(f.read_text() + "\n" + line)
    assert expected in violations(import_graph(copy))


def test_a_planted_cycle_through_a_package_init_is_caught(tmp_path):
    copy = tmp_path / "hslib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    f = copy / "sparse" / "masks.py"  # hslib.sparse/__init__ imports masks; masks importing check closes a loop
    f.write_text(f.read_text() + "\n\ndef _late():\n    from .check import register\n")
    assert cycle(import_graph(copy)) is not None


def test_the_specification_planning_store_analysis_and_presentation_tiers_load_no_torch():
    code = ("import sys, importlib\n"
            f"for m in {TORCH_FREE!r}: importlib.import_module(m)\n"
            "import json; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
