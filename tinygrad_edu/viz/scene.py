"""A picture of a graph, before it becomes DOT or terminal text.

A *view* (the op graph, the module view, the unrolled BPTT view, the folded
view) turns a traced :class:`~tinygrad_edu.viz.trace.Graph` into a
:class:`Scene`: boxes (``VNode``), arrows (``VEdge``) and nested groups
(``Cluster``). Then one function writes a scene as Graphviz DOT
(:mod:`~tinygrad_edu.viz.dot`) and another as a rich tree or table
(:mod:`~tinygrad_edu.viz.terminal`), so every view can be seen both ways.

Views that summarise (a module as one box, a time step as one cell) are made by
*contraction*: every graph node gets a key, nodes with the same key become one
box, and an edge between two boxes remains for each edge between their members.
"""
from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from tinygrad_edu.viz.colors import ColorScale, text_color
from tinygrad_edu.viz.trace import Graph, OpNode, TensorNode, fused_formula, tail_ops

# how each tensor role looks; the eye should find parameters and inputs first
ROLE_STYLE: dict[str, dict[str, str]] = {
    "parameter": {"shape": "box", "style": "filled,rounded,bold", "fillcolor": "#ffd966",
                  "color": "#b8860b"},
    "input": {"shape": "box", "style": "filled,rounded", "fillcolor": "#9fc5e8",
              "color": "#3d85c6"},
    "target": {"shape": "box", "style": "filled,rounded", "fillcolor": "#ead1dc",
               "color": "#a64d79"},
    "constant": {"shape": "box", "style": "filled,rounded,dashed", "fillcolor": "#f3f3f3",
                 "color": "#999999", "fontsize": "9"},
    "intermediate": {"shape": "box", "style": "rounded", "color": "#888888", "fontsize": "10"},
    "output": {"shape": "box", "style": "filled,rounded,bold", "fillcolor": "#b6d7a8",
               "color": "#38761d", "peripheries": "2"},
}
OP_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "color": "#666666",
            "fontsize": "10", "margin": "0.02"}
MODULE_STYLE = {"shape": "box3d", "style": "filled", "fillcolor": "#e1d5f5", "color": "#674ea7"}
CELL_STYLE = {"shape": "component", "style": "filled", "fillcolor": "#f4e1d2",
              "color": "#b45f06"}
ELLIPSIS_STYLE = {"shape": "note", "style": "dashed", "color": "#888888", "fontsize": "10"}
FUNCTION_STYLE = {"shape": "box", "style": "filled,rounded,dashed", "fillcolor": "#fff2cc",
                  "color": "#bf9000"}
START_STYLE = {"shape": "box", "style": "filled,rounded,dashed", "fillcolor": "#f4cccc",
               "color": "#cc0000"}
START_EDGE = {"color": "#cc0000", "penwidth": "1.5", "style": "dashed"}
CUT_EDGE = {"color": "#666666", "style": "dashed", "arrowhead": "tee", "constraint": "false",
            "label": "✂ detach()", "fontcolor": "#666666"}
STATE_EDGE = {"color": "#cc0000", "penwidth": "3", "weight": "10"}
PARAM_EDGE = {"color": "#b8860b", "penwidth": "1.2"}
INPUT_EDGE = {"color": "#3d85c6", "style": "dashed"}


