"""Collect a computation graph once: its tensors, its ops and the edges between them.

The graph views never touch the engine. They start from the tensors you give
them (the *roots*, usually the loss) and follow ``tensor.grad_fn.parents``
back to the leaves, exactly as ``backward`` does:

    x ──┐
        ├─> [matmul] ──> xW ──> [add] ──> z ──> [tanh] ──> h ──> [sum] ──> loss
    W ──┘                  b ──┘

Tensors and ops both become nodes (a *bipartite* graph): an edge goes from a
tensor into the op that reads it, and from an op to the tensor it made.

>>> g = tg.viz.trace(loss, params=dict(model.named_parameters()))
>>> [n.label for n in g.parameters()]
['fc.weight', 'fc.bias']

Each tensor gets a *role*, which is what a learner looks for first:

* ``parameter``: an ``nn.Parameter`` (or a tensor named in ``params``), labelled with
  its path in the model (``'c1.weight'``, recorded when a module registers it),
* ``input``: a leaf that brings data in (labelled with its ``name``),
* ``target``: an unnamed leaf without gradient that only the loss reads (after the
  last parameter), such as the targets of ``F.mse_loss``,
* ``constant``: an unnamed leaf without gradient that is one number (the ``2`` of
  ``x * 2``, written into its op) or that a module made for itself (LeNet's zero
  kernel in C3),
* ``intermediate``: made by an op,
* ``output``: a root (a scalar root is shown as the loss).

A view made of a tensor that needs no gradient (``x.reshape(...)``, the window view
of the images under a convolution) is not recorded, so the graph starts at the view.
When the viewed tensor has a name, the view's node takes it (``view_of``): it shares
the viewed tensor's version counter, by which it is found (a ``detach()``-ed copy
shares it too, and is labelled the same way).

After ``loss.backward()`` every tensor that kept its gradient (leaves, and
every tensor under ``with tg.retain_grads():``) carries ``grad_norm`` = ‖∂loss/∂t‖.
Ops carry their scope (``'CharLSTM/lstm/l0/t=3'``), from which the module
view and the unrolled (BPTT) view are made.
"""
from __future__ import annotations

import functools
import gc
import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from tinygrad_edu.engine import ops as primitives
from tinygrad_edu.engine.graph import Function, Ghost
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.nn.module import Module, Parameter

ROLES = ("input", "target", "parameter", "constant", "intermediate", "output")
_STEP = re.compile(r"^t=(-?\d+)$")


def parse_step(scope: str | None) -> tuple[int | None, str | None]:
    """Split a scope at its time-step segment: ``'m/rnn/l0/t=3/cell'`` -> ``(3, 'm/rnn/l0')``.

    Returns ``(None, None)`` when the scope has no ``t=N`` segment. The layer
    part is the scope before the step ('' when the step segment comes first).
    """
    if not scope:
        return None, None
    segs = scope.split("/")
    for i, s in enumerate(segs):
        m = _STEP.match(s)
        if m:
            return int(m.group(1)), "/".join(segs[:i])
    return None, None


@dataclass
class TensorNode:
    """One tensor of the graph, with what the views show about it."""
    id: str
    tensor: Tensor = field(repr=False)
    role: str
    label: str               # the display name: parameter name, tensor.name, 'loss', ...
    shape: tuple
    dtype: str
    requires_grad: bool
    grad_norm: float | None  # ‖t.grad‖ (2-norm over all elements) when t.grad is set
    producer: str | None     # id of the op that made it (None for a leaf)
    scope: str | None        # scope of the producing op
    step: int | None         # time step parsed from the scope
    layer: str | None        # scope before the time step
    view_of: str | None = None       # a leaf that is an unrecorded view of a named tensor:
    base_shape: tuple | None = None  # that tensor's name and shape

    @property
    def name(self) -> str | None:
        """``tensor.name`` (e.g. ``'h'`` for a hidden state), or None."""
        return self.tensor.name

    @property
    def folded(self) -> bool:
        """A one-number constant, written into the op that reads it (``mul 2``)."""
        return self.role == "constant" and self.numel == 1

    @property
    def freed(self) -> bool:
        """True when backward() freed its values (only its shape and name are left)."""
        return isinstance(self.tensor, Ghost)

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def values(self, limit: int = 16) -> str | None:
        """The values as text when the tensor has at most ``limit`` elements, else None."""
        if self.numel > limit:
            return None
        if isinstance(self.tensor, Ghost):             # freed by backward(): no values
            return None
        return format_values(self.tensor.tolist())


