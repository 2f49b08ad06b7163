"""The Tensor: an array on a device, and the node of the graph that made it.

A tensor holds ``data`` (a NumPy or CuPy array), ``device``, ``requires_grad``,
``grad`` (filled by ``backward``) and ``grad_fn`` (the op that made it; None for a
leaf such as an input or a parameter). Every method that computes something runs
a primitive of :mod:`~tinygrad_edu.engine.ops`, which knows its derivative.
Methods built from other methods (``mean``, ``softmax``, ``norm``, ...) live in
:mod:`tinygrad_edu.functional`, which attaches them to this class.

>>> x = tg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
>>> (x @ x.T).tanh().sum().backward()
>>> x.grad.shape
(2, 2)
"""
from __future__ import annotations

import numbers
import operator
from typing import Any, Sequence

from tinygrad_edu.engine import backend, graph, ops
from tinygrad_edu.engine.graph import COUNTERS, MODE

_default_device = ["cpu"]


def set_default_device(device: Any) -> None:
    """Where new tensors go when no device is named (``torch.set_default_device``)."""
    _default_device[0] = backend.normalize_device(device)


def get_default_device() -> str:
    return _default_device[0]


def normalize_dims(dim: Any, ndim: int, where: str) -> tuple:
    """``dim`` (None, an int or a tuple; negative counts from the end) as a tuple of dims.

    A 0-d tensor accepts dim 0 and -1, meaning no dim at all, as in PyTorch.
    """
    if dim is None:
        return tuple(range(ndim))
    out = []
    for d in (dim,) if not isinstance(dim, (tuple, list)) else dim:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral):
            raise TypeError(f"{where}: dim must be an int or a tuple of ints, got {d!r}")
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{where}: dim {d} is out of range for a tensor with {ndim} dims "
                             f"(expected {-max(ndim, 1)} <= dim < {max(ndim, 1)})")
        if ndim:
            out.append(int(d) % ndim)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{where}: dim {dim} names a dim more than once")
    return tuple(out)


