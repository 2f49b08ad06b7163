"""Backpropagation through time, drawn: the unrolled view and the folded view of an RNN.

A recurrent layer applies the same cell at every time step,

    h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)        t = 0 .. T-1

so its graph, *unrolled*, is a feed-forward net T cells deep in which every
cell uses the same W_ih, W_hh and b. Backpropagation through time is plain
backprop on that graph; since W_hh is one tensor used T times, its gradient
is the sum of the T per-step contributions:

    ∂L/∂W_hh = Σ_t ∂L/∂h_t · ∂h_t/∂W_hh|_(step t)

The layers run each step inside ``tg.scope(f"t={t}")``, so every op knows its
step. :func:`draw_unrolled` draws one cluster per step (``cluster_t0``,
``cluster_t1``, ... left to right), each shared weight once, outside the
clusters, with an arrow into every step that uses it, and the hidden-state
chain h_0 -> h_1 -> ... in bold red. After ``with tg.retain_grads():
loss.backward()`` each hidden state shows ‖∂L/∂h_t‖ and is coloured on a log
scale (blue = vanishing, red = exploding), because

    ∂L/∂h_1 = (∂h_2/∂h_1)ᵀ ··· (∂h_T/∂h_{T-1})ᵀ ∂L/∂h_T

is a product of T-1 Jacobians diag(1 - h_t²) W_hh, which shrinks or grows
geometrically. :func:`draw_folded` draws the same layer as one cell with a
loop edge t -> t+1.

A hand-written loop gets the same pictures::

    for t in range(T):
        with tg.scope(f"t={t}"):
            h = (x[t] @ W_ih.T + h @ W_hh.T + b).tanh()
            h.name = "h"
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tinygrad_edu.nn.module import Module
from tinygrad_edu.viz.colors import ColorScale, text_color
from tinygrad_edu.viz.dot import Drawing, to_digraph
from tinygrad_edu.viz.scene import (CELL_STYLE, CUT_EDGE, ELLIPSIS_STYLE, FUNCTIONS,
                                    INPUT_EDGE, PARAM_EDGE, START_EDGE, START_STYLE,
                                    STATE_EDGE, FunctionBoxes, Scene, VNode, contract, esc,
                                    fmt_norm, label_width, loss_symbol, op_node, tensor_node)
from tinygrad_edu.viz.trace import fused_formula
from tinygrad_edu.viz.trace import Graph, as_graph

# ops that only look at a tensor differently: a parameter seen through them is still itself
VIEW_OPS = frozenset({"permute", "reshape", "expand", "getitem", "copy",
                      "flip"})
DETAILS = ("cell", "ops")
#: a screen's width in points (1,400 pt are about 1,870 pixels), for ``max_width=``
MAX_WIDTH = 1400.0
STATE_NAMES = ("h", "c")


@dataclass(eq=False)
class Step:
    """The ops of one layer at one time step, and the tensors it hands on."""
    t: int
    layer: str
    ops: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)   # visible outputs (h_t, c_t, ...)
    slices: list[str] = field(default_factory=list)   # input slices x_t
    starts: list[str] = field(default_factory=list)   # leaves standing for a state:
    #                                                   h_{-1}, or a detach()-ed h_{t-1}

    @property
    def key(self) -> str:
        return f"cell:{self.layer}:{self.t}"


class Unrolled:
    """The time structure of a traced graph: steps, their states, shared parameters.

    Made by :func:`unroll`. ``steps[(layer, t)]`` is a :class:`Step`;
    ``times`` the sorted time steps; ``layers`` the layer scopes in order.
    """

    def __init__(self, graph: Graph, scope: str | None = None) -> None:
        self.graph = graph
        self.scope = scope
        self.steps: dict[tuple[str, int], Step] = {}
        self.step_of: dict[str, Step] = {}       # op or tensor id -> its step
        self.absorbed: dict[str, str] = {}       # view-of-parameter node id -> parameter id
        self.slice_of_op: dict[str, str] = {}    # slicing op id -> the slice tensor id
        self.outputs_of: dict[str, str] = {}     # a view of a state after the loop -> state
        #: a leaf standing for a state -> (state name, the step it stands for): the initial
        #: state h_{-1} of a sequence, or at a cut a detach()-ed h_{t-1} (truncated BPTT)
        self.start_states: dict[str, tuple[str, int]] = {}
        #: (layer, t) of each step whose chain was cut by detach() just before it
        self.cuts: list[tuple[str, int]] = []
        ops = graph.ops
        for op in ops.values():
            if op.step is None or (scope and not _under(op.scope, scope)):
                continue
            layer = op.layer or ""
            st = self.steps.get((layer, op.step))
            if st is None:
                st = self.steps[(layer, op.step)] = Step(op.step, layer)
            st.ops.append(op.id)
            self.step_of[op.id] = st
            self.step_of[op.output] = st
        self.times = sorted({t for (_l, t) in self.steps})
        self.layers = list(dict.fromkeys(layer for (layer, _t) in self.steps))
        self._absorb_param_views()
        self._find_slices_and_states()
        self._find_starts()
        self._absorb_step_outputs()

    def _absorb_param_views(self) -> None:
        g = self.graph
        for op in g.ops.values():
            if op.op not in VIEW_OPS or op.output in g.roots:     # W.T, inside a step or not
                continue
            srcs = {self.absorbed.get(i, i) for i in op.inputs
                    if not g.tensors[i].folded}
            if len(srcs) == 1:
                src = srcs.pop()
                if g.tensors[src].role == "parameter":
                    self.absorbed[op.id] = src
                    self.absorbed[op.output] = src

    def _external_data(self, tid: str) -> bool:
        t = self.graph.tensors[tid]
        return (tid not in self.step_of and tid not in self.absorbed
                and t.role not in ("parameter", "constant"))

    def _find_slices_and_states(self) -> None:
        g = self.graph
        roots = set(g.roots)
        for leaf in g.tensors.values():      # x[t] of data without grad is a leaf per step
            if leaf.producer is not None or leaf.role != "input":
                continue
            users = {self.step_of.get(c) for c in g.consumers[leaf.id]}
            if len(users) == 1 and None not in users:
                st = users.pop()
                st.slices.append(leaf.id)
                self.step_of[leaf.id] = st
        for op in g.ops.values():            # x_t = xs[t] cut before the loop (unbind)
            if (op.id in self.step_of or op.id in self.absorbed or op.op not in VIEW_OPS
                    or op.output in roots or not g.consumers[op.output]):
                continue
            users = {self.step_of.get(c) for c in g.consumers[op.output]}
            data = [i for i in op.inputs if not g.tensors[i].folded]
            if (len(users) == 1 and None not in users and data
                    and all(self._external_data(i) for i in data)):
                st = users.pop()
                self.step_of[op.id] = self.step_of[op.output] = st
                self.slice_of_op[op.id] = op.output
                st.slices.append(op.output)
        for st in self.steps.values():
            for oid in st.ops:
                op = g.ops[oid]
                data = [i for i in op.inputs if not g.tensors[i].folded]
                if op.op in VIEW_OPS and data and all(self._external_data(i) for i in data):
                    self.slice_of_op[oid] = op.output
                    st.slices.append(op.output)
        for st in self.steps.values():
            for oid in st.ops:
                out = g.ops[oid].output
                if out in st.slices:
                    continue
                t = g.tensors[out]
                leaves = any(self.step_of.get(c) is not st for c in g.consumers[out])
                if leaves or out in roots or t.name in STATE_NAMES:
                    st.states.append(out)

    def _feeds(self) -> dict[Step, set[Step]]:
        """Step -> the steps of its own layer that hand it a tensor (its state)."""
        g = self.graph
        fed: dict[Step, set[Step]] = {st: set() for st in self.steps.values()}
        for st in self.steps.values():
            for oid in st.ops:
                for i in g.ops[oid].inputs:
                    src = self.step_of.get(i)
                    if src is not None and src is not st and src.layer == st.layer:
                        fed[st].add(src)
        return fed

    def _find_starts(self) -> None:
        """Leaves that stand for a state: h_{-1} where a chain of steps starts, and where
        ``detach()`` cut the chain (truncated BPTT), the detached h_{t-1}.

        A step that no step of its layer feeds starts a chain: the first one starts the
        sequence, a later one follows a cut. A leaf that such a step reads where a fed step
        reads a state (the same op, the same argument) stands for that state; so does an
        unnamed leaf of a state's size in a place where fed steps read no leaf (the zeros
        of ``h = tg.zeros(H)`` reach ``U @ h`` through a view that is not recorded).
        """
        g = self.graph
        fed = self._feeds()
        if not any(fed.values()):
            return                                # not recurrent: nothing is carried
        slot_name: dict[tuple, str] = {}          # slot -> the state name read there
        leaf_slots: set[tuple] = set()            # where fed steps read a leaf (data)
        sizes: dict[str, dict[int, str]] = {}     # layer -> numel -> state name

        def slot(layer: str, op: Any, k: int) -> tuple:
            """Where a tensor is read: the op, the argument, and the weights beside it
            (U @ h and W @ x are both matmuls; U and W tell them apart)."""
            weights = tuple(sorted(self.absorbed.get(i, i) for i in op.inputs
                                   if g.tensors[self.absorbed.get(i, i)].role == "parameter"))
            return layer, op.op, k, weights

        for st, srcs in fed.items():
            for oid in st.ops if srcs else ():
                op = g.ops[oid]
                for k, i in enumerate(op.inputs):
                    t = g.tensors[i]
                    if self.step_of.get(i) in srcs:
                        slot_name.setdefault(slot(st.layer, op, k), t.name or "h")
                        sizes.setdefault(st.layer, {}).setdefault(t.numel, t.name or "h")
                    elif t.producer is None and t.role != "parameter":
                        leaf_slots.add(slot(st.layer, op, k))
        state_names = set(slot_name.values())

        def stands_for(layer: str, i: str) -> list[str]:
            t = g.tensors[i]
            names, reads = [], set()
            for c in g.consumers[i]:
                op = g.ops[c]
                for k, j in enumerate(op.inputs):
                    if j == i:
                        reads.add(slot(layer, op, k))
                        if slot(layer, op, k) in slot_name:
                            names.append(slot_name[slot(layer, op, k)])
            if names:
                return list(dict.fromkeys(names))
            named = t.name or t.view_of
            if reads & leaf_slots or (named is not None and named not in state_names):
                return []                         # data: x_t, or a named input
            name = sizes.get(layer, {}).get(t.numel)
            return [name] if name else []

        for layer in self.layers:
            steps = [self.steps[(layer, t)] for t in self.times if (layer, t) in self.steps]
            backwards = any(f.t > st.t for st in steps for f in fed[st])   # l0_reverse
            steps.sort(key=lambda st: -st.t if backwards else st.t)
            for st in steps:
                if fed[st]:
                    continue
                cut = st is not steps[0]
                if cut:
                    self.cuts.append((layer, st.t))
                before = st.t + (1 if backwards else -1)
                for oid in st.ops:
                    for i in g.ops[oid].inputs:
                        t = g.tensors[i]
                        if (t.producer is not None or t.role == "parameter" or t.folded
                                or i in self.start_states):
                            continue
                        names = stands_for(layer, i)
                        if not names:
                            continue
                        self.start_states[i] = (", ".join(names), before, cut)
                        if i in st.slices:
                            st.slices.remove(i)
                        st.starts.append(i)
                        self.step_of.setdefault(i, st)

    def _absorb_step_outputs(self) -> None:
        """A view of a step's state made after the loop (``stack`` reshapes each h_t
        before joining them) is drawn as that state, so folded steps hide theirs too."""
        g = self.graph
        for op in g.ops.values():
            if op.id in self.step_of or op.op not in VIEW_OPS or op.output in g.roots:
                continue
            data = [i for i in op.inputs if not g.tensors[i].folded]
            if len(data) != 1:
                continue
            src = self.outputs_of.get(data[0], data[0])
            st = self.step_of.get(src)
            if st is not None and src in st.states:
                self.outputs_of[op.id] = self.outputs_of[op.output] = src

    def state_title(self, tid: str) -> str | None:
        """The label of a state or a start: ``'h_3'``, ``'h_{-1}'``, ``'x_3'`` for a slice."""
        g = self.graph
        if tid in self.start_states:
            name, t, cut = self.start_states[tid]
            title = ", ".join(subscript(n, t) for n in name.split(", "))
            return title + " · detached" if cut else title
        st = self.step_of.get(tid)
        if st is None:
            return None
        tn = g.tensors[tid]
        if tid in st.slices:
            return subscript(_slice_source(g, tn), st.t)
        if tid in st.states:
            return subscript(tn.label or "h", st.t) if not tn.label or len(tn.label) <= 3 \
                else tn.label
        return None

    def carried(self, tid: str) -> bool:
        """True when a step's tensor is read by another step (a recurrent state)."""
        st = self.step_of.get(tid)
        return st is not None and any(
            self.step_of.get(c) is not None and self.step_of[c] is not st
            for c in self.graph.consumers[tid])

    def primary_state(self, st: Step, name: str | None = None) -> str | None:
        """The hidden state of a step: the one called ``name`` ('h' by default), else the
        first state carried to another step, else the first visible output."""
        g = self.graph
        want = name or "h"
        for tid in st.states:
            if g.tensors[tid].name == want:
                return tid
        if name is not None:
            return None
        for tid in st.states:
            if self.carried(tid):
                return tid
        return st.states[0] if st.states else None

    def norms(self, name: str | None = None, layer: str | None = None) -> dict[int, float]:
        """‖∂L/∂h_t‖ per time step for one layer (the last one by default).

        Needs gradients on the hidden states: trace after
        ``with tg.retain_grads(): loss.backward()``. Steps whose state has no
        gradient are left out.
        """
        if not self.layers:
            return {}
        layer = self.layers[-1] if layer is None else layer
        if layer not in self.layers:
            raise ValueError(f"norms: no layer {layer!r}; the unrolled layers are "
                             f"{self.layers}")
        out = {}
        for t in self.times:
            st = self.steps.get((layer, t))
            tid = self.primary_state(st, name) if st else None
            if tid is not None and self.graph.tensors[tid].grad_norm is not None:
                out[t] = self.graph.tensors[tid].grad_norm
        return out

    def shared(self) -> dict[str, list[int]]:
        """Parameter id -> the time steps that use it (directly or through a view of it)."""
        g = self.graph
        users: dict[str, set[int]] = {}
        for op in g.ops.values():
            st = self.step_of.get(op.id)
            if st is None:
                continue
            for i in op.inputs:
                src = self.absorbed.get(i, i)
                if g.tensors[src].role == "parameter":
                    users.setdefault(src, set()).add(st.t)
        return {p: sorted(ts) for p, ts in users.items()}


