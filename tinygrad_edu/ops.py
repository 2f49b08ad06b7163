"""The primitives: the only ops with a hand-written derivative.

Each op is a :class:`~tinygrad_edu.autograd.Function` with

* ``forward`` on raw arrays (NumPy or CuPy, whichever the inputs live on),
* ``backward``: the derivative, written ONCE in operations that work on both
  raw arrays and Tensors (``*``, ``@``, ``reshape`` and the small helpers below).
  A plain ``backward()`` runs it on arrays (fast); ``create_graph=True`` runs
  the very same formula on Tensors, so the gradient is itself a graph and can
  be differentiated again (second derivatives).

The docstring of each op names its formula and its *adjoint*: the op whose
forward the backward pass runs (sum <-> expand, pad <-> slice, window <-> fold,
getitem <-> index-add, permute <-> inverse permute). Everything else in the
library (conv, pooling, softmax, losses, RNN cells) is composed from these.

Primitive list:
    elementwise  Add Sub Mul Div Neg Reciprocal Pow Exp Log Tanh Sigmoid Relu Abs Sin
                 Maximum Where
    reduce       Sum Max
    movement     Reshape Permute Expand Pad GetItem/IndexAdd Cat Flip Window/WindowFold
    matrix       MatMul
    other        Cast Clone ToDevice
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

from tinygrad_edu import backend
from tinygrad_edu.autograd import STATE, Function, SliceGrad
from tinygrad_edu.tensor import Tensor

_wrap = Tensor._wrap


# ---------------------------------------------------------------- array-or-Tensor helpers
# A gradient ``g`` inside ``backward`` is a raw array (first-order backward) or a Tensor
# (``create_graph=True``). These few helpers do the same thing on either.
def _reduce_to(g: Any, shape: tuple) -> Any:
    """Sum a broadcast gradient back to an input's ``shape`` (the adjoint of broadcasting).

    (4, 3) -> (3,) sums dim 0; (4, 3) -> (4, 1) sums dim 1 keeping it.
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    if dims:
        g = g.sum(dims, keepdim=True) if isinstance(g, Tensor) else g.sum(axis=dims,
                                                                           keepdims=True)
    return g.reshape(shape)


def _expand(g: Any, shape: tuple) -> Any:
    """Broadcast to ``shape`` (Tensor.expand / xp.broadcast_to)."""
    if isinstance(g, Tensor):
        return g.expand(shape)
    return backend.module_of(g).broadcast_to(g, shape)


def _permute(g: Any, dims: tuple) -> Any:
    return g.permute(dims) if isinstance(g, Tensor) else g.transpose(dims)


def _run(op: type, *xs: Any, **kw: Any) -> Any:
    """Apply primitive ``op`` to Tensors (recording a graph) or run its forward on arrays."""
    if isinstance(xs[0], Tensor):
        return op.apply(*xs, **kw)
    return op.__new__(op).forward(*xs, **kw)


def _const(arr: Any, like: Any) -> Any:
    """A constant (no gradient) such as a mask, shaped for use beside ``like``."""
    return _wrap(arr, like.device) if isinstance(like, Tensor) else arr


_CONSTANTS: dict = {}   # type of array -> dtype -> value -> constant


def _k(value: float, like: Any) -> Any:
    """``value`` as a constant of ``like``'s dtype and kind (cached): on small arrays a
    matching constant makes a ufunc noticeably cheaper than a Python number, which NumPy
    must convert on every call (see ``backend.constant_like``)."""
    try:
        return _CONSTANTS[type(like)][like.dtype][value]
    except KeyError:
        k = backend.constant_like(value, like)
        _CONSTANTS.setdefault(type(like), {}).setdefault(like.dtype, {})[value] = k
        return k


def _values(ctx: Function) -> Sequence:
    """The saved inputs: Tensors when the backward is being recorded, else their arrays."""
    saved = ctx.saved
    if STATE.enabled:
        return saved
    if len(saved) == 2:                      # the common case, without a loop
        return saved[0].data, saved[1].data
    return [t.data for t in saved]


# ---------------------------------------------------------------- elementwise
class Add(Function):
    """z = x + y (broadcast). dx = g, dy = g, each summed back to its input's shape."""
    name = "add"

    def forward(self, x: Any, y: Any) -> Any:
        self.shapes = (x.shape, y.shape)
        return x + y

    def backward(self, g: Any) -> tuple:
        sx, sy = self.shapes
        return (g if g.shape == sx else _reduce_to(g, sx)), (g if g.shape == sy else
                                                             _reduce_to(g, sy))


