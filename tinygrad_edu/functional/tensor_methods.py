"""Tensor methods built on the primitives, attached to :class:`Tensor` here.

First the primitives as methods, with their arguments checked (``reshape``, ``sum``,
``@``, ...); then everything composed of them, whose gradient comes for free: ``mean``
is a sum times 1/n, ``softmax`` is exp, sum and divide, ``max(dim)`` picks the arg-max
element. The table at the bottom attaches each to ``Tensor`` under PyTorch's name.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections import namedtuple
from typing import Any, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine import ops
from tinygrad_edu.engine.graph import device_mismatch, lane
from tinygrad_edu.functional.gradients import is_grad_enabled
from tinygrad_edu.engine.tensor import Tensor, nondiff, promote
from tinygrad_edu.functional.creation import rand, randn

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _shape_args(args: tuple) -> tuple:
    """``f(2, 3)`` or ``f((2, 3))`` -> (2, 3)."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def normalize_dims(dim: Any, ndim: int, where: str) -> tuple:
    """``dim`` (None: all; an int or a tuple; negative counts from the end) as a tuple.
    A 0-d tensor accepts dim 0 and -1, meaning no dim at all, as in PyTorch."""
    if dim is None:
        return tuple(range(ndim))
    out = []
    for d in dim if isinstance(dim, (tuple, list)) else (dim,):
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{where}: dim must be an int or a tuple of ints, got {d!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{where}: dim {d} is out of range for a tensor with {ndim} dims "
                             f"(expected {-max(ndim, 1)} <= dim < {max(ndim, 1)})")
        out += [int(d) % ndim] if ndim else []
    if len(set(out)) != len(out):
        raise RuntimeError(f"{where}: dim {dim} names a dim more than once")
    return tuple(out)


