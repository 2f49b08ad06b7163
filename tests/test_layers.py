"""The layers: every import in tinygrad_edu points down, never in a circle.

The order (DESIGN.md), bottom up::

    engine < fastlane < functional < gradcheck, serialization, cuda
           < nn, optim, data < models, train < viz < the package itself

Within the engine the reading order is also the import order: backend < graph <
ops < tensor. The check reads every module's source (AST), so it sees imports inside
functions, imports by string (``importlib.import_module``, ``__import__``), and a
higher module filling a global into a lower one (``lower_module.x = ...`` or
``setattr(lower_module, ...)``), which would hide a dependency the other way.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

import tinygrad_edu as tg

PACKAGE = Path(tg.__file__).resolve().parent
ENGINE_ORDER = ["backend", "graph", "ops", "tensor"]
LAYERS = [                              # (prefix, rank): the longest matching prefix wins
    ("tinygrad_edu.engine", 0), ("tinygrad_edu.fastlane", 1), ("tinygrad_edu.functional", 2),
    ("tinygrad_edu.gradcheck", 3), ("tinygrad_edu.serialization", 3), ("tinygrad_edu.cuda", 3),
    ("tinygrad_edu.nn", 4), ("tinygrad_edu.optim", 4), ("tinygrad_edu.data", 4),
    ("tinygrad_edu.models", 5), ("tinygrad_edu.train", 5), ("tinygrad_edu.viz", 6),
    ("tinygrad_edu", 7),
]


def rank(module: str) -> float:
    """The layer of a module; inside the engine, its place in the reading order."""
    for prefix, r in sorted(LAYERS, key=lambda p: -len(p[0])):
        if module == prefix or module.startswith(prefix + "."):
            if r == 0 and module.split(".")[-1] in ENGINE_ORDER:
                return ENGINE_ORDER.index(module.split(".")[-1]) / 10
            return r
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(name: str, modules: set) -> str:
    """``pkg.x`` is the module pkg.x if there is one, else the package pkg (x is a name)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(source: str, modules: set, package: str) -> list:
    """(line, imported module, how) for every reference from ``source`` to another module
    of ``package``: import statements anywhere, imports by string, and module globals that
    this module assigns in another one."""
    found, aliases = [], {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == package:
                    target = resolve(a.name, modules)
                    found.append((node.lineno, target, "import"))
                    aliases[a.asname or a.name.split(".")[0]] = target if a.asname else package
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == package:
            for a in node.names:
                target = resolve(f"{node.module}.{a.name}", modules)
                found.append((node.lineno, target, "import"))
                if target == f"{node.module}.{a.name}":
                    aliases[a.asname or a.name] = target
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            args = [a.value for a in node.args if isinstance(a, ast.Constant)
                    and isinstance(a.value, str)]
            if name in ("import_module", "__import__") and args and \
                    args[0].split(".")[0] == package:
                found.append((node.lineno, resolve(args[0], modules), "import by string"))
            if name == "setattr" and node.args and isinstance(node.args[0], ast.Name) and \
                    node.args[0].id in aliases:
                found.append((node.lineno, aliases[node.args[0].id], "setattr on a module"))
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                    t.value.id in aliases:
                found.append((node.lineno, aliases[t.value.id], "assigns a module global"))
    return found


def violations(root: Path, package: str) -> list:
    """Every upward or sideways-circular import, and every module-global fill, in a tree."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    modules = set(files)
    edges: dict = {m: set() for m in modules}
    problems = []
    for mod, path in files.items():
        for line, target, how in imports_of(path.read_text(encoding="utf-8"), modules, package):
            if target == mod or (target == package and mod != package and how == "import"
                                 and mod.startswith(package)):
                if target == package and mod != package:
                    problems.append(f"{mod}:{line} imports the package {package} itself")
                continue
            if how != "import":
                problems.append(f"{mod}:{line} {how} ({target})")
            if rank(target) > rank(mod):
                problems.append(f"{mod}:{line} imports {target}, a higher layer")
            edges[mod].add(target)
    problems += [f"import circle: {' -> '.join(c)}" for c in _cycles(edges)]
    return problems


def _cycles(edges: dict) -> list:
    """Circles in the module graph (an iterative depth-first search)."""
    state, cycles = {}, []
    for start in edges:
        if start in state:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                cycles.append(path[path.index(child):] + [child])
            elif child not in state and child in edges:
                state[child] = "open"
                stack.append((child, iter(sorted(edges[child]))))
                path.append(child)
    return cycles


def test_every_import_points_down_and_there_is_no_circle() -> None:
    problems = violations(PACKAGE, "tinygrad_edu")
    assert not problems, "\n".join(problems)


def _fake(tmp_path: Path, files: dict) -> Path:
    root = tmp_path / "tinygrad_edu"
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
    return root


CLEAN = {
    "__init__.py": "from tinygrad_edu import functional\n",
    "engine/__init__.py": "",
    "engine/backend.py": "",
    "engine/graph.py": "from tinygrad_edu.engine import backend\n",
    "functional/__init__.py": "from tinygrad_edu.engine.graph import x\n",
}


@pytest.mark.parametrize("where,source,expected", [
    ("engine/backend.py", "from tinygrad_edu.functional import f\n", "a higher layer"),
    ("engine/backend.py", "def f():\n    from tinygrad_edu.engine import graph\n",
     "a higher layer"),
    ("engine/graph.py", "import importlib\nm = importlib.import_module('tinygrad_edu.functional')\n",
     "import by string"),
    ("functional/__init__.py", "from tinygrad_edu.engine import graph\ngraph.hook = 1\n",
     "assigns a module global"),
    ("functional/__init__.py", "from tinygrad_edu.engine import graph\nsetattr(graph, 'x', 1)\n",
     "setattr on a module"),
    ("functional/a.py", "from tinygrad_edu.functional import b\n", "import circle"),
])
def test_the_checker_catches_each_kind_of_violation(tmp_path: Path, where: str, source: str,
                                                     expected: str) -> None:
    files = dict(CLEAN, **{where: source})
    if where == "functional/a.py":
        files["functional/b.py"] = "from tinygrad_edu.functional import a\n"
    assert not violations(_fake(tmp_path, CLEAN), "tinygrad_edu")
    problems = violations(_fake(tmp_path / "bad", files), "tinygrad_edu")
    assert any(expected in p for p in problems), problems


def test_the_reading_core_fits_its_budget() -> None:
    """The engine is read in one sitting: its four files (and the package marker) hold
    at most 1,200 lines in all, as ``wc -l tinygrad_edu/engine/*.py`` counts them."""
    files = sorted((Path(__file__).resolve().parents[1] / "tinygrad_edu" / "engine").glob("*.py"))
    assert [f.stem for f in files] == ["__init__", "backend", "graph", "ops", "tensor"]
    lines = sum(f.read_text(encoding="utf-8").count("\n") for f in files)
    assert lines <= 1200, f"the engine has {lines} lines; its budget is 1,200"