class Sub(Function):
    """z = x - y. dx = g, dy = -g."""
    name = "sub"

    def forward(self, x: Any, y: Any) -> Any:
        self.shapes = (x.shape, y.shape)
        return x - y

    def backward(self, g: Any) -> tuple:
        gy = -_reduce_to(g, self.shapes[1]) if self.parents[1].requires_grad else None
        return _reduce_to(g, self.shapes[0]), gy


class Mul(Function):
    """z = x * y. dx = g * y, dy = g * x."""
    name = "mul"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, g: Any) -> tuple:
        x, y = _values(self)
        px, py = self.parents
        gx = gy = None
        if px.requires_grad:
            gx = g * y
            if gx.shape != x.shape:
                gx = _reduce_to(gx, x.shape)
        if py.requires_grad:
            gy = g * x
            if gy.shape != y.shape:
                gy = _reduce_to(gy, y.shape)
        return gx, gy



class Div(Function):
    """z = x / y. dx = g / y, dy = -g * x / y²."""
    name = "div"
    save_inputs = True

    def forward(self, x: Any, y: Any) -> Any:
        return x / y

    def backward(self, g: Any) -> tuple:
        x, y = _values(self)
        px, py = self.parents
        gx = _reduce_to(g / y, x.shape) if px.requires_grad else None
        gy = _reduce_to(-g * x / (y * y), y.shape) if py.requires_grad else None
        return gx, gy



class Neg(Function):
    """z = -x. dx = -g (its own adjoint)."""
    name = "neg"

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, g: Any) -> Any:
        return -g


class _Unary(Function):
    """An elementwise op of one input that keeps its input (and output array) for backward."""
    save_inputs = True
    save_output = True

    def _out(self) -> Any:
        """The forward output as an array (first-order backward), or recomputed from
        the saved input with a graph (``create_graph=True``: needed for second derivatives)."""
        if STATE.enabled:
            return self.recompute(self.saved[0])
        return self.out

    def recompute(self, x: Tensor) -> Tensor:  # pragma: no cover - overridden
        raise NotImplementedError


class Reciprocal(_Unary):
    """z = 1/x. dx = -g / x²."""
    name = "reciprocal"

    def forward(self, x: Any) -> Any:
        return 1 / x

    def backward(self, g: Any) -> Any:
        (x,) = _values(self)
        return -g / (x * x)


class Pow(_Unary):
    """z = x ** p for a constant p. dx = g * p * x ** (p - 1)."""
    name = "pow"

    def forward(self, x: Any, exponent: float) -> Any:
        self.p = exponent
        return x ** exponent

    def backward(self, g: Any) -> Any:
        (x,) = _values(self)
        if self.p == 2:
            return g * x * 2.0
        if self.p == 1:
            return g
        return g * (x ** (self.p - 1)) * float(self.p)


class Exp(_Unary):
    """z = e**x. dx = g * e**x."""
    name = "exp"

    def forward(self, x: Any) -> Any:
        xp = backend.module_of(x)
        return xp.exp(x)

    def recompute(self, x: Tensor) -> Tensor:
        return x.exp()

    def backward(self, g: Any) -> Any:
        return g * self._out()


class Log(_Unary):
    """z = ln x. dx = g / x."""
    name = "log"

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).log(x)

    def backward(self, g: Any) -> Any:
        return g / _values(self)[0]


class Tanh(_Unary):
    """z = tanh x. dx = g * (1 - z²)."""
    name = "tanh"

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).tanh(x)

    def recompute(self, x: Tensor) -> Tensor:
        return x.tanh()

    def backward(self, g: Any) -> Any:
        z = self._out()
        return g * (_k(1, g) - z * z)


class Sigmoid(_Unary):
    """z = σ(x) = 1 / (1 + e**-x), computed as (1 + tanh(x/2)) / 2 (no overflow).
    dx = g * z * (1 - z)."""
    name = "sigmoid"

    def forward(self, x: Any) -> Any:
        half = _k(0.5, x)
        z = x * half
        if not z.ndim:                           # 0-d: NumPy gives a scalar, no out=
            return backend.module_of(x).tanh(z) * half + half
        xp = backend.module_of(z)
        xp.tanh(z, out=z)                        # in place: one buffer, no temporaries
        xp.multiply(z, half, out=z)              # (ufunc(out=) is cheaper than z *= half)
        xp.add(z, half, out=z)
        return z

    def recompute(self, x: Tensor) -> Tensor:
        return x.sigmoid()

    def backward(self, g: Any) -> Any:
        z = self._out()
        return g * (z * (_k(1, g) - z))