@dataclass
class OpNode:
    """One recorded op (a :class:`~tinygrad_edu.graph.Function`)."""
    id: str
    op: str                  # the op's name: 'matmul', 'tanh', 'window', ...
    scope: str | None
    inputs: list[str]        # tensor ids, in argument order
    output: str              # tensor id
    step: int | None
    layer: str | None
    formula: str = ""        # the op's docstring: its formula and its derivative
    fused: bool = False      # a fast-lane node standing for several primitives
    saved: list | None = field(default_factory=list)   # what it kept for backward (None:
    #                                                     freed by backward())


class Graph:
    """The traced graph: ``tensors`` and ``ops`` by id, in topological order.

    Ids are ``'t0', 't1', ...`` for tensors and ``'op0', 'op1', ...`` for ops,
    numbered inputs-first, so the same code draws the same picture.
    """

    def __init__(self, tensors: dict[str, TensorNode], ops: dict[str, OpNode],
                 roots: list[str], modules: dict[str, tuple[str, str]]) -> None:
        self.tensors = tensors
        self.ops = ops
        self.roots = roots
        #: scope path -> (dotted module name, class name), from ``model=``
        self.modules = modules
        self._by_obj = {id(n.tensor): n.id for n in tensors.values()}
        consumers: dict[str, list[str]] = {tid: [] for tid in tensors}
        for op in ops.values():
            for tid in op.inputs:
                if op.id not in consumers[tid]:
                    consumers[tid].append(op.id)
        #: tensor id -> ids of the ops that read it
        self.consumers = consumers

    def __len__(self) -> int:
        """Number of nodes (tensors + ops)."""
        return len(self.tensors) + len(self.ops)

    def __repr__(self) -> str:
        counts = {r: 0 for r in ROLES}
        for n in self.tensors.values():
            counts[n.role] += 1
        roles = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
        return f"Graph({len(self.ops)} ops, {len(self.tensors)} tensors: {roles})"

    def order(self) -> Iterator[str]:
        """Every node id, inputs first; an op comes right before the tensor it made."""
        for tid, n in self.tensors.items():
            if n.producer is not None:
                yield n.producer
            yield tid

    def edges(self) -> Iterator[tuple[str, str]]:
        """(source, destination) pairs: tensor -> op that reads it, op -> tensor it made."""
        for op in self.ops.values():
            seen = set()
            for tid in op.inputs:
                if tid not in seen:
                    seen.add(tid)
                    yield tid, op.id
            yield op.id, op.output

    def node(self, t: Tensor) -> TensorNode:
        """The node of a tensor object (KeyError if it is not in the graph)."""
        try:
            return self.tensors[self._by_obj[id(t)]]
        except KeyError:
            raise KeyError(f"node: the tensor of shape {tuple(t.shape)} is not part of this "
                           "graph (it is not reachable from the roots)") from None

    def by_role(self, role: str) -> list[TensorNode]:
        """Tensor nodes with the given role (see :data:`ROLES`)."""
        if role not in ROLES:
            raise ValueError(f"by_role: unknown role {role!r}; expected one of {ROLES}")
        return [n for n in self.tensors.values() if n.role == role]

    def parameters(self) -> list[TensorNode]:
        return self.by_role("parameter")

    def inputs(self) -> list[TensorNode]:
        return self.by_role("input")

    def outputs(self) -> list[TensorNode]:
        return [self.tensors[r] for r in self.roots]

    def steps(self) -> list[int]:
        """The time steps that occur in op scopes, sorted."""
        return sorted({op.step for op in self.ops.values() if op.step is not None})


