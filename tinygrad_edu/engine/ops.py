"""The primitives: the only ops with a hand-written derivative.

Each primitive is a :class:`~tinygrad_edu.engine.graph.Function` with

* ``forward`` on raw arrays (NumPy or CuPy: whichever the inputs live on), and
* ``backward``: the derivative, written once in operations that work on raw arrays
  and on Tensors alike (``*``, ``@``, ``.reshape``, ``.sum(axis=..., keepdims=...)``
  and the helpers below). A plain ``backward()`` runs it on arrays; under
  ``create_graph=True`` the same formula runs on Tensors and is itself recorded.

Each docstring gives the formula, and the backward names the op's *adjoint*: the
op the backward pass runs (sum <-> expand, pad <-> slice, window <-> fold,
getitem <-> index-add, permute <-> inverse permute). Everything else in the
library (conv, pooling, softmax, losses, RNN cells) is composed from these::

    elementwise  Add Sub Mul Div Pow Neg Exp Log Tanh Sigmoid Relu Sin Maximum Where
    reduce       Sum Max
    movement     Reshape Permute Expand Pad GetItem/IndexAdd Cat Flip Window/WindowFold
    matrix       MatMul
    other        Cast Clone ToDevice
"""
from __future__ import annotations

import itertools
from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.graph import Function, SliceGrad


class Primitive(Function):
    """A built-in op: its backward accepts raw arrays as well as Tensors."""
    array_backward = True


# ---------------------------------------------------------------- array-or-Tensor helpers
# A backward formula gets ``g`` as a raw array (a plain backward) or a Tensor (under
# create_graph). These helpers do the same thing on either; custom ops may use them too.
def is_tensor(g: Any) -> bool:
    return not backend.is_array(g)


def sum_to(g: Any, shape: tuple) -> Any:
    """Sum a broadcast gradient back to ``shape`` (the adjoint of broadcasting).

    (4, 3) -> (3,) sums dim 0; (4, 3) -> (4, 1) sums dim 1, keeping it.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    return (g.sum(axis=dims, keepdims=True) if dims else g).reshape(shape)


def run(op: type, *xs: Any, **kw: Any) -> Any:
    """Apply ``op`` to Tensors (recorded), or run its forward on arrays."""
    if is_tensor(xs[0]):
        return op.apply(*xs, **kw)
    return object.__new__(graph.ACTIVE.get(op, op)).forward(*xs, **kw)


def constant(value: Any, like: Any) -> Any:
    """A number or array as a constant beside the Tensor ``like`` (no history)."""
    if not (backend.is_array(value) or type(value) in (int, float)):
        return value                                        # already a Tensor
    if not backend.is_array(value):
        value = backend.module_of(like.data).asarray(value, dtype=like.dtype)
    return like._new(value)


def select(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` else ``b``; either may be a number. A where, not a product:
    an inf or NaN on the side not taken does not leak into the result."""
    like = b if type(a) in (int, float) else a          # the side that is not a number
    if not is_tensor(like):
        return backend.module_of(like).where(cond, a, b)
    return Where.apply(constant(cond, like), constant(a, like), constant(b, like))


def inputs_of(ctx: Function) -> tuple:
    """The saved inputs: Tensors while a backward is recorded, else their arrays."""
    return ctx.saved if graph.MODE.enabled else tuple(t.data for t in ctx.saved)


def output_of(ctx: Function, f: Any) -> Any:
    """The forward's output: the saved array, or, while a backward is recorded,
    ``f(saved input)`` recomputed with a graph (second derivatives need it)."""
    return f(ctx.saved[0]) if graph.MODE.enabled else ctx.out


def math_fn(g: Any, name: str) -> Any:
    """``g.name()`` for a Tensor, ``xp.name(g)`` for an array (exp, log, cos ...)."""
    return getattr(g, name)() if is_tensor(g) else getattr(backend.module_of(g), name)(g)


# ---------------------------------------------------------------- elementwise
class Add(Primitive):
    """z = x + y (broadcast).  Backward: dx = g, dy = g, each summed to its input's shape."""
    name = "add"

    def forward(self, x: Any, y: Any) -> Any:
        self.shapes = x.shape, y.shape
        return x + y

    def backward(self, g: Any) -> tuple:
        return sum_to(g, self.shapes[0]), sum_to(g, self.shapes[1])


class Sub(Primitive):
    """z = x - y.  Backward: dx = g, dy = -g."""
    name = "sub"

    def forward(self, x: Any, y: Any) -> Any:
        self.shapes = x.shape, y.shape
        return x - y

    def backward(self, g: Any) -> tuple:
        gy = -sum_to(g, self.shapes[1]) if self.parents[1].requires_grad else None
        return sum_to(g, self.shapes[0]), gy