class Relu(_Unary):
    """z = max(x, 0). dx = g where x > 0, else 0."""
    name = "relu"

    def forward(self, x: Any) -> Any:
        return x * (x > 0)

    def backward(self, g: Any) -> Any:
        x = self.saved[0].data
        return g * _const((x > 0).astype(x.dtype), g)


class Abs(_Unary):
    """z = |x|. dx = g * sign(x)."""
    name = "abs"

    def forward(self, x: Any) -> Any:
        return abs(x)

    def backward(self, g: Any) -> Any:
        x = self.saved[0].data
        return g * _const(backend.module_of(x).sign(x), g)


class Sin(_Unary):
    """z = sin x. dx = g * cos x (= g * sin(x + π/2))."""
    name = "sin"

    def forward(self, x: Any) -> Any:
        return backend.module_of(x).sin(x)

    def backward(self, g: Any) -> Any:
        (x,) = _values(self)
        return g * (x.cos() if isinstance(x, Tensor) else backend.module_of(x).cos(x))


class Maximum(Function):
    """z = max(x, y) elementwise. The gradient goes to the larger input; at a tie it is
    split in half (the subgradient PyTorch uses)."""
    name = "maximum"

    def forward(self, x: Any, y: Any) -> Any:
        xp = backend.module_of(x)
        self.shapes = (x.shape, y.shape)
        self.win = ((x > y) + (x == y) * 0.5).astype(xp.result_type(x, y))
        return xp.maximum(x, y)

    def backward(self, g: Any) -> tuple:
        win = _const(self.win, g)
        return _reduce_to(g * win, self.shapes[0]), _reduce_to(g * (1 - win), self.shapes[1])


class Where(Function):
    """z = x where c else y. dx = g where c else 0; dy = g where not c else 0; c gets none."""
    name = "where"

    def forward(self, c: Any, x: Any, y: Any) -> Any:
        xp = backend.module_of(x)
        self.cond = c.astype(bool)
        self.shapes = (x.shape, y.shape)
        return xp.where(self.cond, x, y)

    def backward(self, g: Any) -> tuple:
        c = _const(self.cond, g)
        xp = backend.module_of(self.cond)
        zero = _const(xp.zeros((), dtype=g.dtype), g)
        gx = _reduce_to(_run(Where, c, g, zero), self.shapes[0])
        gy = _reduce_to(_run(Where, c, zero, g), self.shapes[1])
        return None, gx, gy


# ---------------------------------------------------------------- reductions
class Sum(Function):
    """z = Σ x over ``dims``. Adjoint: expand — every input element gets the gradient of the
    sum it was added into."""
    name = "sum"

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        self.in_shape = x.shape
        self.keep_shape = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(self, g: Any) -> Any:
        return _expand(g.reshape(self.keep_shape), self.in_shape)


class Max(Function):
    """z = max x over ``dims``. The gradient goes to the maximal elements (shared evenly
    when several tie), zero elsewhere: dx = g · [x = z] / (number of maxima)."""
    name = "max"
    save_inputs = True

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        if any(x.shape[d] == 0 for d in dims):
            raise RuntimeError(f"max: cannot reduce an empty tensor of shape {x.shape}")
        self.dims = dims
        m = self.m = x.max(axis=dims, keepdims=True)
        return m if keepdim else backend.module_of(x).squeeze(m, axis=dims)

    def backward(self, g: Any) -> Any:
        # The mask is built here, not in forward, so that inference pays nothing for it.
        at_max = (self.saved[0].data == self.m).astype(self.m.dtype)   # 1 at the maxima
        share = at_max.sum(axis=self.dims, keepdims=True)              # how many tie (>= 1)
        g = g.reshape(self.m.shape) / _const(share, g)
        return g * _const(at_max, g)                 # broadcast back to x's shape


# ---------------------------------------------------------------- movement
class _View(Function):
    """A movement op whose output may share memory with its input: an in-place change to
    either bumps the version both see."""
    is_view = True


class Reshape(_View):
    """Same elements, new shape. Adjoint: reshape back."""
    name = "reshape"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g: Any) -> Any:
        return g.reshape(self.in_shape)


