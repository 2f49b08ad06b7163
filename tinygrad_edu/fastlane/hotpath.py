"""The engine's per-op bookkeeping written for speed: stand-ins for ``Function.apply`` and
for the backward walk (``graph.run_backward`` with the freeing of the graph).

On a tensor of four numbers a NumPy call costs about half a microsecond, and recording the
op and walking back over it cost several times that. Read the reference in
``engine/graph.py``; these do the same steps with fewer Python operations:

* :func:`apply` passes one or two arrays to ``forward`` without building a list, makes the
  output tensor in place (not through ``_new``), and writes each field of the output once;
* :func:`run_backward` takes the common case, a first-order ``backward()`` with no hook and
  no ``retain_grads``, through a loop without the branches for those; anything else goes to
  the reference walk;
* :func:`release` looks for a parent big enough to be worth a ``Ghost`` before it rebuilds a
  node's tuple of parents (on small tensors there is none, and the tuple stays).

They are registered as ``"apply"`` and ``"run_backward"``; ``tg.fast(False)`` puts the
reference back. ``tests/test_fast_lane.py`` spies on both and the whole suite runs with
the lane on and off.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.graph import COUNTERS, GHOST_BYTES, MODE, Ghost, SliceGrad
from tinygrad_edu.engine.tensor import Tensor

_new_object = object.__new__


def apply(cls: Any, *inputs: Any, **kwargs: Any) -> Any:
    """``Function.apply``: run ``forward`` on the inputs' arrays; under grad mode, record."""
    first = inputs[0]
    device = first.device
    ctx = _new_object(graph.ACTIVE.get(cls, cls))           # the lane's subclass, if any
    if len(inputs) == 2:
        second = inputs[1]
        if second.device != device:
            raise graph.device_mismatch(cls.name, inputs)
        record = first.requires_grad or second.requires_grad
        data = ctx.forward(first.data, second.data, **kwargs)
    elif len(inputs) == 1:
        record = first.requires_grad
        data = ctx.forward(first.data, **kwargs)
    else:
        record = False
        for t in inputs:
            if t.device != device:
                raise graph.device_mismatch(cls.name, inputs)
            record = record or t.requires_grad
        data = ctx.forward(*[t.data for t in inputs], **kwargs)
    out = _new_object(Tensor)
    out.data = data if data.ndim else backend.module_of(data).asarray(data)
    out.device, out.grad, out.name, out._retains_grad = device, None, None, False
    out._vc = first._versioned() if cls.is_view else None
    if record and MODE.enabled:
        out.requires_grad, out._ctx = True, ctx
        ctx.parents, ctx.scope, ctx.epoch = inputs, MODE.scope, COUNTERS.epoch
        ctx.seq, ctx.saved = next(COUNTERS.seq), inputs if cls.save_inputs else ()
        if cls.save_output:
            if out._vc is None:
                out._vc = [0, 0]
            ctx.out, ctx.out_vc = data, out._vc
    else:
        out.requires_grad, out._ctx = False, None
    return out


def run_backward(roots: Sequence[Any], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Any] | None = None) -> dict:
    """``graph.run_backward`` for a plain first-order ``backward()``; the reference walk for
    ``create_graph``, ``tg.grad``'s ``inputs``, a ``backward_hook`` or ``retain_grads``."""
    if create_graph or inputs is not None or MODE.hook is not None or MODE.retain_all:
        return graph.run_backward(roots, root_grads, retain_graph, create_graph, inputs)
    order = graph.backward_order(roots)
    pending: dict = {}
    owned: set = set()
    for r, g in zip(roots, root_grads):
        pending[id(r)] = pending[id(r)] + g.data if id(r) in pending else g.data
    epoch_now = COUNTERS.epoch
    prev, MODE.enabled = MODE.enabled, False
    try:
        for t in order:
            g = pending.pop(id(t), None)
            if g is None:
                continue
            ctx = t._ctx
            if ctx is None or t._retains_grad:
                keep = t._new(g.copy())
                t.grad = keep if t.grad is None else t.grad + keep
                if ctx is None:
                    continue
            if ctx.saved is None or ctx.epoch != epoch_now:
                graph._check_saved(ctx)
            if ctx.array_backward:
                out = ctx.backward(g)
            else:                                       # a custom Function: give it Tensors
                out = ctx.backward(t._new(g))
                out = tuple(None if x is None else x.data
                            for x in (out if isinstance(out, tuple) else (out,)))
            for p, pg in zip(ctx.parents, out if type(out) is tuple else (out,)):
                if pg is None or not p.requires_grad:
                    continue
                key = id(p)
                before = pending.get(key)
                if type(pg) is SliceGrad:
                    pending[key] = pg.add_to(before, key in owned)
                    owned.add(key)
                elif before is None:
                    pending[key] = pg
                elif key in owned and before.ndim:
                    before += pg
                else:
                    pending[key] = before + pg
                    owned.add(key)
            if not retain_graph:
                ctx.saved = None
    finally:
        MODE.enabled = prev
    if not retain_graph:
        release(order)
    return {}


def release(order: Sequence[Any]) -> None:
    """``graph.release``: each freed node drops its state; its big parents become ghosts."""
    ghosts: dict = {}
    for t in order:
        ctx = t._ctx
        if ctx is not None and ctx.saved is None:
            parents = ctx.parents
            for p in parents:
                if type(p) is not Ghost and p.data.nbytes > GHOST_BYTES:
                    ctx.parents = tuple(
                        p if type(p) is Ghost or p.data.nbytes <= GHOST_BYTES else
                        ghosts.get(id(p)) or ghosts.setdefault(id(p), Ghost(p)) for p in parents)
                    break
            ctx.__dict__.clear()
