"""A stand-in for CuPy, so the 'cuda' code path runs on a machine without a GPU.

``FakeDeviceArray`` wraps a NumPy array and behaves like a CuPy array in the ways that
catch backend bugs:

* ``np.asarray(device_array)`` (an implicit device -> host conversion) raises
  ``TypeError`` with CuPy's message; ``.get()`` is the explicit copy to the host;
* an operator or module function that mixes a host ``numpy.ndarray`` into a device op
  raises ``TypeError`` (CuPy: ``Unsupported type <class 'numpy.ndarray'>``);
* NumPy functions applied to a device array (``np.exp(device_array)``) raise as well,
  so engine code must use the tensor's array module (``t.xp``), never ``numpy``.

Install it as the backend's 'cuda' module (the ``fake_cuda`` fixture in conftest.py) and restore
the previous module afterwards (see the ``fake_cuda`` fixture in test_fake_cupy.py).
"""
from __future__ import annotations

import operator
import types
from typing import Any, Callable

import numpy as np

IMPLICIT_MSG = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                "construct a NumPy array explicitly.")


def _host_mixed(what: str) -> TypeError:
    return TypeError(f"Unsupported type <class 'numpy.ndarray'> in {what}: a host array was "
                     "mixed into a device operation")


def _unwrap(obj: Any, what: str) -> Any:
    """Device arrays -> their NumPy payload; a raw host ndarray is an error (as in CuPy)."""
    if isinstance(obj, FakeDeviceArray):
        return obj._a
    if isinstance(obj, np.ndarray):
        raise _host_mixed(what)
    if isinstance(obj, tuple):
        return tuple(_unwrap(o, what) for o in obj)
    if isinstance(obj, list):
        return [_unwrap(o, what) for o in obj]
    return obj


def _wrap(obj: Any) -> Any:
    """NumPy results -> device arrays (CuPy reductions give 0-d arrays, not scalars)."""
    if isinstance(obj, np.ndarray):
        return FakeDeviceArray(obj)
    if isinstance(obj, np.generic):
        return FakeDeviceArray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


def _device_fn(fn: Callable, name: str) -> Callable:
    def call(*args: Any, **kwargs: Any) -> Any:
        return _wrap(fn(*_unwrap(args, name), **{k: _unwrap(v, name)
                                                   for k, v in kwargs.items()}))
    call.__name__ = name
    return call


class FakeDeviceArray:
    """A 'GPU' array: a NumPy array that refuses to mix with host arrays."""

    __array_ufunc__ = None      # numpy_array + device_array -> our __radd__ -> TypeError

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    # explicit transfer, and the implicit one CuPy forbids
    def get(self) -> np.ndarray:
        return self._a.copy()

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(IMPLICIT_MSG)

    def __array_function__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(IMPLICIT_MSG)

    # attributes and methods forward to NumPy, unwrapping and wrapping
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):    # no __array_interface__ & co: NumPy must not see inside
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            return _device_fn(attr, f"ndarray.{name}")
        return _wrap(attr)

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self._a[_wrap_indices(_unwrap(index, "indexing"), self._a.shape)])

    def __setitem__(self, index: Any, value: Any) -> None:
        self._a[_unwrap(index, "indexing")] = _unwrap(value, "assignment")

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        return (_wrap(v) for v in self._a)

    def __repr__(self) -> str:
        return f"FakeDeviceArray({self._a!r})"

    def __bool__(self) -> bool:
        return bool(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __neg__(self) -> "FakeDeviceArray":
        return _wrap(-self._a)

    def __pos__(self) -> "FakeDeviceArray":
        return self

    def __abs__(self) -> "FakeDeviceArray":
        return _wrap(abs(self._a))

    def __invert__(self) -> "FakeDeviceArray":
        return _wrap(~self._a)

    __hash__ = None  # type: ignore[assignment]


def _binary(op: Callable, name: str, reflected: bool = False) -> Callable:
    def method(self: FakeDeviceArray, other: Any) -> Any:
        o = _unwrap(other, f"operator {name}")
        return _wrap(op(o, self._a) if reflected else op(self._a, o))
    method.__name__ = name
    return method


def _inplace(op: Callable, name: str) -> Callable:
    def method(self: FakeDeviceArray, other: Any) -> FakeDeviceArray:
        op(self._a, _unwrap(other, f"operator {name}"))
        return self
    method.__name__ = name
    return method


for _name, _op in [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                   ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                   ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor)]:
    setattr(FakeDeviceArray, f"__{_name}__", _binary(_op, f"__{_name}__"))
    setattr(FakeDeviceArray, f"__r{_name}__", _binary(_op, f"__r{_name}__", reflected=True))
for _name, _op in [("add", operator.iadd), ("sub", operator.isub), ("mul", operator.imul),
                   ("truediv", operator.itruediv)]:
    setattr(FakeDeviceArray, f"__i{_name}__", _inplace(_op, f"__i{_name}__"))
for _name, _op in [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                   ("le", operator.le), ("gt", operator.gt), ("ge", operator.ge)]:
    setattr(FakeDeviceArray, f"__{_name}__", _binary(_op, f"__{_name}__"))