def subscript(name: str, t: int) -> str:
    """``'h_3'``; a negative step in braces, as in the lessons: ``'h_{-1}'``."""
    return f"{name}_{t}" if t >= 0 else f"{name}_{{{t}}}"


def _under(scope: str | None, prefix: str) -> bool:
    return bool(scope) and (scope == prefix or scope.startswith(prefix + "/"))


def unroll(*roots: Any, params: Any = None, model: Module | None = None,
           scope: str | None = None) -> Unrolled:
    """Find the time steps (``t=N`` scope segments) of a graph; see :class:`Unrolled`.

    ``scope`` keeps only the steps under one layer's scope (e.g. ``'Seq2Seq/encoder'``).
    """
    graph = as_graph(roots, params, model, "unroll")
    return Unrolled(graph, scope)


def step_grad_norms(*roots: Any, name: str | None = None, layer: str | None = None,
                    scope: str | None = None, params: Any = None,
                    model: Module | None = None) -> dict[int, float]:
    """‖∂L/∂h_t‖ per step: ``{t: norm}`` (after ``with tg.retain_grads(): loss.backward()``)."""
    return unroll(*roots, params=params, model=model, scope=scope).norms(name, layer)


# ---------------------------------------------------------------- scenes
def _shown_times(times: list[int], max_steps: int | None) -> tuple[list[int], list[int]]:
    """(steps drawn, steps folded into '⋯'): the first and last ones are kept."""
    if max_steps is None or len(times) <= max_steps:
        return times, []
    if max_steps < 2:
        raise ValueError(f"draw_unrolled: max_steps must be >= 2 (first and last step), got "
                         f"{max_steps}")
    head = (max_steps + 1) // 2
    tail = max_steps - head
    return times[:head] + times[len(times) - tail:], times[head:len(times) - tail]


