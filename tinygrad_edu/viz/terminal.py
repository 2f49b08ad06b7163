"""The graph views in a terminal, for a learner with no image viewer (rich trees and tables).

* :func:`tree` — the graph read backwards from the loss, as backprop reads it.
  A line ``← x`` means "made from x" (a chain stays on one level); an op with
  several inputs opens a branch per input. A node used twice is written in
  full once and then marked ``↑ (see above)``.
* :func:`table` — one row per tensor and op: role, name, shape, dtype, scope,
  and ‖∂L/∂t‖ after backward.
* :func:`step_table` — ‖∂L/∂h_t‖ per time step of a recurrent layer, with a
  bar on a log scale coloured as in the unrolled drawing.
* :func:`print_graph` — print any of them.

>>> tg.viz.print_graph(loss, model=net, view="tree", modules="collapse")
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from tinygrad_edu.nn.module import Module
from tinygrad_edu.viz.bptt import Unrolled
from tinygrad_edu.viz.colors import ColorScale
from tinygrad_edu.viz.ops_view import graph_scene
from tinygrad_edu.viz.scene import Scene, VNode, fmt_norm, fmt_shape
from tinygrad_edu.viz.trace import as_graph

ROLE_COLOR = {"parameter": "bold yellow", "input": "bold cyan", "output": "bold green",
              "target": "bold magenta",
              "constant": "dim", "intermediate": "white"}
KIND_COLOR = {"op": "italic magenta", "module": "bold magenta", "cell": "bold red",
              "ellipsis": "dim"}
VIEWS = ("tree", "table", "steps")


def _style(n: VNode) -> str:
    if n.kind == "tensor":
        return ROLE_COLOR.get(n.role or "intermediate", "white")
    return KIND_COLOR.get(n.kind, "white")


def scene_tree(scene: Scene, max_depth: int = 40, title: str = "graph") -> Tree:
    """A scene as a rich Tree rooted at its outputs, walking arrows backwards."""
    preds: dict[str, list[str]] = {n: [] for n in scene.nodes}
    has_out: set[str] = set()
    for (s, d), e in scene.edges.items():
        if e.attrs.get("style") == "invis" or s not in scene.nodes or d not in scene.nodes:
            continue
        preds[d].append(s)
        has_out.add(s)
    sinks = [n for n, v in scene.nodes.items()
             if n not in has_out and v.kind not in ("legend", "anchor")]
    top = Tree(Text(title, style="bold"))
    shown: set[str] = set()
    stack: list[tuple[Tree, str, int, bool]] = [(top, s, 0, False) for s in reversed(sinks)]
    while stack:                         # explicit stack: a 1000-step chain is fine
        parent, nid, depth, chained = stack.pop()
        node = scene.nodes[nid]
        label = Text("← " if chained else "", style="dim") + Text(node.text or node.kind,
                                                                  style=_style(node))
        if nid in shown:
            parent.add(label + Text(" ↑ (see above)", style="dim"))
            continue
        shown.add(nid)
        branch = parent.add(label)
        if preds[nid] and depth + 1 >= max_depth:
            branch.add(Text(f"… {len(preds[nid])} more input(s) (raise max_depth)",
                            style="dim"))
            continue
        if len(preds[nid]) == 1:         # a chain continues on the same level: ← made from
            stack.append((parent, preds[nid][0], depth, True))
            continue
        for p in reversed(preds[nid]):
            stack.append((branch, p, depth + 1, False))
    return top


def tree(*roots: Any, params: Any = None, model: Module | None = None,
         modules: str | None = None, depth: int = 1, expand: Iterable[str] = (),
         max_depth: int = 40, show_values: bool = False) -> Tree:
    """The op graph (or module view) as a rich Tree, from the outputs back to the leaves."""
    graph = as_graph(roots, params, model, "tree")
    scene = graph_scene(graph, modules=modules, depth=depth, expand=expand,
                        show_values=show_values)
    return scene_tree(scene, max_depth, title=repr(graph))


def table(*roots: Any, params: Any = None, model: Module | None = None,
          max_rows: int | None = 200) -> Table:
    """Every tensor and op, inputs first: role, name, shape, dtype, scope, ‖∂L/∂·‖."""
    graph = as_graph(roots, params, model, "table")
    t = Table(title=repr(graph))
    for c in ("id", "kind", "name / op", "shape", "dtype", "scope", "‖∂L/∂·‖"):
        t.add_column(c, no_wrap=c in ("id", "shape"))
    order = list(graph.order())
    if max_rows is not None and len(order) > max_rows:
        half = max_rows // 2
        order = order[:half] + ["…"] + order[-half:]
    for nid in order:
        if nid == "…":
            t.add_row("…", f"{len(graph) - 2 * half} more", "", "", "", "", "")
        elif nid in graph.ops:
            op = graph.ops[nid]
            t.add_row(nid, Text("op", style=KIND_COLOR["op"]), op.op, "", "", op.scope or "",
                      "")
        else:
            n = graph.tensors[nid]
            t.add_row(nid, Text(n.role, style=ROLE_COLOR[n.role]), n.label,
                      fmt_shape(n.shape), n.dtype, n.scope or "", fmt_norm(n.grad_norm))
    return t


def step_table(*roots: Any, name: str | None = None, layer: str | None = None,
               scope: str | None = None, params: Any = None, model: Module | None = None,
               width: int = 30) -> Table:
    """‖∂L/∂h_t‖ per time step, with a log-scale bar: vanishing gradients shrink to the left.

    Needs the hidden states' gradients: ``with tg.retain_grads(): loss.backward()``.
    """
    graph = as_graph(roots, params, model, "step_table")
    u = Unrolled(graph, scope)
    norms = u.norms(name, layer)
    if not norms:
        raise ValueError("step_table: no hidden state has a gradient; run the backward inside "
                         "`with tg.retain_grads(): loss.backward()` (or call h.retain_grad() "
                         "on each state) before tracing")
    scale = ColorScale.from_values(norms.values())
    t = Table(title=f"‖∂L/∂{name or 'h'}_t‖ per time step (log scale)")
    t.add_column("t", justify="right")
    t.add_column(f"‖∂L/∂{name or 'h'}_t‖", justify="right")
    t.add_column("log₁₀", justify="right")
    t.add_column("", no_wrap=True)
    for step, v in norms.items():
        n = max(1, round(scale.position(v) * width)) if math.isfinite(v) else width
        bar = Text("█" * n, style=scale(v))
        lg = f"{math.log10(v):+.2f}" if v > 0 and math.isfinite(v) else "-"
        t.add_row(str(step), fmt_norm(v), lg, bar)
    return t


def print_graph(*roots: Any, view: str = "tree", console: Console | None = None,
                **options: Any) -> None:
    """Print a terminal view: ``view='tree'`` (default), ``'table'`` or ``'steps'``.

    Other keyword arguments go to :func:`tree`, :func:`table` or :func:`step_table`.
    """
    if view not in VIEWS:
        raise ValueError(f"print_graph: view must be one of {VIEWS}, got {view!r}")
    make = {"tree": tree, "table": table, "steps": step_table}[view]
    (console or Console()).print(make(*roots, **options))