class _FakeUfunc:
    """A ufunc: callable, plus ``.at`` (CuPy >= 13 has ``cupy.add.at``)."""

    def __init__(self, uf: np.ufunc) -> None:
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _device_fn(self._uf, self.__name__)(*args, **kwargs)

    def at(self, target: FakeDeviceArray, index: Any, values: Any) -> None:
        self._uf.at(_unwrap(target, "ufunc.at"), _unwrap(index, "ufunc.at"),
                    _unwrap(values, "ufunc.at"))

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _device_fn(self._uf.reduce, self.__name__ + ".reduce")(*args, **kwargs)


class _FakeRandomState:
    """cupy.random.RandomState: draws land on the device."""

    def __init__(self, seed: int = 0) -> None:
        self._rs = np.random.RandomState(seed)

    def standard_normal(self, size: Any = None, dtype: Any = float) -> FakeDeviceArray:
        return FakeDeviceArray(np.asarray(self._rs.standard_normal(size)).astype(dtype))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None,
                dtype: Any = float) -> FakeDeviceArray:
        return FakeDeviceArray(np.asarray(self._rs.uniform(low, high, size)).astype(dtype))

    def randint(self, low: int, high: int | None = None, size: Any = None,
                dtype: Any = int) -> FakeDeviceArray:
        return FakeDeviceArray(np.asarray(self._rs.randint(low, high, size)).astype(dtype))

    def permutation(self, n: Any) -> FakeDeviceArray:
        return FakeDeviceArray(self._rs.permutation(_unwrap(n, "permutation")))

    def rand(self, *size: int) -> FakeDeviceArray:
        return FakeDeviceArray(np.asarray(self._rs.rand(*size)))


def _asarray(a: Any, dtype: Any = None, order: Any = None) -> FakeDeviceArray:
    """cupy.asarray: the one explicit host -> device copy (host ndarrays are allowed here)."""
    if isinstance(a, FakeDeviceArray):
        return a if dtype is None or a._a.dtype == dtype else FakeDeviceArray(a._a.astype(dtype))
    return FakeDeviceArray(np.array(a, dtype=dtype, order=order or "K", copy=True))


# what the engine may use from the array module; everything else is absent on purpose so
# that a new dependency shows up as an AttributeError in test_fake_cupy.py
_FUNCTIONS = [
    "zeros", "ones", "empty", "full", "eye", "arange", "linspace", "zeros_like", "ones_like",
    "full_like", "empty_like", "exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "sqrt",
    "abs", "sign", "maximum", "minimum", "where", "concatenate", "stack", "pad", "flip",
    "broadcast_to", "expand_dims", "squeeze", "reshape", "transpose", "moveaxis", "swapaxes",
    "sum", "mean", "max", "min", "prod", "argmax", "argmin", "any", "all", "clip", "matmul",
    "dot", "einsum", "tensordot", "isnan", "isinf", "isfinite", "logical_not", "logical_and",
    "logical_or", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "result_type", "indices", "unravel_index", "ravel_multi_index", "nonzero", "count_nonzero",
    "array_equal", "allclose", "cumsum", "sort", "argsort", "take", "take_along_axis",
    "ascontiguousarray", "copy", "tile", "repeat", "diag", "tril", "triu", "outer", "floor",
    "ceil", "round", "square", "power", "bincount", "unique", "split", "array_split",
    "multiply", "divide", "subtract", "negative", "true_divide", "nan_to_num", "trunc",
    "floor_divide", "remainder", "logical_xor", "invert",
]
_UFUNCS = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "exp", "log",
           "reciprocal",
           "tanh", "sqrt", "abs", "negative", "equal", "not_equal", "less", "less_equal",
           "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "sign",
           "sin", "cos", "power", "square", "true_divide", "isnan", "isfinite", "isinf",
           "logical_xor", "invert", "floor_divide", "remainder"]


def _wrap_indices(index: Any, shape: tuple) -> Any:
    """Integer-array indices taken modulo the axis size, as CuPy reads them (it does not
    check bounds: index 10 of 10 rows reads row 0, -11 reads row 9), so a missing bounds
    check shows up here as a wrong answer, as it would on a GPU."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is None or p is Ellipsis for p in parts):
        return index
    parts = tuple(p % shape[i] if isinstance(p, np.ndarray) and p.dtype.kind in "iu"
                  and shape[i] else p for i, p in enumerate(parts))
    return parts if isinstance(index, tuple) else parts[0]


def special_module() -> types.ModuleType:
    """A fake ``cupyx.scipy.special`` with ``erf`` (what the backend imports from it)."""
    import math  # noqa: PLC0415
    m = types.ModuleType("fake_cupyx_special")
    m.erf = _device_fn(lambda a: np.vectorize(math.erf, otypes=[a.dtype])(a), "erf")
    return m


def module() -> types.ModuleType:
    """A fresh fake ``cupy`` module namespace."""
    m = types.ModuleType("fake_cupy")
    for name in _FUNCTIONS:
        setattr(m, name, _device_fn(getattr(np, name), name))
    for name in _UFUNCS:
        setattr(m, name, _FakeUfunc(getattr(np, name)))
    m.ndarray = FakeDeviceArray
    m.asarray = _asarray
    m.array = _asarray
    m.asnumpy = lambda a: a.get() if isinstance(a, FakeDeviceArray) else np.asarray(a)
    for dt in ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
               "bool_", "newaxis", "pi", "inf", "nan", "dtype", "integer", "floating"]:
        setattr(m, dt, getattr(np, dt))
    m.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(
        as_strided=_device_fn(np.lib.stride_tricks.as_strided, "as_strided")))
    m.random = types.SimpleNamespace(RandomState=_FakeRandomState)
    return m
