"""New tensors: zeros, ones, random numbers, ranges (``torch``'s creation functions).

Each returns a leaf on ``device`` (the default device if None), of ``dtype``
(float32 if None, int64 for integer ranges), made through the backend.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence

import operator

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor, get_default_device

__all__ = ["tensor", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
           "full_like", "rand_like", "randn_like", "eye", "arange", "linspace", "randn", "rand",
           "randint", "randperm", "from_numpy", "manual_seed"]


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data`` (like ``torch.tensor``).

    >>> tg.tensor([[1., 2.], [3., 4.]]).shape
    (2, 2)
    """
    data = data.detach().data if isinstance(data, Tensor) else data
    return Tensor(data.copy() if backend.is_array(data) else data, dtype, device, requires_grad)


def sizes(size: Sequence[Any], where: str) -> tuple:
    """``(2, 3)``, ``((2, 3),)`` or ``([2, 3],)`` -> (2, 3); a size that is not an int is
    refused (``zeros((2, 3.5))`` is an error, not a (2, 3) tensor)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        out = tuple(operator.index(s) for s in size)
    except TypeError:
        raise TypeError(f"{where}: sizes must be ints, got {tuple(size)!r}") from None
    if any(s < 0 for s in out):
        raise ValueError(f"{where}: sizes must be non-negative, got {out}")
    return out


def _device(device: Any) -> str:
    return get_default_device() if device is None else backend.normalize_device(device)


def _leaf(arr: Any, device: str, requires_grad: bool) -> Tensor:
    t = Tensor(arr, device=device)
    return t.requires_grad_() if requires_grad else t


def full(size: Sequence[int], fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (its dtype follows the value:
    float32 for a float, int64 for an int, bool for a bool)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = backend.as_dtype(dtype) or (backend.bool_ if isinstance(fill_value, bool) else
                                     backend.int64 if isinstance(fill_value, numbers.Integral)
                                     else backend.DEFAULT_FLOAT)
    dev = _device(device)
    data = backend.array_module(dev).full(sizes((size,), "full"), fill_value, dtype=dt)
    return _leaf(data, dev, requires_grad)


def _filled(value: float, size: tuple, dtype: Any, device: Any, requires_grad: bool,
            where: str) -> Tensor:
    dev = _device(device)
    arr = backend.array_module(dev).full(sizes(size, where), value,
                                         dtype=backend.as_dtype(dtype) or backend.DEFAULT_FLOAT)
    return _leaf(arr, dev, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``."""
    return _filled(0, size, dtype, device, requires_grad, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _filled(1, size, dtype, device, requires_grad, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor whose values are not meant to be read (here: zeros)."""
    return _filled(0, size, dtype, device, requires_grad, "empty")


def _like(t: Tensor, dtype: Any, device: Any) -> dict:
    return {"dtype": dtype or t.dtype, "device": t.device if device is None else device}


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return ones(t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def empty_like(t: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return empty(t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, **_like(t, dtype, device), requires_grad=requires_grad)


def rand_like(t: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return rand(t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def randn_like(t: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return randn(t.shape, **_like(t, dtype, device), requires_grad=requires_grad)


def randint_like(t: Tensor, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers in [low, high) with t's shape: ``randint_like(t, high)`` or
    ``randint_like(t, low, high)``; the dtype is t's unless given."""
    return randint(*args, t.shape, **_like(t, dtype, device))


def randn(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1) from the seeded generator (see :func:`manual_seed`)."""
    dev = _device(device)
    arr = backend.random_normal(sizes(size, "randn"), backend.as_dtype(dtype) or
                                backend.DEFAULT_FLOAT, dev)
    return _leaf(arr, dev, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1) from the seeded generator."""
    dev = _device(device)
    arr = backend.random_uniform(sizes(size, "rand"), backend.as_dtype(dtype) or
                                 backend.DEFAULT_FLOAT, dev)
    return _leaf(arr, dev, requires_grad)


def randint(*args: Any, size: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        args, size = args[:-1], args[-1]
    if len(args) not in (1, 2) or size is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size), "
                        f"got arguments {args} and size={size!r}")
    low, high = (0, args[0]) if len(args) == 1 else args
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dev = _device(device)
    t = Tensor(backend.random_integers(low, high, sizes((size,), "randint"), dev), device=dev)
    return t if dtype is None else t.to(dtype)


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    """A random order of 0, 1, ..., n-1 (int64)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    dev = _device(device)
    t = Tensor(backend.random_permutation(int(n), dev), device=dev)
    return t if dtype is None else t.to(dtype)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to (not including) end: ``tg.arange(3)`` is 0, 1, 2 (int64)."""
    start, end = (0, start) if end is None else (start, end)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = backend.as_dtype(dtype) or (backend.DEFAULT_INT if ints else backend.DEFAULT_FLOAT)
    dev = _device(device)
    return _leaf(backend.array_module(dev).arange(start, end, step, dtype=dt), dev,
                 requires_grad)


def linspace(start: Any, end: Any, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    start, end = (float(v.item() if isinstance(v, Tensor) else v) for v in (start, end))
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    i = arange(steps, dtype=backend.float64, device=device)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = (i * step + start).to(dtype or backend.DEFAULT_FLOAT).detach()
    if steps > 1:
        values[-1] = end
    return values.requires_grad_() if requires_grad else values


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (ones on the diagonal)."""
    rows = arange(n, device=device).reshape(n, 1)
    out = (rows == arange(n if m is None else m, device=device)).to(dtype or
                                                                   backend.DEFAULT_FLOAT)
    return out.requires_grad_() if requires_grad else out


def from_numpy(arr: Any) -> Tensor:
    """A tensor sharing the memory of a NumPy array (no copy)."""
    if not backend.is_array(arr):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(arr).__name__}")
    return Tensor(arr)


def manual_seed(seed: int) -> None:
    """Seed every random generator of the library (randn, init, dropout, shuffling)."""
    backend.manual_seed(seed)