# ---------------------------------------------------------------- primitives as methods
def sum_(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Σ over ``dim`` (every dim if None). Summing bools counts them (int64)."""
    x = x if dtype is None else x.to(dtype)
    x = x.to(backend.int64) if x.dtype.kind == "b" else x
    return ops.Sum.apply(x, dims=normalize_dims(dim, x.ndim, "sum"), keepdim=keepdim)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Max over ``dim``; tied maxima share the gradient evenly."""
    return ops.Max.apply(x, dims=normalize_dims(dim, x.ndim, "amax"), keepdim=keepdim)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same elements, new shape; one size may be -1 (whatever is left)."""
    shape = tuple(operator.index(s) for s in _shape_args(shape))
    n, known = math.prod(x.shape), 1
    for s in shape:
        known *= s if s != -1 else 1
    if shape.count(-1) == 1 and known and n % known == 0:
        shape, known = tuple(n // known if s == -1 else s for s in shape), n
    if known != n or any(s < 0 for s in shape):
        raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {n} "
                           f"(shape {x.shape})")
    return x if shape == x.shape else ops.Reshape.apply(x, shape=shape)


def permute(x: Tensor, *order: Any) -> Tensor:
    """Reorder the dims: ``x.permute(2, 0, 1)``."""
    order = normalize_dims(_shape_args(order), x.ndim, "permute")
    if len(order) != x.ndim:
        raise RuntimeError(f"permute: {order} is not an order of the dims "
                           f"{tuple(range(x.ndim))}")
    return x if order == tuple(range(x.ndim)) else ops.Permute.apply(x, dims=order)


def expand(x: Tensor, *shape: Any) -> Tensor:
    """Broadcast size-1 dims to a larger shape (-1 keeps a size), without copying."""
    shape = _shape_args(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    if lead < 0 or any(s != 1 and s != shape[i + lead] for i, s in enumerate(x.shape)):
        raise RuntimeError(f"expand: shape {x.shape} cannot be expanded to {shape}")
    return x if shape == x.shape else ops.Expand.apply(x, shape=shape)


def pad_(x: Tensor, pad: Sequence[tuple], value: float = 0.0) -> Tensor:
    """Pad with ``value``: one (before, after) pair per dim, both >= 0."""
    pad = tuple((operator.index(a), operator.index(b)) for a, b in pad)
    if len(pad) != x.ndim or any(a < 0 or b < 0 for a, b in pad):
        raise ValueError(f"pad: need one (before, after) pair of non-negative ints per dim "
                         f"({x.ndim}), got {pad}")
    return ops.Pad.apply(x, pad=pad, value=value) if any(sum(p) for p in pad) else x


def matmul(x: Tensor, other: Any) -> Tensor:
    """(..., n, k) @ (..., k, m) -> (..., n, m); a 1-D left operand is a row and a 1-D right
    operand a column, whose dim is dropped again (NumPy's and PyTorch's rule)."""
    a, b = promote(x, x.operand(other))
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dim, got shapes "
                           f"{a.shape} and {b.shape}")
    a2 = a.reshape((1,) * (a.ndim == 1) + a.shape)
    b2 = b.reshape(b.shape + (1,) * (b.ndim == 1))
    if a2.shape[-1] != b2.shape[-2]:
        raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                           f"({a2.shape[-1]} != {b2.shape[-2]})")
    out = ops.MatMul.apply(a2, b2)
    return out.reshape(out.shape[:-2] + out.shape[-2:-1] * (a.ndim > 1)
                       + out.shape[-1:] * (b.ndim > 1))


def maximum(x: Tensor, other: Any) -> Tensor:
    """Elementwise max. At a tie each input gets half the gradient, and a NaN wins (both as
    in PyTorch): the larger where they differ, their mean where they tie."""
    a, b = promote(x, x.operand(other))
    return where(a > b, a, where(a < b, b, (a + b) * 0.5))


# ---------------------------------------------------------------- functions of tensors
def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (broadcast; either may be a number). No
    gradient to the condition (the primitive ``Where``)."""
    ref = next((t for t in (x, y, condition) if isinstance(t, Tensor)), None)
    if ref is None:
        raise TypeError("where: at least one argument must be a Tensor")
    xt = ref.operand(x) if isinstance(x, Tensor) or not isinstance(y, Tensor) else y.operand(x)
    yt = xt.operand(y)
    if xt.dtype != yt.dtype:                        # the same dtype rule as arithmetic
        xt, yt = promote(xt, yt)
    return ops.Where.apply(ref.operand(condition), xt, yt)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; each gets its slice of the gradient back.
    As in PyTorch, an empty 1-D tensor (shape (0,)) beside tensors of more dims is skipped."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    if any(t.ndim != 1 for t in tensors):
        tensors = [t for t in tensors if t.shape != (0,)] or tensors[:1]
    d = normalize_dims(dim, tensors[0].ndim, "cat")[0]
    rest = [t.shape[:d] + t.shape[d + 1:] for t in tensors]
    for i, t in enumerate(tensors):
        if t.ndim != tensors[0].ndim or rest[i] != rest[0]:
            raise RuntimeError(f"cat: tensors[{i}] has shape {t.shape}, expected "
                               f"{tensors[0].shape} except in dim {d}")
    return tensors[0] if len(tensors) == 1 else ops.Cat.apply(*tensors, dim=d)


def sliding_window(x: Tensor, axes: Sequence[int], size: Sequence[int], stride: Sequence[int],
                   dilation: Sequence[int]) -> Tensor:
    """The one window op under convolution and pooling (the primitive ``Window``).

    Each axis in ``axes`` becomes the count of windows along it and each window's taps a
    new trailing dim: (N, C, H, W), axes (2, 3) -> (N, C, OH, OW, KH, KW), a strided view.
    Backward: each window's gradient is added back where it was read (col2im).
    """
    axes = normalize_dims(tuple(axes), x.ndim, "sliding_window")
    for a, k, s, d in zip(axes, size, stride, dilation):
        if k < 1 or s < 1 or d < 1:
            raise ValueError(f"sliding_window: size, stride and dilation must be >= 1, got "
                             f"size={k}, stride={s}, dilation={d}")
        if d * (k - 1) + 1 > x.shape[a]:
            raise RuntimeError(f"sliding_window: a window of span {d * (k - 1) + 1} (size {k}, "
                               f"dilation {d}) does not fit dim {a} of shape {x.shape}")
    return ops.Window.apply(x, axes=axes, size=tuple(size), stride=tuple(stride),
                            dilation=tuple(dilation))


def flip(x: Tensor, dims: Any) -> Tensor:
    """Reverse the order of elements along ``dims``: a slice with step -1 (its gradient is
    the gradient flipped back)."""
    d = normalize_dims(dims, x.ndim, "flip")
    return x[tuple(slice(None, None, -1) if i in d else slice(None) for i in range(x.ndim))]


# ---------------------------------------------------------------- Python protocol, conversion
def numel(x: Tensor) -> int:
    return math.prod(x.shape)


def dim(x: Tensor) -> int:
    return x.ndim


def size(x: Tensor, d: int | None = None) -> Any:
    """The shape, or the size of one dim."""
    return x.shape if d is None else x.shape[normalize_dims(d, x.ndim, "size")[0]]


def tolist(x: Tensor) -> Any:
    return x.detach().numpy().tolist()


def __len__(x: Tensor) -> int:
    if x.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return x.shape[0]


def __iter__(x: Tensor) -> Any:
    return (x[i] for i in range(len(x)))


def __bool__(x: Tensor) -> bool:
    if numel(x) != 1:
        raise RuntimeError(f"bool: the truth value of a tensor with {numel(x)} elements is "
                           "ambiguous; use .any() or .all()")
    return bool(x.item())


def __index__(x: Tensor) -> int:
    if x.dtype.kind not in "iu" or numel(x) != 1:
        raise TypeError("only an integer tensor of one element can be used as an index")
    return int(x.item())


def type_(x: Tensor, dtype: Any = None) -> Any:
    """``x.type(tg.float64)`` converts; ``x.type()`` names the dtype."""
    return str(x.dtype) if dtype is None else x.to(backend.as_dtype(dtype))


# ---------------------------------------------------------------- elementwise
def abs_(x: Tensor) -> Tensor:
    """|x| = x · sign(x); its gradient sign(x) is 0 at 0 (PyTorch's convention)."""
    return x * sign(x)


def flat(x: Tensor, values: Tensor) -> Tensor:
    """``values`` with a zero gradient back to ``x``: PyTorch's convention for functions
    that are flat almost everywhere (sign, floor, round, ...). A where with an all-False
    condition, so an inf or NaN in x never leaks into the values."""
    if not x.requires_grad:
        return values
    return where(nondiff("zeros_like", x, dtype=backend.bool_), x, values.to(x.dtype))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 per element (0 for NaN, as PyTorch); zero gradient."""
    return flat(x, nondiff("nan_to_num", nondiff("sign", x), nan=0.0))


def sqrt(x: Tensor) -> Tensor:
    return x ** 0.5


def rsqrt(x: Tensor) -> Tensor:
    """1/√x (-0 gives -inf and -inf gives NaN, as in PyTorch)."""
    return 1 / x.sqrt()


def square(x: Tensor) -> Tensor:
    return x * x


def reciprocal(x: Tensor) -> Tensor:
    return 1 / x


def cos(x: Tensor) -> Tensor:
    """cos x = sin(x + π/2)."""
    return (x + math.pi / 2).sin()


def log1p(x: Tensor) -> Tensor:
    return (x + 1).log()


def softplus(x: Tensor) -> Tensor:
    """log(1 + eˣ), computed as m + log(e⁻ᵐ + eˣ⁻ᵐ) with m = max(x, 0) held constant: no
    overflow, and the gradient is σ(x) everywhere."""
    m = x.detach().relu()
    return ((-m).exp() + (x - m).exp()).log() + m


def minimum(x: Tensor, other: Any) -> Tensor:
    """Elementwise min = -max(-x, -y); a tie splits the gradient in half."""
    return -((-x).maximum(-other))


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Values limited to [min, max]. The gradient is 1 inside and at the bounds, 0 outside
    (PyTorch's convention)."""
    out = x
    if min is not None:
        out = where(out < min, min, out)
    if max is not None:
        out = where(out > max, max, out)
    return out


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """``value`` where ``mask`` is True, else x."""
    return where(mask, value, x)


def lerp(x: Tensor, end: Any, weight: Any) -> Tensor:
    return x + (end - x) * weight


def _method_where(x: Tensor, condition: Any, other: Any) -> Tensor:
    return where(condition, x, other)


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x (zero gradient: flat almost everywhere)."""
    return flat(x, nondiff("floor", x))


def ceil(x: Tensor) -> Tensor:
    return flat(x, nondiff("ceil", x))


def trunc(x: Tensor) -> Tensor:
    return flat(x, nondiff("trunc", x))


def round_(x: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy do); zero gradient."""
    return flat(x, nondiff("round", x, decimals=decimals))


def floor_divide(x: Any, other: Any) -> Tensor:
    """x // y = floor(x / y) (integers stay integers); zero gradient."""
    return nondiff("floor_divide", x, other)


def div(x: Tensor, other: Any, rounding_mode: str | None = None) -> Tensor:
    """x / y; ``rounding_mode='trunc'`` rounds toward zero, ``'floor'`` down (both with
    zero gradient, and integers stay integers), as ``torch.div``."""
    if rounding_mode is None:
        return x / other
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    o = x.operand(other)
    if x.dtype.kind == "f" or o.dtype.kind == "f":
        q = x / o
        return q.floor() if rounding_mode == "floor" else q.trunc()
    q = nondiff("floor_divide", x, o)                  # integers: exact, no float detour
    if rounding_mode == "trunc":                       # one up where the true quotient is
        inexact = nondiff("remainder", x, o) != 0      # negative and not whole
        q = q + (inexact & ((x < 0) ^ (o < 0))).to(q.dtype)
    return q


def remainder(x: Any, other: Any) -> Tensor:
    """x % y = x - y·floor(x / y), with the sign of y (Python's and PyTorch's rule);
    its gradient is 1 for x and -floor(x / y) for y."""
    return x - floor_divide(x, other) * other


def isnan(x: Tensor) -> Tensor:
    return nondiff("isnan", x)


def isfinite(x: Tensor) -> Tensor:
    return nondiff("isfinite", x)


def isinf(x: Tensor) -> Tensor:
    return nondiff("isinf", x)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """Shift the elements along ``dims`` by ``shifts``, wrapping around (a cat of two
    slices per dim); with ``dims=None`` the flattened tensor is rolled."""
    if dims is None:
        return roll(x.reshape(-1), shifts, 0).reshape(x.shape)
    shifts = shifts if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = normalize_dims(dims, x.ndim, "roll") if x.ndim else ()
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
    for s, d in zip(shifts, dims):
        n = x.shape[d]
        k = -int(s) % n if n else 0
        if k:
            lead = (slice(None),) * d
            x = cat([x[lead + (slice(k, None),)], x[lead + (slice(0, k),)]], d)
    return x


def _band(x: Tensor, diagonal: int, lower: bool, where_: str) -> Tensor:
    if x.ndim < 2:
        raise RuntimeError(f"{where_}: expected a tensor with at least 2 dims, got {x.shape}")
    rows = Tensor(x.xp.arange(x.shape[-2]), device=x.device).reshape(-1, 1)
    cols = Tensor(x.xp.arange(x.shape[-1]), device=x.device).reshape(1, -1)
    keep = (cols - rows <= diagonal) if lower else (cols - rows >= diagonal)
    return where(keep, x, 0)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (column - row <= diagonal), zeros above."""
    return _band(x, diagonal, True, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (column - row >= diagonal), zeros below."""
    return _band(x, diagonal, False, "triu")


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along ``dim``; the values gather x at the indices, so each
    gets its element's gradient. Ties keep their order (a stable sort), NaN sorts last
    (first when descending), as in PyTorch."""
    if x.ndim == 0:
        normalize_dims(dim, 0, "sort")
        return ValuesIndices(x * 1, nondiff("zeros_like", x, dtype=backend.int64))
    d = normalize_dims(dim, x.ndim, "sort")[0]
    key = -x if descending and x.dtype.kind != "b" else (~x if descending else x)
    if descending and x.dtype.kind == "f":         # NaN first when descending, as PyTorch
        key = where(x.isnan(), -math.inf, key)
    idx = nondiff("argsort", key, axis=d, kind="stable").to(backend.int64)
    return ValuesIndices(x.gather(d, idx), idx)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The k largest (or smallest) values along ``dim`` and their indices."""
    d = normalize_dims(dim, x.ndim, "topk")
    n = x.shape[d[0]] if d else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of size {n}")
    values, indices = sort(x, dim, descending=largest, stable=True)
    if not d:
        return ValuesIndices(values, indices)
    keep = (slice(None),) * d[0] + (slice(0, k),)
    return ValuesIndices(values[keep], indices[keep])


def any_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    d = normalize_dims(dim, x.ndim, "any")
    return nondiff("any", x, axis=d, keepdims=keepdim)


def all_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    d = normalize_dims(dim, x.ndim, "all")
    return nondiff("all", x, axis=d, keepdims=keepdim)


# ---------------------------------------------------------------- reductions
def _count(x: Tensor, dims: tuple) -> int:
    return math.prod(x.shape[d] for d in dims)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Σx / n over ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    dims = normalize_dims(dim, x.ndim, "mean")
    n = _count(x, dims)
    return x.sum(dims, keepdim) * (1.0 / n if n else math.nan)


def var(x: Tensor, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """Σ(x - mean)² / (n - correction); correction 1 (unbiased) unless told otherwise.

    ``x.var(False)`` is PyTorch's ``var(unbiased)`` form: the bool is not a dim.
    """
    if isinstance(dim, bool):                   # var(unbiased) overload
        dim, unbiased = None, dim
    dims = normalize_dims(dim, x.ndim, "var")
    n = _count(x, dims)
    corr = (1 if unbiased else 0) if correction is None else correction
    centred = x - x.mean(dims, keepdim=True)
    return (centred * centred).sum(dims, keepdim) * (1.0 / (n - corr) if n > corr else math.nan)


def root_or_zero(x: Tensor, p: float = 2.0) -> Tensor:
    """x^(1/p) with gradient 0 (not ∞·0 = NaN) where x = 0: PyTorch's convention for norms
    and std at zero. The inner where keeps the root's argument away from 0 there."""
    nonzero = x != 0
    root = where(nonzero, x, 1.0)
    return where(nonzero, root.sqrt() if p == 2 else root ** (1.0 / p), 0.0)


def std(x: Tensor, dim: Any = None, unbiased: Any = True, keepdim: bool = False, *,
        correction: Any = None) -> Tensor:
    """√var (gradient 0 where the values are all equal, as in PyTorch)."""
    return root_or_zero(var(x, dim, unbiased, keepdim, correction=correction))


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    return -((-x).amax(dim, keepdim))


def _arg(fn: str) -> Any:
    def method(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Index of the largest (argmax) or smallest (argmin) value along ``dim``, of the
        flattened tensor if ``dim`` is None; no gradient."""
        if dim is None:
            flat = nondiff(fn, x.reshape(-1), axis=0).to(backend.int64)
            return flat.reshape((1,) * x.ndim) if keepdim else flat
        d = normalize_dims(dim, x.ndim, fn)
        if not d:                                          # a 0-d tensor: index 0
            return nondiff("zeros_like", x, dtype=backend.int64)
        return nondiff(fn, x, axis=d[0], keepdims=keepdim).to(backend.int64)
    method.__name__ = fn
    return method


def _select(x: Tensor, dim: Any, keepdim: bool, index: Tensor) -> ValuesIndices:
    """The elements at ``index`` (an arg-max/min along dim) with their indices: the
    gradient goes to that one element, as in PyTorch."""
    d = normalize_dims(dim, x.ndim, "max")
    if not d:                                       # a 0-d tensor
        return ValuesIndices(x * 1, index)
    values = x.gather(d[0], index.unsqueeze(d[0]) if not keepdim else index)
    return ValuesIndices(values if keepdim else values.squeeze(d[0]), index)


def max_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    """``max()`` is the largest value; ``max(dim)`` is (values, indices); ``max(tensor)``
    is the elementwise maximum."""
    if isinstance(dim, Tensor):
        return x.maximum(dim)
    if dim is None:
        return x.amax()
    return _select(x, dim, keepdim, x.argmax(dim, keepdim))


def min_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    if isinstance(dim, Tensor):
        return x.minimum(dim)
    if dim is None:
        return x.amin()
    return _select(x, dim, keepdim, x.argmin(dim, keepdim))


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log Σ eˣ computed as m + log Σ eˣ⁻ᵐ with m = max x (held constant): no overflow."""
    dims = normalize_dims(dim, x.ndim, "logsumexp")
    m = x.detach().amax(dims, keepdim=True)
    m = where(m.isfinite(), m, 0.0)                 # all -inf (or inf) along dim: no shift
    out = (x - m).exp().sum(dims, keepdim=True).log() + m
    return out if keepdim else out.reshape([s for i, s in enumerate(out.shape) if i not in dims])


def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
    """The p-norm (Σ|x|ᵖ)^(1/p) over ``dim``: p = 2 ('fro') is the Euclidean length,
    p = inf the largest |x|, p = -inf the smallest, p = 0 the count of non-zeros.

    Its gradient is 0 at x = 0 (PyTorch's convention) rather than NaN.
    """
    if p in ("fro", None):
        p = 2
    if isinstance(p, str) or isinstance(p, bool):
        raise NotImplementedError(f"norm: p={p!r} is not supported; use a number, 'fro', "
                                  "inf or -inf")
    dims = normalize_dims(dim, x.ndim, "norm")
    if p == math.inf:
        return x.abs().amax(dims, keepdim)
    if p == -math.inf:
        return x.abs().amin(dims, keepdim)
    if p == 0:
        return flat(x, (x != 0).to(x.dtype)).sum(dims, keepdim)      # gradient 0
    return root_or_zero((x * x if p == 2 else x.abs() ** p).sum(dims, keepdim), p)


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
    """Product along ``dim`` (of everything if None).

    Built as a tree of pairwise products, x[0::2] · x[1::2] until one is left, so that
    ∂/∂x_i is exactly the product of the others, zeros included. An integer tensor
    keeps an integer product (and has no gradient), as in PyTorch.
    """
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        d = None if dim is None else normalize_dims(dim, x.ndim, "prod")
        return nondiff("prod", x, axis=d, keepdims=keepdim, dtype=backend.int64)
    if dim is None:
        out = x.reshape(-1).prod(0)
        return out.reshape((1,) * x.ndim) if keepdim else out
    d = normalize_dims(dim, x.ndim, "prod")
    if not d:
        return x * 1
    d = d[0]
    y = x.permute((d,) + tuple(i for i in range(x.ndim) if i != d))     # (n, ...the rest)
    if y.shape[0] == 0:
        out = y.sum(0) * 0 + 1                                           # the empty product
    else:
        while y.shape[0] > 1:
            pairs = y[0:y.shape[0] - y.shape[0] % 2:2] * y[1::2]
            y = cat([pairs, y[-1:]], 0) if y.shape[0] % 2 else pairs   # odd: carry the last
        out = y[0]
    return out.unsqueeze(d) if keepdim else out


def cumsum(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``: out[i] = x[0] + ... + x[i].

    Computed in log₂(n) rounds of shifted adds (round k adds the value 2ᵏ places back),
    all of them primitives, so the gradient (a reversed running sum) comes for free.
    """
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind == "b":
        x = x.to(backend.int64)
    d = normalize_dims(dim, x.ndim, "cumsum")
    if not d:
        return x * 1
    d, n, out, shift = d[0], x.shape[d[0]], x, 1
    while shift < n:
        pad = [(0, 0)] * x.ndim
        pad[d] = (shift, 0)
        keep = (slice(None),) * d + (slice(0, n),)
        out = out + out.pad(pad)[keep]
        shift *= 2
    return out


# ---------------------------------------------------------------- softmax
def softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """softmax(x)ᵢ = eˣⁱ / Σⱼ eˣʲ along ``dim``, computed with x - max(x) (the shift cancels
    in the ratio but keeps e^... from overflowing; it is held constant)."""
    if dtype is not None:
        x = x.to(dtype)
    if x.numel() == 0:
        return x * 1.0
    e = (x - x.detach().amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(x: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """log softmax(x)ᵢ = xᵢ - m - log Σⱼ e^(xⱼ - m), with m = max(x) (stable)."""
    if dtype is not None:
        x = x.to(dtype)
    if x.numel() == 0:
        return x * 1.0
    shifted = x - x.detach().amax(dim, keepdim=True)
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


# ---------------------------------------------------------------- shapes
def view_as(x: Tensor, other: Tensor) -> Tensor:
    return x.reshape(other.shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim: (N, C, H, W).flatten(1) -> (N, C·H·W)."""
    if x.ndim == 0:
        return x.reshape(1)
    s, e = (normalize_dims(d, x.ndim, "flatten")[0] for d in (start_dim, end_dim))
    return x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(x: Tensor, dim: int, sizes: Sequence[int]) -> Tensor:
    d = normalize_dims(dim, x.ndim, "unflatten")[0]
    return x.reshape(x.shape[:d] + tuple(sizes) + x.shape[d + 1:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim``)."""
    drop = normalize_dims(dim, x.ndim, "squeeze")
    return x.reshape(tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A size-1 dim inserted at ``dim``: (3,) -> unsqueeze(0) -> (1, 3)."""
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor with {x.ndim} dims "
                         f"(expected {-x.ndim - 1} <= dim <= {x.ndim})")
    d = dim % (x.ndim + 1)
    return x.reshape(x.shape[:d] + (1,) + x.shape[d:])


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    normalize_dims(dim0, x.ndim, "transpose"), normalize_dims(dim1, x.ndim, "transpose")
    if x.ndim == 0:
        return x
    d0, d1 = (normalize_dims(d, x.ndim, "transpose")[0] for d in (dim0, dim1))
    order = list(range(x.ndim))
    order[d0], order[d1] = order[d1], order[d0]
    return x.permute(order)


def t(x: Tensor) -> Tensor:
    if x.ndim > 2:
        raise RuntimeError(f"t: expects a tensor with <= 2 dims, got {x.ndim}")
    return x.T


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along dim i (a copy)."""
    sizes = _shape_args(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} repeats for a tensor with {x.ndim} dims")
    y = x.reshape((1,) * (len(sizes) - x.ndim) + x.shape)        # as many dims as sizes
    tiled = y.reshape(sum(((1, s) for s in y.shape), ()))        # (1, s0, 1, s1, ...)
    tiled = tiled.expand(sum(((r, s) for r, s in zip(sizes, y.shape)), ()))  # (r0, s0, ...)
    return tiled.reshape(tuple(r * s for r, s in zip(sizes, y.shape)))


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Every window of ``size`` elements along ``dimension``, ``step`` apart; the window is
    the new last dim (PyTorch's ``Tensor.unfold``)."""
    if x.ndim == 0:                         # a 0-d tensor unfolds as a 1-element vector
        normalize_dims(dimension, 0, "unfold")
        return sliding_window(x.reshape(1), (0,), (size,), (step,), (1,))[0]
    d = normalize_dims(dimension, x.ndim, "unfold")[0]
    return sliding_window(x, (d,), (size,), (step,), (1,))


def split(x: Tensor, split_size: Any, dim: int = 0) -> tuple:
    """Pieces along ``dim``: each of ``split_size`` (the last may be smaller), or of the
    listed sizes."""
    d = normalize_dims(dim, x.ndim, "split")[0]
    n = x.shape[d]
    lengths = ([split_size] * max(1, -(-n // split_size)) if isinstance(split_size, int)
               else list(split_size))
    if not isinstance(split_size, int) and sum(lengths) != n:
        raise RuntimeError(f"split: sizes {lengths} do not add up to {n} (dim {d})")
    out, start = [], 0
    for s in lengths:
        s = min(s, n - start)
        out.append(x[(slice(None),) * d + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    n = x.shape[normalize_dims(dim, x.ndim, "chunk")[0]]
    return x.split(max(1, -(-n // chunks)), dim)


def unbind(x: Tensor, dim: int = 0) -> tuple:
    d = normalize_dims(dim, x.ndim, "unbind")[0]
    return tuple(x[(slice(None),) * d + (i,)] for i in range(x.shape[d]))


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """out[i][j] = x[i][index[i][j]] for dim 1 (PyTorch's gather): an integer index along
    ``dim`` and the position itself along every other dim."""
    d = normalize_dims(dim, x.ndim, "gather")
    if index.device != x.device:
        raise device_mismatch("gather", (x, index))
    if not d:                                       # a 0-d tensor: index holds zeros
        return x.reshape(1)[index.reshape(-1)].reshape(index.shape)
    grids = [index if i == d[0] else
             _arange(n, x).reshape((1,) * i + (n,) + (1,) * (index.ndim - i - 1))
             for i, n in enumerate(index.shape)]
    return x[tuple(grids)]


def _arange(n: int, like: Tensor) -> Tensor:
    return Tensor(like.xp.arange(n), device=like.device)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim: ``cat`` of each with a size-1 dim added
    (the fast lane joins them along an existing dim and splits it instead, two nodes)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack: tensors[0] has shape {tensors[0].shape} but "
                               f"tensors[{i}] has {t.shape}; all must be the same")
    d = normalize_dims(dim, tensors[0].ndim + 1, "stack")[0]
    if d < tensors[0].ndim:
        return lane("stack", _stack)(tensors, d)
    return _stack(tensors, d)


def _stack(tensors: list, d: int) -> Tensor:
    """The reference: each tensor with a size-1 dim at ``d``, joined along it."""
    return cat([t.unsqueeze(d) for t in tensors], d)


# ---------------------------------------------------------------- in place (no graph)
def _inplace(name: str, fn: Any) -> Any:
    def method(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return x.copy_(fn(x, *args, **kwargs), where=name)
    method.__name__ = name
    method.__doc__ = f"In place: x = x.{name.rstrip('_')}(...), keeping x's dtype; no graph."
    return method


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U[a, b) from the seeded generator, in place."""
    return x.copy_(rand(x.shape, dtype=x.dtype, device=x.device) * (b - a) + a)


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std²) from the seeded generator, in place."""
    return x.copy_(randn(x.shape, dtype=x.dtype, device=x.device) * std + mean)


def _iop(op: str) -> Any:
    """``x += y``: in place when no gradient is involved, else the out-of-place op (a new
    tensor bound to the name x)."""
    def method(x: Tensor, other: Any) -> Tensor:
        out = getattr(x, f"__{op}__")(other)
        if is_grad_enabled() and (x.requires_grad or getattr(other, "requires_grad", False)):
            return out
        return x.copy_(out)
    return method


_METHODS = {
    "sum": sum_, "amax": amax, "reshape": reshape, "permute": permute, "expand": expand,
    "pad": pad_, "matmul": matmul, "__matmul__": matmul, "erf": lambda x: ops.Erf.apply(x),
    "__rmatmul__": lambda x, o: matmul(x.operand(o), x), "maximum": maximum,
    "numel": numel, "dim": dim, "size": size, "tolist": tolist, "__len__": __len__,
    "__iter__": __iter__, "__bool__": __bool__, "__index__": __index__,
    "__float__": lambda x: float(x.item()), "__int__": lambda x: int(x.item()),
    "type": type_, "float": lambda x: x.to(backend.float32),
    "double": lambda x: x.to(backend.float64), "half": lambda x: x.to(backend.float16),
    "long": lambda x: x.to(backend.int64), "int": lambda x: x.to(backend.int32),
    "bool": lambda x: x.to(backend.bool_), "cpu": lambda x: x.to("cpu"),
    "cuda": lambda x: x.to("cuda"),
    "is_cuda": property(lambda x: x.device == "cuda"),
    "add": lambda x, o, alpha=1: x + (o * alpha if alpha != 1 else o),
    "sub": lambda x, o, alpha=1: x - (o * alpha if alpha != 1 else o),
    "mul": lambda x, o: x * o, "pow": lambda x, o: x ** o, "neg": lambda x: -x,
    "__pos__": lambda x: x, "eq": lambda x, o: x == o, "ne": lambda x, o: x != o,
    "abs": abs_, "__abs__": abs_, "sign": sign, "sqrt": sqrt, "rsqrt": rsqrt, "square": square,
    "reciprocal": reciprocal, "cos": cos, "log1p": log1p, "softplus": softplus,
    "minimum": minimum, "clamp": clamp, "clip": clamp, "masked_fill": masked_fill,
    "div": div, "roll": roll, "tril": tril, "triu": triu,
    "sort": sort, "topk": topk, "lerp": lerp, "floor": floor, "ceil": ceil, "trunc": trunc,
    "round": round_,
    "__floordiv__": floor_divide, "__rfloordiv__": lambda x, o: floor_divide(o, x),
    "floor_divide": floor_divide, "__mod__": remainder, "remainder": remainder,
    "__rmod__": lambda x, o: remainder(o, x), "where": _method_where, "isnan": isnan,
    "isfinite": isfinite, "isinf": isinf,
    "any": any_, "all": all_, "mean": mean, "var": var, "std": std, "amin": amin,
    "argmax": _arg("argmax"), "argmin": _arg("argmin"), "max": max_, "min": min_,
    "logsumexp": logsumexp, "norm": norm,
    "prod": prod, "cumsum": cumsum, "softmax": softmax, "log_softmax": log_softmax,
    "view": lambda x, *s: x.reshape(*s), "view_as": view_as,
    "reshape_as": view_as, "expand_as": lambda x, o: x.expand(o.shape),
    "broadcast_to": lambda x, s: x.expand(tuple(s)), "flatten": flatten,
    "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "transpose": transpose, "swapaxes": transpose, "t": t,
    "T": property(lambda x: x.permute(tuple(reversed(range(x.ndim))))),
    "mT": property(lambda x: transpose(x, -2, -1)),
    "repeat": repeat, "unfold": unfold, "split": split, "chunk": chunk, "unbind": unbind,
    "gather": gather, "flip": flip,
    "add_": _inplace("add_", lambda x, o, alpha=1: x + (o * alpha if alpha != 1 else o)),
    "sub_": _inplace("sub_", lambda x, o, alpha=1: x - (o * alpha if alpha != 1 else o)),
    "mul_": _inplace("mul_", lambda x, o: x * o), "div_": _inplace("div_", lambda x, o: x / o),
    "fill_": lambda x, v: x.copy_(v), "zero_": lambda x: x.copy_(0),
    "clamp_": _inplace("clamp_", clamp), "uniform_": uniform_, "normal_": normal_,
    "__iadd__": _iop("add"), "__isub__": _iop("sub"), "__imul__": _iop("mul"),
}
for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
