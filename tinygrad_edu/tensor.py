"""The Tensor: an n-dimensional array on a device, plus the node that made it.

A tensor holds

* ``data``: a NumPy array ('cpu') or CuPy array ('cuda'),
* ``requires_grad``: whether gradients should flow to it,
* ``grad``: after ``backward()``, the gradient of the loss with respect to it,
* ``grad_fn``: the op (a :class:`~tinygrad_edu.autograd.Function`) that produced
  it, which links back to its inputs. Leaves (inputs, parameters) have none.

Every method that computes something goes through a primitive in
:mod:`tinygrad_edu.ops` (which knows its own derivative) or is composed of
such methods (and so gets its derivative for free).

>>> x = tg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
>>> y = (x @ x.T).tanh().sum()
>>> y.backward()
>>> x.grad.shape
(2, 2)
"""
from __future__ import annotations

import math
import numbers
from collections import namedtuple
from typing import Any, Sequence

from tinygrad_edu import autograd, backend
from tinygrad_edu.autograd import STATE

Shape = tuple
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])

_default_device = ["cpu"]


def set_default_device(device: Any) -> None:
    """The device new tensors go to when none is named (like ``torch.set_default_device``)."""
    _default_device[0] = backend.normalize_device(device)


def get_default_device() -> str:
    """The device new tensors go to when none is named ('cpu' unless changed)."""
    return _default_device[0]


def _normalize_dims(dim: Any, ndim: int, where: str) -> tuple:
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{where}: dim {d} is out of range for a tensor with {ndim} dims "
                             f"(expected {-max(ndim, 1)} <= dim < {max(ndim, 1)})")
        out.append(d % ndim if ndim else 0)
    return tuple(out)