def format_values(v: Any, digits: int = 4) -> str:
    """Nested lists of numbers as compact text: ``[[0.1, -2], [3.142, 0]]``."""
    if isinstance(v, list):
        return "[" + ", ".join(format_values(x, digits) for x in v) + "]"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def forward_order(roots: Any) -> list:
    """Every tensor reachable from ``roots`` (through ``grad_fn.inputs``), inputs first.
    An explicit stack: an RNN unrolled over thousands of steps is fine."""
    order, seen, stack = [], set(), [(r, False) for r in reversed(roots)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            if t.grad_fn is not None:
                stack.extend((p, False) for p in reversed(t.grad_fn.inputs) if id(p) not in seen)
    return order


def _live(t: Any) -> Any:
    """The tensor itself, or for a ghost the tensor if the user still holds it."""
    if isinstance(t, Ghost):
        live = t.tensor()
        return t if live is None else live
    return t


def _grad_norm(t: Any) -> float | None:
    g = _live(t).grad
    if g is None:
        return None
    return float(g.detach().double().norm().item())


def _param_names(params: Any, model: Module | None) -> dict[int, str]:
    names: dict[int, str] = {}
    if model is not None:
        if not isinstance(model, Module):
            raise TypeError(f"trace: model must be an nn.Module, got {type(model).__name__}")
        for n, p in model.named_parameters():
            names[id(p)] = n
        for n, b in model.named_buffers():
            names[id(b)] = n
    if params is not None:
        items: Iterable = params.items() if isinstance(params, Mapping) else params
        for i, item in enumerate(items):
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor)):
                raise TypeError(f"trace: params must be a dict name -> Tensor (for example "
                                f"dict(model.named_parameters())), got item {i}: "
                                f"{type(item).__name__}")
            names[id(item[1])] = str(item[0])
    return names


def _module_scopes(model: Module | None) -> dict[str, tuple[str, str]]:
    if model is None:
        return {}
    root = model.__dict__.get("_scope_name", type(model).__name__)
    out = {root: ("", type(model).__name__)}
    for path, m in model.named_modules():
        if path:
            out[root + "/" + path.replace(".", "/")] = (path, type(m).__name__)
    return out


def trace(*roots: Tensor, params: Any = None, model: Module | None = None) -> Graph:
    """Walk the graph back from ``roots`` and return it as a :class:`Graph`.

    ``params`` (a dict name -> tensor, e.g. ``dict(model.named_parameters())``)
    and/or ``model`` name the parameters (without them a parameter takes the path
    its module recorded, ``'c1.weight'``); ``model`` also names the modules for
    the module view. The walk uses an explicit stack, so an RNN unrolled over
    thousands of steps is fine. Nothing in the engine changes.
    """
    if not roots:
        raise ValueError("trace: give at least one tensor (the loss or an output) to trace from")
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"trace: root {i} must be a Tensor, got {type(r).__name__}")
    names = _param_names(params, model)
    root_ids = {id(r) for r in roots}
    order: list = forward_order(roots)
    # earliest first: sort by the longest distance to a root (still inputs before outputs:
    # a parent is always at least one step further from the roots than its child)
    dist: dict[int, int] = {}
    for t in reversed(order):
        d = dist.setdefault(id(t), 0)
        if t.grad_fn is not None:
            for p in t.grad_fn.inputs:
                if dist.get(id(p), -1) < d + 1:
                    dist[id(p)] = d + 1
    order.sort(key=lambda t: -dist[id(t)])
    tensors: dict[str, TensorNode] = {}
    ops: dict[str, OpNode] = {}
    tid_of: dict[int, str] = {}
    for t in order:
        tid = f"t{len(tensors)}"
        tid_of[id(t)] = tid
        ctx = t.grad_fn
        op_id = None
        scope = step = layer = None
        if ctx is not None:
            op_id = f"op{len(ops)}"
            scope = ctx.scope
            step, layer = parse_step(scope)
            ops[op_id] = OpNode(op_id, ctx.name, scope, [tid_of[id(p)] for p in ctx.inputs],
                                tid, step, layer, op_formula(type(ctx)), is_fused(type(ctx)),
                                _saved(ctx, tid_of))
        role, label = _role_and_label(t, names, id(t) in root_ids)
        tensors[tid] = TensorNode(tid, _live(t), role, label, tuple(t.shape), str(t.dtype),
                                  bool(t.requires_grad), _grad_norm(t), op_id, scope, step,
                                  layer)
    graph = Graph(tensors, ops, [tid_of[id(r)] for r in roots], _module_scopes(model))
    _name_views(graph)
    _leaf_roles(graph)
    return graph


