"""The Tensor: an array on a device, and the node of the graph that made it.

A tensor holds ``data`` (a NumPy or CuPy array), ``device``, ``requires_grad``, ``grad``
(filled by ``backward``) and ``grad_fn`` (the op that made it; None for a leaf). Its
operators and elementwise methods run the primitives of :mod:`~tinygrad_edu.engine.ops`;
its other methods (``reshape``, ``sum``, ``@``, ``softmax``, ...) are attached in
:mod:`tinygrad_edu.functional.tensor_methods`.

>>> x = tg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
>>> (x @ x.T).tanh().sum().backward()
>>> x.grad.shape
(2, 2)
"""
from __future__ import annotations

import numbers
from typing import Any

from tinygrad_edu.engine import backend, graph, ops
from tinygrad_edu.engine.graph import COUNTERS, MODE

_default_device = ["cpu"]

def set_default_device(device: Any) -> None:
    """Where new tensors go when no device is named (``torch.set_default_device``)."""
    _default_device[0] = backend.normalize_device(device)

def get_default_device() -> str:
    return _default_device[0]

class Tensor:
    """An array with an autograd history. See the module docstring."""
    __slots__ = ("data", "device", "requires_grad", "grad", "_ctx", "name", "_vc",
                 "_retains_grad", "__weakref__")
    __array_priority__ = 1000       # numpy_array * tensor calls Tensor.__rmul__

    def __init__(self, data: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> None:
        dev = None if device is None else backend.normalize_device(device)
        data = data.data if isinstance(data, Tensor) else data
        if backend.is_array(data):
            dev = dev or backend.device_of(data)
            data = backend.to_device(data, dev)
        self.device = dev or _default_device[0]
        self.data = backend.asarray(data, backend.as_dtype(dtype), self.device)
        self.requires_grad, self.grad, self._ctx, self.name = False, None, None, None
        self._vc, self._retains_grad = None, False
        if requires_grad:
            self.requires_grad_(True)

    def _new(self, data: Any) -> Tensor:
        """``data`` (an array on this tensor's device) as a new tensor with no history."""
        t = object.__new__(Tensor)                # (NumPy gives a 0-d result as a scalar)
        t.data = data if data.ndim else backend.module_of(data).asarray(data)
        t.device, t.requires_grad, t.grad, t._ctx = self.device, False, None, None
        t.name, t._vc, t._retains_grad = None, None, False
        return t

    def _versioned(self) -> list:
        """This tensor's version counter [version, stamp], made on first need."""
        if self._vc is None:
            self._vc = [0, 0]
        return self._vc

    shape = property(lambda self: tuple(self.data.shape), doc="The size of each dim.")
    dtype = property(lambda self: self.data.dtype, doc="The element type (float32 by default).")
    ndim = property(lambda self: self.data.ndim)
    grad_fn = property(lambda self: self._ctx, doc="The op that made this tensor (None: a leaf).")
    is_leaf = property(lambda self: self._ctx is None)
    xp = property(lambda self: backend.array_module(self.device), doc="numpy or cupy.")
    _version = property(lambda self: self._vc[0] if self._vc else 0)

    def numpy(self) -> Any:
        """The values as a NumPy array (copied from the GPU if need be)."""
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

    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False,
           copy: bool = False) -> Tensor:
        """``t.to('cuda')``, ``t.to(tg.float64)``, ``t.to(other)``: an explicit copy, and a
        node of the graph (gradients flow back to the original). Trailing bools are PyTorch's
        ``non_blocking`` (copies here always finish first) and ``copy`` (even if the same)."""
        copy = copy or [a for a in args if isinstance(a, bool)][1:2] == [True]
        for a in (a for a in args if not isinstance(a, bool)):   # a tensor, dtype or device
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
                continue
            try:
                dtype = backend.as_dtype(a)
            except TypeError:
                device = a
        dt = backend.as_dtype(dtype) or self.dtype
        dev = self.device if device is None else backend.normalize_device(device)
        if (dt, dev) == (self.dtype, self.device) and not copy:
            return self
        src = self if backend.is_floating(dt) else self.detach()   # integers: no gradient
        return ops.Copy.apply(src, dtype=dt, device=dev)

    def detach(self) -> Tensor:
        """The same values (the same memory), cut from the graph."""
        out = self._new(self.data)
        out._vc = self._versioned()
        return out

    def clone(self) -> Tensor:
        """A copy in memory of its own; gradients flow back to the original."""
        return ops.Copy.apply(self, dtype=self.dtype, device=self.device)

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
        """Add d(self)/d(leaf) into ``leaf.grad`` for every leaf of the graph: the chain rule
        from this tensor back (:func:`graph.run_backward`). The graph is freed after unless
        ``retain_graph``; ``create_graph`` records the backward itself."""
        walk = graph.lane("run_backward", graph.run_backward)   # the fast lane may stand in
        walk([self], [root_grad(self, gradient, 0, "backward")],
             create_graph if retain_graph is None else retain_graph, create_graph)

    def __repr__(self) -> str:
        extra = [] if self.dtype == backend.float32 else [f"dtype={self.dtype}"]
        extra += [] if self.device == "cpu" else [f"device='{self.device}'"]
        extra += ([f"grad_fn=<{self._ctx.name}>"] if self._ctx is not None else
                  ["requires_grad=True"] if self.requires_grad else [])
        return f"tensor({', '.join([backend.array_to_string(self.data, 'tensor(')] + extra)})"

    __hash__ = object.__hash__          # == is elementwise, so hash by identity

    def operand(self, other: Any) -> Tensor:
        """``other`` as a tensor on this device. A Python number is "weak": it takes this
        tensor's dtype (``x32 * 0.5`` stays float32), except a float with an integer
        tensor (float32) and an int with a bool tensor (int64), as in PyTorch."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Real):
            kind, integral = self.dtype.kind, isinstance(other, numbers.Integral)
            dtype = (backend.DEFAULT_FLOAT if kind != "f" and not integral else backend.int64
                     if kind == "b" and not isinstance(other, bool) else self.dtype)
            return self._new(backend.module_of(self.data).asarray(other, dtype=dtype))
        if backend.is_array(other) and backend.device_of(other) != self.device:
            raise RuntimeError(f"expected all tensors on the same device, got a tensor on "
                               f"'{self.device}' and a '{backend.device_of(other)}' array; move "
                               "one explicitly (nothing is copied implicitly)")
        return Tensor(other, device=self.device)

    def __getitem__(self, index: Any) -> Tensor:
        """NumPy's indexing: ints, slices, None, ..., integer or bool tensors. Backward: the
        gradient is put back at the index (added up where an index repeats)."""
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
        """Overwrite the values with ``src`` (broadcast), keeping this tensor's dtype; the
        other in-place ops (``add_``, ...) copy their result in here, named ``where``."""
        o = self.operand(src)
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
        """Hold ``source``'s array (values, dtype, device) from now on, in place: how
        ``Module.to()`` moves a parameter while keeping the same Parameter object."""
        self._inplace("set_")
        self.data, self.device = source.data, source.device
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        o = self.operand(value)
        if o.device != self.device:
            raise graph.device_mismatch("__setitem__", (self, o))
        self._inplace("__setitem__")
        self.data[_index(index, self)] = o.data

def _index(index: Any, like: Tensor) -> Any:
    """An index with its tensors replaced by their arrays (on the same device)."""
    if isinstance(index, tuple):
        return tuple(_index(i, like) for i in index)
    if isinstance(index, Tensor) and index.device != like.device:
        raise graph.device_mismatch("index", (like, index))
    return index.data if isinstance(index, Tensor) else index

def promote(a: Tensor, b: Tensor, true_division: bool = False) -> tuple:
    """PyTorch's dtype rule for the two operands of an elementwise op, written once: an
    integer or bool tensor meeting a floating one takes the floating dtype (int64 * float32
    -> float32, where NumPy would give float64); two floats or two integers take the
    wider; true division of integers gives float32."""
    da, db = a.dtype, b.dtype
    if da == db and not (true_division and da.kind != "f"):
        return a, b
    target = (da if da.kind == "f" and db.kind != "f" else db if db.kind == "f" and da.kind != "f"
              else backend.module_of(a.data).promote_types(da, db))
    target = backend.DEFAULT_FLOAT if true_division and target.kind != "f" else target
    return a.to(target), b.to(target)

def _binary(op: Any, reflected: bool, true_division: bool, negate: bool) -> Any:
    """``self (op) other`` (``other (op) self`` if reflected) after the dtype rule; a - b
    is a + (-b) (``negate``). ``op.apply`` is looked up per call: ``tg.fast`` may swap it."""
    def method(self: Tensor, other: Any) -> Tensor:
        if not isinstance(other, Tensor):
            other = self.operand(other)
        if reflected:
            self, other = other, self
        if self.data.dtype is not other.data.dtype or true_division and \
                self.data.dtype.kind != "f":
            self, other = promote(self, other, true_division)
        return op.apply(self, ops.Neg.apply(other) if negate else other)
    return method

def nondiff(fn: str, *args: Any, **kwargs: Any) -> Tensor:
    """``xp.<fn>`` of the arguments' arrays, as a tensor with no gradient: comparisons,
    logical ops, sign, floor, argmax, ... (flat or not differentiable)."""
    tensors = [t for t in args if isinstance(t, Tensor)]
    if any(t.device != tensors[0].device for t in tensors):
        raise graph.device_mismatch(fn, tensors)
    arrays = [tensors[0].operand(a).data for a in args]
    return tensors[0]._new(backend.module_of(arrays[0]).asarray(
        getattr(tensors[0].xp, fn)(*arrays, **kwargs)))

# The operators: + - * / ** run primitives (a - b is a + (-b)); comparisons and logical
# ops have no gradient; the elementwise methods run one primitive each.
for _name, _op in (("add", ops.Add), ("mul", ops.Mul), ("truediv", ops.Div), ("pow", ops.Pow),
                   ("sub", ops.Add)):
    setattr(Tensor, f"__{_name}__", _binary(_op, False, _name == "truediv", _name == "sub"))
    setattr(Tensor, f"__r{_name}__", _binary(_op, True, _name == "truediv", _name == "sub"))
for _name, _fn in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                   ("gt", "greater"), ("ge", "greater_equal"), ("and", "logical_and"),
                   ("or", "logical_or"), ("xor", "logical_xor")):
    setattr(Tensor, f"__{_name}__", lambda self, other, _fn=_fn: nondiff(_fn, self, other))
for _name, _op in (("__neg__", ops.Neg), ("exp", ops.Exp), ("log", ops.Log), ("tanh", ops.Tanh),
                   ("sigmoid", ops.Sigmoid), ("relu", ops.Relu), ("sin", ops.Sin)):
    setattr(Tensor, _name, lambda self, _op=_op: _op.apply(self))
Tensor.__invert__ = lambda t: nondiff("logical_not" if t.dtype.kind == "b" else "invert", t)

def check(ok: Tensor, message: str, value: Tensor, error: type = IndexError) -> None:
    """Assert the bool tensor ``ok`` everywhere, naming the first bad entry of ``value`` in
    ``message``'s ``{}`` (see :func:`backend.check`: on a GPU, without a sync now)."""
    backend.check(ok.data, message, value.data, error)

def root_grad(out: Tensor, given: Any, i: int, where: str) -> Tensor:
    """The gradient that output ``i`` of a backward starts from: ``given``, or 1 for a
    one-element output."""
    if not out.requires_grad:
        raise RuntimeError(f"{where}: output {i} (shape {out.shape}) does not require grad: it "
                           "was not computed from a tensor with requires_grad=True, or it was "
                           "made under no_grad")
    if given is None and out.data.size != 1:
        raise RuntimeError(f"{where}: grad can be implicitly created only for a scalar "
                           f"output, but output {i} has shape {out.shape}; pass a gradient "
                           "of that shape")
    g = (out._new(out.xp.ones(out.shape, out.dtype)) if given is None else given
         if isinstance(given, Tensor) else Tensor(given, out.dtype, out.device))
    if g.shape != out.shape:
        raise RuntimeError(f"{where}: gradient has shape {g.shape} but output {i} has shape "
                           f"{out.shape}; they must match")
    if g.device != out.device:
        raise RuntimeError(f"{where}: gradient is on '{g.device}' but output {i} is on "
                           f"'{out.device}'")
    return g