def _op_summary(graph: Graph, op_ids: list[str], per: int = 1) -> str:
    """'2 matmul · 2 add · tanh': what a cell computes, by op name."""
    counts = Counter(graph.ops[o].op for o in op_ids if o in graph.ops)
    parts = []
    for name, n in counts.items():
        k = n // per if per > 1 and n % per == 0 else n
        parts.append(f"{k} {name}" if k > 1 else name)
    text = " · ".join(parts)
    return text if len(text) <= 60 else text[:57] + "…"


def _layer_title(layer: str, after: str | None) -> str:
    if layer:
        return layer.rsplit("/", 1)[-1]
    return after or "cell"


def _after_step(scope: str | None) -> str | None:
    """The scope segment after ``t=N`` (``'t=0/RNNCell'`` -> ``'RNNCell'``)."""
    if not scope:
        return None
    segs = scope.split("/")
    for i, s in enumerate(segs):
        if s.startswith("t=") and i + 1 < len(segs):
            return segs[i + 1]
    return None


def _slice_source(graph: Graph, tn: Any) -> str:
    """The name of what a per-step input slice was cut from ('x' for x[t])."""
    if tn.producer is None:
        return tn.name or tn.view_of or "x"
    src = next((i for i in graph.ops[tn.producer].inputs
                if not graph.tensors[i].folded), None)
    return (graph.tensors[src].label if src else "") or "x"