def _role_and_label(t: Any, names: dict[int, str], is_root: bool) -> tuple[str, str]:
    """The role and label that the tensor alone tells (leaves are refined later)."""
    live = _live(t)
    pname = names.get(id(live))
    if pname is None and isinstance(live, Parameter):
        pname = getattr(live, "path", None)
    if is_root:
        return "output", pname or t.name or ("loss" if math.prod(t.shape) == 1 else "output")
    if t.grad_fn is not None:
        return "intermediate", pname or t.name or ""
    if isinstance(live, Parameter) or pname is not None:
        return "parameter", pname or t.name or "parameter"
    if t.name is None and not t.requires_grad and math.prod(t.shape) == 1:
        return "constant", ""
    return "input", t.name or "input"


@functools.cache
def op_formula(cls: type) -> str:
    """The formula of an op: the docstring of the primitive it is (a fast-lane subclass
    of a primitive has the primitive's formula; a fused node its own docstring)."""
    if is_fused(cls):
        return inspect.cleandoc(cls.__doc__ or "")
    chain = [c for c in cls.__mro__ if issubclass(c, Function)
             and c not in (Function, primitives.Primitive)]
    for c in reversed(chain):                   # the primitive first, then its subclasses
        if c.__dict__.get("__doc__"):
            return inspect.cleandoc(c.__doc__)
    return ""


@functools.cache
def is_fused(cls: type) -> bool:
    """A node of the fast lane that stands for several primitives (one ``lstm_gates`` node
    for an LSTM step's gate arithmetic): not a primitive, nor a subclass of one."""
    prims = tuple(c for c in vars(primitives).values() if isinstance(c, type)
                  and issubclass(c, primitives.Primitive) and c is not primitives.Primitive)
    return (issubclass(cls, primitives.Primitive) and not issubclass(cls, prims)
            and cls.__module__ != primitives.__name__)


def fused_formula(formula: str) -> list[str]:
    """The forward lines of a fused node's docstring (its indented block before the word
    'Backward'), for its label: ``['i, f, o = σ(a_i), ...', 'c_t = f·c_{t-1} + i·g ...']``."""
    lines = []
    for line in formula.split("Backward")[0].splitlines():
        if line.startswith("    ") and line.strip():
            lines.append(" ".join(line.split()))
    return lines


def _saved(ctx: Any, tid_of: dict[int, str]) -> list[str] | None:
    """What a node kept for its backward, as tensor ids (or 'output'); None once freed."""
    if ctx.saved is None:
        return None
    out = [tid_of.get(id(s), "a tensor") for s in ctx.saved_tensors]
    if getattr(type(ctx), "save_output", False):
        out.append("output")
    return out


def _name_views(graph: Graph) -> None:
    """Unnamed leaves that are unrecorded views (or detached copies) of a named tensor
    take its name. Such a view shares the tensor's version counter (engine/tensor.py,
    ``_versioned``), so the named tensor is the one that holds the same counter."""
    leaves = [n for n in graph.tensors.values() if n.producer is None and n.name is None
              and n.role in ("input", "constant") and not isinstance(n.tensor, Ghost)
              and n.tensor._vc is not None]
    if not leaves:
        return
    counters = {id(n.tensor._vc): n for n in leaves}
    for holder in gc.get_referrers(*[n.tensor._vc for n in leaves]):
        name = getattr(holder, "name", None) or getattr(holder, "path", None)
        if not isinstance(holder, Tensor) or name is None:
            continue
        n = counters.get(id(holder._vc))
        if n is not None and holder is not n.tensor and n.view_of is None:
            n.view_of, n.base_shape = name, tuple(holder.shape)
            n.label = name
            if n.role == "constant":
                n.role = "input"


