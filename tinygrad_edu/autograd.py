"""Reverse-mode automatic differentiation: the graph and the backward walk.

Every tensor computed under grad mode from a tensor with ``requires_grad=True``
remembers the :class:`Function` (the *node*) that made it: the op's name, its
input tensors (``parents``) and whatever the op saved for its gradient.
``loss.backward()`` then applies the chain rule from the loss back to the
leaves:

    grad(parent) += Function.backward(grad(output))      for every node, outputs first

The walk visits nodes in reverse topological order with an explicit stack (no
recursion), so a graph with 10,000 ops in a chain, such as an RNN unrolled over
thousands of time steps, back-propagates without ``RecursionError``.

Backward formulas are written with Tensor ops, so under ``create_graph=True``
the gradient is itself a graph and can be differentiated again.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from tinygrad_edu import backend

if TYPE_CHECKING:
    from tinygrad_edu.tensor import Tensor


class _State:
    """Global autograd switches (like PyTorch's thread-global grad mode)."""
    __slots__ = ("enabled", "scopes", "scope", "retain_all", "epoch", "seq")

    def __init__(self) -> None:
        self.enabled = True
        self.scopes: list[str] = []
        self.scope: str | None = None      # '/'.join(scopes), cached
        self.retain_all = False
        # In-place ops counted so far. Each in-place op stamps its tensor's version counter
        # [version, stamp] with a new epoch; a node records the epoch when it was made, so a
        # saved tensor was changed after saving exactly when its stamp is newer.
        self.epoch = 0
        # Recorded nodes so far: a node's number is larger than its inputs' nodes', so
        # sorting by it gives the backward order without a post-order walk.
        self.seq = 0


STATE = _State()


def is_grad_enabled() -> bool:
    """True when new ops record a graph."""
    return STATE.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = STATE.enabled

    def __enter__(self) -> None:
        self.prev = STATE.enabled
        STATE.enabled = self.mode

    def __exit__(self, *exc: Any) -> None:
        STATE.enabled = self.prev


class no_grad(set_grad_enabled):
    """``with tg.no_grad():`` ops inside record no graph (evaluation, optimizer steps)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """``with tg.enable_grad():`` turns recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Label every op made inside with a scope such as ``'lstm.l0/t=3'``.

    Scopes nest with '/'. They only label the graph (the renderer draws one
    cluster per time step from them); they never change what is computed.

    >>> with scope('rnn'):
    ...     with scope('t=0'):
    ...         h = (x @ w).tanh()      # h.grad_fn.scope == 'rnn/t=0'
    """
    STATE.scopes.append(name)
    STATE.scope = "/".join(STATE.scopes)
    try:
        yield
    finally:
        STATE.scopes.pop()
        STATE.scope = "/".join(STATE.scopes) if STATE.scopes else None


@contextlib.contextmanager
def retain_grads() -> Iterator[None]:
    """During ``backward`` inside this block, every tensor of the graph keeps ``.grad``.

    Used by the graph views to show ∂loss/∂h_t for each hidden state.
    """
    prev = STATE.retain_all
    STATE.retain_all = True
    try:
        yield
    finally:
        STATE.retain_all = prev


class Function:
    """A node of the graph: one primitive op with a hand-written backward.

    Subclasses implement ``forward(self, *arrays, **kwargs) -> array`` on raw
    arrays (fast) and ``backward(self, grad: Tensor) -> tuple`` in Tensor ops
    (so gradients are differentiable). ``apply`` wires the two together.
    """
    __slots__ = ("parents", "saved", "epoch", "seq", "out_vc", "__weakref__")
    name = "op"
    scope: str | None = None   # the tg.scope() the op ran under (set only when there is one)

    def save_for_backward(self, *tensors: "Tensor") -> None:
        """Keep tensors for backward; an in-place change to one later is detected."""
        self.saved = tensors
        self.epoch = STATE.epoch

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: "Tensor") -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def inputs(self) -> tuple:
        """The input tensors of this op (same as ``parents``)."""
        return self.parents

    # what apply keeps for backward (set by subclasses)
    array_backward = False  # backward accepts raw arrays (the built-in primitives do)
    save_inputs = False     # ctx.saved = the input tensors
    save_output = False     # ctx.out = the output array
    is_view = False         # output may alias the input's memory: share its version counter

    @classmethod
    def apply(cls, *inputs: "Tensor", **kwargs: Any) -> "Tensor":
        """Run forward on the inputs' arrays and, under grad mode, record the node.

        This is the hot path of the whole library (every op of every step goes
        through it), so it is written for speed: no graph bookkeeping at all
        when nothing requires grad.
        """
        first = inputs[0]
        device = first.device
        record = False
        for t in inputs:
            if t.device != device:
                _device_mismatch(cls.name, inputs)
            if t.requires_grad:
                record = True
        record = record and STATE.enabled
        ctx = cls.__new__(cls)
        if len(inputs) == 1:
            data = ctx.forward(first.data, **kwargs)
        elif len(inputs) == 2:
            data = ctx.forward(first.data, inputs[1].data, **kwargs)
        else:
            data = ctx.forward(*[t.data for t in inputs], **kwargs)
        out = _new_tensor(_Tensor)
        out.data = data
        out.device = device
        out.grad = None
        out.name = None
        out._retains_grad = False
        if cls.is_view:
            vc = first._vc
            if vc is None:
                vc = first._vc = [0, 0]
            out._vc = vc
        else:
            out._vc = None
        if record:
            out.requires_grad = True
            out._ctx = ctx
            ctx.parents = inputs
            if STATE.scope is not None:
                ctx.scope = STATE.scope
            ctx.epoch = STATE.epoch
            ctx.seq = STATE.seq = STATE.seq + 1
            ctx.saved = inputs if cls.save_inputs else ()
            if cls.save_output:
                ctx.out = data
                if out._vc is None:     # so that an in-place change to out is detected
                    out._vc = [0, 0]
                ctx.out_vc = out._vc
        else:
            out.requires_grad = False
            out._ctx = None
        return out

    def __repr__(self) -> str:
        return f"<{type(self).__name__} op={self.name!r} scope={getattr(self, 'scope', None)!r}>"


def _device_mismatch(op: str, inputs: Sequence["Tensor"]) -> None:
    devices = ", ".join(f"input {i} on '{t.device}'" for i, t in enumerate(inputs))
    raise RuntimeError(f"{op}: expected all tensors on the same device, got {devices}; "
                       "move one explicitly with .to(device) (nothing is copied implicitly)")


_make_tensor: Any = None   # set by tensor.py: (array, device) -> Tensor without graph
_Tensor: Any = None        # the Tensor class, set by tensor.py
_new_tensor = object.__new__


class SliceGrad:
    """The gradient of ``x[index]`` (a basic index) in a first-order backward, kept sparse.

    Dense, it is zeros of x's shape with ``values`` at ``index``. An RNN slices its
    input projection into T steps; T dense gradients would cost O(T²) memory traffic,
    while adding each step's values into one buffer costs O(T).
    """
    __slots__ = ("shape", "index", "values")

    def __init__(self, shape: tuple, index: Any, values: Any) -> None:
        self.shape, self.index, self.values = shape, index, values

    def dense(self, base: Any = None) -> Any:
        """A new array: ``base`` (or zeros) with the values added at the index."""
        if base is None:
            out = backend.module_of(self.values).zeros(self.shape, dtype=self.values.dtype)
        else:
            out = base.copy()
        out[self.index] += self.values
        return out

    def add_into(self, buffer: Any) -> None:
        buffer[self.index] += self.values


def topological_order(roots: Sequence["Tensor"],
                      only_requiring_grad: bool = True) -> list["Tensor"]:
    """Tensors reachable from ``roots``, every input before the tensors made from it.

    A post-order depth-first walk with an explicit stack instead of recursion, so deep
    graphs (BPTT over thousands of steps) are fine. Backward follows only tensors that
    require grad; the graph views follow every input (``only_requiring_grad=False``).
    """
    order: list = []
    visited: set = set()
    stack: list = [(r, False) for r in reversed(roots)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is not None:
            for p in reversed(ctx.parents):
                if (p.requires_grad or not only_requiring_grad) and id(p) not in visited:
                    stack.append((p, False))
    return order


def _backward_order(roots: Sequence["Tensor"]) -> list["Tensor"]:
    """Tensors that require grad reachable from ``roots``, outputs first (the order
    backward needs): one stack walk to collect them, then the ops sorted by node number
    (``ctx.seq`` grows as ops run, so a larger number is later in the forward), then the
    leaves, which have no inputs and so may go last in any order."""
    inner: dict = {}           # ctx.seq -> tensor made by that op
    leaves: list = []
    seen_leaves: set = set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None:
            if id(t) not in seen_leaves:
                seen_leaves.add(id(t))
                leaves.append(t)
        elif ctx.seq not in inner:
            inner[ctx.seq] = t
            for p in ctx.parents:
                if p.requires_grad:
                    stack.append(p)
    order = [inner[s] for s in sorted(inner, reverse=True)]
    order += leaves
    return order


def _check_node(t: "Tensor", ctx: Function) -> None:
    if ctx.saved is None:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time: the values saved "
            f"by op '{ctx.name}' were freed after the first backward; pass retain_graph=True "
            f"to the first backward() (or tg.grad) if you need to backward twice")
    for s in ctx.saved:
        vc = s._vc
        if vc is not None and vc[1] > ctx.epoch:
            raise RuntimeError(
                f"backward: a tensor of shape {tuple(s.shape)} saved by op '{ctx.name}' for its "
                f"gradient was modified by an in-place operation after it was saved (it is at "
                f"version {vc[0]} now); use an out-of-place op (x = x + y) or .clone() before "
                "modifying")
    if ctx.save_output and ctx.out_vc[1] > ctx.epoch:
        raise RuntimeError(
            f"backward: the output of op '{ctx.name}' (shape {tuple(ctx.out.shape)}), which it "
            f"saved for its gradient, was modified by an in-place operation after it was saved "
            f"(it is at version {ctx.out_vc[0]} now); use an out-of-place op or .clone() "
            "before modifying")


def run_backward(roots: Sequence["Tensor"], root_grads: Sequence["Tensor"],
                 retain_graph: bool, create_graph: bool,
                 inputs: Sequence["Tensor"] | None = None) -> dict[int, "Tensor"]:
    """The chain rule over the whole graph.

    With ``inputs=None`` gradients are accumulated into the leaves' ``.grad``
    (``Tensor.backward``); otherwise they are returned for ``inputs`` only
    (``tg.grad``), keyed by ``id(tensor)``.
    """
    order = _backward_order(roots)
    # First-order backward runs every formula on raw arrays (fast); with create_graph the
    # same formulas run on Tensors and are recorded.
    fast = not create_graph
    grads: dict[int, Any] = {}
    for r, g in zip(roots, root_grads):
        g = g.data if fast else g
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g
    wanted = None if inputs is None else {id(t) for t in inputs}
    owned: set = set()     # keys whose gradient array was allocated here (safe to add into)
    found: dict[int, Any] = {}
    retain_all = STATE.retain_all
    epoch_now = STATE.epoch
    prev = STATE.enabled
    STATE.enabled = create_graph
    try:
        for t in order:
            g = grads.pop(id(t), None)
            if g is None:
                continue
            ctx = t._ctx
            if wanted is not None:
                if id(t) in wanted:
                    found[id(t)] = _make_tensor(g, t.device) if fast else g
            elif ctx is None or retain_all or t._retains_grad:
                _accumulate(t, g, fast)
            if ctx is None:
                continue
            if ctx.saved is None:            # freed by an earlier backward
                _check_node(t, ctx)
            epoch = ctx.epoch     # any in-place op since this node was made? (rare: if the
            if epoch != epoch_now:  # global counter has not moved, nothing it saved changed)
                for s in ctx.saved:
                    vc = s._vc
                    if vc is not None and vc[1] > epoch:
                        _check_node(t, ctx)
                if ctx.save_output and ctx.out_vc[1] > epoch:   # ... to the output it kept
                    _check_node(t, ctx)
            if fast and not ctx.array_backward:     # a user-defined Function: give it Tensors
                in_grads = ctx.backward(_make_tensor(g, t.device))
                in_grads = tuple(None if x is None else x.data for x in (
                    in_grads if type(in_grads) is tuple else (in_grads,)))
            else:
                in_grads = ctx.backward(g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for p, pg in zip(ctx.parents, in_grads):
                if pg is None or not p.requires_grad:
                    continue
                key = id(p)
                prev_g = grads.get(key)
                if type(pg) is SliceGrad:        # x[index]'s gradient: add into one buffer
                    if prev_g is None or key not in owned:
                        grads[key] = pg.dense(prev_g)
                        owned.add(key)
                    else:
                        pg.add_into(prev_g)
                elif prev_g is None:
                    grads[key] = pg
                elif key in owned and prev_g.ndim:   # our own buffer: accumulate in place
                    prev_g += pg                     # (0-d results are immutable scalars)
                else:
                    grads[key] = prev_g + pg
                    if fast:
                        owned.add(key)
            if not retain_graph:
                ctx.saved = None             # freed: a second backward raises
    finally:
        STATE.enabled = prev
    return found


def _accumulate(t: "Tensor", g: Any, fast: bool) -> None:
    """``t.grad += g`` out of place (a grad array is never shared between tensors).

    ``g`` is a raw array in a first-order backward (``fast``), else a Tensor with a graph.
    """
    if fast:
        t.grad = _make_tensor(g.copy() if t.grad is None else t.grad.data + g, t.device)
    else:
        t.grad = g if t.grad is None else t.grad + g


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _root_grads(outputs: list, grad_outputs: list | None, where: str) -> list:
    from tinygrad_edu.tensor import Tensor  # noqa: PLC0415 - tensor imports this module
    result = []
    for i, out in enumerate(outputs):
        if not out.requires_grad:
            raise RuntimeError(
                f"{where}: output {i} (shape {tuple(out.shape)}) does not require grad: it was "
                "not computed from a tensor with requires_grad=True, or it was made under no_grad")
        g = grad_outputs[i] if grad_outputs is not None and i < len(grad_outputs) else None
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{where}: grad can be implicitly created only for a scalar output, but "
                    f"output {i} has shape {tuple(out.shape)}; pass a gradient of that shape")
            g = Tensor._wrap(out.xp.ones(out.shape, dtype=out.dtype), out.device)
        elif not isinstance(g, Tensor):
            g = Tensor(g, dtype=out.dtype, device=out.device)
        if tuple(g.shape) != tuple(out.shape):
            raise RuntimeError(f"{where}: gradient has shape {tuple(g.shape)} but output {i} has "
                               f"shape {tuple(out.shape)}; they must match")
        if g.device != out.device:
            raise RuntimeError(f"{where}: gradient is on '{g.device}' but output {i} is on "
                               f"'{out.device}'")
        result.append(g)
    return result


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    outs = _as_list(tensors)
    grads = _root_grads(outs, _as_list(grad_tensors) or None, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(outs, grads, retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    Like ``torch.autograd.grad``. With ``create_graph=True`` the returned
    gradients carry a graph, so they can be differentiated again:

    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dy,) = tg.grad(x ** 3, [x], create_graph=True)    # 3x² = 27
    >>> (d2y,) = tg.grad(dy, [x])                           # 6x  = 18

    An input that the outputs do not depend on raises, unless
    ``allow_unused=True``; then its gradient is zeros of its shape (PyTorch
    gives ``None`` there; ``materialize_grads`` semantics are used here so that
    the result is always a tensor).
    """
    from tinygrad_edu.tensor import Tensor  # noqa: PLC0415
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {tuple(t.shape)}) does not require grad")
    grads = _root_grads(outs, _as_list(grad_outputs) or None, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outs, grads, retain_graph, create_graph, inputs=ins)
    result = []
    for i, t in enumerate(ins):
        g = found.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{i}] (shape {tuple(t.shape)}) was not used to compute the "
                    "outputs; pass allow_unused=True to get zeros for it")
            g = Tensor._wrap(t.xp.zeros(t.shape, dtype=t.dtype), t.device)
        result.append(g)
    return tuple(result)