def _scale(graph: Graph, ids: list[str]) -> ColorScale | None:
    vals = [graph.tensors[i].grad_norm for i in ids if graph.tensors[i].grad_norm is not None]
    return ColorScale.from_values(vals) if vals else None


def unrolled_scene(u: Unrolled, *, detail: str = "cell", max_steps: int | None = None,
                   show_values: bool = False, value_limit: int = 16, show_grad: bool = True,
                   legend: bool = True, title: str | None = None,
                   functions: str | None = None, wrap: int | None = None,
                   max_width: float | None = None) -> Scene:
    """The unrolled view as a :class:`Scene` (see :func:`draw_unrolled`)."""
    if detail not in DETAILS:
        raise ValueError(f"draw_unrolled: detail must be one of {DETAILS}, got {detail!r}")
    if functions not in FUNCTIONS:
        raise ValueError(f"draw_unrolled: functions must be one of {FUNCTIONS}, got "
                         f"{functions!r}")
    if wrap is not None and (not isinstance(wrap, int) or wrap < 1):
        raise ValueError(f"draw_unrolled: wrap must be a number of steps per row >= 1, got "
                         f"{wrap!r}")
    g = u.graph
    if not u.steps:
        raise ValueError(_no_steps("draw_unrolled", g))
    shown, hidden = _shown_times(u.times, max_steps)
    hidden_set = set(hidden)
    loss = loss_symbol(g)
    scene = Scene(title or "", "TB")
    scene.graph_attr.update(nodesep="0.25", ranksep="0.4")
    all_states = [s for st in u.steps.values() for s in st.states]
    scale = _scale(g, all_states) if show_grad else None
    multi = len(u.layers) > 1
    collapse = functions == "collapse" or (functions is None and detail == "cell")
    boxes = FunctionBoxes(g, skip=set(u.step_of) | set(u.outputs_of)) if collapse else None
    for t in shown:     # clusters in time order: cluster_t0, cluster_t1, ...
        scene.add_cluster(f"cluster_t{t}", f"t = {t}", None, style="rounded",
                          color="#999999", fontsize="12")
        if multi and detail == "ops":
            for i, layer in enumerate(u.layers):
                if (layer, t) in u.steps:
                    scene.add_cluster(f"cluster_t{t}_{i}", _layer_title(layer, None),
                                      f"cluster_t{t}", style="dashed", color="#bbbbbb")

    def cluster_of(st: Any) -> str:
        if multi and detail == "ops":
            return f"cluster_t{st.t}_{u.layers.index(st.layer)}"
        return f"cluster_t{st.t}"

    def key(nid: str) -> str | None:
        if nid in u.absorbed:
            return u.absorbed[nid]
        if nid in u.outputs_of:                   # h_t seen through stack's reshape
            nid = u.outputs_of[nid]
            return "skip" if u.step_of[nid].t in hidden_set else nid
        st = u.step_of.get(nid)
        if st is None:
            return boxes.key(nid) if boxes is not None else None
        if st.t in hidden_set:
            return "skip"
        if nid in u.slice_of_op:
            return u.slice_of_op[nid]
        if detail == "ops" or nid in st.slices or nid in st.states or nid in st.starts:
            return None
        return st.key

    fold = lambda nid: nid in g.tensors and g.tensors[nid].folded  # noqa: E731
    members, edges = contract(g, key, fold)
    for k, ids in members.items():
        if k == "skip":
            scene.add_node(_skip_node(u, hidden, ids, loss))
        elif k.startswith("fn:"):
            scene.add_node(boxes.node(k, ids))
        elif k.startswith("cell:"):
            st = u.step_of[ids[0]]
            name = _layer_title(st.layer, _after_step(g.ops[st.ops[0]].scope))
            html = (f"<B>{esc(name)}</B> t={st.t}<BR/>"
                    f'<FONT POINT-SIZE="9">{esc(_op_summary(g, ids))}</FONT>')
            fused = [g.ops[i] for i in ids if i in g.ops and g.ops[i].fused]
            for op in fused[:1]:                  # the fast lane's one node: its formula
                html += "".join(f'<BR/><FONT POINT-SIZE="8">{esc(li)}</FONT>'
                                for li in fused_formula(op.formula))
            scene.add_node(VNode(k, "cell", f"{name} t={st.t}: {_op_summary(g, ids)}", html,
                                 dict(CELL_STYLE), cluster_of(st), list(ids)))
        elif k in g.ops:
            st = u.step_of.get(k)
            scene.add_node(op_node(g.ops[k], g, cluster=cluster_of(st) if st else None))
        else:
            tn = g.tensors[k]
            st = u.step_of.get(k)
            colour = scale if st is not None and k in st.states else None
            node = tensor_node(tn, show_values=show_values, value_limit=value_limit,
                               show_grad=show_grad, scale=colour, title=u.state_title(k),
                               cluster=cluster_of(st) if st else None, loss=loss)
            if k in u.start_states:
                node.attrs.update(START_STYLE)
            node.members = list(ids)
            scene.add_node(node)
    for (ks, kd), under in edges.items():
        scene.add_edge(ks, kd, **_edge_style(u, ks, kd, under))
    _mark_cuts(u, scene, hidden_set)
    # every op of a long sequence in rows is slow to lay out: 'ops' wraps only when asked
    per_row = wrap if wrap is not None else None if detail == "ops" else _steps_per_row(
        scene, shown, max_width)
    time_axis(scene, shown, hidden, _feeds_many_steps(scene), per_row)
    if scale is not None and legend:
        _legend(scene, scale, loss)
    for t in shown:
        st = next((u.steps[(layer, t)] for layer in reversed(u.layers)
                   if (layer, t) in u.steps), None)
        h = u.primary_state(st) if st else None
        if scale is not None and h is not None and g.tensors[h].grad_norm is not None:
            scene.clusters[f"cluster_t{t}"].attrs.update(color=scale(g.tensors[h].grad_norm),
                                                        penwidth="2.5")
    return scene