def sizes(size: Sequence[Any], where: str) -> tuple:
    """``(2, 3)``, ``((2, 3),)`` or ``([2, 3],)`` -> (2, 3); a size that is not an int is refused."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        out = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"{where}: sizes must be ints, got {tuple(size)!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{where}: sizes must be non-negative, got {out}")
    return out


class Tensor:
    """An array with an autograd history. See the module docstring."""
    __slots__ = ("data", "device", "requires_grad", "grad", "_ctx", "name", "_vc",
                 "_retains_grad", "__weakref__")
    __array_priority__ = 1000       # numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> None:
        dev = None if device is None else backend.normalize_device(device)
        if isinstance(data, Tensor):
            data = data.data
        if backend.is_array(data):
            dev = dev or backend.device_of(data)
            data = backend.to_device(data, dev)
        self.data = backend.asarray(data, backend.as_dtype(dtype), dev or _default_device[0])
        self.device = dev or _default_device[0]
        self.requires_grad, self.grad, self._ctx, self.name = False, None, None, None
        self._vc, self._retains_grad = None, False
        if requires_grad:
            self.requires_grad_(True)

    def _new(self, data: Any) -> Tensor:
        """``data`` (an array on this tensor's device) as a new tensor with no history."""
        t = object.__new__(Tensor)
        t.data, t.device, t.requires_grad, t.grad, t._ctx, t.name = data, self.device, \
            False, None, None, None
        t._vc, t._retains_grad = None, False
        return t

    def _versioned(self) -> list:
        """This tensor's version counter [version, stamp], made on first need."""
        if self._vc is None:
            self._vc = [0, 0]
        return self._vc

    # ------------------------------------------------------------ what it is
    shape = property(lambda self: tuple(self.data.shape), doc="The size of each dim.")
    dtype = property(lambda self: self.data.dtype, doc="The element type (float32 by default).")
    ndim = property(lambda self: self.data.ndim, doc="The number of dims.")
    grad_fn = property(lambda self: self._ctx, doc="The op that made this tensor (None: a leaf).")
    is_leaf = property(lambda self: self._ctx is None, doc="Not made by a recorded op.")
    xp = property(lambda self: backend.array_module(self.device), doc="numpy or cupy.")
    _version = property(lambda self: self._vc[0] if self._vc else 0)

    # ------------------------------------------------------------ leaving the graph
    def numpy(self) -> Any:
        """The values as a NumPy array (copied from the GPU if need be). No graph."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; "
                               "use tensor.detach().numpy()")
        return backend.to_host(self.data)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {self.shape}")
        return backend.to_host(self.data).reshape(()).item()

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Tensor:
        """``t.to('cuda')``, ``t.to(tg.float64)``, ``t.to(other)``: an explicit copy, which
        is a node of the graph (gradients flow back to the original)."""
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif backend.is_device_like(a):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and backend.as_dtype(dtype) != self.dtype:
            dt = backend.as_dtype(dtype)                 # an integer result has no gradient
            out = ops.Cast.apply(out if backend.is_floating(dt) else out.detach(), dtype=dt)
        if device is not None and backend.normalize_device(device) != self.device:
            out = ops.ToDevice.apply(out, backend.normalize_device(device))
        return out

    def detach(self) -> Tensor:
        """The same values (the same memory), cut from the graph."""
        out = self._new(self.data)
        out._vc = self._versioned()
        return out

    def clone(self) -> Tensor:
        """A copy in memory of its own; gradients flow back to the original."""
        return ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        """This tensor if its elements lie in row-major order, else a row-major copy."""
        return self if self.data.flags.c_contiguous else self.clone()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as needing gradients (in place)."""
        if requires_grad and not backend.is_floating(self.dtype):
            raise RuntimeError(f"requires_grad_: only floating-point tensors can require "
                               f"gradients, this one has dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: can't turn off requires_grad of a non-leaf "
                               "tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf after backward (leaves always keep theirs)."""
        self._retains_grad = True
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Add d(self)/d(leaf) into ``leaf.grad`` for every leaf of the graph (the chain rule,
        from this tensor back; see :func:`graph.run_backward`). The graph is freed after,
        unless ``retain_graph``; ``create_graph`` records the backward itself."""
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph)

    # ------------------------------------------------------------ printing
    def __repr__(self) -> str:
        extra = [] if self.dtype == backend.float32 else [f"dtype={self.dtype}"]
        extra += [] if self.device == "cpu" else [f"device='{self.device}'"]
        extra += ([f"grad_fn=<{self._ctx.name}>"] if self._ctx is not None else
                  ["requires_grad=True"] if self.requires_grad else [])
        return f"tensor({', '.join([backend.array_to_string(self.data, 'tensor(')] + extra)})"

    __hash__ = object.__hash__          # == is elementwise, so hash by identity

    # ------------------------------------------------------------ arithmetic
    def _operand(self, other: Any) -> Tensor:
        """``other`` as a tensor on this device. A Python number is "weak": it takes this
        tensor's dtype (``x32 * 0.5`` stays float32), except a float with an integer
        tensor (float32) and an int with a bool tensor (int64), as in PyTorch."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Real):
            kind = self.dtype.kind
            dtype = (backend.DEFAULT_FLOAT if kind != "f" and not isinstance(other, numbers.Integral)
                     else backend.int64 if kind == "b" and not isinstance(other, bool)
                     else self.dtype)
            return self._new(backend.module_of(self.data).asarray(other, dtype=dtype))
        if backend.is_array(other) and backend.device_of(other) != self.device:
            raise RuntimeError(f"expected all tensors on the same device, got a tensor on "
                               f"'{self.device}' and a '{backend.device_of(other)}' array; move "
                               "one explicitly (nothing is copied implicitly)")
        return Tensor(other, device=self.device)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        """(..., n, k) @ (..., k, m) -> (..., n, m); a 1-D left operand is a row and a 1-D
        right operand a column, whose dim is dropped again (NumPy's and PyTorch's rule)."""
        a, b = _promote(self, self._operand(other))
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError(f"matmul: both arguments need at least 1 dim, got shapes "
                               f"{a.shape} and {b.shape}")
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        if a2.shape[-1] != b2.shape[-2]:
            raise RuntimeError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                               f"({a2.shape[-1]} != {b2.shape[-2]})")
        out = ops.MatMul.apply(a2, b2)
        if a.ndim == 1 or b.ndim == 1:
            out = out.reshape(out.shape[:-2] + out.shape[-2:-1] * (a.ndim > 1)
                              + out.shape[-1:] * (b.ndim > 1))
        return out

    matmul = __matmul__

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._operand(other) @ self

    # ------------------------------------------------------------ the primitives, as methods
    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max; a tie splits the gradient in half."""
        return ops.Maximum.apply(*_promote(self, self._operand(other)))

    def sum(self, dim: Any = None, keepdim: bool = False, dtype: Any = None, *,
            axis: Any = None, keepdims: bool | None = None) -> Tensor:
        """Σ over ``dim`` (every dim if None). NumPy's ``axis``/``keepdims`` also work."""
        dim = axis if dim is None else dim
        keepdim = keepdims if keepdims is not None else keepdim
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind == "b":
            x = x.to(backend.int64)                # summing bools counts them
        return ops.Sum.apply(x, dims=normalize_dims(dim, self.ndim, "sum"), keepdim=keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Max over ``dim``; tied maxima share the gradient evenly."""
        return ops.Max.apply(self, dims=normalize_dims(dim, self.ndim, "amax"), keepdim=keepdim)

    def reshape(self, *shape: Any) -> Tensor:
        """Same elements, new shape; one size may be -1 (whatever is left)."""
        shape = tuple(operator.index(s) for s in _shape_args(shape))
        if shape == self.shape:
            return self
        n, known = int(self.data.size), 1
        for s in shape:
            known *= s if s != -1 else 1
        if shape.count(-1) == 1 and known and n % known == 0:
            shape, known = tuple(n // known if s == -1 else s for s in shape), n
        if known != n or any(s < 0 for s in shape):
            raise RuntimeError(f"reshape: shape {shape} is invalid for input of size {n} "
                               f"(shape {self.shape})")
        return ops.Reshape.apply(self, shape=shape)

    def permute(self, *order: Any) -> Tensor:
        """Reorder the dims: ``x.permute(2, 0, 1)``; backward: the inverse permutation."""
        order = normalize_dims(_shape_args(order), self.ndim, "permute")
        if len(order) != self.ndim:
            raise RuntimeError(f"permute: {order} is not an order of the dims "
                               f"{tuple(range(self.ndim))}")
        return self if order == tuple(range(self.ndim)) else ops.Permute.apply(self, dims=order)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast size-1 dims to a larger shape (-1 keeps a size) without copying."""
        shape = _shape_args(shape)
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s
                      for i, s in enumerate(shape))
        if lead < 0 or any(s != 1 and s != shape[i + lead] for i, s in enumerate(self.shape)):
            raise RuntimeError(f"expand: shape {self.shape} cannot be expanded to {shape}")
        return self if shape == self.shape else ops.Expand.apply(self, shape=shape)

    def pad(self, pad: Sequence[tuple], value: float = 0.0) -> Tensor:
        """Pad with ``value``: one (before, after) pair per dim, both >= 0."""
        pad = tuple((operator.index(a), operator.index(b)) for a, b in pad)
        if len(pad) != self.ndim or any(a < 0 or b < 0 for a, b in pad):
            raise ValueError(f"pad: need one (before, after) pair of non-negative ints per "
                             f"dim ({self.ndim}), got {pad}")
        return self if not any(a or b for a, b in pad) else ops.Pad.apply(self, pad=pad,
                                                                            value=value)

    def flip(self, dims: Any) -> Tensor:
        """Reverse the order of elements along the dims (its own adjoint)."""
        return ops.Flip.apply(self, dims=normalize_dims(dims, self.ndim, "flip"))

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy's indexing: ints, slices, None, ..., and integer or bool tensors. Backward:
        the gradient is put back at the index (added up where an index repeats)."""
        return ops.GetItem.apply(self, index=_index(index, self))

    # ------------------------------------------------------------ in place (no graph)
    def _inplace(self, where: str) -> None:
        """Refuse an in-place change the graph can't follow; then bump the version."""
        if MODE.enabled and self._ctx is not None:
            raise RuntimeError(f"{where}: in-place ops on a tensor that is part of a graph "
                               "are not supported here; use the out-of-place form")
        if MODE.enabled and self.requires_grad:
            raise RuntimeError(f"{where}: a leaf tensor that requires grad can't be modified "
                               "in place while grad mode is on; wrap the update in "
                               "`with tg.no_grad():`")
        vc = self._versioned()
        COUNTERS.epoch += 1
        vc[0], vc[1] = vc[0] + 1, COUNTERS.epoch

    def copy_(self, src: Any, where: str = "copy_") -> Tensor:
        """Overwrite the values with ``src`` (broadcast), keeping this tensor's dtype.
        (``add_`` and the other in-place ops copy their result in here, naming themselves
        as ``where`` in errors.)"""
        o = self._operand(src)
        if o.device != self.device:
            raise graph.device_mismatch(where, (self, o))
        if self.dtype.kind in "iub" and o.dtype.kind == "f" or self.dtype.kind == "b" != \
                o.dtype.kind:
            raise RuntimeError(f"{where}: result type {o.dtype} can't be cast to the desired "
                               f"output type {self.dtype} (an in-place op keeps the tensor's "
                               "dtype); use the out-of-place form (x = x + y) or convert first "
                               "(x = x.float())")
        self._inplace(where)
        self.data[...] = o.data
        return self

    def set_(self, source: Tensor) -> Tensor:
        """Hold ``source``'s array (its values, dtype and device) from now on, in place:
        how ``Module.to()`` moves a parameter while keeping the same Parameter object."""
        self._inplace("set_")
        self.data, self.device = source.data, source.device
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        o = self._operand(value)
        if o.device != self.device:
            raise graph.device_mismatch("__setitem__", (self, o))
        self._inplace("__setitem__")
        self.data[_index(index, self)] = o.data


def _shape_args(args: tuple) -> tuple:
    """``f(2, 3)`` or ``f((2, 3))`` -> (2, 3)."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _index(index: Any, like: Tensor) -> Any:
    """An index with its tensors replaced by their arrays (on the same device)."""
    if isinstance(index, tuple):
        return tuple(_index(i, like) for i in index)
    if isinstance(index, list):
        index = Tensor(index, device=like.device)
    if isinstance(index, Tensor):
        if index.device != like.device:
            raise graph.device_mismatch("index", (like, index))
        if index.dtype.kind not in "iub":
            raise IndexError(f"index: tensors used as indices must be integer or bool, got "
                             f"{index.dtype}")
        return index.data
    return index


def _promote(a: Tensor, b: Tensor, true_division: bool = False) -> tuple:
    """PyTorch's dtype rule for the two operands of an elementwise op, written once.

    An integer or bool tensor meeting a floating one takes the floating dtype
    (int64 * float32 -> float32, where NumPy would give float64); two floats or two
    integers take the wider; true division of integers gives float32.
    """
    da, db = a.dtype, b.dtype
    if da == db and not (true_division and da.kind != "f"):
        return a, b
    target = (da if da.kind == "f" and db.kind != "f" else db if db.kind == "f" and da.kind != "f"
              else backend.promote_types(da, db))
    if true_division and target.kind != "f":
        target = backend.DEFAULT_FLOAT
    return a.to(target), b.to(target)


def _binary(op: type, reflected: bool) -> Any:
    true_division = op is ops.Div

    def method(self: Tensor, other: Any) -> Tensor:
        other = self._operand(other)
        a, b = (other, self) if reflected else (self, other)
        if a.data.dtype is not b.data.dtype or true_division and a.data.dtype.kind != "f":
            a, b = _promote(a, b, true_division)
        return op.apply(a, b)
    method.__doc__ = f"Elementwise {op.name}, broadcasting: the primitive {op.__name__}."
    return method


def nondiff(fn: str, *tensors: Any, **kwargs: Any) -> Tensor:
    """``xp.<fn>`` of the tensors' arrays, as a tensor with no gradient: comparisons,
    logical ops, sign, floor, argmax, argsort ... (flat or not differentiable)."""
    first = next(t for t in tensors if isinstance(t, Tensor))
    arrays = [first._operand(t).data for t in tensors]
    if any(t.device != first.device for t in tensors if isinstance(t, Tensor)):
        raise graph.device_mismatch(fn, [t for t in tensors if isinstance(t, Tensor)])
    return first._new(backend.module_of(arrays[0]).asarray(getattr(first.xp, fn)(*arrays,
                                                                                  **kwargs)))


for _name, _op in (("add", ops.Add), ("sub", ops.Sub), ("mul", ops.Mul), ("truediv", ops.Div),
                   ("pow", ops.Pow)):
    setattr(Tensor, f"__{_name}__", _binary(_op, reflected=False))
    setattr(Tensor, f"__r{_name}__", _binary(_op, reflected=True))
for _name, _fn in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                   ("gt", "greater"), ("ge", "greater_equal"), ("and", "logical_and"),
                   ("or", "logical_or"), ("xor", "logical_xor")):
    setattr(Tensor, f"__{_name}__", lambda self, other, _fn=_fn: nondiff(_fn, self, other))
Tensor.__invert__ = lambda self: nondiff("logical_not" if self.dtype.kind == "b" else "invert",
                                         self)


# ---------------------------------------------------------------- functions on tensors
def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (broadcast). No gradient to the condition."""
    ref = next((t for t in (x, y, condition) if isinstance(t, Tensor)), None)
    if ref is None:
        raise TypeError("where: at least one argument must be a Tensor")
    xt = ref._operand(x) if isinstance(x, Tensor) or not isinstance(y, Tensor) else y._operand(x)
    yt = xt._operand(y)
    return ops.Where.apply(ref._operand(condition), *_promote(xt, yt))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; backward: each gets its slice of the gradient."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    d = normalize_dims(dim, tensors[0].ndim, "cat")[0]
    rest = lambda t: t.shape[:d] + t.shape[d + 1:]  # noqa: E731
    for i, t in enumerate(tensors):
        if t.ndim != tensors[0].ndim or rest(t) != rest(tensors[0]):
            raise RuntimeError(f"cat: tensors[{i}] has shape {t.shape}, expected "
                               f"{tensors[0].shape} except in dim {d}")
    return tensors[0] if len(tensors) == 1 else ops.Cat.apply(*tensors, dim=d)


def sliding_window(x: Tensor, axes: Sequence[int], size: Sequence[int], stride: Sequence[int],
                   dilation: Sequence[int]) -> Tensor:
    """The one window primitive under convolution and pooling (see :class:`ops.Window`).

    Each axis in ``axes`` becomes the count of windows along it, and each window's
    ``size`` taps become a new trailing dim: (N, C, H, W), axes (2, 3) -> (N, C, OH, OW,
    KH, KW), a strided view. Backward: fold each window's gradient back (col2im).
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


# ---------------------------------------------------------------- new tensors
def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (like ``torch.tensor``)."""
    data = data.data if isinstance(data, Tensor) else data
    return Tensor(data.copy() if backend.is_array(data) else data, dtype, device, requires_grad)


# ---------------------------------------------------------------- backward, as functions
def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Add d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    outs = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    graph.run_backward(outs, _root_grads(outs, grad_tensors, "backward"),
                       create_graph if retain_graph is None else retain_graph, create_graph)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated
    (``torch.autograd.grad``). With ``create_graph=True`` they can be differentiated again:

    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dy,) = tg.grad(x ** 3, [x], create_graph=True)    # 3x² = 27
    >>> (d2y,) = tg.grad(dy, [x])                           # 6x = 18

    An input the outputs do not depend on raises, unless ``allow_unused``; then its
    gradient is zeros (PyTorch gives None: here the result is always a tensor).
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] must be a Tensor, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) does not require grad")
    found = graph.run_backward(outs, _root_grads(outs, grad_outputs, "grad"),
                               create_graph if retain_graph is None else retain_graph,
                               create_graph, inputs=ins)
    for i, t in enumerate(ins):
        if id(t) not in found and not allow_unused:
            raise RuntimeError(f"grad: inputs[{i}] (shape {t.shape}) was not used to compute "
                               "the outputs; pass allow_unused=True to get zeros for it")
    return tuple(found[id(t)] if id(t) in found else t._new(t.xp.zeros(t.shape, t.dtype))
                 for t in ins)


def _root_grads(outs: list, given: Any, where: str) -> list:
    """The gradient each output starts with: 1 for a scalar, else the one given."""
    given = list(given) if isinstance(given, (list, tuple)) else [given]
    result = []
    for i, out in enumerate(outs):
        if not out.requires_grad:
            raise RuntimeError(f"{where}: output {i} (shape {out.shape}) does not require grad: "
                               "it was not computed from a tensor with requires_grad=True, or "
                               "it was made under no_grad")
        g = given[i] if i < len(given) else None
        if g is None and out.data.size != 1:
            raise RuntimeError(f"{where}: grad can be implicitly created only for a scalar "
                               f"output, but output {i} has shape {out.shape}; pass a gradient "
                               "of that shape")
        if g is None:
            g = out._new(out.xp.ones(out.shape, out.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor(g, dtype=out.dtype, device=out.device)
        if g.shape != out.shape:
            raise RuntimeError(f"{where}: gradient has shape {g.shape} but output {i} has shape "
                               f"{out.shape}; they must match")
        if g.device != out.device:
            raise RuntimeError(f"{where}: gradient is on '{g.device}' but output {i} is on "
                               f"'{out.device}'")
        result.append(g)
    return result