def outside_calls(scope: str | None) -> str | None:
    """A scope without its library-function calls: the part before the first segment that
    ends in ``()`` (``'LeNet5/c1/conv2d()'`` -> ``'LeNet5/c1'``; ``'cross_entropy()'`` ->
    None). A function call is drawn as a box of its own, never as a module."""
    if not scope or "()" not in scope:
        return scope
    segs = scope.split("/")
    for i, seg in enumerate(segs):
        if seg.endswith("()"):
            return "/".join(segs[:i]) or None
    return scope


def _module_part(scope: str | None) -> str:
    """The module path of a scope: the part before a time step (``'RNN/l0/t=3'`` ->
    ``'RNN/l0'``) or a function call (``'LeNet5/c1/conv2d()'`` -> ``'LeNet5/c1'``); ''
    for none (``'t=3'`` or ``'cross_entropy()'`` alone, or no scope)."""
    scope = outside_calls(scope)
    if not scope:
        return ""
    step, layer = parse_step(scope)
    return scope if step is None else (layer or "")


def tail_ops(graph: Graph) -> set[str]:
    """The ops of the loss: outside every module and time step, after the last op that
    reads a parameter (every path from them to a root avoids parameters), such as
    ``F.mse_loss``'s subtract, square and mean after a model's last layer."""
    if not graph.parameters():
        return set()
    tail: set[str] = set()
    roots = set(graph.roots)
    for op in reversed(list(graph.ops.values())):
        if op.step is not None or _module_part(op.scope) or any(
                graph.tensors[i].role == "parameter" for i in op.inputs):
            continue
        users = graph.consumers[op.output]
        if (users or op.output in roots) and all(u in tail for u in users):
            tail.add(op.id)
    return tail


def _squeezed(shape: tuple) -> tuple:
    return tuple(d for d in shape if d != 1)


def _leaf_roles(graph: Graph) -> None:
    """Unnamed leaves without gradient: a constant when a module made it for itself (all
    that read it run inside one module, and it is no view of another tensor, as an
    unnamed input reshaped by ``nn.RNN`` is), a target when only the loss reads it."""
    tail = boundary = None
    for n in graph.tensors.values():
        if n.producer is not None or n.role not in ("input", "constant") or n.name is not None \
                or n.view_of is not None or n.requires_grad or n.folded:
            continue
        users = graph.consumers[n.id]
        modules = {_module_part(graph.ops[u].scope) for u in users}
        viewed = not isinstance(n.tensor, Ghost) and n.tensor._vc is not None
        if len(modules) == 1 and "" not in modules and not viewed:
            n.role, n.label = "constant", "constant"       # made by the module for itself
            continue
        if tail is None:
            tail = tail_ops(graph)
            boundary = {_squeezed(graph.tensors[i].shape) for o in tail
                        for i in graph.ops[o].inputs
                        if graph.tensors[i].producer not in tail | {None}}
        if users and all(u in tail for u in users):
            # the shape of what the model hands the loss (size-1 dims aside): a target;
            # anything else the loss made for itself (cross-entropy's max shift, its mask)
            n.role, n.label = (("target", "target") if _squeezed(n.shape) in boundary
                               else ("constant", "constant"))


def as_graph(roots: tuple, params: Any = None, model: Module | None = None,
             where: str = "draw") -> Graph:
    """``roots`` may be tensors or one already traced :class:`Graph`."""
    if len(roots) == 1 and isinstance(roots[0], Graph):
        if params is not None or model is not None:
            raise ValueError(f"{where}: params/model name the parameters while tracing; pass "
                             "them to tg.viz.trace(), not together with a traced Graph")
        return roots[0]
    if not roots:
        raise ValueError(f"{where}: give the tensors to draw (usually the loss), or a Graph "
                         "from tg.viz.trace()")
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{where}: argument {i} must be a Tensor or a Graph from "
                            f"tg.viz.trace(), got {type(r).__name__}")
    return trace(*roots, params=params, model=model)
