"""The primitives: the only ops with a hand-written derivative.

Each is a :class:`~tinygrad_edu.engine.graph.Function`: ``forward`` on raw arrays and
``backward`` written once with operations that work on arrays and Tensors alike, so a
plain ``backward()`` runs it on arrays and ``create_graph=True`` on Tensors (recorded,
differentiable again). Each docstring gives the formula and the *adjoint*, the op its
backward runs (sum <-> expand, pad <-> slice, window <-> fold, getitem <-> index-add)::

    elementwise  Add Mul Div Pow Neg Exp Log Tanh Sigmoid Erf Relu Sin Where
    reduce       Sum Max                  matrix  MatMul      copies  Copy
    movement     Reshape Permute Expand Pad GetItem/IndexAdd Cat Window/WindowFold
"""
from __future__ import annotations

import itertools
import math
import operator
from typing import Any

from tinygrad_edu.engine import backend, graph
from tinygrad_edu.engine.graph import Function, SliceGrad

class Primitive(Function):
    """A built-in op: its backward accepts raw arrays as well as Tensors."""
    array_backward = True

# ---------------------------------------------------------------- array-or-Tensor helpers
_data = operator.attrgetter("data")

def run(op: type, *xs: Any, **kw: Any) -> Any:
    """Apply ``op`` to Tensors (recorded), or run its forward on arrays."""
    if backend.is_array(xs[0]):
        return object.__new__(graph.ACTIVE.get(op, op)).forward(*xs, **kw)
    return op.apply(*xs, **kw)

def sum_to(g: Any, shape: tuple) -> Any:
    """Sum a broadcast gradient back to ``shape`` (the adjoint of broadcasting):
    (4, 3) -> (3,) sums dim 0; (4, 3) -> (4, 1) sums dim 1, keeping it."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    return run(Reshape, run(Sum, g, dims=dims, keepdim=True) if dims else g, shape=shape)

def select(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` else ``b`` (either may be a number); unlike a product with a
    mask, an inf or NaN on the side not taken does not leak through."""
    like = b if type(a) in (int, float) else a          # the side that is not a number
    if backend.is_array(like):
        return backend.module_of(like).where(cond, a, b)
    const = [like._new(backend.module_of(like.data).asarray(v, like.dtype)) if type(v) in (
        int, float) else like._new(v) if backend.is_array(v) else v for v in (cond, a, b)]
    return Where.apply(*const)

def inputs_of(ctx: Function) -> tuple:
    """The saved inputs: Tensors while a backward is recorded, else their arrays."""
    return ctx.saved if graph.MODE.enabled else tuple(map(_data, ctx.saved))

def output_of(ctx: Function, op: type) -> Any:
    """The saved output or, while a backward is recorded, ``op`` run again on the saved
    input (second derivatives need its graph)."""
    return op.apply(ctx.saved[0]) if graph.MODE.enabled else ctx.out

# ---------------------------------------------------------------- elementwise
class Add(Primitive):
    """z = x + y (broadcast).  Backward: dx = g, dy = g, each summed to its input's shape."""
    name = "add"

    def forward(self, x: Any, y: Any) -> Any:
        return x + y

    def backward(self, g: Any) -> tuple:
        return sum_to(g, self.parents[0].shape), sum_to(g, self.parents[1].shape)

class Mul(Primitive):
    """z = x · y.  Backward: dx = g · y, dy = g · x."""
    name, save_inputs = "mul", True

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, g: Any) -> tuple:
        (x, y), (px, py) = inputs_of(self), self.parents
        return (sum_to(g * y, x.shape) if px.requires_grad else None,
                sum_to(g * x, y.shape) if py.requires_grad else None)

class Div(Primitive):
    """z = x / y.  Backward: dx = g / y, dy = -g · x / y²."""
    name, save_inputs = "div", True

    def forward(self, x: Any, y: Any) -> Any:
        return x / y

    def backward(self, g: Any) -> tuple:
        (x, y), (px, py) = inputs_of(self), self.parents
        return (sum_to(g / y, x.shape) if px.requires_grad else None,
                sum_to(-g * x / (y * y), y.shape) if py.requires_grad else None)

class Pow(Primitive):
    """z = x ** y.  Backward: dx = g·y·x^(y-1), 0 where y = 0 (x**0 has gradient 0 even at
    0); dy = g·z·ln x, 0 where x = 0 and y >= 0 (PyTorch's conventions)."""
    name, save_inputs = "pow", True

    def forward(self, x: Any, y: Any) -> Any:
        return x ** y

    def backward(self, g: Any) -> tuple:
        (x, y), (px, py) = inputs_of(self), self.parents
        y1 = select(y == 0, 1, y - 1)                        # (x ** -1 would be inf at 0)
        gx = sum_to(select(y == 0, 0, g * y * x ** y1), x.shape) if px.requires_grad else None
        gy = sum_to(select((x == 0) & (y >= 0), 0, g * x ** y * run(Log, x)), y.shape) \
            if py.requires_grad else None
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
    name, save_inputs, save_output = "exp", True, True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).exp(x)

    def backward(self, g: Any) -> Any:
        return g * output_of(self, Exp)

