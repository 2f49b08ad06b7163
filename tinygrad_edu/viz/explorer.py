"""The graph explorer: one self-contained HTML file to hover, collapse, search and step
through the backward pass of any computation graph.

    >>> tg.viz.explore(loss, model=net).save("graph.html")     # open it in any browser
    >>> tg.viz.explore(loss, model=net)                        # or shows inline in Jupyter

What it does, in order:

1. trace the graph (:func:`~tinygrad_edu.viz.trace.trace`);
2. if the graph still holds its values (no ``backward()`` yet, or one with
   ``retain_graph=True``), run the real backward once more with ``retain_graph=True``
   and watch it with ``tg.functional.gradients.backward_hook``: the order in which the
   engine visits the tensors, the gradient each one receives and every contribution its
   op passes on are *recorded*, never recomputed. Every ``.grad`` is put back as it was
   afterwards. A graph already freed by a plain ``backward()`` is drawn with its
   structure and the gradient norms that ``tg.retain_grads()`` kept, and the page says
   how to keep its values;
3. lay the picture out once with Graphviz's ``dot`` (the op graph with one box per
   module, or the unrolled view with one box per time step) and embed the SVG, the
   recorded steps and each tensor's values in the page, with the script and styles
   inline: the file needs no network and opens from disk.

In the page: hover or click a node for its op, formula, module and step, shape, values,
gradient and what it saved for backward; click a module's or a step's frame (or the
list on the left) to collapse it behind a placeholder; search by name, op or shape; and
step through the backward pass with the buttons or the arrow keys: the node being
visited, the gradient it received, what its op passes on, and, where a tensor is used
several times (a shared RNN weight), each contribution being added to its total.
"""
from __future__ import annotations

import html as html_lib
import json
import math
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from tinygrad_edu.engine.graph import Ghost
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional import gradients
from tinygrad_edu.nn.module import Module
from tinygrad_edu.viz.bptt import Unrolled, unrolled_scene
from tinygrad_edu.viz.dot import _dot_ids, to_digraph
from tinygrad_edu.viz.ops_view import gradient_cluster, graph_scene, module_root
from tinygrad_edu.viz.scene import Scene, fmt_shape, loss_symbol
from tinygrad_edu.viz.trace import Graph, forward_order, trace

VIEWS = ("auto", "ops", "modules", "unrolled")
KEEP_VALUES = "pass retain_graph=True to backward() (or call explore() before backward())"


# ---------------------------------------------------------------- numbers for the page
def _num(v: float) -> float | str:
    """A float for JSON: 4 significant digits; inf and NaN as text."""
    if isinstance(v, bool):
        return int(v)
    if not math.isfinite(v):
        return str(v)
    return float(f"{v:.4g}")


def summary(t: Any, first: int = 6) -> dict | None:
    """A few entries, min, max, mean and (for floats) the 2-norm of a tensor or a host
    array (None when its values were freed). Computed on a host copy (``numpy()``): a
    page summarises thousands of tensors, and this does it without recording ops."""
    if t is None or isinstance(t, Ghost) or getattr(t, "data", 0) is None:
        return None
    a = t.detach().numpy() if isinstance(t, Tensor) else t
    flat = a.reshape(-1)
    out: dict = {"n": int(flat.size), "first": [_num(v) for v in flat[:first].tolist()]}
    if flat.size:
        d = flat.astype("float64")
        out.update(min=_num(float(d.min())), max=_num(float(d.max())),
                   mean=_num(float(d.mean())))
        if a.dtype.kind == "f":
            out["norm"] = _num(_norm(d))
    return out


def _norm(a: Any) -> float:
    """The 2-norm of a host array, summed in float64."""
    d = a.reshape(-1).astype("float64", copy=False)
    return float((d * d).sum()) ** 0.5


# ---------------------------------------------------------------- the recorded backward
class Recording:
    """The backward walk as the engine ran it: one entry per tensor visited, in order.

    ``steps[i]`` = ``{'t': tensor id, 'grad': summary of the gradient it received,
    'passed': [{'to': input id, 'grad': summary of the contribution, 'k': this is the
    k-th contribution (1-based) of 'n' that input receives, 'total': norm of its
    gradient so far}]}``. ``totals`` maps each tensor id to the norm of its whole
    gradient (a leaf's is the sum of what it received).
    """

    def __init__(self) -> None:
        self.steps: list[dict] = []
        self.totals: dict[str, float] = {}
        self.seconds = 0.0
        self.grads: dict[int, Tensor] = {}     # create_graph: each leaf's gradient

    def remap(self, old: Graph, new: Graph) -> None:
        """Rename the tensor ids after the graph was traced again (with more roots)."""
        by_obj = {id(n.tensor): tid for tid, n in new.tensors.items()}
        to = {tid: by_obj[id(n.tensor)] for tid, n in old.tensors.items()
              if id(n.tensor) in by_obj}
        for step in self.steps:
            step["t"] = to.get(step["t"], step["t"])
            for c in step["passed"]:
                c["to"] = to.get(c["to"], c["to"])
        self.totals = {to.get(k, k): v for k, v in self.totals.items()}


