"""Mutants of the exercises' reference solutions, for testing the checker.

A mutant changes one operation in the code a learner writes (the function, or the
``backward``, to complete), the way a learner slips:

* **flip a sign**: ``a + b`` <-> ``a - b``, ``-x`` -> ``x``, or ``a * b`` -> ``-(a * b)`` (also
  ``/`` and ``@``);
* **drop a transpose**: ``w.T`` / ``w.mT`` -> ``w``, ``x.permute(...)`` /
  ``x.transpose(...)`` -> ``x``;
* **swap two arguments**: ``a - b`` -> ``b - a`` (also ``/``, ``@``, ``**``), or the first two
  arguments of a call, ``f(a, b)`` -> ``f(b, a)``.

Every site in the code is listed, in a fixed order, and every one is tested (the issue asks
for a seeded random choice of sites; all of them is that choice for every seed). The
mutated code is compiled with the solution's line numbers, so the line a report names can
be compared with the line that was changed.
"""
from __future__ import annotations

import ast
import importlib
import linecache
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exercises.specs import SPECS

TRANSPOSES = ("T", "mT")
TRANSPOSE_CALLS = ("transpose", "permute", "swapaxes")
ORDERED = (ast.Sub, ast.Div, ast.MatMult, ast.Pow)


@dataclass(frozen=True)
class Mutant:
    """One mutated solution: what was changed, on which line (``lines``: all the lines of
    the statement it is in, or of a loop's or an if's header), and the code."""
    exercise: str
    index: int
    kind: str
    line: int
    lines: range
    before: str
    after: str
    namespace: Any

    def __str__(self) -> str:
        return f"{self.exercise} #{self.index} line {self.line}: {self.kind}: {self.before} -> {self.after}"


def _target_body(tree: ast.Module, target: str) -> ast.FunctionDef:
    """The function a learner completes: ``target`` itself, or the ``backward`` of class
    ``target``."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == target:
            return node
        if isinstance(node, ast.ClassDef) and node.name == target:
            return next(n for n in node.body if isinstance(n, ast.FunctionDef)
                        and n.name == "backward")
    raise LookupError(f"no function or class {target!r}")


def _candidates(fn: ast.FunctionDef) -> list[tuple[str, ast.AST]]:
    """Every mutation site in the function, in a fixed order: (kind, node)."""
    sites = []
    for node in ast.walk(fn):
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                sites.append(("flip a sign", node))
            if isinstance(node.op, (ast.Mult, ast.Div, ast.MatMult)):
                sites.append(("negate a product", node))
            if isinstance(node.op, ORDERED):
                sites.append(("swap two arguments", node))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            sites.append(("flip a sign", node))
        elif isinstance(node, ast.Attribute) and node.attr in TRANSPOSES:
            sites.append(("drop a transpose", node))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in TRANSPOSE_CALLS:
                sites.append(("drop a transpose", node))
            positional = [a for a in node.args if not isinstance(a, ast.Starred)]
            if len(positional) >= 2 and len(positional) == len(node.args):
                sites.append(("swap two arguments", node))
    return sites


class _Apply(ast.NodeTransformer):
    """Rewrite exactly one node (found by identity in a deep copy)."""

    def __init__(self, target: ast.AST, kind: str) -> None:
        self.target, self.kind = target, kind

    def visit(self, node: ast.AST) -> Any:
        if node is not self.target:
            return self.generic_visit(node)
        k = self.kind
        if k == "flip a sign" and isinstance(node, ast.BinOp):
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
            return node
        if k == "flip a sign":                          # -x -> x
            return node.operand
        if k == "negate a product":                     # a * b -> -(a * b)
            return ast.copy_location(ast.UnaryOp(ast.USub(), node), node)
        if k == "drop a transpose":
            return node.value if isinstance(node, ast.Attribute) else node.func.value
        if isinstance(node, ast.BinOp):                 # swap two arguments
            node.left, node.right = node.right, node.left
            return node
        node.args[0], node.args[1] = node.args[1], node.args[0]
        return node


def solution_path(name: str) -> Path:
    return Path(importlib.import_module(f"exercises.solutions.{name}").__file__)


def all_mutants(name: str) -> list[Mutant]:
    """Every mutant of exercise ``name``'s solution, in a fixed order."""
    path = solution_path(name)
    source = path.read_text()
    target = SPECS[name].target
    count = len(_candidates(_target_body(ast.parse(source), target)))
    out = []
    for i in range(count):
        tree = ast.parse(source)
        kind, node = _candidates(_target_body(tree, target))[i]
        before = ast.unparse(node)
        tree = _Apply(node, kind).visit(tree)
        after = ast.unparse(_find_line(tree, node.lineno, kind, node))
        filename = f"<mutant {i} of exercises/solutions/{name}.py>"
        linecache.cache[filename] = (len(source), None, _mutated_lines(source, tree, node.lineno),
                                     filename)
        namespace: dict = {"__name__": f"mutant_{name}_{i}"}
        exec(compile(ast.fix_missing_locations(tree), filename, "exec"), namespace)
        stmt = _statement_of(ast.parse(source), node.lineno)
        out.append(Mutant(name, i, kind, node.lineno, _header_lines(stmt), before, after,
                          types.SimpleNamespace(**namespace)))
    return out


