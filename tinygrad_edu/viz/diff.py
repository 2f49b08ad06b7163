"""Two computation graphs side by side, with the node where they differ marked.

``tg.viz.diff(a, b)`` traces both graphs (each from its root tensors, or a traced
:class:`~tinygrad_edu.viz.trace.Graph`) and compares them node by node: the same op
with the same inputs at every place, and then the values (and gradients, where both
kept one) of every tensor. Graphs made by the same code have the same structure, so
their tensors pair up by position (``t0``, ``t1``, ... in trace order)::

    with tg.retain_grads():
        loss_a.backward(); loss_b.backward()
    d = tg.viz.diff(loss_a, loss_b, names=("float64", "float32"))
    d.first            # 't7': the first tensor, in forward order, whose value differs
    d.differences      # every difference: Difference('t7', 'value', 'mul'), ...
    d.render("diff.svg")

The first difference is filled red in both pictures and every later one outlined in
orange: usually the consequences of the first. For graphs that do not share a
structure (your own LSTM cell and the library's), say which nodes to mark:
``tg.viz.diff(mine, theirs, mark=(my_tensor, their_tensor))``.

The result is a ``graphviz.Digraph`` like :func:`~tinygrad_edu.viz.draw`'s (Graphviz's
``dot`` is needed only to render it), with ``first`` and ``differences`` attached.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from tinygrad_edu.gradcheck import mismatch
from tinygrad_edu.viz.trace import Graph, as_graph

FIRST_STYLE = {"style": "filled,rounded,bold", "fillcolor": "#f4cccc", "color": "#cc0000",
               "penwidth": "3"}
LATER_STYLE = {"color": "#e69138", "penwidth": "2"}


@dataclass(frozen=True)
class Difference:
    """One tensor that differs between the two graphs: its id (the same in both), what
    differs ('value', 'grad' or 'dtype'; 'marked' for a node chosen with ``mark``) and
    the op that made it (None for a leaf)."""
    node: str
    what: str
    op: str | None


def _graph(x: Any, where: str) -> Graph:
    if isinstance(x, Graph):
        return x
    roots = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    return as_graph(roots, where=where)


def structure_difference(a: Graph, b: Graph) -> str | None:
    """Why two traced graphs do not have the same structure (None when they do): the
    first op, edge or tensor shape, in trace order, that is not the same in both."""
    if len(a.tensors) != len(b.tensors) or len(a.ops) != len(b.ops):
        return (f"{len(a.ops)} ops and {len(a.tensors)} tensors against {len(b.ops)} ops and "
                f"{len(b.tensors)} tensors")
    for oid, op in a.ops.items():
        other = b.ops.get(oid)
        if other is None or other.op != op.op or other.inputs != op.inputs:
            return (f"{oid} is '{op.op}' of {op.inputs} in the first graph but "
                    + (f"'{other.op}' of {other.inputs}" if other else "missing")
                    + " in the second")
    for tid, t in a.tensors.items():
        if b.tensors[tid].shape != t.shape or b.tensors[tid].producer != t.producer:
            return (f"tensor {tid} has shape {t.shape} in the first graph, "
                    f"{b.tensors[tid].shape} in the second")
    return None


def _differs(x: Any, y: Any, rtol: float, atol: float) -> bool:
    """Do two tensors' values disagree (a NaN disagrees with everything)?"""
    if x is None or y is None or getattr(x, "data", None) is None or \
            getattr(y, "data", None) is None:
        return False                            # freed by a backward: nothing to compare
    xa, ya = x.detach().double().to("cpu"), y.detach().double().to("cpu")
    return bool(mismatch(xa, ya, atol, rtol).any().item())


def differences(a: Graph, b: Graph, rtol: float = 1e-7, atol: float = 0.0) -> list[Difference]:
    """Every tensor whose dtype, value or gradient differs between two graphs of the same
    structure, in forward order (values and dtypes), then gradients in backward order."""
    why = structure_difference(a, b)
    if why is not None:
        raise ValueError(f"diff: the two graphs differ in structure ({why}); to compare graphs "
                         "of different structure, pass mark=(tensor_in_a, tensor_in_b)")
    found, grads = [], []
    for tid, ta in a.tensors.items():
        tb = b.tensors[tid]
        op = a.ops[ta.producer].op if ta.producer else None
        if ta.dtype != tb.dtype:
            found.append(Difference(tid, "dtype", op))
        elif _differs(ta.tensor, tb.tensor, rtol, atol):
            found.append(Difference(tid, "value", op))
        elif _differs(getattr(ta.tensor, "grad", None), getattr(tb.tensor, "grad", None), rtol,
                      atol):
            grads.append(Difference(tid, "grad", op))
    return found + grads[::-1]