def record_backward(root: Tensor, graph: Graph, create_graph: bool = False) -> Recording:
    """Run ``root.backward(retain_graph=True)`` once, watching the real walk with a hook.

    Every tensor's ``.grad`` is restored afterwards, so exploring a graph changes
    nothing a later ``backward()`` or optimizer step would see. With ``create_graph``
    the gradients are recorded with their own graph (for second derivatives).
    """
    rec = Recording()
    ids = {id(n.tensor): tid for tid, n in graph.tensors.items()}
    everything = forward_order([root])
    before = [(t, t.grad) for t in everything if not isinstance(t, Ghost)]
    running: dict[str, Any] = {}            # tensor id -> its gradient so far (host array)
    counts: dict[str, int] = {}

    def hook(t: Tensor, grad: Tensor, passed: list) -> None:
        tid = ids.get(id(t))
        if tid is None:
            return
        step = {"t": tid, "grad": summary(grad), "passed": []}
        for p, g in passed:
            pid = ids.get(id(p))
            if pid is None:
                continue
            a = g.detach().numpy()
            running[pid] = a.copy() if pid not in running else running[pid] + a
            counts[pid] = counts.get(pid, 0) + 1
            step["passed"].append({"to": pid, "grad": summary(a), "k": counts[pid],
                                   "total": _num(_norm(running[pid]))})
        rec.steps.append(step)

    start = time.perf_counter()
    try:
        with gradients.backward_hook(hook):
            root.backward(retain_graph=True, create_graph=create_graph)
        if create_graph:
            rec.grads = {id(t): t.grad for t in everything
                         if t.grad_fn is None and t.grad is not None}
    finally:
        for t, g in before:                  # leave every .grad as it was
            t.grad = g
    rec.seconds = time.perf_counter() - start
    for step in rec.steps:
        for c in step["passed"]:
            c["n"] = counts[c["to"]]
    for tid, a in running.items():
        rec.totals[tid] = _norm(a)
    for step in rec.steps:                   # a visited tensor's gradient is complete
        if step["grad"] is not None and "norm" in step["grad"]:
            rec.totals[step["t"]] = float(step["grad"]["norm"])
    return rec


def _freed(graph: Graph) -> bool:
    """True when a plain backward() freed the graph's saved values."""
    return any(op.saved is None for op in graph.ops.values())


# ---------------------------------------------------------------- the page
def _asset(name: str) -> str:
    return resources.files("tinygrad_edu.viz").joinpath(name).read_text(encoding="utf-8")