def esc(text: object) -> str:
    """Escape text for a Graphviz HTML-like label."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def fmt_shape(shape: tuple) -> str:
    """``(2, 3)`` -> ``'(2, 3)'``; ``()`` -> ``'scalar'``."""
    if len(shape) == 0:
        return "scalar"
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_norm(v: float | None) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.2e}"


@dataclass
class VNode:
    """One box of a scene."""
    id: str
    kind: str                    # tensor | op | module | cell | ellipsis | legend
    text: str                    # one-line plain text (terminal views)
    html: str                    # Graphviz HTML label body (without the outer <>)
    attrs: dict = field(default_factory=dict)
    cluster: str | None = None   # id of the innermost cluster holding it
    members: list = field(default_factory=list)   # graph node ids this box stands for
    role: str | None = None      # a tensor's role
    grad_norm: float | None = None


@dataclass
class VEdge:
    """One arrow; ``count`` is how many graph edges it stands for."""
    src: str
    dst: str
    attrs: dict = field(default_factory=dict)
    count: int = 1


@dataclass
class Cluster:
    """A box around boxes (a module, a time step). Graphviz needs the id to start 'cluster'."""
    id: str
    label: str
    parent: str | None = None
    attrs: dict = field(default_factory=dict)


class Scene:
    """Nodes, edges and clusters in drawing order, plus graph attributes."""

    def __init__(self, title: str = "", rankdir: str = "TB") -> None:
        self.title = title
        self.nodes: dict[str, VNode] = {}
        self.edges: dict[tuple[str, str], VEdge] = {}
        self.clusters: dict[str, Cluster] = {}
        self.graph_attr: dict[str, str] = {"rankdir": rankdir}
        #: (Graphviz rank kind: 'same', 'min', ...; node ids) drawn as one rank
        self.ranks: list[tuple[str, list[str]]] = []

    def add_node(self, node: VNode) -> VNode:
        self.nodes[node.id] = node
        return node

    def add_edge(self, src: str, dst: str, **attrs: str) -> VEdge:
        """Add an arrow, or count one more graph edge on an arrow that is already there."""
        e = self.edges.get((src, dst))
        if e is None:
            e = self.edges[(src, dst)] = VEdge(src, dst, dict(attrs))
        else:
            e.count += 1
            e.attrs.update(attrs)
        return e

    def add_cluster(self, cid: str, label: str, parent: str | None = None,
                    **attrs: str) -> Cluster:
        if cid not in self.clusters:
            self.clusters[cid] = Cluster(cid, label, parent, dict(attrs))
        return self.clusters[cid]

    def out_edges(self, nid: str) -> list[VEdge]:
        return [e for e in self.edges.values() if e.src == nid]

    def in_edges(self, nid: str) -> list[VEdge]:
        return [e for e in self.edges.values() if e.dst == nid]

    def cap(self, max_nodes: int) -> int:
        """Keep the ``max_nodes`` boxes nearest the outputs; the rest become one '…' box.

        Distance is counted backwards along arrows from the boxes nothing reads
        (the outputs), so the end of the computation stays visible. Returns the
        number of boxes hidden.
        """
        if max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
        drawable = [n for n in self.nodes if self.nodes[n].kind not in ("legend", "anchor")]
        if len(drawable) <= max_nodes:
            return 0
        preds: dict[str, list[str]] = {n: [] for n in self.nodes}
        has_out = set()
        for (s, d) in self.edges:
            preds[d].append(s)
            has_out.add(s)
        sinks = [n for n in drawable if n not in has_out]
        keep: set[str] = set()
        queue = deque(sinks)
        seen = set(sinks)
        while queue and len(keep) < max_nodes - 1:
            n = queue.popleft()
            keep.add(n)
            for p in preds[n]:
                if p not in seen:
                    seen.add(p)
                    queue.append(p)
        for n in drawable:          # disconnected leftovers, in order
            if len(keep) >= max_nodes - 1:
                break
            keep.add(n)
        dropped = [n for n in drawable if n not in keep]
        more = VNode("more", "ellipsis", f"… {len(dropped)} more nodes",
                     f"… {len(dropped)} more nodes<BR/>"
                     f'<FONT POINT-SIZE="9">(raise max_nodes to see them)</FONT>',
                     dict(ELLIPSIS_STYLE))
        old_edges = list(self.edges.values())
        for n in dropped:
            del self.nodes[n]
        self.nodes["more"] = more
        self.edges = {}
        for e in old_edges:
            s = e.src if e.src in self.nodes else "more"
            d = e.dst if e.dst in self.nodes else "more"
            if s == d or d == "more":
                continue
            if s == "more":
                self.add_edge(s, d, style="dashed", color="#888888")
            else:
                self.edges[(s, d)] = e
        return len(dropped)


# ---------------------------------------------------------------- labels
def tensor_node(n: TensorNode, *, show_values: bool = False, value_limit: int = 16,
                show_grad: bool = True, scale: ColorScale | None = None,
                title: str | None = None, cluster: str | None = None,
                loss: str = "L") -> VNode:
    """A box for one tensor: name, shape and dtype; values and ‖grad‖ on request.

    With a colour ``scale`` and a gradient, the box is filled with the colour
    of its gradient norm (used for hidden states in the BPTT view). A view of a
    named tensor shows that tensor's shape and the shape it is seen with.
    ``loss`` is the symbol of the loss in ‖∂L/∂·‖ (the loss tensor's name).
    """
    name = title if title is not None else n.label
    lines_html = []
    if name:
        lines_html.append(f"<B>{esc(name)}</B>")
    shape = n.base_shape if n.view_of is not None and n.base_shape is not None else n.shape
    lines_html.append(f"{esc(fmt_shape(shape))} {esc(n.dtype)}")
    text = f"{name + ' ' if name else ''}{fmt_shape(shape)} {n.dtype}"
    if shape != n.shape:
        lines_html.append(f'<FONT POINT-SIZE="9">viewed as {esc(fmt_shape(n.shape))}</FONT>')
        text += f" viewed as {fmt_shape(n.shape)}"
    if show_values:
        vals = n.values(value_limit)
        if vals is not None:
            shown = vals if len(vals) <= 60 else vals[:57] + "..."
            lines_html.append(f'<FONT POINT-SIZE="9">= {esc(shown)}</FONT>')
            text += f" = {shown}"
    attrs = dict(ROLE_STYLE[n.role])
    if show_grad and n.grad_norm is not None:
        lines_html.append(f'<FONT POINT-SIZE="9">‖∂{esc(loss)}/∂·‖ = '
                          f"{esc(fmt_norm(n.grad_norm))}</FONT>")
        text += f"  ‖grad‖={fmt_norm(n.grad_norm)}"
        if scale is not None:
            fill = scale(n.grad_norm)
            attrs.update(style="filled,rounded,bold", fillcolor=fill,
                         fontcolor=text_color(fill))
    return VNode(n.id, "tensor", text, "<BR/>".join(lines_html), attrs, cluster, [n.id],
                 n.role, n.grad_norm)


def op_node(op: OpNode, graph: Graph, *, fold_constants: bool = True,
            cluster: str | None = None) -> VNode:
    """An ellipse for one op, with its name; folded constants are shown as ``mul ·2``.

    A fused node of the fast lane (one ``lstm_gates`` node for a whole LSTM step's
    gates) is a box that writes out its formula, taken from its docstring.
    """
    label = op.op
    if fold_constants:
        consts = []
        for tid in op.inputs:
            t = graph.tensors[tid]
            if t.folded:
                consts.append(t.values(1) or "")
        if consts:
            label += " " + ", ".join(consts)
    if op.fused:
        lines = fused_formula(op.formula)
        html = f"<B>{esc(label)}</B> (fused)" + "".join(
            f'<BR/><FONT POINT-SIZE="9">{esc(li)}</FONT>' for li in lines)
        attrs = dict(OP_STYLE, shape="box", style="filled,rounded")
        return VNode(op.id, "op", f"{label} (fused): " + "; ".join(lines), html, attrs,
                     cluster, [op.id])
    return VNode(op.id, "op", label, esc(label), dict(OP_STYLE), cluster, [op.id])


def loss_symbol(graph: Graph) -> str:
    """The loss in ‖∂L/∂·‖: the name of the (first) root when it has one, else 'L'."""
    name = graph.tensors[graph.roots[0]].name if graph.roots else None
    return name if name else "L"


FUNCTIONS = (None, "collapse", "expand")


class FunctionBoxes:
    """Which ops make up one library-function call, drawn as one box (the way a module is).

    A function call is a scope segment that ends in ``()`` (``'LeNet5/c1/conv2d()'``,
    written with ``tg.scope('conv2d()')`` around the call); the ops of a loss after the
    model's last layer (those after the last op that reads a parameter, see
    :func:`~tinygrad_edu.viz.trace.tail_ops`) make one more such box, named after the
    function when they all share one, else 'loss'. Two calls of one function in the same
    scope (LeNet's scaled tanh after C5 and after F6) are told apart by their ops: a
    call's ops are linked by the tensors they pass each other, and each group of linked
    ops is a box of its own (keys 'fn:<path>', 'fn:<path>#2', ...).
    """

    def __init__(self, graph: Graph, skip: set[str] = frozenset()) -> None:
        self.graph = graph
        self.box: dict[str, str] = {}            # op id -> box key 'fn:<path>'
        tail = tail_ops(graph) - set(skip)
        for op in graph.ops.values():
            if op.id in skip:
                continue
            path = _call_path(op.scope)
            if path is not None:
                self.box[op.id] = "fn:" + path
        self._split_calls()
        names = {self.box.get(o) for o in tail}
        if len(names) == 1 and None not in names:
            return                               # the loss is one named function already
        for o in tail:
            if o not in self.box:
                self.box[o] = "fn:loss"

    def _split_calls(self) -> None:
        """One box per call: the ops of one path, grouped by the tensors linking them."""
        g = self.graph
        parent = {o: o for o in self.box}

        def find(o: str) -> str:
            while parent[o] != o:
                parent[o] = parent[parent[o]]
                o = parent[o]
            return o

        for o, k in self.box.items():
            for u in g.consumers[g.ops[o].output]:
                if self.box.get(u) == k:
                    parent[find(u)] = find(o)
        seen: dict[str, dict[str, str]] = {}     # path key -> group root -> its box key
        for o in g.ops:                          # graph order: the first call keeps the path
            k = self.box.get(o)
            if k is None:
                continue
            groups = seen.setdefault(k, {})
            r = find(o)
            if r not in groups:
                groups[r] = k if not groups else f"{k}#{len(groups) + 1}"
            self.box[o] = groups[r]

    def key(self, nid: str) -> str | None:
        """The box of an op, or of a tensor made and read only inside one box."""
        g = self.graph
        if nid in g.ops:
            return self.box.get(nid)
        t = g.tensors[nid]
        if t.producer is None or nid in g.roots:
            return None
        b = self.box.get(t.producer)
        users = g.consumers[nid]
        if b is not None and users and all(self.box.get(u) == b for u in users):
            return b
        return None

    def node(self, key: str, ids: list[str], cluster: str | None = None) -> VNode:
        g = self.graph
        ops = [i for i in ids if i in g.ops]
        name = key[3:].rsplit("/", 1)[-1].split("#", 1)[0]
        counts: dict[str, int] = {}
        for o in ops:
            counts[g.ops[o].op] = counts.get(g.ops[o].op, 0) + 1
        summary = " · ".join(f"{n} {k}" if n > 1 else k for k, n in counts.items())
        if len(summary) > 48:
            summary = summary[:47] + "…"
        html = (f"<B>{esc(name)}</B> · {len(ops)} ops<BR/>"
                f'<FONT POINT-SIZE="9">{esc(summary)}</FONT>')
        return VNode(key, "function", f"{name}: {len(ops)} ops ({summary})", html,
                     dict(FUNCTION_STYLE), cluster, list(ids))


def _call_path(scope: str | None) -> str | None:
    """The scope up to its first function-call segment (``'a/conv2d()/b'`` -> ``'a/conv2d()'``)."""
    if not scope or "()" not in scope:
        return None
    segs = scope.split("/")
    for i, seg in enumerate(segs):
        if seg.endswith("()"):
            return "/".join(segs[:i + 1])
    return None


def label_width(node: VNode) -> float:
    """About how wide Graphviz draws a box, in points (the widest line of its label)."""
    lines = re.split(r"<BR/>", node.html) if node.html else [node.text]
    widest = 0.0
    for line in lines:
        plain = re.sub(r"<[^>]*>", "", line).replace("&amp;", "&").replace("&lt;", "<") \
            .replace("&gt;", ">").replace("&quot;", '"')
        size = 9.0 if 'POINT-SIZE="9"' in line else 11.0
        widest = max(widest, len(plain) * size * 0.56)
    return widest + 24.0


def contract(graph: Graph, key: Callable[[str], str | None],
             skip: Callable[[str], bool] = lambda n: False,
             ) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[tuple[str, str]]]]:
    """Merge graph nodes that share a key.

    ``key(node_id)`` gives the box a node belongs to (a node's own id when it
    stays a box of its own); nodes with ``skip(node_id)`` are left out (folded
    constants). Returns ``members`` (box -> node ids, in graph order) and
    ``edges`` ((box, box) -> the graph edges between them).
    """
    members: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for nid in graph.order():
        if skip(nid):
            continue
        k = key(nid) or nid
        keys[nid] = k
        members.setdefault(k, []).append(nid)
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s, d in graph.edges():
        if s not in keys or d not in keys:
            continue
        ks, kd = keys[s], keys[d]
        if ks != kd:
            edges.setdefault((ks, kd), []).append((s, d))
    return members, edges