class Mul(Primitive):
    """z = x · y.  Backward: dx = g · y, dy = g · x."""
    name = "mul"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, g: Any) -> tuple:
        x, y = inputs_of(self)
        px, py = self.parents
        return (sum_to(g * y, x.shape) if px.requires_grad else None,
                sum_to(g * x, y.shape) if py.requires_grad else None)


class Div(Primitive):
    """z = x / y.  Backward: dx = g / y, dy = -g · x / y²."""
    name = "div"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return x / y

    def backward(self, g: Any) -> tuple:
        x, y = inputs_of(self)
        px, py = self.parents
        return (sum_to(g / y, x.shape) if px.requires_grad else None,
                sum_to(-g * x / (y * y), y.shape) if py.requires_grad else None)


class Pow(Primitive):
    """z = x ** y (y often a constant such as 2).

    Backward: dx = g · y · x^(y-1), taken as 0 where y = 0 (so x**0 has gradient 0,
    also at x = 0); dy = g · z · ln x, taken as 0 where x = 0 and y >= 0 (PyTorch's
    conventions; a negative x gives NaN, as ln x does).
    """
    name = "pow"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return x ** y

    def backward(self, g: Any) -> tuple:
        x, y = inputs_of(self)
        px, py = self.parents
        gx = gy = None
        if px.requires_grad:
            gx = sum_to(select(y == 0, 0, g * y * x ** (y - 1)), x.shape)
        if py.requires_grad:
            gy = sum_to(select((x == 0) & (y >= 0), 0, g * x ** y * math_fn(x, "log")), y.shape)
        return gx, gy


class Neg(Primitive):
    """z = -x.  Backward: dx = -g (its own adjoint)."""
    name = "neg"

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, g: Any) -> Any:
        return -g


class Exp(Primitive):
    """z = eˣ.  Backward: dx = g · z."""
    name = "exp"
    save_inputs = save_output = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).exp(x)

    def backward(self, g: Any) -> Any:
        return g * output_of(self, lambda x: x.exp())


class Log(Primitive):
    """z = ln x.  Backward: dx = g / x."""
    name = "log"
    save_inputs = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).log(x)

    def backward(self, g: Any) -> Any:
        return g / inputs_of(self)[0]


class Tanh(Primitive):
    """z = tanh x = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ).  Backward: dx = g · (1 - z²)."""
    name = "tanh"
    save_inputs = save_output = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).tanh(x)

    def backward(self, g: Any) -> Any:
        z = output_of(self, lambda x: x.tanh())
        return g * (1 - z * z)


class Sigmoid(Primitive):
    """z = σ(x) = 1 / (1 + e⁻ˣ), computed as (1 + tanh(x/2)) / 2, which never overflows.
    Backward: dx = g · z · (1 - z)."""
    name = "sigmoid"
    save_inputs = save_output = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, g: Any) -> Any:
        z = output_of(self, lambda x: x.sigmoid())
        return g * z * (1 - z)


class Relu(Primitive):
    """z = max(x, 0).  Backward: dx = g where x > 0, else 0 (0 at the kink x = 0)."""
    name = "relu"
    save_inputs = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).maximum(x, 0)

    def backward(self, g: Any) -> Any:
        return select(self.saved[0].data > 0, g, 0)


class Sin(Primitive):
    """z = sin x.  Backward: dx = g · cos x."""
    name = "sin"
    save_inputs = True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).sin(x)

    def backward(self, g: Any) -> Any:
        return g * math_fn(inputs_of(self)[0], "cos")


class Maximum(Primitive):
    """z = max(x, y) elementwise.  Backward: the gradient goes to the larger input; at a
    tie each gets half (PyTorch's rule)."""
    name = "maximum"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return backend.module_of(x).maximum(x, y)

    def backward(self, g: Any) -> tuple:
        x, y = (t.data for t in self.saved)
        half = select(x == y, g * 0.5, g)
        return (sum_to(select(x < y, 0, half), x.shape),
                sum_to(select(x > y, 0, half), y.shape))


class Where(Primitive):
    """z = x where c else y.  Backward: dx = g where c else 0; dy = g where not c; c
    (a condition) gets none."""
    name = "where"

    def forward(self, c: Any, x: Any, y: Any) -> Any:
        self.cond, self.shapes = c.astype(bool), (x.shape, y.shape)
        return backend.module_of(x).where(self.cond, x, y)

    def backward(self, g: Any) -> tuple:
        return (None, sum_to(select(self.cond, g, 0), self.shapes[0]),
                sum_to(select(self.cond, 0, g), self.shapes[1]))


