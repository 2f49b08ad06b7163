"""The graph: nodes, grad mode, and the backward walk (reverse-mode differentiation).

A tensor computed under grad mode from one that requires grad keeps the
:class:`Function` that made it (``tensor.grad_fn``): the op, its inputs (``parents``)
and what it saved. ``loss.backward()`` applies the chain rule back to the leaves::

    grad[loss] = 1
    grad[input] += node.backward(grad[output])      for every node, outputs first

The walk uses an explicit stack and a sort, never recursion, so an RNN unrolled
over 10,000 steps back-propagates without ``RecursionError``.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
from typing import Any, Callable, Iterator, Sequence

from tinygrad_edu.engine import backend

class _Mode(threading.local):
    """The autograd switches. Each thread has its own, as in PyTorch."""
    enabled = True                  # record new ops in a graph?
    scope: str | None = None        # the label of new nodes, e.g. 'lstm/l0/t=3'
    retain_all = False              # keep .grad on every tensor during backward
    hook: Callable | None = None    # called at every tensor the backward walk visits

MODE = _Mode()

class COUNTERS:
    """``epoch`` counts in-place changes, each stamping its tensor's version counter [version,
    stamp]: a saved tensor changed after its node was made has a newer stamp than the
    node's epoch. ``seq`` numbers nodes: outputs after inputs, so sorting gives the order."""
    epoch = 0
    seq = itertools.count(1)

@contextlib.contextmanager
def switch(name: str, value: Any) -> Iterator[None]:
    """Set one of the :class:`_Mode` switches inside a ``with`` block (or a decorated
    function): ``tg.no_grad()`` is ``switch('enabled', False)``."""
    prev = getattr(MODE, name)
    setattr(MODE, name, value)
    try:
        yield
    finally:
        setattr(MODE, name, prev)

# ---------------------------------------------------------------- the fast lane switch
# The fast lane (tinygrad_edu/fastlane) registers overrides here: a primitive class replaced
# by a faster subclass, a name asked for with lane(name, ref) (a composite, the backward walk)
# or "apply" (see set_fast). The engine works without them; TG_FAST=0 starts with it off.
_REGISTERED: dict = {}
ACTIVE: dict = _REGISTERED if os.environ.get("TG_FAST", "1") != "0" else {}

def override(reference: Any, fast: Any) -> None:
    """Register ``fast`` to stand in for ``reference`` while the fast lane is on."""
    _REGISTERED[reference] = fast

def lane(name: str, reference: Callable) -> Callable:
    """The override registered under ``name`` while the lane is on, else ``reference``."""
    return ACTIVE.get(name, reference)

def is_fast() -> bool:
    return ACTIVE is _REGISTERED

def set_fast(on: bool) -> None:
    """Turn every override on or off, for the whole process (``tg.fast`` calls this)."""
    global ACTIVE
    ACTIVE = _REGISTERED if on else {}
    Function.apply = ACTIVE.get("apply", vars(Function)["plain_apply"])   # not op by op

