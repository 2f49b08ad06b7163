"""The graph: nodes, grad mode, and the backward walk (reverse-mode differentiation).

Every tensor computed under grad mode from a tensor with ``requires_grad=True``
keeps the :class:`Function` that made it (the *node*, ``tensor.grad_fn``): the
op's name, its input tensors (``parents``) and what it saved for its gradient.
``loss.backward()`` then applies the chain rule from the loss to the leaves::

    grad[loss] = 1
    grad[input] += node.backward(grad[output])      for every node, outputs first

The walk uses an explicit stack, never recursion, so an RNN unrolled over
10,000 steps back-propagates without ``RecursionError``.

A primitive's backward is written once, in operations that work both on raw
arrays and on Tensors: a plain ``backward()`` runs it on arrays (fast), while
``create_graph=True`` runs the very same formula on Tensors, recording a graph
of the gradient itself, which can be differentiated again.
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
    scopes: tuple = ()              # labels from tg.scope(), innermost last
    scope: str | None = None        # '/'.join(scopes)
    retain_all = False              # keep .grad on every tensor during backward
    hook: Callable | None = None    # called at every node the backward walk visits


MODE = _Mode()


class _Counters:
    """Process-wide counters.

    ``epoch`` counts in-place changes: each one stamps its tensor's version counter
    ``[version, stamp]`` with a new epoch, and a node remembers the epoch it was made
    in, so a saved tensor was changed after saving exactly when its stamp is newer.
    ``seq`` numbers the nodes: a node's number is larger than its inputs' nodes', so
    sorting by it gives the backward order.
    """
    epoch = 0
    seq = itertools.count(1)


COUNTERS = _Counters()


def is_grad_enabled() -> bool:
    """True when new ops record a graph (in this thread)."""
    return MODE.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off, as a context manager or a decorator."""

    def __init__(self, mode: bool) -> None:
        self.mode, self.prev = bool(mode), []

    def __enter__(self) -> None:
        self.prev.append(MODE.enabled)
        MODE.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        MODE.enabled = self.prev.pop()