def clean_svg(svg: str) -> str:
    """Graphviz's SVG as an inline element: no XML prolog, doctype or namespace URLs (an
    HTML page puts an inline <svg> in the SVG namespace by itself)."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg


def _scene_for(graph: Graph, view: str, detail: str, max_steps: int | None,
               functions: str | None, max_width: float | None, title: str,
               wrap: int | None = None) -> Scene:
    steps = len(graph.steps()) > 1
    if view == "auto":
        view = "unrolled" if steps else "modules" if module_root(graph) else "ops"
    if view == "unrolled":
        return unrolled_scene(Unrolled(graph), detail=detail, max_steps=max_steps,
                              title=title, functions=functions or "expand",
                              wrap=wrap, max_width=max_width)
    if view == "modules":
        return graph_scene(graph, modules="cluster", title=title, steps=False)
    return graph_scene(graph, title=title, steps=False)


def _clusters(scene: Scene) -> dict[str, dict]:
    out = {}
    for c in scene.clusters.values():
        if c.attrs.get("style") == "invis":
            continue
        kind = "step" if re.fullmatch(r"cluster_t\d+", c.id) else "group"
        out[c.id] = {"label": c.label, "parent": c.parent, "kind": kind}
    return out


def _chain(scene: Scene, cid: str | None) -> list[str]:
    out = []
    while cid is not None and cid in scene.clusters:
        if scene.clusters[cid].attrs.get("style") != "invis":
            out.append(cid)
        cid = scene.clusters[cid].parent
    return out


def page_data(graph: Graph, scene: Scene, rec: Recording | None, message: str,
              values: int = 6) -> dict:
    """Everything the page's script needs, as plain JSON-able data."""
    box_of: dict[str, str] = {}
    nodes = {}
    dot = _dot_ids(scene)
    for n in scene.nodes.values():
        if n.kind == "anchor":
            continue
        for m in n.members:
            box_of.setdefault(m, n.id)
        nodes[n.id] = {"kind": n.kind, "text": n.text, "members": list(n.members),
                       "clusters": _chain(scene, n.cluster), "dot": dot[n.id]}
    tensors = {}
    for tid, t in graph.tensors.items():
        grad = None
        if rec is not None and tid in rec.totals:
            grad = {"norm": _num(rec.totals[tid])}
        elif t.grad_norm is not None:
            grad = {"norm": _num(t.grad_norm)}
        tensors[tid] = {
            "name": t.label, "role": t.role, "shape": fmt_shape(t.shape),
            "dtype": t.dtype, "scope": t.scope, "step": t.step, "made_by": t.producer,
            "view_of": t.view_of,
            "base_shape": fmt_shape(t.base_shape) if t.base_shape is not None else None,
            "values": summary(t.tensor, values) if t.numel and not t.freed else None,
            "freed": t.freed, "grad": grad, "box": box_of.get(tid),
            "read_by": graph.consumers[tid]}
    ops = {}
    for oid, op in graph.ops.items():
        ops[oid] = {"op": op.op, "formula": op.formula, "scope": op.scope, "step": op.step,
                    "inputs": op.inputs, "output": op.output, "saved": op.saved,
                    "fused": op.fused, "box": box_of.get(oid)}
    data = {"title": scene.title, "loss": loss_symbol(graph), "nodes": nodes,
            "tensors": tensors, "ops": ops, "clusters": _clusters(scene),
            "edges": [[e.src, e.dst, f"e_{dot[e.src]}__{dot[e.dst]}"]
                      for e in scene.edges.values() if e.attrs.get("style") != "invis"],
            "steps": rec.steps if rec is not None else [], "message": message,
            "fused": sorted({op.op for op in graph.ops.values() if op.fused})}
    return data


class Explorer:
    """An explorable graph: ``.save(path)`` writes the HTML file, ``.html`` is its text;
    in Jupyter it shows inline. Made by :func:`explore`."""

    def __init__(self, graph: Graph, scene: Scene, svg: str, data: dict, title: str,
                 seconds: dict) -> None:
        self.graph = graph
        self.scene = scene
        self.svg = svg
        self.data = data
        self.title = title
        #: where the time went: 'trace', 'backward', 'layout' (dot), 'page', in seconds
        self.seconds = seconds
        self.html = self._page()

    @property
    def steps(self) -> list[dict]:
        """The recorded backward walk (see :class:`Recording`)."""
        return self.data["steps"]

    def _page(self) -> str:
        data = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        data = data.replace("</", "<\\/")            # never end the <script> early
        head = html_lib.escape(self.title or "computation graph")
        return (_asset("explorer.html")
                .replace("{{TITLE}}", head)
                .replace("{{CSS}}", _asset("explorer.css"))
                .replace("{{DATA}}", data)
                .replace("{{JS}}", _asset("explorer.js"))
                .replace("{{SVG}}", self.svg))

    def save(self, path: Any) -> Path:
        """Write the page (one file, nothing else needed) and return its path."""
        p = Path(path)
        if p.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"Explorer.save: the path should end in .html, got {p.name!r}")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.html, encoding="utf-8")
        return p

    def _repr_html_(self) -> str:
        """Jupyter: the page in a sandboxed frame of its own (its script and ids stay in it)."""
        doc = html_lib.escape(self.html, quote=True)
        return (f'<iframe srcdoc="{doc}" style="width:100%;height:640px;border:1px solid '
                f'#ccc" sandbox="allow-scripts"></iframe>')

    def __repr__(self) -> str:
        return (f"Explorer({self.graph!r}, {len(self.steps)} backward steps, "
                f"{len(self.html) / 1e6:.2f} MB)")