class Log(Primitive):
    """z = ln x.  Backward: dx = g / x."""
    name, save_inputs = "log", True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).log(x)

    def backward(self, g: Any) -> Any:
        return g / inputs_of(self)[0]

class Tanh(Primitive):
    """z = tanh x = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ).  Backward: dx = g · (1 - z²)."""
    name, save_inputs, save_output = "tanh", True, True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).tanh(x)

    def backward(self, g: Any) -> Any:
        z = output_of(self, Tanh)
        return g * (1 - z * z)

class Sigmoid(Primitive):
    """z = σ(x) = 1 / (1 + e⁻ˣ), as (1 + tanh(x/2)) / 2 (no overflow).  dx = g·z·(1 - z)."""
    name, save_inputs, save_output = "sigmoid", True, True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, g: Any) -> Any:
        z = output_of(self, Sigmoid)
        return g * z * (1 - z)

class Erf(Primitive):
    """z = erf x = 2/√π ∫₀ˣ e^(-t²) dt.  Backward: dx = g · 2/√π · e^(-x²)."""
    name, save_inputs = "erf", True

    def forward(self, x: Any) -> Any:
        return backend.erf(x)

    def backward(self, g: Any) -> Any:
        x = inputs_of(self)[0]
        return g * run(Exp, -(x * x)) * (2 / math.sqrt(math.pi))

class Relu(Primitive):
    """z = max(x, 0).  Backward: dx = g where x > 0, else 0 (also at the kink x = 0)."""
    name, save_inputs = "relu", True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).maximum(x, 0)

    def backward(self, g: Any) -> Any:
        return select(self.saved[0].data > 0, g, 0)

class Sin(Primitive):
    """z = sin x.  Backward: dx = g · cos x = g · sin(x + π/2)."""
    name, save_inputs = "sin", True

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).sin(x)

    def backward(self, g: Any) -> Any:
        return g * run(Sin, inputs_of(self)[0] + math.pi / 2)

class Where(Primitive):
    """z = x where c else y.  Backward: dx = g where c else 0, dy = g where not c."""
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
        return run(Expand, run(Reshape, g, shape=self.kept), shape=self.shape)

class Max(Primitive):
    """z = max x over ``dims``.  Backward: dx = g · [x = z] / (number of maxima)."""
    name, save_inputs = "max", True

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        if any(x.shape[d] == 0 for d in dims):
            raise RuntimeError(f"max: cannot reduce over an empty dim of shape {x.shape}")
        self.dims, self.m = dims, x.max(axis=dims, keepdims=True)
        return self.m if keepdim else self.m.reshape([s for i, s in enumerate(x.shape)
                                                      if i not in dims])

    def backward(self, g: Any) -> Any:
        at_max = (self.saved[0].data == self.m).astype(self.m.dtype)
        share = at_max / at_max.sum(axis=self.dims, keepdims=True)
        share = share if backend.is_array(g) else g._new(share)
        return run(Reshape, g, shape=self.m.shape) * share

# ---------------------------------------------------------------- movement (is_view: the
# output may share the input's memory, so an in-place change bumps both one's version)
class Reshape(Primitive):
    """Same elements, new shape.  Backward: reshape back."""
    name, is_view = "reshape", True

    def forward(self, x: Any, shape: tuple) -> Any:
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g: Any) -> Any:
        return run(Reshape, g, shape=self.shape)

class Permute(Primitive):
    """Reorder dims: z.shape[i] = x.shape[dims[i]].  Backward: the inverse permutation."""
    name, is_view = "permute", True

    def forward(self, x: Any, dims: tuple) -> Any:
        self.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.transpose(dims)

    def backward(self, g: Any) -> Any:
        return run(Permute, g, dims=self.inverse)

class Expand(Primitive):
    """Broadcast size-1 dims to ``shape``, without copying.  Backward: sum over them."""
    name, is_view = "expand", True

    def forward(self, x: Any, shape: tuple) -> Any:
        self.shape = x.shape
        return backend.module_of(x).broadcast_to(x, shape)

    def backward(self, g: Any) -> Any:
        return sum_to(g, self.shape)

class Pad(Primitive):
    """Pad each dim with ``value``, ``pad`` = ((before, after), ...).  Backward: slice it off."""
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
    """True if the index holds an integer array or a list (then a position may repeat)."""
    return any(isinstance(i, list) or backend.is_array(i) and i.dtype.kind in "iu"
               for i in (index if isinstance(index, tuple) else (index,)))