class Permute(_View):
    """Reorder dims. Adjoint: the inverse permutation."""
    name = "permute"

    def forward(self, x: Any, dims: tuple) -> Any:
        self.inverse = tuple(sorted(range(len(dims)), key=dims.__getitem__))
        return x.transpose(dims)

    def backward(self, g: Any) -> Any:
        return _permute(g, self.inverse)


class Expand(_View):
    """Broadcast size-1 dims to ``shape`` (a view, no copy). Adjoint: sum over them."""
    name = "expand"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.in_shape = x.shape
        return backend.module_of(x).broadcast_to(x, shape)

    def backward(self, g: Any) -> Any:
        return _reduce_to(g, self.in_shape)


class Pad(Function):
    """Pad each dim with ``value``: ``pad`` = ((before, after), ...). Adjoint: slice the
    padding off again."""
    name = "pad"

    def forward(self, x: Any, pad: tuple, value: float) -> Any:
        xp = backend.module_of(x)
        self.index = tuple(slice(a, a + s) for (a, _), s in zip(pad, x.shape))
        out = xp.full(tuple(a + s + b for (a, b), s in zip(pad, x.shape)), value, dtype=x.dtype)
        out[self.index] = x                      # (3x faster than xp.pad on LeNet's input)
        return out

    def backward(self, g: Any) -> Any:
        return g[self.index]


def _has_int_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    for i in items:
        if backend.is_array(i) and i.dtype.kind in "iu":
            return True
    return False


class GetItem(_View):
    """z = x[index] (NumPy indexing). Adjoint: :class:`IndexAdd` scatters the gradient back
    into zeros of x's shape, summing where an index repeats (an embedding row used twice
    gets both gradients)."""
    name = "getitem"

    def forward(self, x: Any, index: Any) -> Any:
        self.in_shape = x.shape
        self.index = index
        return x[index]

    def backward(self, g: Any) -> Any:
        if self.in_shape and not isinstance(g, Tensor) and not _has_int_array(self.index):
            return SliceGrad(self.in_shape, self.index, g)     # added into one buffer later
        return _run(IndexAdd, g, shape=self.in_shape, index=self.index)


class IndexAdd(Function):
    """z = zeros(shape); z[index] += x (repeated indices accumulate). Adjoint: getitem."""
    name = "index_add"

    def forward(self, x: Any, shape: tuple, index: Any) -> Any:
        xp = backend.module_of(x)
        self.index = index
        out = xp.zeros(shape, dtype=x.dtype)
        if _has_int_array(index):
            backend.scatter_add(xp, out, index, x)
        else:
            out[index] += x
        return out

    def backward(self, g: Any) -> Any:
        return _run(GetItem, g, index=self.index)


class Cat(Function):
    """z = concatenate(xs, dim). Adjoint: slice each input's part of the gradient."""
    name = "cat"

    def forward(self, *xs: Any, dim: int) -> Any:
        xp = backend.module_of(xs[0])
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return xp.concatenate(xs, axis=dim)

    def backward(self, g: Any) -> tuple:
        out, start = [], 0
        lead = (slice(None),) * self.dim
        for p, n in zip(self.parents, self.sizes):
            out.append(g[lead + (slice(start, start + n),)] if p.requires_grad else None)
            start += n
        return tuple(out)


class Flip(_View):
    """Reverse the order of elements along ``dims``. Its own adjoint."""
    name = "flip"

    def forward(self, x: Any, dims: tuple) -> Any:
        self.dims = dims
        return backend.module_of(x).flip(x, axis=dims)

    def backward(self, g: Any) -> Any:
        return _run(Flip, g, dims=self.dims)


def _window_geometry(shape: tuple, axes: tuple, size: tuple, stride: tuple,
                     dilation: tuple) -> list:
    return [(shape[a] - d * (k - 1) - 1) // s + 1 for a, k, s, d in zip(axes, size, stride,
                                                                         dilation)]


class Window(_View):
    """All sliding windows along ``axes`` as a strided view (no copy).

    (N, C, H, W), axes (2, 3), size (KH, KW) -> (N, C, OH, OW, KH, KW) where
    OH = (H - dilation*(KH-1) - 1)//stride + 1. Output element
    [n, c, i, j, u, v] is x[n, c, i*stride + u*dilation, j*stride + v*dilation].
    Adjoint: :class:`WindowFold`.
    """
    name = "window"

    def forward(self, x: Any, axes: tuple, size: tuple, stride: tuple, dilation: tuple) -> Any:
        xp = backend.module_of(x)
        self.geom = (x.shape, axes, size, stride, dilation)
        counts = _window_geometry(x.shape, axes, size, stride, dilation)
        shape, strides = list(x.shape), list(x.strides)
        for a, n, s in zip(axes, counts, stride):
            shape[a] = n
            strides[a] = x.strides[a] * s
        shape += list(size)
        strides += [x.strides[a] * d for a, d in zip(axes, dilation)]
        return backend.as_strided(xp, x, tuple(shape), tuple(strides))

    def backward(self, g: Any) -> Any:
        in_shape, axes, size, stride, dilation = self.geom
        return _run(WindowFold, g, in_shape=in_shape, axes=axes, size=size, stride=stride,
                    dilation=dilation)