def diff(a: Any, b: Any, *, names: Sequence[str] = ("a", "b"), mark: Any = None,
         rtol: float = 1e-7, atol: float = 0.0, show_values: bool = True, value_limit: int = 16,
         title: str | None = None) -> Any:
    """Draw two graphs side by side and mark where they differ (see the module doc).

    ``a`` and ``b``: a root tensor, a tuple of roots, or a traced Graph. ``names`` label
    the two sides. Without ``mark`` the graphs must share their structure; values agree
    within ``atol + rtol·|b|``. ``mark=(ta, tb)`` marks those tensors instead (either may
    be None), for graphs of any structure. Returns a ``graphviz.Digraph`` with
    ``first`` (the id of the first difference, or None) and ``differences`` attached.
    """
    # the drawing code loads Graphviz's Python package: only when a picture is asked for
    from tinygrad_edu.viz.dot import to_digraph
    from tinygrad_edu.viz.ops_view import graph_scene
    from tinygrad_edu.viz.scene import Scene

    if len(names) != 2:
        raise ValueError(f"diff: names must be two labels, got {names!r}")
    ga, gb = _graph(a, "diff"), _graph(b, "diff")
    if mark is None:
        found = differences(ga, gb, rtol, atol)
        first = (found[0].node, found[0].node) if found else (None, None)
    else:
        if not isinstance(mark, (tuple, list)) or len(mark) != 2:
            raise ValueError("diff: mark must be a pair (tensor in a or None, tensor in b or None)")
        first = tuple(None if t is None else g.node(t).id for t, g in zip(mark, (ga, gb)))
        found = [Difference(i, "marked", g.ops[g.tensors[i].producer].op
                            if g.tensors[i].producer else None)
                 for i, g in zip(first, (ga, gb)) if i is not None][:1]
    later = {d.node for d in found[1:]}
    if title is None:
        head = found[0] if found else None
        title = (f"{names[0]} (left) and {names[1]} (right): " + (
            f"first difference at {head.node} ({head.what}"
            + (f", made by '{head.op}')" if head.op else ")") if head else "no difference"))
    scene = Scene(title)
    for side, graph, label, marked in (("a", ga, names[0], first[0]),
                                       ("b", gb, names[1], first[1])):
        sub = graph_scene(graph, show_values=show_values, value_limit=value_limit, steps=False)
        outer = f"cluster_side_{side}"
        scene.add_cluster(outer, label, None, style="rounded", color="#444444", fontsize="14")

        def inner(cid: str | None, side: str = side, outer: str = outer) -> str:
            return outer if cid is None else f"cluster_{side}_{cid}"
        for c in sub.clusters.values():
            scene.add_cluster(inner(c.id), c.label, inner(c.parent), **c.attrs)
        for n in sub.nodes.values():
            n.attrs = dict(n.attrs)
            producer = graph.tensors[marked].producer if marked in graph.tensors else None
            if n.id == marked or n.id == producer:
                n.attrs.update(FIRST_STYLE if n.kind == "tensor" else
                               {"color": "#cc0000", "penwidth": "3"})
            elif n.id in later:
                n.attrs.update(LATER_STYLE)
            n.id, n.cluster = f"{side}_{n.id}", inner(n.cluster)
            scene.add_node(n)
        for e in sub.edges.values():
            new = scene.add_edge(f"{side}_{e.src}", f"{side}_{e.dst}", **e.attrs)
            new.count = e.count
        scene.ranks += [(kind, [f"{side}_{i}" for i in row]) for kind, row in sub.ranks]
    drawing = to_digraph(scene, name="diff")
    drawing.first = first[0] if first[0] is not None else first[1]
    drawing.differences = found
    return drawing