# ---------------------------------------------------------------- reductions
class Sum(Primitive):
    """z = Σ x over ``dims``.  Backward: expand (each element gets its sum's gradient)."""
    name = "sum"

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        self.shape = x.shape
        self.kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(self, g: Any) -> Any:
        return run(Expand, g.reshape(self.kept), shape=self.shape)


class Max(Primitive):
    """z = max x over ``dims``.  Backward: dx = g · [x = z] / (number of maxima): the
    maxima share the gradient evenly, the rest get 0 (PyTorch's amax)."""
    name = "max"
    save_inputs = True

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        if any(x.shape[d] == 0 for d in dims):
            raise RuntimeError(f"max: cannot reduce over an empty dim of shape {x.shape}")
        self.dims, self.m = dims, x.max(axis=dims, keepdims=True)
        return self.m if keepdim else self.m.reshape([s for i, s in enumerate(x.shape)
                                                      if i not in dims])

    def backward(self, g: Any) -> Any:
        at_max = (self.saved[0].data == self.m).astype(self.m.dtype)
        share = at_max / at_max.sum(axis=self.dims, keepdims=True)
        return g.reshape(self.m.shape) * (constant(share, g) if is_tensor(g) else share)


# ---------------------------------------------------------------- movement
class View(Primitive):
    """A movement op whose output may share its input's memory: an in-place change to
    either bumps the version counter both see."""
    is_view = True


class Reshape(View):
    """Same elements, new shape.  Backward: reshape back."""
    name = "reshape"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g: Any) -> Any:
        return g.reshape(self.shape)


class Permute(View):
    """Reorder dims: z.shape[i] = x.shape[dims[i]].  Backward: the inverse permutation."""
    name = "permute"

    def forward(self, x: Any, dims: tuple) -> Any:
        self.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.transpose(dims)

    def backward(self, g: Any) -> Any:
        return run(Permute, g, dims=self.inverse)


class Expand(View):
    """Broadcast size-1 dims to ``shape``, without copying.  Backward: sum over them."""
    name = "expand"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.shape = x.shape
        return backend.module_of(x).broadcast_to(x, shape)

    def backward(self, g: Any) -> Any:
        return sum_to(g, self.shape)


class Pad(Primitive):
    """Pad each dim with ``value``; ``pad`` = ((before, after), ...).
    Backward: slice the padding off again."""
    name = "pad"

    def forward(self, x: Any, pad: tuple, value: float) -> Any:
        self.index = tuple(slice(a, a + s) for (a, _), s in zip(pad, x.shape))
        out = backend.module_of(x).full([a + s + b for (a, b), s in zip(pad, x.shape)],
                                        value, dtype=x.dtype)
        out[self.index] = x
        return out

    def backward(self, g: Any) -> Any:
        return g[self.index]


def _advanced(index: Any) -> bool:
    """True if the index holds an integer array (then a position may repeat)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(i) and i.dtype.kind in "iu" for i in items)


class GetItem(View):
    """z = x[index] (NumPy's indexing).  Backward: :class:`IndexAdd` puts the gradient
    back at the index into zeros of x's shape; a repeated index adds up (an embedding
    row used twice gets both gradients)."""
    name = "getitem"

    def forward(self, x: Any, index: Any) -> Any:
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g: Any) -> Any:
        if self.shape and not is_tensor(g) and not _advanced(self.index):
            return SliceGrad(self.shape, self.index, g)    # added into one buffer later
        return run(IndexAdd, g, shape=self.shape, index=self.index)


class IndexAdd(Primitive):
    """z = zeros(shape); z[index] += x, adding every time an index repeats.
    Backward: getitem."""
    name = "index_add"

    def forward(self, x: Any, shape: tuple, index: Any) -> Any:
        self.index = index
        out = backend.module_of(x).zeros(shape, dtype=x.dtype)
        if _advanced(index):
            backend.scatter_add(out, index, x)
        else:
            out[index] += x
        return out

    def backward(self, g: Any) -> Any:
        return run(GetItem, g, index=self.index)


class Cat(Primitive):
    """z = the inputs joined along ``dim``.  Backward: each input gets its slice of g."""
    name = "cat"

    def forward(self, *xs: Any, dim: int) -> Any:
        self.dim, self.sizes = dim, [x.shape[dim] for x in xs]
        return backend.module_of(xs[0]).concatenate(xs, axis=dim)

    def backward(self, g: Any) -> tuple:
        ends = list(itertools.accumulate(self.sizes))
        lead = (slice(None),) * self.dim
        return tuple(g[lead + (slice(end - n, end),)] if p.requires_grad else None
                     for p, n, end in zip(self.parents, self.sizes, ends))


class Flip(View):
    """Reverse the order of the elements along ``dims``.  Backward: flip (its own adjoint)."""
    name = "flip"

    def forward(self, x: Any, dims: tuple) -> Any:
        self.dims = dims
        return backend.module_of(x).flip(x, axis=dims)

    def backward(self, g: Any) -> Any:
        return run(Flip, g, dims=self.dims)


def window_counts(shape: tuple, axes: tuple, size: tuple, stride: tuple,
                  dilation: tuple) -> list:
    """Windows per axis: (L - dilation·(size - 1) - 1) // stride + 1."""
    return [(shape[a] - d * (k - 1) - 1) // s + 1
            for a, k, s, d in zip(axes, size, stride, dilation)]