class no_grad(set_grad_enabled):
    """``with tg.no_grad():`` record nothing (evaluation, optimizer updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """``with tg.enable_grad():`` record again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Label the ops made inside, e.g. ``'lstm/l0/t=3'`` (scopes nest with '/').

    Labels only name the graph (the views draw one cluster per time step); they never
    change what is computed.
    """
    saved = MODE.scopes
    MODE.scopes = saved + (name,)
    MODE.scope = "/".join(MODE.scopes)
    try:
        yield
    finally:
        MODE.scopes = saved
        MODE.scope = "/".join(saved) if saved else None


@contextlib.contextmanager
def retain_grads() -> Iterator[None]:
    """During ``backward`` inside this block, every tensor of the graph keeps ``.grad``."""
    prev, MODE.retain_all = MODE.retain_all, True
    try:
        yield
    finally:
        MODE.retain_all = prev


@contextlib.contextmanager
def backward_hook(fn: Callable) -> Iterator[None]:
    """Call ``fn(tensor, grad, passed)`` at every tensor the backward walk visits.

    ``grad`` is the whole gradient the tensor received; ``passed`` lists
    ``(input, contribution)`` for what its node sent on. The graph views record the
    real walk with it (order and every contribution); it never changes the result.
    """
    prev, MODE.hook = MODE.hook, fn
    try:
        yield
    finally:
        MODE.hook = prev


# ---------------------------------------------------------------- the fast lane switch
# The fast lane (tinygrad_edu/fastlane) registers its overrides here: a primitive class
# replaced by a faster subclass, or a name under which a composite asks for its fast
# version. The engine always works without them. TG_FAST=0 starts with the lane off.
_REGISTERED: dict = {}      # reference (primitive class or name) -> fast stand-in
ACTIVE: dict = {}           # _REGISTERED while the lane is on, else empty
_ON = os.environ.get("TG_FAST", "1") != "0"


def override(reference: Any, fast: Any) -> None:
    """Register ``fast`` to stand in for ``reference`` while the fast lane is on."""
    _REGISTERED[reference] = fast
    set_fast(_ON)


def lane(name: str, reference: Callable) -> Callable:
    """The function to run for ``reference``: the override registered under ``name``
    while the lane is on, else ``reference`` itself."""
    return ACTIVE.get(name, reference)


def is_fast() -> bool:
    """True while the fast lane is on."""
    return _ON


def set_fast(on: bool) -> None:
    """Turn every override on or off, for the whole process."""
    global ACTIVE, _ON
    _ON = bool(on)
    ACTIVE = dict(_REGISTERED) if _ON else {}


class fast:
    """``tg.fast(False)`` turns the fast lane off; ``with tg.fast(False):`` only inside."""

    def __init__(self, on: bool = True) -> None:
        self.prev = _ON
        set_fast(on)

    def __enter__(self) -> "fast":
        return self

    def __exit__(self, *exc: Any) -> None:
        set_fast(self.prev)


# ---------------------------------------------------------------- the node
class Function:
    """A node of the graph: one op, with ``forward`` on arrays and ``backward``.

    Subclasses write ``forward(self, *arrays, **kwargs) -> array`` and
    ``backward(self, grad) -> one gradient per input`` (None where there is none).
    Anything ``forward`` stores on ``self`` is there for ``backward``.
    """
    __slots__ = ("parents", "saved", "epoch", "seq", "scope", "__dict__", "__weakref__")
    name = "op"
    array_backward = False  # backward accepts raw arrays (the engine's primitives do)
    save_inputs = False     # keep the inputs for backward (ctx.saved)
    save_output = False     # keep the output array for backward (ctx.out)
    is_view = False         # the output may share the input's memory (and its version)

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Any:
        """Run ``forward`` on the inputs' arrays and, under grad mode, record the node.

        The output is a new tensor on the inputs' device; nothing is recorded when no
        input requires grad (or grad mode is off).
        """
        first = inputs[0]
        record = False
        for t in inputs:
            if t.device != first.device:
                raise device_mismatch(cls.name, inputs)
            record = record or t.requires_grad
        ctx = object.__new__(ACTIVE.get(cls, cls))          # the fast lane may stand in
        data = ctx.forward(*[t.data for t in inputs], **kwargs)
        out = first._new(data)
        if cls.is_view:
            out._vc = first._versioned()
        if record and MODE.enabled:
            out.requires_grad, out._ctx = True, ctx
            ctx.parents, ctx.scope, ctx.epoch = inputs, MODE.scope, COUNTERS.epoch
            ctx.seq = next(COUNTERS.seq)
            ctx.saved = inputs if cls.save_inputs else ()
            if cls.save_output:
                ctx.out, ctx.out_vc = data, out._vc or out._versioned()
        return out

    @property
    def inputs(self) -> tuple:
        """The tensors this op read (after a freeing backward: their :class:`Ghost`)."""
        return self.parents

    @property
    def saved_tensors(self) -> tuple:
        """What the op kept for its gradient (empty once a backward freed it)."""
        return self.saved or ()

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
    """The gradient of ``x[index]`` (a basic index) in a first-order backward, kept sparse.

    Dense, it is zeros of x's shape with ``values`` at ``index``. An RNN slices its
    input into T steps: T dense gradients would cost O(T²) memory traffic, while adding
    each step's values into one buffer costs O(T).
    """
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
    """What a graph keeps of a tensor once a backward has freed it.

    No values: only what the views draw (shape, dtype, name, the node that made it,
    the gradient if ``retain_grads`` kept one, the value of a one-element constant such
    as the 2 in ``x * 2``) and a weak link to the tensor itself, alive while the user
    still holds it.
    """
    __slots__ = ("shape", "dtype", "device", "name", "requires_grad", "_ctx", "grad", "tensor",
                 "data")

    def __init__(self, t: Any) -> None:
        self.shape, self.dtype, self.device, self.name = t.shape, t.dtype, t.device, t.name
        self.requires_grad, self._ctx = t.requires_grad, t._ctx
        self.grad = t.grad if t._ctx is not None else None
        self.tensor = weakref.ref(t)
        self.data = t.data if t.data.size == 1 and not t.requires_grad else None

    def tolist(self) -> Any:
        """The value of a one-element constant (the only values a ghost keeps)."""
        if self.data is None:
            raise RuntimeError("this tensor's values were freed by backward(); pass "
                               "retain_graph=True to keep them")
        return backend.to_host(self.data).tolist()

    grad_fn = property(lambda self: self._ctx)
    is_leaf = property(lambda self: self._ctx is None)
    ndim = property(lambda self: len(self.shape))

    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def backward_order(roots: Sequence[Any]) -> list:
    """The tensors that need a gradient, reachable from ``roots``, outputs first.

    One stack walk collects the nodes; sorting by node number (larger = made later)
    puts every output before its inputs; the leaves go last.
    """
    inner, leaves, seen = {}, [], set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None:
            if id(t) not in seen:
                seen.add(id(t))
                leaves.append(t)
        elif ctx.seq not in inner:
            inner[ctx.seq] = t
            stack.extend(p for p in ctx.parents if p.requires_grad)
    return [inner[s] for s in sorted(inner, reverse=True)] + leaves


def forward_order(roots: Sequence[Any]) -> list:
    """Every tensor reachable from ``roots`` (grad or not, ghosts too), inputs first.

    The graph views draw from this. An explicit stack: deep graphs are fine.
    """
    order, seen, stack = [], set(), [(r, False) for r in reversed(roots)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            if t._ctx is not None:
                stack.extend((p, False) for p in reversed(t._ctx.parents) if id(p) not in seen)
    return order


def _check_saved(ctx: Function, epoch_now: int) -> None:
    """Refuse a node whose saved values were freed, or changed in place after saving."""
    if ctx.saved is None:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time: the values saved "
            f"by op '{ctx.name}' were freed after the first backward; pass retain_graph=True "
            "to the first backward() (or tg.grad) if you need to backward twice")
    if ctx.epoch == epoch_now:          # no in-place op anywhere since this node was made
        return
    changed = [s for s in ctx.saved if s._vc is not None and s._vc[1] > ctx.epoch]
    if changed:
        what = (f"a tensor of shape {tuple(changed[0].shape)} saved by op '{ctx.name}' for its "
                f"gradient was modified by an in-place operation after it was saved (it is at "
                f"version {changed[0]._vc[0]} now)")
    elif ctx.save_output and ctx.out_vc[1] > ctx.epoch:
        what = (f"the output of op '{ctx.name}' (shape {tuple(ctx.out.shape)}), which it saved "
                "for its gradient, was modified by an in-place operation after it was saved "
                f"(it is at version {ctx.out_vc[0]} now)")
    else:
        return
    raise RuntimeError(f"backward: {what}; use an out-of-place op (x = x + y) or .clone() "
                       "before modifying")


def run_backward(roots: Sequence[Any], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Sequence[Any] | None = None) -> dict:
    """The chain rule over the whole graph, from ``roots`` to the leaves.

    With ``inputs=None`` each leaf's gradient is added into its ``.grad``
    (``Tensor.backward``); otherwise the gradients of ``inputs`` are returned, keyed by
    ``id(tensor)`` (``tg.grad``). Without ``create_graph`` the formulas run on raw arrays;
    with it, on Tensors, recording the graph of the gradient. Unless ``retain_graph``,
    the graph is freed afterwards (:func:`release`).
    """
    arrays = not create_graph
    order = backward_order(roots)
    pending: dict = {}          # id(tensor) -> its gradient so far
    owned: set = set()          # ids whose gradient array was made here (we may add into it)
    for r, g in zip(roots, root_grads):
        g = g.data if arrays else g
        pending[id(r)] = pending[id(r)] + g if id(r) in pending else g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict = {}
    hook, retain_all, epoch_now = MODE.hook, MODE.retain_all, COUNTERS.epoch
    prev, MODE.enabled = MODE.enabled, create_graph
    try:
        for t in order:
            g = pending.pop(id(t), None)
            if g is None:
                continue
            ctx = t._ctx
            if wanted is not None:
                if id(t) in wanted:
                    found[id(t)] = t._new(g) if arrays else g
            elif ctx is None or retain_all or t._retains_grad:
                keep = t._new(g.copy()) if arrays else g
                t.grad = keep if t.grad is None else t.grad + keep
            if ctx is None:
                continue
            _check_saved(ctx, epoch_now)
            if arrays and not ctx.array_backward:       # a custom Function: give it Tensors
                out = ctx.backward(t._new(g))
                out = tuple(None if x is None else x.data
                            for x in (out if isinstance(out, tuple) else (out,)))
            else:
                out = ctx.backward(g)
            if type(out) is not tuple:
                out = (out,)
            passed = []
            for p, pg in zip(ctx.parents, out):
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


def release(order: Sequence[Any]) -> None:
    """Free a back-propagated graph: each node drops what it saved and its links to
    the tensors it read, keeping their :class:`Ghost` (shape, dtype, name, node).

    A training loop that keeps its losses in a list then keeps only this skeleton,
    not every step's activations. A tensor the user still holds keeps its data.
    """
    ghosts: dict = {}
    for t in order:
        ctx = t._ctx
        if ctx is None or ctx.saved is not None:
            continue
        parents = []
        for p in ctx.parents:
            if type(p) is not Ghost:
                p = ghosts.get(id(p)) or ghosts.setdefault(id(p), Ghost(p))
            parents.append(p)
        ctx.parents = tuple(parents)
        ctx.__dict__.clear()