# ---------------------------------------------------------------- the node
class Function:
    """A node of the graph. Subclasses write ``forward(self, *arrays, **kwargs) -> array``
    and ``backward(self, grad) -> one gradient per input`` (None where there is none);
    whatever ``forward`` stores on ``self`` is there for ``backward``."""
    __slots__ = ("parents", "saved", "epoch", "seq", "scope", "__dict__", "__weakref__")
    name = "op"
    array_backward = False  # backward accepts raw arrays (the engine's primitives do)
    save_inputs = False     # keep the inputs for backward (ctx.saved)
    save_output = False     # keep the output array for backward (ctx.out)
    is_view = False         # the output may share the input's memory (and its version)

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the inputs' arrays; under grad mode, record the node (nothing
        is recorded when no input requires grad)."""
        first, record, arrays = inputs[0], False, []
        for t in inputs:
            if t.device != first.device:
                raise device_mismatch(cls.name, inputs)
            record = record or t.requires_grad
            arrays.append(t.data)
        ctx = object.__new__(ACTIVE.get(cls, cls))          # the fast lane may stand in
        data = ctx.forward(*arrays, **kwargs)
        out = first._new(data)
        if cls.is_view:
            out._vc = first._versioned()
        if record and MODE.enabled:
            out.requires_grad, out._ctx = True, ctx
            ctx.parents, ctx.scope, ctx.epoch = inputs, MODE.scope, COUNTERS.epoch
            ctx.seq, ctx.saved = next(COUNTERS.seq), inputs if cls.save_inputs else ()
            if cls.save_output:
                ctx.out, ctx.out_vc = data, out._vc or out._versioned()
        return out
    plain_apply = apply     # kept for set_fast: the fast lane may stand in for apply

    inputs = property(lambda self: self.parents, doc="What the op read (Ghosts once freed).")
    saved_tensors = property(lambda self: self.saved or (), doc="What it kept for backward.")

    def save_for_backward(self, *tensors: Any) -> None:
        """For a custom Function: keep tensors for backward (in-place changes are caught)."""
        self.saved, self.epoch = tensors, COUNTERS.epoch

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} scope={self.scope!r}>"

def device_mismatch(op: str, inputs: Sequence[Any]) -> RuntimeError:
    devices = ", ".join(f"input {i} on '{t.device}'" for i, t in enumerate(inputs))
    return RuntimeError(f"{op}: expected all tensors on the same device, got {devices}; move "
                        "one explicitly with .to(device) (nothing is copied implicitly)")

class SliceGrad:
    """The gradient of ``x[index]`` (a basic index) in a first-order backward, kept sparse:
    zeros of x's shape with ``values`` at ``index``. An RNN slices its input into T steps;
    T dense gradients cost O(T²) memory traffic, adding each into one buffer O(T)."""
    __slots__ = ("shape", "index", "values")

    def __init__(self, shape: tuple, index: Any, values: Any) -> None:
        self.shape, self.index, self.values = shape, index, values

    def add_to(self, base: Any, owned: bool) -> Any:
        """``base`` (zeros if None) plus the values; into ``base`` itself if we own it."""
        if base is None:
            base = backend.module_of(self.values).zeros(self.shape, dtype=self.values.dtype)
        elif not owned:
            base = base.copy()
        base[self.index] += self.values
        return base

class Ghost:
    """What a graph keeps of a tensor once a backward freed it: no values, only what the
    views draw (shape, dtype, name, the node that made it, a gradient ``retain_grads``
    kept) and a weak link to the tensor, alive while the user still holds it."""
    __slots__ = ("shape", "dtype", "device", "name", "requires_grad", "_ctx", "grad", "tensor")
    data = None
    grad_fn = property(lambda self: self._ctx)

    def __init__(self, t: Any) -> None:
        self.shape, self.dtype, self.device, self.name = t.shape, t.dtype, t.device, t.name
        self.requires_grad, self._ctx, self.tensor = t.requires_grad, t._ctx, weakref.ref(t)
        self.grad = t.grad if t._ctx is not None else None

# ---------------------------------------------------------------- the backward walk
def backward_order(roots: Sequence[Any]) -> list:
    """The tensors that need a gradient, reachable from ``roots``, outputs first: a stack
    walk collects the nodes, sorting by node number puts outputs before their inputs."""
    inner, leaves, seen, stack = {}, [], set(), list(roots)
    while stack:
        t = stack.pop()
        if t._ctx is None:
            if id(t) not in seen:
                seen.add(id(t))
                leaves.append(t)
        elif t._ctx.seq not in inner:
            inner[t._ctx.seq] = t
            for p in t._ctx.parents:
                if p.requires_grad:
                    stack.append(p)
    return [inner[s] for s in sorted(inner, reverse=True)] + leaves

def _check_saved(ctx: Function) -> None:
    """Refuse a node whose saved values were freed, or changed in place after saving."""
    if ctx.saved is None:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time: the values saved "
            f"by op '{ctx.name}' were freed after the first backward; pass retain_graph=True "
            "to the first backward() (or tg.grad) if you need to backward twice")
    kept = [("a tensor", s.shape, s._vc) for s in ctx.saved if s._vc is not None]
    kept += [("the output", tuple(ctx.out.shape), ctx.out_vc)] if ctx.save_output else []
    for what, shape, vc in kept:
        if vc[1] > ctx.epoch:
            raise RuntimeError(
                f"backward: {what} of shape {shape} saved by op '{ctx.name}' for its gradient "
                f"was modified by an in-place operation after it was saved (it is at version "
                f"{vc[0]} now); use an out-of-place op (x = x + y) or .clone() before modifying")

def run_backward(roots: Sequence[Any], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Any] | None = None) -> dict:
    """The chain rule over the whole graph, from ``roots`` to the leaves. Without ``inputs``
    each leaf's gradient is added into its ``.grad``; with them, theirs are returned by
    ``id(tensor)`` (``tg.grad``). Without ``create_graph`` the formulas run on raw arrays,
    with it on Tensors (recorded). Unless ``retain_graph``, the graph is freed after."""
    arrays, order = not create_graph, backward_order(roots)
    pending: dict = {}          # id(tensor) -> its gradient so far
    owned: set = set()          # ids whose gradient array was made here (we may add into it)
    for r, g in zip(roots, root_grads):
        g = g.data if arrays else g
        pending[id(r)] = pending[id(r)] + g if id(r) in pending else g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found, hook, retain_all, epoch_now = {}, MODE.hook, MODE.retain_all, COUNTERS.epoch
    prev, MODE.enabled = MODE.enabled, create_graph
    try:
        for t in order:
            g, ctx = pending.pop(id(t), None), t._ctx
            if g is None:
                continue
            if wanted is not None:
                if id(t) in wanted:
                    found[id(t)] = t._new(g) if arrays else g
            elif ctx is None or retain_all or t._retains_grad:
                keep = t._new(g.copy()) if arrays else g
                t.grad = keep if t.grad is None else t.grad + keep
            if ctx is None:
                continue
            if ctx.saved is None or ctx.epoch != epoch_now:     # freed, or an in-place op
                _check_saved(ctx)                               # ran since it was made
            if arrays and not ctx.array_backward:       # a custom Function: give it Tensors
                out = ctx.backward(t._new(g))
                out = tuple(None if x is None else x.data
                            for x in (out if isinstance(out, tuple) else (out,)))
            else:
                out = ctx.backward(g)
            passed = [] if hook is not None else None
            for p, pg in zip(ctx.parents, out if type(out) is tuple else (out,)):
                if pg is None or not p.requires_grad:
                    continue
                key, before = id(p), pending.get(id(p))
                if hook is not None:
                    passed.append((p, pg.add_to(None, True) if type(pg) is SliceGrad else pg))
                if type(pg) is SliceGrad:               # x[index]: add into one buffer
                    pending[key] = pg.add_to(before, key in owned)
                    owned.add(key)
                elif before is None:
                    pending[key] = pg
                elif arrays and key in owned and before.ndim:
                    before += pg                        # our own buffer: add in place
                else:
                    pending[key] = before + pg
                    owned.add(key)
            if hook is not None:
                hook(t, t._new(g) if arrays else g,
                     [(p, p._new(x) if arrays else x) for p, x in passed])
            if not retain_graph:
                ctx.saved = None
    finally:
        MODE.enabled = prev
    if not retain_graph:
        release(order)
    return found

GHOST_BYTES = 128       # about a Ghost's own size: a smaller array is not worth replacing

def release(order: Sequence[Any]) -> None:
    """Free a back-propagated graph: each node drops its per-op state, and its links to the
    tensors it read become their :class:`Ghost` (a tensor whose array is no bigger than a
    ghost stays: nothing to gain). A loop that keeps its losses in a list then keeps this
    skeleton, not every step's activations."""
    ghosts: dict = {}
    for t in order:
        ctx = t._ctx
        if ctx is not None and ctx.saved is None:
            parents = []
            for p in ctx.parents:
                if type(p) is not Ghost and p.data.nbytes > GHOST_BYTES:
                    p = ghosts.get(id(p)) or ghosts.setdefault(id(p), Ghost(p))
                parents.append(p)
            ctx.parents = tuple(parents)
            ctx.__dict__.clear()