class WindowFold(Function):
    """Sum every window back onto the input positions it covers (col2im).

    (N, C, OH, OW, KH, KW) -> (N, C, H, W): for each tap (u, v), add the
    (N, C, OH, OW) slab into x[:, :, u*d : ... : stride, v*d : ... : stride].
    One strided add per tap (stride-1 rows take a faster two-pass route, see
    :func:`_fold_rows_first`). Adjoint: :class:`Window`.
    """
    name = "window_fold"

    def forward(self, g: Any, in_shape: tuple, axes: tuple, size: tuple, stride: tuple,
                dilation: tuple) -> Any:
        xp = backend.module_of(g)
        self.geom = (axes, size, stride, dilation)
        counts = _window_geometry(in_shape, axes, size, stride, dilation)
        nd = len(in_shape)
        # Windows that never overlap (stride >= span, as in 2x2 pooling, or a single
        # window) read every cell at most once, so each tap's slab can be written instead
        # of added (2x faster); if they tile the input exactly, no cell is left for zeros.
        disjoint = all(n == 1 or s >= d * (k - 1) + 1
                       for k, s, d, n in zip(size, stride, dilation, counts))
        tiled = disjoint and all((n == 1 or s == k) and d == 1 and n * k == in_shape[a]
                                 for a, n, k, s, d in zip(axes, counts, size, stride, dilation))
        if tiled and all(n == 1 for n in counts) and tuple(axes) == tuple(range(nd - len(axes), nd)):
            return g.reshape(in_shape)      # one window = the whole trailing block (LeNet's C5)
        if (not disjoint and len(axes) == 2 and tuple(axes) == (nd - 2, nd - 1)
                and stride[0] == 1):
            return _fold_rows_first(xp, g, in_shape, size, counts, stride[1], dilation)
        out = xp.empty(in_shape, dtype=g.dtype) if tiled else xp.zeros(in_shape, dtype=g.dtype)
        for taps in itertools.product(*[range(k) for k in size]):
            index = [slice(None)] * nd
            for a, t, n, s, d in zip(axes, taps, counts, stride, dilation):
                index[a] = slice(t * d, t * d + s * (n - 1) + 1, s)
            if disjoint:
                out[tuple(index)] = g[(Ellipsis,) + taps]
            else:
                out[tuple(index)] += g[(Ellipsis,) + taps]
        return out

    def backward(self, g: Any) -> Any:
        axes, size, stride, dilation = self.geom
        return _run(Window, g, axes=axes, size=size, stride=stride, dilation=dilation)


_FOLD_SCRATCH_BYTES = 512 * 1024   # keep _fold_rows_first's scratch rows in the L2 cache