def _statement_of(tree: ast.Module, line: int) -> ast.stmt:
    """The innermost statement holding ``line``."""
    best = None
    for n in ast.walk(tree):
        if isinstance(n, ast.stmt) and n.lineno <= line <= n.end_lineno:
            if best is None or n.end_lineno - n.lineno <= best.end_lineno - best.lineno:
                best = n
    return best


def _header_lines(stmt: ast.stmt) -> range:
    """The lines of a simple statement, or of a compound statement's header only."""
    body = getattr(stmt, "body", None)
    end = body[0].lineno - 1 if body and isinstance(body, list) else stmt.end_lineno
    return range(stmt.lineno, end + 1)


def _find_line(tree: ast.Module, line: int, kind: str, node: ast.AST) -> ast.AST:
    """The statement on ``line`` after the change (for the description)."""
    best = None
    for n in ast.walk(tree):
        if isinstance(n, ast.stmt) and getattr(n, "lineno", None) == line:
            best = n
    return best if best is not None else node


def _mutated_lines(source: str, tree: ast.Module, line: int) -> list[str]:
    """The source with the mutated statement's line rewritten (so reports show it)."""
    lines = source.splitlines(keepends=True)
    stmt = _find_line(tree, line, "", tree)
    if isinstance(stmt, ast.stmt) and stmt.end_lineno == stmt.lineno:
        indent = lines[line - 1][:len(lines[line - 1]) - len(lines[line - 1].lstrip())]
        lines[line - 1] = indent + ast.unparse(stmt) + "\n"
    return lines


# ---------------------------------------------------------------- data flow from a changed line
def _names(node: ast.AST) -> set[str]:
    """The variables an expression reads."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _base(target: ast.AST) -> set[str]:
    """The variables an assignment target writes (``a[i] = ...`` writes ``a``)."""
    while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
        target = target.value
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_base(e) for e in target.elts)) if target.elts else set()
    return set()


def _header(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement reads (for a compound statement, only its header)."""
    if isinstance(stmt, ast.For):
        return [stmt.iter]
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, ast.With):
        return [i.context_expr for i in stmt.items]
    return [stmt]


def _writes(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, ast.Assign):
        return set().union(*(_base(t) for t in stmt.targets))
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        return _base(stmt.target)
    if isinstance(stmt, ast.For):
        return _base(stmt.target)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
            isinstance(stmt.value.func, ast.Attribute):            # out.append(x) changes out
        return _base(stmt.value.func.value)
    return set()


def _statements(body: list) -> list[ast.stmt]:
    out = []
    for s in body:
        out.append(s)
        for field in ("body", "orelse"):
            out += _statements(getattr(s, field, []) or [])
    return out


def dependent_lines(name: str, line: int) -> set[int]:
    """Every line of the function to complete that uses, directly or through other
    variables, what the statement on ``line`` computes (and, for a loop or an ``if``,
    every line it controls). A mistake there can only show up on these lines."""
    fn = _target_body(ast.parse(solution_path(name).read_text()), SPECS[name].target)
    loops = [s for s in _statements(fn.body) if isinstance(s, (ast.For, ast.While))
             and s.lineno <= line <= s.end_lineno]
    # what can see the change: later statements, and every statement of a loop around it
    stmts = [s for s in _statements(fn.body) if s.end_lineno >= line
             or any(lp.lineno <= s.lineno <= lp.end_lineno for lp in loops)]
    changed_stmt = _statement_of(fn, line)
    tainted: set[str] = set()
    lines: set[int] = set()

    def taint(s: ast.stmt) -> None:
        lines.update(range(s.lineno, (s.end_lineno if not hasattr(s, "body") else s.lineno) + 1))
        tainted.update(_writes(s))
        for inner in _statements(getattr(s, "body", []) or []):    # control dependence
            lines.update(range(inner.lineno, inner.end_lineno + 1))
            tainted.update(_writes(inner))
    taint(changed_stmt)
    changed = True
    while changed:                          # a loop carries values back to its earlier lines
        changed = False
        for s in stmts:
            reads = set().union(*(_names(h) for h in _header(s)))
            if reads & tainted:
                before = (len(lines), len(tainted))
                taint(s)
                changed |= (len(lines), len(tainted)) != before
    return lines


def variant(name: str, old: str, new: str) -> tuple[Any, int]:
    """The solution of exercise ``name`` with the text ``old`` (found exactly once) replaced by
    ``new``, compiled as a namespace; and the line of the change."""
    path = solution_path(name)
    source = path.read_text()
    assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times in {path.name}"
    line = source[:source.index(old)].count("\n") + 1
    changed = source.replace(old, new)
    filename = f"<a mistake in exercises/solutions/{name}.py>"
    linecache.cache[filename] = (len(changed), None, changed.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": f"mistake_{name}"}
    exec(compile(changed, filename, "exec"), namespace)
    return types.SimpleNamespace(**namespace), line