class Tensor:
    """An array with an autograd history. See the module docstring."""

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "device", "name", "_vc",
                 "_retains_grad", "__weakref__")
    __array_priority__ = 1000   # make numpy_array * tensor call Tensor.__rmul__

    def __init__(self, data: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> None:
        dev = backend.normalize_device(device) if device is not None else None
        if isinstance(data, Tensor):
            arr = data.data
            dev = dev or data.device
            arr = backend.to_device(arr, dev) if dev != data.device else arr
            if dtype is not None:
                arr = arr.astype(backend.as_dtype(dtype))
        else:
            if dev is None:
                dev = (backend.device_of_array(data) if backend.is_array(data)
                       else _default_device[0])
            if backend.is_array(data) and backend.device_of_array(data) != dev:
                data = backend.to_device(data, dev)
            arr = backend.asarray(data, backend.as_dtype(dtype), dev)
        self.data = arr
        self.device = dev
        self.grad: Tensor | None = None
        self._ctx = None
        self.name: str | None = None
        self._vc = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(arr: Any, device: str) -> "Tensor":
        """Wrap an array already on ``device`` as a tensor with no history (fast path)."""
        t = Tensor.__new__(Tensor)
        t.data = arr
        t.device = device
        t.requires_grad = False
        t.grad = None
        t._ctx = None
        t.name = None
        t._vc = None
        t._retains_grad = False
        return t

    # ------------------------------------------------------------ properties
    @property
    def xp(self) -> Any:
        """The array module of this tensor's device (numpy or cupy)."""
        return backend.array_module(self.device)

    @property
    def shape(self) -> tuple:
        """The size of each dimension, e.g. ``(batch, channels, height, width)``."""
        return self.data.shape

    @property
    def dtype(self) -> Any:
        """The element type (``tg.float32`` by default)."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        """The shape, or the size of one dimension."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_normalize_dims(dim, self.ndim, "size")[0]]

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (inputs, parameters)."""
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The op node that produced this tensor, or ``None`` for a leaf."""
        return self._ctx

    @property
    def is_cuda(self) -> bool:
        return self.device == "cuda"

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the transpose for a matrix)."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (batched matrix transpose)."""
        return self.transpose(-2, -1)

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor (or a view sharing its data) has had."""
        return self._vc[0] if self._vc is not None else 0

    # ------------------------------------------------------------ conversion
    def numpy(self) -> Any:
        """A host NumPy array of the values (copies from the GPU if needed). No graph."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return backend.to_host(self.data)

    def item(self) -> Any:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {tuple(self.shape)}")
        return backend.to_host(self.data).reshape(()).item()

    def tolist(self) -> Any:
        """Nested Python lists of the values."""
        return backend.to_host(self.data).tolist()

    def to(self, *args: Any, **kwargs: Any) -> "Tensor":
        """Move to a device and/or cast: ``t.to('cuda')``, ``t.to(tg.float64)``.

        Moving is an explicit copy; the result is a new node of the graph, so
        gradients flow back to the original device.
        """
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif backend.is_device_like(a):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and backend.as_dtype(dtype) != self.dtype:
            dt = backend.as_dtype(dtype)
            src = out if backend.is_floating(dt) else out.detach()   # ints carry no gradient
            out = _ops.Cast.apply(src, dtype=dt)
        if device is not None and backend.normalize_device(device) != self.device:
            out = _ops.ToDevice.apply_move(out, backend.normalize_device(device))
        return out

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def float(self) -> "Tensor":
        return self.to(backend.float32)

    def double(self) -> "Tensor":
        return self.to(backend.float64)

    def long(self) -> "Tensor":
        return self.to(backend.int64)

    def int(self) -> "Tensor":
        return self.to(backend.int32)

    def bool(self) -> "Tensor":
        return self.to(backend.bool_)

    def type(self, dtype: Any) -> "Tensor":
        return self.to(backend.as_dtype(dtype))

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (shares memory, like PyTorch)."""
        out = Tensor._wrap(self.data, self.device)
        if self._vc is None:
            self._vc = [0, 0]
        out._vc = self._vc
        return out

    def clone(self) -> "Tensor":
        """A copy with its own memory; gradients flow back to the original."""
        return _ops.Clone.apply(self)

    def contiguous(self) -> "Tensor":
        """This tensor if its memory is already in row-major order, else a row-major copy
        (gradients flow through the copy), as in PyTorch."""
        if getattr(self.data, "flags", None) is None or self.data.flags.c_contiguous:
            return self
        return self.clone()

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as needing gradients (in place)."""
        if requires_grad and not backend.is_floating(self.dtype):
            raise RuntimeError(f"requires_grad_: only floating-point tensors can require "
                               f"gradients, this one has dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: can't turn off requires_grad of a non-leaf "
                               "tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True
        return self

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf of the graph.

        The chain rule, applied from this tensor back to the leaves in reverse
        topological order::

            grad[self] = gradient (1 for a scalar loss)
            grad[input] += op.backward(grad[output])   for each op, last op first

        The graph's saved values are freed afterwards unless
        ``retain_graph=True``; a second backward through it then raises.
        ``create_graph=True`` records the backward pass itself, for second
        derivatives.
        """
        autograd.backward([self], None if gradient is None else [gradient],
                          retain_graph, create_graph)

    # ------------------------------------------------------------ printing
    def __repr__(self) -> str:
        body = backend.array_to_string(self.data, prefix="tensor(")
        extra = [f"dtype={self.dtype}"] if self.dtype != backend.float32 else []
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self.data.size} "
                               "elements is ambiguous; use .any() or .all()")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if backend.is_floating(self.dtype):
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------ operands
    def _operand(self, other: Any) -> "Tensor":
        """Turn a Python number or array into a tensor on this device.

        A Python scalar takes this tensor's dtype, so ``x32 * 0.5`` stays
        float32; a float scalar with an integer tensor gives float32.
        """
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float, bool)) or isinstance(other, numbers.Number):
            dtype = self.dtype      # also NumPy scalars: x32 * np.int64(3) stays float32
            if not backend.is_floating(dtype) and not isinstance(other, numbers.Integral):
                dtype = backend.DEFAULT_FLOAT
            elif dtype.kind == "b" and not isinstance(other, bool):
                dtype = backend.int64                # bool tensor + 1 -> int64, as in PyTorch
            return Tensor._wrap(self.xp.asarray(other, dtype=dtype), self.device)
        if backend.is_array(other) and backend.device_of_array(other) != self.device:
            raise RuntimeError(f"expected all tensors on the same device, got a tensor on "
                               f"'{self.device}' and a '{backend.device_of_array(other)}' "
                               "array; move one explicitly (nothing is copied implicitly)")
        return Tensor(other, device=self.device)

    # ------------------------------------------------------------ arithmetic
    # A binary op on two different dtypes goes through _promote first (integer meets
    # float: the float's dtype, as in PyTorch). Same dtypes, the common case, skip it.
    # The check is written out in each operator on purpose: one shared helper function
    # measured 2-3% slower on the overhead benchmark (these run for every op of a step).
    def __add__(self, other: Any) -> "Tensor":
        o = other if isinstance(other, Tensor) else self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _add(*_promote(self, o))
        return _add(self, o)

    def __radd__(self, other: Any) -> "Tensor":
        o = self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _add(*_promote(o, self))
        return _add(o, self)

    def __sub__(self, other: Any) -> "Tensor":
        o = other if isinstance(other, Tensor) else self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _sub(*_promote(self, o))
        return _sub(self, o)

    def __rsub__(self, other: Any) -> "Tensor":
        o = self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _sub(*_promote(o, self))
        return _sub(o, self)

    def __mul__(self, other: Any) -> "Tensor":
        o = other if isinstance(other, Tensor) else self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _mul(*_promote(self, o))
        return _mul(self, o)

    def __rmul__(self, other: Any) -> "Tensor":
        o = self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _mul(*_promote(o, self))
        return _mul(o, self)

    def __truediv__(self, other: Any) -> "Tensor":
        o = other if isinstance(other, Tensor) else self._operand(other)
        if o.data.dtype is not self.data.dtype or self.data.dtype.kind != "f":
            return _div(*_promote(self, o, true_division=True))
        return _div(self, o)

    def __rtruediv__(self, other: Any) -> "Tensor":
        o = self._operand(other)
        if o.data.dtype is not self.data.dtype or self.data.dtype.kind != "f":
            return _div(*_promote(o, self, true_division=True))
        return _div(o, self)

    def __neg__(self) -> "Tensor":
        return _ops.Neg.apply(self)

    def __pos__(self) -> "Tensor":
        return self

    def __pow__(self, exponent: Any) -> "Tensor":
        if isinstance(exponent, Tensor):
            return (exponent * self.log()).exp()
        if not isinstance(exponent, (int, float)) or type(exponent).__module__ == "numpy":
            exponent = exponent.item()      # a NumPy scalar would promote float32 to float64
        return _ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return (self * math.log(base)).exp()

    def __matmul__(self, other: Any) -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return self._operand(other).matmul(self)

    def add(self, other: Any, alpha: float = 1) -> "Tensor":
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other: Any, alpha: float = 1) -> "Tensor":
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other: Any) -> "Tensor":
        return self * other

    def div(self, other: Any) -> "Tensor":
        return self / other

    def pow(self, exponent: Any) -> "Tensor":
        return self ** exponent

    def neg(self) -> "Tensor":
        return -self

    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with NumPy/PyTorch rules for 1-D and batched operands.

        (..., n, k) @ (..., k, m) -> (..., n, m); a 1-D left operand is a row,
        a 1-D right operand a column, and that dimension is dropped again.
        """
        other = self._operand(other)
        if self.ndim == 0 or other.ndim == 0:
            raise RuntimeError("matmul: both arguments need at least 1 dimension, got shapes "
                               f"{tuple(self.shape)} and {tuple(other.shape)}")
        a = self.unsqueeze(0) if self.ndim == 1 else self
        b = other.unsqueeze(-1) if other.ndim == 1 else other
        if a.shape[-1] != b.shape[-2]:
            raise RuntimeError(f"matmul: shapes {tuple(self.shape)} and {tuple(other.shape)} "
                               f"cannot be multiplied ({a.shape[-1]} != {b.shape[-2]})")
        out = _ops.MatMul.apply(a, b)
        if self.ndim == 1:
            out = out.squeeze(-2)
        if other.ndim == 1:
            out = out.squeeze(-1)
        return out

    # ------------------------------------------------------------ comparisons (no gradient)
    def _compare(self, other: Any, fn: str) -> "Tensor":
        o = self._operand(other)
        if o.device != self.device:
            autograd._device_mismatch(fn, (self, o))
        return Tensor._wrap(getattr(self.xp, fn)(self.data, o.data), self.device)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, "equal")

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(other, "not_equal")

    def __lt__(self, other: Any) -> "Tensor":
        return self._compare(other, "less")

    def __le__(self, other: Any) -> "Tensor":
        return self._compare(other, "less_equal")

    def __gt__(self, other: Any) -> "Tensor":
        return self._compare(other, "greater")

    def __ge__(self, other: Any) -> "Tensor":
        return self._compare(other, "greater_equal")

    def eq(self, other: Any) -> "Tensor":
        return self == other

    def __invert__(self) -> "Tensor":
        return Tensor._wrap(self.xp.logical_not(self.data), self.device)

    def __and__(self, other: Any) -> "Tensor":
        return self._compare(other, "logical_and")

    def __or__(self, other: Any) -> "Tensor":
        return self._compare(other, "logical_or")

    def any(self) -> "Tensor":
        return Tensor._wrap(self.xp.any(self.data), self.device)

    def all(self) -> "Tensor":
        return Tensor._wrap(self.xp.all(self.data), self.device)

    def sign(self) -> "Tensor":
        """-1, 0 or 1 per element (no gradient: it is flat almost everywhere)."""
        return Tensor._wrap(self.xp.sign(self.data), self.device)

    def isnan(self) -> "Tensor":
        return Tensor._wrap(self.xp.isnan(self.data), self.device)

    def isfinite(self) -> "Tensor":
        return Tensor._wrap(self.xp.isfinite(self.data), self.device)

    # ------------------------------------------------------------ elementwise math
    def exp(self) -> "Tensor":
        """e**x."""
        return _ops.Exp.apply(self)

    def log(self) -> "Tensor":
        """Natural logarithm."""
        return _ops.Log.apply(self)

    def tanh(self) -> "Tensor":
        """(e**x - e**-x) / (e**x + e**-x); derivative 1 - tanh(x)**2."""
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> "Tensor":
        """σ(x) = 1 / (1 + e**-x); derivative σ(x)(1 - σ(x))."""
        return _ops.Sigmoid.apply(self)

    def relu(self) -> "Tensor":
        """max(x, 0); derivative 1 where x > 0, else 0."""
        return _ops.Relu.apply(self)

    def abs(self) -> "Tensor":
        """|x|; derivative sign(x)."""
        return _ops.Abs.apply(self)

    def sqrt(self) -> "Tensor":
        return self ** 0.5

    def rsqrt(self) -> "Tensor":
        return self ** -0.5

    def square(self) -> "Tensor":
        return self * self

    def reciprocal(self) -> "Tensor":
        return _ops.Reciprocal.apply(self)

    def sin(self) -> "Tensor":
        return _ops.Sin.apply(self)

    def cos(self) -> "Tensor":
        return (self + math.pi / 2).sin()

    def log1p(self) -> "Tensor":
        return (self + 1).log()

    def softplus(self) -> "Tensor":
        """log(1 + e**x), computed stably as m + log(e**-m + e**(x-m)) with m = max(x, 0)
        held constant: no overflow, and the gradient is σ(x) everywhere (also at x = 0)."""
        m = self.detach().relu()
        return ((-m).exp() + (self - m).exp()).log() + m

    def maximum(self, other: Any) -> "Tensor":
        """Elementwise max; at ties the gradient is split evenly."""
        o = self._operand(other)
        if o.data.dtype is not self.data.dtype:
            return _ops.Maximum.apply(*_promote(self, o))
        return _ops.Maximum.apply(self, o)

    def minimum(self, other: Any) -> "Tensor":
        return -((-self).maximum(-self._operand(other)))

    def clamp(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002
        """Limit values to [min, max] (either may be None)."""
        out = self
        if min is not None:
            out = out.maximum(min)
        if max is not None:
            out = out.minimum(max)
        return out

    clip = clamp

    def where(self, condition: Any, other: Any) -> "Tensor":
        return where(condition, self, other)

    def masked_fill(self, mask: "Tensor", value: float) -> "Tensor":
        """Replace the elements where ``mask`` is True by ``value``."""
        return where(mask, self._operand(value), self)

    def lerp(self, end: "Tensor", weight: float) -> "Tensor":
        return self + (end - self) * weight

    # ------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> "Tensor":
        """Σ over ``dim`` (all dims if None); adjoint: expand the gradient back."""
        out = _ops.Sum.apply(self, dims=_normalize_dims(dim, self.ndim, "sum"), keepdim=keepdim)
        return out if dtype is None else out.to(dtype)

    def mean(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """Σx / n over ``dim``."""
        dims = _normalize_dims(dim, self.ndim, "mean")
        n = 1
        for d in dims:
            n *= self.shape[d]
        return self.sum(dims, keepdim) * (1.0 / n if n else math.nan)

    def var(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False,
            correction: int | None = None) -> "Tensor":
        """Σ(x - mean)² / (n - correction); correction 1 (unbiased) by default, as in PyTorch."""
        dims = _normalize_dims(dim, self.ndim, "var")
        n = 1
        for d in dims:
            n *= self.shape[d]
        corr = (1 if unbiased else 0) if correction is None else correction
        centred = self - self.mean(dims, keepdim=True)
        return (centred * centred).sum(dims, keepdim) * (1.0 / max(n - corr, 0) if n > corr
                                                         else math.nan)

    def std(self, dim: Any = None, unbiased: bool = True, keepdim: bool = False,
            correction: int | None = None) -> "Tensor":
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def amax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """Max over ``dim``; the gradient goes to the maxima (split evenly at ties)."""
        return _ops.Max.apply(self, dims=_normalize_dims(dim, self.ndim, "amax"), keepdim=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return -((-self).amax(dim, keepdim))

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``max()`` -> the largest value; ``max(dim)`` -> (values, indices), as in PyTorch.

        ``x.max(other_tensor)`` is the elementwise maximum.
        """
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return self.amax()
        return ValuesIndices(self.amax(dim, keepdim), self.argmax(dim, keepdim))

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return self.amin()
        return ValuesIndices(self.amin(dim, keepdim), self.argmin(dim, keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """Index of the largest value (over the flattened tensor if ``dim`` is None)."""
        if dim is None:
            return Tensor._wrap(self.xp.argmax(self.data).astype(backend.int64), self.device)
        d = _normalize_dims(dim, self.ndim, "argmax")[0]
        idx = self.xp.argmax(self.data, axis=d).astype(backend.int64)
        return Tensor._wrap(self.xp.expand_dims(idx, d) if keepdim else idx, self.device)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        if backend.is_floating(self.dtype):
            return (-self).argmax(dim, keepdim)
        if dim is None:
            return Tensor._wrap(self.xp.argmin(self.data).astype(backend.int64), self.device)
        d = _normalize_dims(dim, self.ndim, "argmin")[0]
        idx = self.xp.argmin(self.data, axis=d).astype(backend.int64)
        return Tensor._wrap(self.xp.expand_dims(idx, d) if keepdim else idx, self.device)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> "Tensor":
        """log Σ exp(x), stably: m + log Σ exp(x - m) with m = max(x)."""
        m = self.detach().amax(dim, keepdim=True)
        out = (self - m).exp().sum(dim, keepdim=True).log() + m
        return out if keepdim else out.squeeze(dim)

    def norm(self, p: float = 2, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """(Σ|x|**p)**(1/p): the Lp norm (p=2: Euclidean length)."""
        if p == 2:
            return (self * self).sum(dim, keepdim).sqrt()
        return (self.abs() ** p).sum(dim, keepdim) ** (1.0 / p)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """Product of the elements along ``dim`` (of all of them when ``dim`` is None).

        Built as a tree of pairwise products, x[0::2] * x[1::2] until one is left:
        log2(n) multiplications, each with its own gradient, so ∂/∂x_i is exactly the
        product of the other elements, zeros included. An integer tensor keeps its
        dtype (and has no gradient), as in PyTorch.

        >>> tg.tensor([[1., 2.], [3., 4.]]).prod(1)
        tensor([ 2., 12.])
        """
        if not backend.is_floating(self.dtype):
            return Tensor._wrap(self.xp.prod(self.data, axis=dim, keepdims=keepdim,
                                             dtype=backend.int64), self.device)
        if dim is None:
            out = self.reshape(-1).prod(0)
            return out.reshape((1,) * self.ndim) if keepdim else out
        d = _normalize_dims(dim, self.ndim, "prod")[0]
        if self.ndim:                                                 # (n, ...the rest)
            x = self.permute((d,) + tuple(i for i in range(self.ndim) if i != d))
        else:
            x = self.reshape(1)
        if x.shape[0] == 0:
            out = x.sum(0) * 0 + 1                                    # empty product
        else:
            while x.shape[0] > 1:
                if x.shape[0] % 2:                                    # odd: carry the last one
                    x = cat([x[:-1:2] * x[1::2], x[-1:]], 0)
                else:
                    x = x[0::2] * x[1::2]
            out = x[0]
        return out.unsqueeze(d) if keepdim and self.ndim else out

    def softmax(self, dim: int) -> "Tensor":
        from tinygrad_edu import functional  # noqa: PLC0415 - functional sits above tensor
        return functional.softmax(self, dim)

    def log_softmax(self, dim: int) -> "Tensor":
        from tinygrad_edu import functional  # noqa: PLC0415
        return functional.log_softmax(self, dim)

    # ------------------------------------------------------------ movement
    def reshape(self, *shape: Any) -> "Tensor":
        """Same elements, new shape (one dimension may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = tuple(int(s) for s in shape)
        if shape == self.shape:
            return self
        n = self.data.size
        if shape.count(-1) > 1:
            raise RuntimeError(f"reshape: only one dimension can be -1, got {shape}")
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if -1 in shape:
            if known == 0 or n % known:
                raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {n} "
                                   f"(shape {tuple(self.shape)})")
            shape = tuple(n // known if s == -1 else s for s in shape)
        elif known != n:
            raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {n} "
                               f"(shape {tuple(self.shape)})")
        return _ops.Reshape.apply(self, shape=shape)

    def view(self, *shape: Any) -> "Tensor":
        return self.reshape(*shape)

    def view_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dims start_dim..end_dim into one: (N, C, H, W).flatten(1) -> (N, C*H*W)."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _normalize_dims((start_dim, end_dim), self.ndim, "flatten")
        merged = 1
        for d in self.shape[s:e + 1]:
            merged *= d
        return self.reshape(self.shape[:s] + (merged,) + self.shape[e + 1:])

    def unflatten(self, dim: int, sizes: Sequence[int]) -> "Tensor":
        d = _normalize_dims(dim, self.ndim, "unflatten")[0]
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def squeeze(self, dim: Any = None) -> "Tensor":
        """Drop size-1 dimensions (all of them, or only ``dim``)."""
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = _normalize_dims(dim, self.ndim, "squeeze") if self.ndim else ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape)
                                  if not (i in dims and s == 1)))

    def unsqueeze(self, dim: int) -> "Tensor":
        """Insert a size-1 dimension at ``dim``: (3,) -> unsqueeze(0) -> (1, 3)."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor with "
                             f"{self.ndim} dims (expected {-self.ndim - 1} <= dim <= {self.ndim})")
        d = dim % (self.ndim + 1)
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def permute(self, *dims: Any) -> "Tensor":
        """Reorder dimensions; adjoint: the inverse permutation."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        dims = _normalize_dims(dims, self.ndim, "permute")
        if sorted(dims) != list(range(self.ndim)):
            raise RuntimeError(f"permute: dims {dims} are not a permutation of "
                               f"{tuple(range(self.ndim))}")
        if dims == tuple(range(self.ndim)):
            return self
        return _ops.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """Swap two dimensions."""
        d0, d1 = _normalize_dims((dim0, dim1), self.ndim, "transpose")
        order = list(range(self.ndim))
        order[d0], order[d1] = order[d1], order[d0]
        return self.permute(order)

    swapaxes = transpose

    def t(self) -> "Tensor":
        if self.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dims, got {self.ndim}")
        return self.T

    def expand(self, *shape: Any) -> "Tensor":
        """Broadcast size-1 dims to a bigger shape without copying; adjoint: sum."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the target {tuple(shape)} has fewer dims than the "
                               f"tensor {tuple(self.shape)}")
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        for i, s in enumerate(self.shape):
            if s != 1 and s != shape[i + lead]:
                raise RuntimeError(f"expand: size {s} of dim {i} (shape {tuple(self.shape)}) "
                                   f"cannot be expanded to {shape[i + lead]} (target {shape})")
        if shape == self.shape:
            return self
        return _ops.Expand.apply(self, shape=shape)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return self.expand(other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> "Tensor":
        return self.expand(tuple(shape))

    def repeat(self, *sizes: Any) -> "Tensor":
        """Tile the tensor ``sizes[i]`` times along dim i (a copy)."""
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        inter, final = [], []
        for r, s in zip(sizes, x.shape):
            inter += [r, s]
            final.append(r * s)
        x = x.reshape(tuple(v for s in x.shape for v in (1, s)))
        return x.expand(tuple(inter)).reshape(tuple(final))

    def flip(self, dims: Any) -> "Tensor":
        """Reverse the order of elements along ``dims``; it is its own adjoint."""
        return _ops.Flip.apply(self, dims=_normalize_dims(dims, self.ndim, "flip"))

    def pad(self, pad: Sequence[tuple], value: float = 0.0) -> "Tensor":
        """Pad with ``value``: ``pad`` is one (before, after) pair per dim, NumPy order."""
        pad = tuple((int(a), int(b)) for a, b in pad)
        if len(pad) != self.ndim:
            raise ValueError(f"pad: need one (before, after) pair per dim ({self.ndim}), "
                             f"got {len(pad)}")
        if all(a == 0 and b == 0 for a, b in pad):
            return self
        return _ops.Pad.apply(self, pad=pad, value=value)

    def unfold(self, dimension: int, size: int, step: int) -> "Tensor":
        """All windows of ``size`` elements along ``dimension``, ``step`` apart.

        (..., L, ...) -> (..., (L - size)//step + 1, ..., size): the window
        dimension is appended last, exactly as PyTorch's ``Tensor.unfold``.
        """
        d = _normalize_dims(dimension, self.ndim, "unfold")[0]
        return sliding_window(self, (d,), (size,), (step,), (1,))

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        size = -(-self.shape[dim] // chunks)
        return self.split(size, dim)

    def split(self, split_size: Any, dim: int = 0) -> tuple:
        """Pieces along ``dim``: of size ``split_size`` each, or of the listed sizes."""
        d = _normalize_dims(dim, self.ndim, "split")[0]
        n = self.shape[d]
        sizes = ([split_size] * (-(-n // split_size)) if isinstance(split_size, int)
                 else list(split_size))
        out, start = [], 0
        for s in sizes:
            s = min(s, n - start)
            index = (slice(None),) * d + (slice(start, start + s),)
            out.append(self[index])
            start += s
        return tuple(out)

    def unbind(self, dim: int = 0) -> tuple:
        d = _normalize_dims(dim, self.ndim, "unbind")[0]
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def __getitem__(self, index: Any) -> "Tensor":
        """Indexing as NumPy: ints, slices, None, Ellipsis, integer and boolean tensors.

        Adjoint: the gradient is scattered back (summed where an index repeats).
        """
        return _ops.GetItem.apply(self, index=_unwrap_index(index, self))

    def gather(self, dim: int, index: "Tensor") -> "Tensor":
        """out[i][j] = self[i][index[i][j]] for dim=1 (PyTorch's gather)."""
        d = _normalize_dims(dim, self.ndim, "gather")[0]
        if index.device != self.device:
            autograd._device_mismatch("gather", (self, index))
        xp = self.xp
        grids = list(xp.indices(index.shape, sparse=True))
        grids[d] = index.data
        return _ops.GetItem.apply(self, index=tuple(grids))

    # ------------------------------------------------------------ in-place (no graph)
    def _bump(self) -> None:
        vc = self._vc
        if vc is None:
            vc = self._vc = [0, 0]
        STATE.epoch += 1                    # see autograd._State.epoch
        vc[0] += 1
        vc[1] = STATE.epoch

    def _check_inplace(self, where: str) -> None:
        if STATE.enabled and self.requires_grad and self._ctx is None:
            raise RuntimeError(f"{where}: a leaf tensor that requires grad can't be modified "
                               "in place while grad mode is on; wrap the update in "
                               "`with tg.no_grad():`")
        if STATE.enabled and self._ctx is not None:
            raise RuntimeError(f"{where}: in-place ops on a tensor that is part of a graph "
                               "are not supported here; use the out-of-place form")

    def _inplace(self, where: str, fn: str, other: Any) -> "Tensor":
        self._check_inplace(where)
        o = self._operand(other)
        if o.device != self.device:
            autograd._device_mismatch(where, (self, o))
        mine, theirs = self.data.dtype.kind, o.data.dtype.kind
        if mine != "f" and (theirs == "f" or fn == "divide") or mine == "b" and theirs != "b":
            result = "float" if theirs == "f" or fn == "divide" else str(o.dtype)
            raise RuntimeError(f"{where}: result type {result} can't be cast to the desired "
                               f"output type {self.dtype} (an in-place op keeps the tensor's "
                               f"dtype); use the out-of-place form (x = x + y) or convert "
                               f"first (x = x.float())")
        getattr(self.xp, fn)(self.data, o.data, out=self.data, casting="unsafe")
        self._bump()
        return self

    def add_(self, other: Any, alpha: float = 1) -> "Tensor":
        return self._inplace("add_", "add", other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> "Tensor":
        return self._inplace("sub_", "subtract", other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace("mul_", "multiply", other)

    def div_(self, other: Any) -> "Tensor":
        return self._inplace("div_", "divide", other)

    def copy_(self, src: Any) -> "Tensor":
        """Overwrite the values with ``src`` (broadcast), in place."""
        self._check_inplace("copy_")
        o = self._operand(src)
        if o.device != self.device:
            autograd._device_mismatch("copy_", (self, o))
        self.data[...] = o.data
        self._bump()
        return self

    def fill_(self, value: float) -> "Tensor":
        self._check_inplace("fill_")
        self.data.fill(value)
        self._bump()
        return self

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002
        self._check_inplace("clamp_")
        self.xp.clip(self.data, min, max, out=self.data)
        self._bump()
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> "Tensor":
        self._check_inplace("normal_")
        self.data[...] = backend.random_normal(self.shape, self.dtype, self.device) * std + mean
        self._bump()
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> "Tensor":
        self._check_inplace("uniform_")
        self.data[...] = backend.random_uniform(self.shape, self.dtype, self.device, a, b)
        self._bump()
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        o = self._operand(value)
        if o.device != self.device:
            autograd._device_mismatch("__setitem__", (self, o))
        self.data[_unwrap_index(index, self)] = o.data
        self._bump()

    def __iadd__(self, other: Any) -> "Tensor":
        if STATE.enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            return self + other
        return self.add_(other)

    def __isub__(self, other: Any) -> "Tensor":
        if STATE.enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            return self - other
        return self.sub_(other)

    def __imul__(self, other: Any) -> "Tensor":
        if STATE.enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            return self * other
        return self.mul_(other)


def _unwrap_index(index: Any, like: Tensor) -> Any:
    """Replace Tensors inside an index by their arrays (checking their device)."""
    if isinstance(index, Tensor):
        if index.device != like.device:
            autograd._device_mismatch("index", (like, index))
        return index.data
    if isinstance(index, tuple):
        return tuple(_unwrap_index(i, like) for i in index)
    if isinstance(index, list):
        return like.xp.asarray(index)
    return index


# ---------------------------------------------------------------- functions on tensors
def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` is True, else ``y`` (broadcast). No gradient to the condition."""
    ref = x if isinstance(x, Tensor) else y if isinstance(y, Tensor) else condition
    if not isinstance(ref, Tensor):
        raise TypeError("where: at least one argument must be a Tensor")
    cond = condition if isinstance(condition, Tensor) else ref._operand(condition)
    xt = ref._operand(x)
    yt = xt._operand(y) if not isinstance(y, Tensor) else y
    if not isinstance(x, Tensor):
        xt = yt._operand(x)
    if xt.data.dtype is not yt.data.dtype:
        xt, yt = _promote(xt, yt)
    return _ops.Where.apply(cond, xt, yt)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension; adjoint: slice the gradient back."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    ref = tensors[0]
    d = _normalize_dims(dim, ref.ndim, "cat")[0]
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or t.shape[:d] + t.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
            raise RuntimeError(f"cat: tensors[{i}] has shape {tuple(t.shape)}, expected "
                               f"{tuple(ref.shape)} except in dim {d}")
    if len(tensors) == 1:
        return ref
    return _ops.Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dimension: cat of unsqueezed tensors."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack: all tensors must have the same shape; tensors[0] has "
                               f"{tuple(tensors[0].shape)}, tensors[{i}] has {tuple(t.shape)}")
    d = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def sliding_window(x: Tensor, axes: Sequence[int], size: Sequence[int], stride: Sequence[int],
                   dilation: Sequence[int]) -> Tensor:
    """The one window primitive under convolution and pooling.

    For each axis in ``axes`` (length L), take every window of ``size`` taps,
    ``dilation`` apart, starting every ``stride`` elements. The axis becomes
    the window count ``(L - dilation*(size-1) - 1)//stride + 1`` and the taps
    are appended as new trailing dims. A (N, C, H, W) input with axes (2, 3)
    gives (N, C, OH, OW, KH, KW): a strided *view*, no copy. Adjoint: sum
    every window's gradient back onto the taps it read (:class:`ops.WindowFold`).
    """
    axes = tuple(a % x.ndim for a in axes)
    for a, k, s, d in zip(axes, size, stride, dilation):
        span = d * (k - 1) + 1
        if k < 1 or s < 1 or d < 1:
            raise ValueError(f"sliding_window: size, stride and dilation must be >= 1, got "
                             f"size={k}, stride={s}, dilation={d}")
        if span > x.shape[a]:
            raise RuntimeError(f"sliding_window: window of span {span} (size {k}, dilation {d}) "
                               f"is larger than input dim {a} of size {x.shape[a]} "
                               f"(input shape {tuple(x.shape)})")
    return _ops.Window.apply(x, axes=axes, size=tuple(size), stride=tuple(stride),
                             dilation=tuple(dilation))


# ---------------------------------------------------------------- creation
def _device(device: Any) -> str:
    return backend.normalize_device(device) if device is not None else _default_device[0]


def _shape(size: Any) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new leaf tensor from Python data or an array (copies, like ``torch.tensor``).

    >>> tg.tensor([[1., 2.], [3., 4.]]).shape
    (2, 2)
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        data = data.copy()
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _filled(fn: str, size: tuple, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dev = _device(device)
    dt = backend.as_dtype(dtype) or backend.DEFAULT_FLOAT
    t = Tensor._wrap(getattr(backend.array_module(dev), fn)(_shape(size), dtype=dt), dev)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``tg.zeros(2, 3)``."""
    return _filled("zeros", size, dtype, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``tg.ones(2, 3)``."""
    return _filled("ones", size, dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled("zeros", size, dtype, device, requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    dev = _device(device)
    dt = backend.as_dtype(dtype) or (backend.DEFAULT_FLOAT if isinstance(fill_value, float)
                                     else backend.DEFAULT_INT)
    t = Tensor._wrap(backend.array_module(dev).full(tuple(size), fill_value, dtype=dt), dev)
    return t.requires_grad_(True) if requires_grad else t


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: Any = None) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    dev = _device(device)
    dt = backend.as_dtype(dtype) or backend.DEFAULT_FLOAT
    return Tensor._wrap(backend.array_module(dev).eye(n, m, dtype=dt), dev)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None) -> Tensor:
    """Evenly spaced values in [start, end): ``tg.arange(5)`` -> 0, 1, 2, 3, 4 (int64)."""
    if end is None:
        start, end = 0, start
    dev = _device(device)
    if dtype is None:
        dtype = (backend.DEFAULT_INT if all(isinstance(v, int) for v in (start, end, step))
                 else backend.DEFAULT_FLOAT)
    return Tensor._wrap(backend.array_module(dev).arange(start, end, step,
                                                         dtype=backend.as_dtype(dtype)), dev)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             device: Any = None) -> Tensor:
    dev = _device(device)
    dt = backend.as_dtype(dtype) or backend.DEFAULT_FLOAT
    return Tensor._wrap(backend.array_module(dev).linspace(start, end, steps).astype(dt), dev)


def randn(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1) from the seeded generator (see ``tg.manual_seed``)."""
    dev = _device(device)
    dt = backend.as_dtype(dtype) or backend.DEFAULT_FLOAT
    t = Tensor._wrap(backend.random_normal(_shape(size), dt, dev), dev)
    return t.requires_grad_(True) if requires_grad else t


def rand(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1) from the seeded generator."""
    dev = _device(device)
    dt = backend.as_dtype(dtype) or backend.DEFAULT_FLOAT
    t = Tensor._wrap(backend.random_uniform(_shape(size), dt, dev), dev)
    return t.requires_grad_(True) if requires_grad else t


def randint(low: int, high: int | None = None, size: Sequence[int] = (),
            device: Any = None) -> Tensor:
    """Integers in [low, high) (int64)."""
    if high is None:
        low, high = 0, low
    dev = _device(device)
    return Tensor._wrap(backend.random_integers(low, high, tuple(size), dev), dev)


def randperm(n: int, device: Any = None) -> Tensor:
    dev = _device(device)
    return Tensor._wrap(backend.random_permutation(n, dev).astype(backend.int64), dev)


def from_numpy(arr: Any) -> Tensor:
    """Wrap a NumPy array (no copy)."""
    return Tensor(arr)


def manual_seed(seed: int) -> None:
    """Seed every random generator of the library (``randn``, init, dropout, shuffling)."""
    backend.manual_seed(seed)


autograd._make_tensor = Tensor._wrap
autograd._Tensor = Tensor

from tinygrad_edu import ops as _ops  # noqa: E402  (ops needs the Tensor class defined above)

# the arithmetic operators' primitives, bound once (they run for every op of every step)
_add, _sub, _mul, _div = _ops.Add.apply, _ops.Sub.apply, _ops.Mul.apply, _ops.Div.apply


def _promote(a: Tensor, b: Tensor, true_division: bool = False) -> tuple:
    """The operands of a binary elementwise op (arithmetic, maximum, where), cast to a
    common dtype as PyTorch does.

    An integer (or bool) tensor meeting a floating one takes the floating dtype:
    ``int64 * float32 -> float32``, where NumPy would give float64. True division of
    two integer tensors gives the default float, float32 (NumPy: float64). Two
    floating dtypes follow NumPy (float32 with float64 gives float64, as in PyTorch).
    """
    fa, fb = backend.is_floating(a.dtype), backend.is_floating(b.dtype)
    if fa and not fb:
        b = _ops.Cast.apply(b, dtype=a.dtype)
    elif fb and not fa:
        a = _ops.Cast.apply(a, dtype=b.dtype)
    elif true_division and not fa:
        a = _ops.Cast.apply(a, dtype=backend.DEFAULT_FLOAT)
        b = _ops.Cast.apply(b, dtype=backend.DEFAULT_FLOAT)
    return a, b