def _fold_rows_first(xp: Any, g: Any, in_shape: tuple, size: tuple, counts: list,
                     stride_w: int, dilation: tuple) -> Any:
    """WindowFold over the last two axes (H, W) when the row stride is 1, in two passes.

    The one-tap-at-a-time fold adds KH·KW slabs whose rows are only OW long, and NumPy
    pays per row: LeNet's C3 gradient is 25 slabs of 3,840 ten-float rows. Here, for
    each column tap v, the KH row taps are first summed into S (..., H, OW) on the
    flattened (OH·OW) planes, which are long and contiguous, since with row stride 1
    tap u just shifts the plane down by u·dH rows; then S is added into the columns
    v·dW, v·dW + sW, ... of the output. Same sums, ~KH times fewer short rows
    (measured 2x faster on LeNet's C3). A few images at a time, so that S stays in
    the cache (15% faster on a 64-channel 32x32 batch).
    """
    (kh, kw), (oh, ow), (dh, dw) = size, counts, dilation
    if len(in_shape) == 2:                                   # no leading axis to split
        return _fold_rows_first(xp, g[None], (1,) + tuple(in_shape), size, counts,
                                stride_w, dilation)[0]
    h, plane = in_shape[-2], oh * ow
    out = xp.empty(in_shape, dtype=g.dtype)
    per_item = h * ow * g.dtype.itemsize
    for d in in_shape[1:-2]:
        per_item *= d
    step = max(1, _FOLD_SCRATCH_BYTES // max(per_item, 1))
    for i in range(0, in_shape[0], step):
        gi, oi = g[i:i + step], out[i:i + step]              # a few leading items
        lead = oi.shape[:-2]
        s = xp.empty(lead + (h * ow,), dtype=g.dtype)        # (..., H·OW)
        for v in range(kw):
            s[..., :plane] = gi[..., 0, v].reshape(lead + (plane,))   # tap u = 0: rows 0..OH-1
            s[..., plane:] = 0
            for u in range(1, kh):                                    # tap u: rows u·dH ...
                s[..., u * dh * ow:u * dh * ow + plane] += gi[..., u, v].reshape(lead + (plane,))
            rows = s.reshape(lead + (h, ow))
            if v == 0 and stride_w == 1:                     # columns 0..OW-1: write, zero rest
                oi[..., :ow] = rows
                oi[..., ow:] = 0
                continue
            if v == 0:
                oi[...] = 0
            oi[..., v * dw:v * dw + stride_w * (ow - 1) + 1:stride_w] += rows
    return out


# ---------------------------------------------------------------- matrix
class MatMul(Function):
    """Z = A @ B for (..., n, k) @ (..., k, m). dA = G @ Bᵀ, dB = Aᵀ @ G (batch dims
    summed back where they were broadcast)."""
    name = "matmul"
    save_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, g: Any) -> tuple:
        a, b = _values(self)
        pa, pb = self.parents
        ga = None
        if pa.requires_grad:
            if a.ndim < g.ndim or a.shape[:-2] != g.shape[:-2]:
                # A broadcast over a batch (a conv's filters against each image's patches):
                # Σ_batch (B @ Gᵀ)ᵀ is the same sum, and NumPy's batched GEMM runs it
                # 1.1-1.8x faster than Σ_batch G @ Bᵀ on four of six conv shapes measured
                # (LeNet's C3, 64->64 3x3, ...) and within 4% on the other two.
                ga = _reduce_to((b @ g.swapaxes(-1, -2)).swapaxes(-1, -2), a.shape)
            else:
                ga = g @ b.swapaxes(-1, -2)
        gb = _reduce_to(a.swapaxes(-1, -2) @ g, b.shape) if pb.requires_grad else None
        return ga, gb



# ---------------------------------------------------------------- other
class Cast(Function):
    """z = x converted to ``dtype``. dx = g converted back to x's dtype."""
    name = "cast"

    def forward(self, x: Any, dtype: Any) -> Any:
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g: Any) -> Any:
        if not backend.is_floating(self.in_dtype):
            return None
        return _run(Cast, g, dtype=self.in_dtype)


class Clone(Function):
    """z = a copy of x. dx = g."""
    name = "clone"

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, g: Any) -> Any:
        return g


class ToDevice(Function):
    """z = x copied to another device (an explicit transfer). dx = g copied back."""
    name = "to_device"

    def forward(self, x: Any, device: str) -> Any:
        return backend.to_device(x, device)

    def backward(self, g: Any) -> Any:
        return g.to(self.src) if isinstance(g, Tensor) else backend.to_device(g, self.src)

    @classmethod
    def apply_move(cls, x: Tensor, device: str) -> Tensor:
        ctx = cls.__new__(cls)
        ctx.saved, ctx.epoch = (), STATE.epoch
        ctx.src = x.device
        out = _wrap(ctx.forward(x.data, device), device)
        if STATE.enabled and x.requires_grad:
            out.requires_grad = True
            out._ctx = ctx
            ctx.parents = (x,)
            ctx.seq = STATE.seq = STATE.seq + 1
            if STATE.scope is not None:
                ctx.scope = STATE.scope
        return out


# Every primitive above writes its backward in array-or-Tensor form.
for _op in (Add, Sub, Mul, Div, Neg, Reciprocal, Pow, Exp, Log, Tanh, Sigmoid, Relu, Abs, Sin,
            Maximum, Where, Sum, Max, Reshape, Permute, Expand, Pad, GetItem, IndexAdd, Cat, Flip,
            Window, WindowFold, MatMul, Cast, Clone, ToDevice):
    _op.array_backward = True