def _mark_cuts(u: Unrolled, scene: Scene, hidden: set[int]) -> None:
    """Where detach() cut the chain: a dashed '✂ detach()' arrow from h_{t-1} to the
    detached copy that step t reads, and the step's frame says so."""
    g = u.graph
    for leaf, (names, before, cut) in u.start_states.items():
        if not cut or leaf not in scene.nodes:
            continue
        st = u.step_of[leaf]
        prev = u.steps.get((st.layer, before))
        name = names.split(", ")[0]
        src = None
        if prev is not None:
            src = "skip" if prev.t in hidden else next(
                (s for s in prev.states if (g.tensors[s].name or "h") == name), None)
        if src is not None and src in scene.nodes:
            scene.add_edge(src, leaf, **CUT_EDGE)
        c = scene.clusters.get(f"cluster_t{st.t}")
        if c is not None and "✂" not in c.label:
            c.label += "  ✂ cut before (detach)"


def _steps_per_row(scene: Scene, shown: list[int], max_width: float | None) -> int | None:
    """How many steps fit side by side in ``max_width`` points, from an estimate of each
    step's width (its widest row of boxes); None when all of them fit."""
    if max_width is None or len(shown) < 2:
        return None
    inner: dict[str, list[str]] = {}
    for n in scene.nodes.values():
        m = re.match(r"cluster_t\d+", n.cluster or "")
        if m:
            inner.setdefault(m.group(0), []).append(n.id)
    widths = []
    for t in shown:
        ids = set(inner.get(f"cluster_t{t}", []))
        level: dict[str, int] = {}
        for n in scene.nodes:                    # nodes come in graph order: inputs first
            if n in ids:
                level[n] = 0
        for (s, d), e in scene.edges.items():
            if s in ids and d in ids and e.attrs.get("constraint") != "false":
                level[d] = max(level[d], level[s] + 1)
        rows: dict[int, float] = {}
        for n, lv in level.items():
            rows[lv] = rows.get(lv, 0.0) + label_width(scene.nodes[n]) + 18.0
        widths.append(max(rows.values(), default=0.0) + 16.0)
    # the steps of a row sit side by side; leave a tenth for the arrows between them
    step = 1.1 * sum(widths) / len(widths)
    if step * len(widths) <= max_width:
        return None
    return max(1, int(max_width // step))


def _edge_style(u: Unrolled, ks: str, kd: str, under: list) -> dict[str, str]:
    g = u.graph
    src = g.tensors.get(ks)
    if ks in u.start_states:
        return dict(START_EDGE)
    if src is not None and src.role == "parameter":
        return dict(PARAM_EDGE)
    if src is not None and src.role in ("input", "target"):
        return dict(INPUT_EDGE)
    s_st = u.step_of.get(under[0][0])
    d_st = u.step_of.get(under[0][1])
    if s_st is not None and d_st is not None and s_st.t != d_st.t:
        # the chain h_t -> step t+1 runs sideways; the time axis sets the order, not it
        return dict(STATE_EDGE, constraint="false")
    if src is not None and ks in u.step_of and src.id in u.step_of[ks].states \
            and d_st is not None and d_st.layer != u.step_of[ks].layer:
        return {"color": "#cc0000", "penwidth": "1.5"}
    return {}


def _feeds_many_steps(scene: Scene) -> list[str]:
    """Leaves outside the steps with arrows into two or more steps: the shared weights."""
    into: dict[str, set[str]] = {}
    for (s, d), e in scene.edges.items():
        src, dst = scene.nodes.get(s), scene.nodes.get(d)
        if (src is None or dst is None or src.cluster is not None
                or src.role not in ("parameter", "input")):
            continue
        m = re.match(r"cluster_t\d+", dst.cluster or "")
        if m:
            into.setdefault(s, set()).add(m.group(0))
    return [s for s, steps in into.items() if len(steps) > 1]


def time_axis(scene: Scene, shown: list[int], hidden: list[int], shared: list[str],
              per_row: int | None = None) -> None:
    """An invisible row of points, one per step, chained left to right, each above its step.

    Graphviz keeps a chain of same-rank nodes in order, and the steps follow
    their points, so the clusters come out in time order, side by side (a
    left-to-right layout would put every step on its own ranks and make each
    shared-weight arrow span the whole picture, which is slow to lay out).
    The shared weights sit in the same row, just above the steps they feed.
    This steers Graphviz's crossing minimisation rather than forcing it: the
    DOT source always lists the clusters in time order, and the tests check
    the rendered order for the RNN/LSTM layers and the per-step cell view.

    With ``per_row``, the steps wrap like lines of text: each row of points hangs
    below the last boxes of the row above, so a long sequence stays within a
    screen's width and is read left to right, top to bottom.
    """
    inner: dict[str, list[str]] = {}         # step cluster -> its nodes (sub-clusters too)
    for n in scene.nodes.values():
        m = re.match(r"cluster_t\d+", n.cluster or "")
        if m:
            inner.setdefault(m.group(0), []).append(n.id)
    rows: list[list[str]] = [[]]
    below: list[list[list[str]]] = [[]]      # per row, per step: its last boxes
    for t in shown:
        row = rows[-1]
        if hidden and row and t > hidden[0] and "axis_skip" not in scene.nodes \
                and "skip" in scene.nodes:
            scene.add_node(VNode("axis_skip", "anchor", "", "",
                                 {"shape": "point", "style": "invis", "width": "0"}))
            scene.add_edge("axis_skip", "skip", style="invis")
            row.append("axis_skip")
            below[-1].append(["skip"])
        members = inner.get(f"cluster_t{t}", [])
        if not members:
            continue
        if per_row is not None and len([a for a in row if a != "axis_skip"]) >= per_row:
            rows.append([])
            below.append([])
            row = rows[-1]
        rid = None
        if per_row is not None:                   # a row of steps is a box of its own
            rid = f"cluster_row{len(rows) - 1}"
            scene.add_cluster(rid, "", None, style="invis")
            scene.clusters[f"cluster_t{t}"].parent = rid
        a = scene.add_node(VNode(f"axis_t{t}", "anchor", "", "",
                                 {"shape": "point", "style": "invis", "width": "0"},
                                 rid)).id
        first = next((m for m in members if scene.nodes[m].kind in ("cell", "op")), members[0])
        for m in dict.fromkeys([members[0], first]):      # the step's first box, cell or op
            scene.add_edge(a, m, style="invis")
        row.append(a)
        inside = set(members)
        has_out = {s for (s, d) in scene.edges if s in inside and d in inside}
        below[-1].append([m for m in members if m not in has_out])
    for i, row in enumerate(rows):
        for a, b in zip(row, row[1:]):            # (weighted: keeps a row's steps close)
            scene.add_edge(a, b, style="invis", **({"weight": "5"} if per_row else {}))
        scene.ranks.append(("same", row + shared if i == 0 else row))
        if i == 0:
            continue
        for col, a in enumerate(row):         # each step hangs below the one above it
            for m in below[i - 1][min(col, len(below[i - 1]) - 1)]:
                scene.add_edge(m, a, style="invis")


def _skip_node(u: Unrolled, hidden: list[int], ids: list[str], loss: str = "L") -> VNode:
    g = u.graph
    norms = [g.tensors[i].grad_norm for i in ids if i in g.tensors
             and g.tensors[i].grad_norm is not None and u.step_of.get(i) is not None
             and i in u.step_of[i].states]
    text = f"⋯ {len(hidden)} steps (t={hidden[0]}…{hidden[-1]}) ⋯"
    html = esc(text)
    if norms:
        span = f"‖∂{loss}/∂h‖ {fmt_norm(min(norms))} … {fmt_norm(max(norms))}"
        html += f"<BR/>{esc(span)}"
        text += f"  {span}"
    return VNode("skip", "ellipsis", text, html, dict(ELLIPSIS_STYLE), None, list(ids))


def _legend(scene: Scene, scale: ColorScale, loss: str = "L") -> None:
    what = f"‖∂{loss}/∂h_t‖"
    scene.add_node(VNode("legend", "legend", f"colour: {what} {scale}",
                         scale.legend_html(what)[1:-1],
                         {"shape": "plaintext", "margin": "0"}))


def folded_scene(u: Unrolled, *, show_grad: bool = True, title: str | None = None) -> Scene:
    """The folded view as a :class:`Scene` (see :func:`draw_folded`)."""
    g = u.graph
    if not u.steps:
        raise ValueError(_no_steps("draw_folded", g))
    scene = Scene(title or "", "LR")

    def state_key(st: Step, tid: str) -> str:
        return f"state:{st.layer}:{g.tensors[tid].name or 'h'}"

    def key(nid: str) -> str | None:
        if nid in u.absorbed:
            return u.absorbed[nid]
        st = u.step_of.get(nid)
        if st is None:
            return None
        if nid in st.slices or nid in u.slice_of_op:
            return f"slice:{st.layer}"
        if nid in st.states and u.carried(nid) or (nid in st.states
                                                   and g.tensors[nid].name in STATE_NAMES):
            return state_key(st, nid)
        return f"cell:{st.layer}"

    fold = lambda nid: nid in g.tensors and g.tensors[nid].folded  # noqa: E731
    members, edges = contract(g, key, fold)
    n_t = len(u.times)
    for k, ids in members.items():
        if k.startswith("cell:"):
            layer = k[5:]
            ops = [i for i in ids if i in g.ops]
            name = _layer_title(layer, _after_step(g.ops[ops[0]].scope))
            html = (f"<B>{esc(name)}</B> (one cell, {n_t} steps)<BR/>"
                    f'<FONT POINT-SIZE="9">per step: {esc(_op_summary(g, ops, n_t))}</FONT>')
            scene.add_node(VNode(k, "cell", f"{name}: one cell applied {n_t} times", html,
                                 dict(CELL_STYLE), None, list(ids)))
        elif k.startswith("slice:"):
            first = g.tensors[ids[-1]]
            label = f"{_slice_source(g, first)}_t"
            scene.add_node(VNode(k, "tensor", f"{label} (one slice per step)",
                                 f"<B>{esc(label)}</B><BR/>{esc(first.dtype)}",
                                 {"shape": "box", "style": "filled,rounded",
                                  "fillcolor": "#cfe2f3", "color": "#3d85c6"},
                                 None, list(ids), "input"))
        elif k.startswith("state:"):
            scene.add_node(_state_node(u, k, ids, show_grad))
        elif k in g.ops:
            scene.add_node(op_node(g.ops[k], g))
        else:
            scene.add_node(tensor_node(g.tensors[k], show_grad=show_grad))
    for (ks, kd), under in edges.items():
        attrs: dict[str, str] = {}
        src = g.tensors.get(ks)
        if src is not None and src.role == "parameter":
            attrs = dict(PARAM_EDGE)
        elif ks.startswith("state:") and kd.startswith("cell:"):
            attrs = dict(STATE_EDGE, label="t → t+1", constraint="false")
        elif src is not None and src.role == "input":
            attrs = dict(INPUT_EDGE)
        scene.add_edge(ks, kd, **attrs)
        if len(under) > 1 and "label" not in attrs:
            scene.edges[(ks, kd)].attrs["label"] = f"×{len(under)}"
    return scene


def _state_node(u: Unrolled, key: str, ids: list[str], show_grad: bool) -> VNode:
    """One box for h_t over all steps; a strip of coloured cells shows ‖∂L/∂h_t‖ per step."""
    g = u.graph
    tensors = [g.tensors[i] for i in ids if i in g.tensors]
    name = key.rsplit(":", 1)[-1]
    first = tensors[0]
    html = f"<B>{esc(name)}_t</B><BR/>{esc(str(first.shape))} {esc(first.dtype)}"
    text = f"{name}_t {first.shape} {first.dtype}"
    norms = [t.grad_norm for t in tensors]
    if show_grad and any(n is not None for n in norms):
        scale = ColorScale.from_values(norms)
        step = max(1, math.ceil(len(norms) / 32))
        cells = "".join(
            f'<TD BGCOLOR="{scale(n) if n is not None else "#ffffff"}" WIDTH="8" HEIGHT="10">'
            f"</TD>" for n in norms[::step])
        html = (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0"><TR><TD COLSPAN="99">'
                f"{html}</TD></TR><TR><TD COLSPAN=\"99\">"
                f'<FONT POINT-SIZE="9">‖∂L/∂{esc(name)}_t‖, t = 0 … {len(norms) - 1}</FONT>'
                f"</TD></TR><TR>{cells}</TR></TABLE>")
        ok = [n for n in norms if n is not None]
        text += f"  ‖grad‖ {fmt_norm(min(ok))} … {fmt_norm(max(ok))}"
        fill = "#ffffff"
    else:
        fill = "#f0f0f0"
    return VNode(key, "tensor", text, html,
                 {"shape": "box", "style": "filled,rounded,bold", "fillcolor": fill,
                  "color": "#cc0000", "fontcolor": text_color(fill)}, None, list(ids),
                 "intermediate")


FUSED_RECURRENT = ("lstm_layer", "gru_layer", "rnn_layer", "lstm_cell", "gru_cell",
                   "rnn_cell")


def _no_steps(view: str, g: Any) -> str:
    """Why a graph has no time steps to draw, and what to do about it."""
    fused = sorted({op.op for op in g.ops.values() if op.op in FUSED_RECURRENT})
    if fused:
        return (f"{view}: this graph was recorded with the fast lane on, so each recurrent "
                f"layer or cell ran as one fused node ({', '.join(fused)}) with no steps "
                "inside to draw; record it with the lane off: `with tg.fast(False): loss = "
                "...` (the lessons and tools/render_graph.py do)")
    return (f"{view}: no time steps in this graph: no op has a 't=N' scope segment. "
            "Recurrent layers add them; in a loop of your own write "
            "`with tg.scope(f't={t}'): ...` around each step")


def draw_unrolled(*roots: Any, params: Any = None, model: Module | None = None,
                  scope: str | None = None, detail: str = "cell", max_steps: int | None = None,
                  show_values: bool = False, value_limit: int = 16, show_grad: bool = True,
                  legend: bool = True, title: str | None = None, functions: str | None = None,
                  wrap: int | None = None, max_width: float | None = None) -> Drawing:
    """Draw a recurrent computation unrolled in time (backpropagation through time).

    >>> with tg.retain_grads():
    ...     loss.backward()
    >>> tg.viz.draw_unrolled(loss, model=rnn).render("unrolled.svg")

    One cluster per time step (``cluster_t0`` ...) left to right; shared
    weights once, outside, with an arrow into each step; the hidden-state
    chain in bold red; ‖∂L/∂h_t‖ on each state, coloured on a log scale.
    ``detail='cell'`` draws each step as one cell box, ``'ops'`` draws its ops.
    ``max_steps`` keeps the first and last steps and folds the middle into one
    '⋯' box (their outputs too). ``scope`` picks one layer when several are unrolled.

    The initial state is drawn as ``h_{-1}`` (red, dashed) and named inputs keep their
    names (``x_3``); where ``detach()`` cut the chain (truncated BPTT) a '✂ detach()'
    arrow marks the cut. ``functions='collapse'`` (the default with ``detail='cell'``)
    draws the loss after the last layer, and each call marked as a function (a scope
    ``'name()'``), as one box; ``'expand'`` draws their ops. A long sequence can wrap
    into rows, read like lines of text: ``wrap`` steps per row, or as many as fit
    ``max_width`` points (``tg.viz.MAX_WIDTH`` is about a screen's width; ``detail='ops'``
    wraps only with ``wrap``). Rows take Graphviz longer to lay out (minutes for 64 LSTM
    steps), so one row is the default.
    """
    graph = as_graph(roots, params, model, "draw_unrolled")
    scene = unrolled_scene(Unrolled(graph, scope), detail=detail, max_steps=max_steps,
                           show_values=show_values, value_limit=value_limit,
                           show_grad=show_grad, legend=legend, title=title,
                           functions=functions, wrap=wrap, max_width=max_width)
    return to_digraph(scene, "unrolled")


def draw_folded(*roots: Any, params: Any = None, model: Module | None = None,
                scope: str | None = None, show_grad: bool = True,
                title: str | None = None) -> Drawing:
    """Draw a recurrent layer folded: one cell, and its state with a loop edge t -> t+1.

    The state box holds a strip of ‖∂L/∂h_t‖ per step (after a backward with
    ``tg.retain_grads()``), so the folded picture still shows vanishing or
    exploding gradients.
    """
    graph = as_graph(roots, params, model, "draw_folded")
    return to_digraph(folded_scene(Unrolled(graph, scope), show_grad=show_grad, title=title),
                      "folded")