class Window(View):
    """Every sliding window along ``axes``, as a strided view (no copy).

    (N, C, H, W) with axes (2, 3) and size (KH, KW) -> (N, C, OH, OW, KH, KW):
    z[n, c, i, j, u, v] = x[n, c, i·stride + u·dilation, j·stride + v·dilation].
    Backward: :class:`WindowFold` adds each window's gradient back where it was read.
    """
    name = "window"

    def forward(self, x: Any, axes: tuple, size: tuple, stride: tuple, dilation: tuple) -> Any:
        self.geometry = (x.shape, axes, size, stride, dilation)
        shape, strides = list(x.shape), list(x.strides)
        for a, n, s in zip(axes, window_counts(x.shape, axes, size, stride, dilation), stride):
            shape[a], strides[a] = n, x.strides[a] * s       # window starts, stride apart
        shape += size                                           # the taps, dilation apart
        strides += [x.strides[a] * d for a, d in zip(axes, dilation)]
        return backend.windows(x, tuple(shape), tuple(strides))

    def backward(self, g: Any) -> Any:
        shape, axes, size, stride, dilation = self.geometry
        return run(WindowFold, g, shape=shape, axes=axes, size=size, stride=stride,
                    dilation=dilation)


class WindowFold(Primitive):
    """Add every window back onto the input positions it covers (col2im).

    (N, C, OH, OW, KH, KW) -> (N, C, H, W): for each tap (u, v), the (N, C, OH, OW)
    slab is added into z[:, :, u·d : ... : stride, v·d : ... : stride].
    Backward: :class:`Window`.
    """
    name = "window_fold"

    def forward(self, g: Any, shape: tuple, axes: tuple, size: tuple, stride: tuple,
                dilation: tuple) -> Any:
        self.geometry = (axes, size, stride, dilation)
        counts = window_counts(shape, axes, size, stride, dilation)
        out = backend.module_of(g).zeros(shape, dtype=g.dtype)
        for taps in itertools.product(*[range(k) for k in size]):
            index = [slice(None)] * len(shape)
            for a, t, n, s, d in zip(axes, taps, counts, stride, dilation):
                index[a] = slice(t * d, t * d + s * (n - 1) + 1, s)
            out[tuple(index)] += g[(Ellipsis,) + taps]
        return out

    def backward(self, g: Any) -> Any:
        axes, size, stride, dilation = self.geometry
        return run(Window, g, axes=axes, size=size, stride=stride, dilation=dilation)


# ---------------------------------------------------------------- matrix
class MatMul(Primitive):
    """Z = A @ B for (..., n, k) @ (..., k, m) -> (..., n, m).
    Backward: dA = G @ Bᵀ, dB = Aᵀ @ G (batch dims summed back where they were broadcast)."""
    name = "matmul"
    save_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, g: Any) -> tuple:
        a, b = inputs_of(self)
        pa, pb = self.parents
        return (sum_to(g @ b.swapaxes(-1, -2), a.shape) if pa.requires_grad else None,
                sum_to(a.swapaxes(-1, -2) @ g, b.shape) if pb.requires_grad else None)


# ---------------------------------------------------------------- other
class Cast(Primitive):
    """z = x converted to ``dtype``.  Backward: g converted back (none to an integer x)."""
    name = "cast"

    def forward(self, x: Any, dtype: Any) -> Any:
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g: Any) -> Any:
        return run(Cast, g, dtype=self.dtype) if backend.is_floating(self.dtype) else None


class Clone(Primitive):
    """z = a copy of x in memory of its own.  Backward: dx = g."""
    name = "clone"

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, g: Any) -> Any:
        return g


class ToDevice(Primitive):
    """z = x copied to ``device`` (an explicit transfer).  Backward: g copied back."""
    name = "to_device"

    def forward(self, x: Any, device: str) -> Any:
        self.source = backend.device_of(x)
        return backend.to_device(x, device)

    def backward(self, g: Any) -> Any:
        return g.to(self.source) if is_tensor(g) else backend.to_device(g, self.source)

    @classmethod
    def apply(cls, x: Any, device: str) -> Any:
        out = super().apply(x, device=device)
        out.device = device                 # the one op whose output lives elsewhere
        return out