def explore(*roots: Any, params: Any = None, model: Module | None = None,
            view: str = "auto", detail: str = "ops", max_steps: int | None = None,
            functions: str | None = None, max_width: float | None = None,
            grads: Iterable[Tensor] | None = None, create_graph: bool = False,
            values: int = 6, title: str | None = None, wrap: int | None = None) -> Explorer:
    """An interactive page of the graph that made ``roots`` (usually the loss).

    >>> tg.viz.explore(loss, model=net).save("graph.html")

    ``view``: 'auto' (the unrolled view when the graph has time steps, else one frame
    per module when there are modules, else the op graph), 'ops', 'modules' or
    'unrolled' (``detail``, ``max_steps``, ``functions``, ``wrap`` and ``max_width`` as in
    :func:`~tinygrad_edu.viz.draw_unrolled`: ``wrap=6`` lays a long sequence out in rows
    of 6 steps). The backward pass is run and recorded when the graph still holds its
    values (see the module docstring); ``grads`` are
    gradients made with ``create_graph=True`` whose own graph is drawn beside the
    forward graph, and ``create_graph=True`` records the backward that way and draws
    the parameters' gradients' graph. ``values``: how many entries of each tensor the
    page shows. Needs Graphviz's ``dot`` (:class:`GraphvizNotFoundError` says how to
    install it).
    """
    if view not in VIEWS:
        raise ValueError(f"explore: view must be one of {VIEWS}, got {view!r}")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"explore: argument {i} must be a Tensor (usually the loss), got "
                            f"{type(r).__name__}")
    if not roots:
        raise ValueError("explore: give the tensors to explore (usually the loss)")
    extra = list(grads or [])
    graph = trace(*roots, *extra, params=params, model=model)
    seconds["trace"] = time.perf_counter() - start
    root = roots[0]
    rec = None
    start = time.perf_counter()
    if _freed(graph):
        message = ("backward() has freed this graph's values: shown are its structure and "
                   "the gradient norms that were kept (tg.retain_grads()). To see the values "
                   "and step through the backward pass, " + KEEP_VALUES + ".")
    elif not root.requires_grad or root.numel() != 1:
        message = ("the backward stepper needs a one-element loss that requires grad; this "
                   f"root has shape {tuple(root.shape)}.")
    else:
        rec = record_backward(root, graph, create_graph)
        message = ""
    seconds["backward"] = time.perf_counter() - start
    if rec is not None and create_graph and rec.grads:
        extra += [g for g in rec.grads.values() if g.grad_fn is not None]
        old = graph
        graph = trace(*roots, *extra, params=params, model=model)
        rec.remap(old, graph)
    if rec is not None:
        for tid, norm in rec.totals.items():
            graph.tensors[tid].grad_norm = norm
    title_ = title if title is not None else _title(graph, rec)
    if extra and view in ("auto", "unrolled"):
        view = "modules" if module_root(graph) else "ops"
    scene = _scene_for(graph, view, detail, max_steps, functions, max_width, title_, wrap)
    if extra:
        gradient_cluster(scene, graph, len(roots))
    start = time.perf_counter()
    drawing = to_digraph(scene, "explorer", ids=True)
    svg = drawing.pipe(format="svg", encoding="utf-8")       # GraphvizNotFoundError: no dot
    seconds["layout"] = time.perf_counter() - start
    start = time.perf_counter()
    data = page_data(graph, scene, rec, message, values)
    ex = Explorer(graph, scene, clean_svg(svg), data, title_, seconds)
    seconds["page"] = time.perf_counter() - start
    return ex


def _title(graph: Graph, rec: Recording | None) -> str:
    what = f"{len(graph.ops)} ops, {len(graph.tensors)} tensors"
    steps = graph.steps()
    if len(steps) > 1:
        what += f", {len(steps)} time steps"
    return f"computation graph ({what})"


def time_explorer(steps: int = 64, repeat: int = 3, fast: bool = False) -> dict:
    """Time ``explore`` on an LSTM of ``steps`` time steps against Graphviz's ``dot``
    alone laying out the same picture (``tools/bench.py``'s explorer row; the goal is at
    most twice ``dot``). The graph is recorded with the fast lane ``fast``; medians over
    ``repeat`` runs: ``{'explorer_s', 'dot_s', 'ratio', 'mb', 'ops', 'backward_steps'}``.
    """
    from tinygrad_edu.functional.creation import manual_seed, randn
    from tinygrad_edu.fastlane import fast as fast_lane
    from tinygrad_edu.nn.rnn import LSTM
    manual_seed(0)
    model = LSTM(32, 32)
    x = randn(steps, 8, 32)
    x.name = "x"
    with fast_lane(fast):
        out, _ = model(x)
        loss = (out[-1] ** 2).mean()
    runs, dots = [], []
    ex = None
    for _ in range(repeat):
        start = time.perf_counter()
        ex = explore(loss, model=model)
        runs.append(time.perf_counter() - start)
        drawing = to_digraph(ex.scene, "explorer", ids=True)
        start = time.perf_counter()
        drawing.pipe(format="svg")
        dots.append(time.perf_counter() - start)
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    return {"explorer_s": med(runs), "dot_s": med(dots), "ratio": med(runs) / med(dots),
            "mb": len(ex.html.encode("utf-8")) / 1e6, "ops": len(ex.graph.ops),
            "backward_steps": len(ex.steps)}
