"""Pictures of the computation graph: Graphviz drawings and terminal views.

The views only *read* the graph that autograd recorded; drawing never changes
what is computed. Collect the graph once, then look at it several ways::

    g = tg.viz.trace(loss, model=net)               # nodes and edges, once
    tg.viz.draw(g)                                   # every op (a graphviz.Digraph)
    tg.viz.draw(g, modules="collapse")               # one box per layer
    tg.viz.draw(g).render("graph.svg")               # graph.svg + graph.gv (DOT source)
    tg.viz.print_graph(g, view="tree")               # the same graph in the terminal

Recurrent layers (and loops written under ``tg.scope(f"t={t}")``)::

    with tg.retain_grads():                          # keep ∂L/∂h_t on every tensor
        loss.backward()
    tg.viz.draw_unrolled(loss, model=rnn)            # one cluster per time step
    tg.viz.draw_folded(loss, model=rnn)              # one cell with a loop t -> t+1
    tg.viz.print_graph(loss, view="steps")           # ‖∂L/∂h_t‖ per step, as bars

To explore a graph in a browser (hover, collapse, search, step through backward)::

    tg.viz.explore(loss, model=net).save("graph.html")   # one file, no network needed

Files: ``trace`` (collect), ``scene`` (boxes and arrows), ``ops_view`` (op graph
and module view), ``bptt`` (unrolled and folded views), ``colors`` (the colour
scale), ``dot`` (Graphviz output), ``terminal`` (rich output), ``explorer`` (the
interactive HTML page, with ``explorer.html/.css/.js``).

Importing this package is cheap: Graphviz's Python package and rich load
on first use, and the ``dot`` program is needed only to render an image.
"""
from __future__ import annotations

import importlib
from typing import Any

from tinygrad_edu.viz.colors import ColorScale
from tinygrad_edu.viz.trace import Graph, OpNode, TensorNode, trace

_LAZY = {
    "draw": "ops_view", "graph_scene": "ops_view",
    "draw_unrolled": "bptt", "draw_folded": "bptt", "unroll": "bptt", "Unrolled": "bptt",
    "step_grad_norms": "bptt", "MAX_WIDTH": "bptt",
    "Drawing": "dot", "GraphvizNotFoundError": "dot", "to_digraph": "dot",
    "print_graph": "terminal", "tree": "terminal", "table": "terminal",
    "step_table": "terminal",
    "explore": "explorer", "Explorer": "explorer",
}

__all__ = ["trace", "Graph", "TensorNode", "OpNode", "ColorScale", *_LAZY, "diff"]


def __getattr__(name: str) -> Any:
    """Load the Graphviz- and rich-based parts on first use (PEP 562)."""
    if name in _LAZY:
        module = importlib.import_module(f"tinygrad_edu.viz.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tinygrad_edu.viz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


from tinygrad_edu.viz.diff import diff  # noqa: E402  (two graphs side by side, differences marked)