class GetItem(Primitive):
    """z = x[index] (NumPy's indexing).  Backward: :class:`IndexAdd` puts g back at the
    index into zeros; a repeated index adds up (an embedding row used twice)."""
    name, is_view = "getitem", True

    def forward(self, x: Any, index: Any) -> Any:
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g: Any) -> Any:
        if self.shape and backend.is_array(g) and not _advanced(self.index):
            return SliceGrad(self.shape, self.index, g)     # added into one buffer later
        return run(IndexAdd, g, shape=self.shape, index=self.index)

class IndexAdd(Primitive):
    """z = zeros(shape); z[index] += x, adding each time an index repeats.  Backward: getitem."""
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
    """z = the inputs joined along ``dim`` (>= 0).  Backward: each gets its slice of g."""
    name = "cat"

    def forward(self, *xs: Any, dim: int) -> Any:
        self.dim, self.sizes = dim, [x.shape[dim] for x in xs]
        return backend.module_of(xs[0]).concatenate(xs, axis=dim)

    def backward(self, g: Any) -> tuple:
        ends, lead = list(itertools.accumulate(self.sizes)), (slice(None),) * self.dim
        return tuple(g[lead + (slice(end - n, end),)] if p.requires_grad else None
                     for p, n, end in zip(self.parents, self.sizes, ends))

def window_counts(shape: tuple, axes: tuple, size: tuple, stride: tuple,
                  dilation: tuple) -> list:
    """Windows per axis: (L - dilation·(size - 1) - 1) // stride + 1."""
    return [(shape[a] - d * (k - 1) - 1) // s + 1
            for a, k, s, d in zip(axes, size, stride, dilation)]

class Window(Primitive):
    """Every sliding window along ``axes`` as a strided view: (N, C, H, W), axes (2, 3) ->
    (N, C, OH, OW, KH, KW), z[n, c, i, j, u, v] = x[n, c, i·s + u·d, j·s + v·d] (s the
    stride, d the dilation).  Backward: :class:`WindowFold` adds it back where it was read."""
    name, is_view = "window", True

    def forward(self, x: Any, axes: tuple, size: tuple, stride: tuple, dilation: tuple) -> Any:
        self.geometry = (x.shape, axes, size, stride, dilation)
        shape, strides = list(x.shape), list(x.strides)
        for a, n, s in zip(axes, window_counts(x.shape, axes, size, stride, dilation), stride):
            shape[a], strides[a] = n, x.strides[a] * s       # window starts, stride apart
        shape += size                                           # the taps, dilation apart
        strides += [x.strides[a] * d for a, d in zip(axes, dilation)]     # (read, never write)
        return backend.module_of(x).lib.stride_tricks.as_strided(x, shape, strides)

    def backward(self, g: Any) -> Any:
        shape, axes, size, stride, dilation = self.geometry
        return run(WindowFold, g, shape=shape, axes=axes, size=size, stride=stride,
                   dilation=dilation)

class WindowFold(Primitive):
    """Add every window back where it was read (col2im): (N, C, OH, OW, KH, KW) -> (N, C, H,
    W), tap (u, v)'s slab into z[:, :, u·d : ... : s, v·d : ... : s].  Backward: Window."""
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

# ---------------------------------------------------------------- matrix and copies
def transposed(a: Any) -> Any:
    """The last two dims swapped (a view)."""
    return run(Permute, a, dims=tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))

class MatMul(Primitive):
    """Z = A @ B, (..., n, k) @ (..., k, m) -> (..., n, m).  dA = G @ Bᵀ, dB = Aᵀ @ G."""
    name, save_inputs = "matmul", True

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, g: Any) -> tuple:
        (a, b), (pa, pb) = inputs_of(self), self.parents
        return (sum_to(run(MatMul, g, transposed(b)), a.shape) if pa.requires_grad else None,
                sum_to(run(MatMul, transposed(a), g), b.shape) if pb.requires_grad else None)

class Copy(Primitive):
    """z = a copy of x in ``dtype`` on ``device`` (clone, .to(dtype), every transfer between
    devices).  Backward: g copied back (none to an integer x)."""
    name = "copy"

    def forward(self, x: Any, dtype: Any, device: str) -> Any:
        self.dtype, self.device = x.dtype, backend.device_of(x)
        return backend.to_device(x, device).astype(dtype, order="C")    # a row-major copy

    def backward(self, g: Any) -> Any:
        if backend.is_floating(self.dtype):
            return run(Copy, g, dtype=self.dtype, device=self.device)
        return None

    @classmethod
    def apply(cls, x: Any, dtype: Any, device: str) -> Any:
        out = super().apply(x, dtype=dtype, device=device)
        out.device = device                 # the one op whose output may live elsewhere
        return out
