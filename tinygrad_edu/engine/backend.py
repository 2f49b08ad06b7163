"""The backend: the one place that knows NumPy from CuPy.

A device is 'cpu' (NumPy arrays in host memory) or 'cuda' (CuPy arrays on the GPU;
'cuda:0' means the same). Every other file reaches arrays through here: each op asks its
inputs for their array module ``xp`` (``module_of``), so the same code runs on both.
CuPy is imported the first time 'cuda' is asked for. Nothing moves between devices
implicitly: ``to_host`` and ``to_device`` are the only transfers.
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

# ---------------------------------------------------------------- dtypes (NumPy's objects)
float16, float32, float64 = np.dtype("float16"), np.dtype("float32"), np.dtype("float64")
int8, int16, int32 = np.dtype("int8"), np.dtype("int16"), np.dtype("int32")
int64, uint8, bool_ = np.dtype("int64"), np.dtype("uint8"), np.dtype("bool")
DEFAULT_FLOAT, DEFAULT_INT = float32, int64
_NAMES = {"float16": float16, "half": float16, "float32": float32, "float": float32,
          "float64": float64, "double": float64, "int8": int8, "int16": int16, "int32": int32,
          "int": int32, "int64": int64, "long": int64, "uint8": uint8, "bool": bool_}

def as_dtype(dtype: Any) -> Any:
    """``tg.float32``, ``'float64'``, ``float``, ``int``, ``bool`` -> a dtype (None stays)."""
    if dtype is None or isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return dtype
    if dtype is float or dtype is int or dtype is bool:
        return {float: DEFAULT_FLOAT, int: DEFAULT_INT, bool: bool_}[dtype]
    if isinstance(dtype, str) and dtype not in _NAMES:
        raise TypeError(f"dtype: unknown dtype name {dtype!r}; expected one of {sorted(_NAMES)}")
    try:
        dt = _NAMES[dtype] if isinstance(dtype, str) else np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: cannot interpret {dtype!r} as a dtype") from None
    if dt.kind not in "biuf":
        raise TypeError(f"dtype: tensors hold numbers (bool, int, float), not {dt}")
    return dt

def is_floating(dtype: Any) -> bool:
    """True for float16/32/64: only those carry gradients."""
    return dtype.kind == "f"

# ---------------------------------------------------------------- devices
_cuda: Any = None           # CuPy (or a test stand-in) once loaded
_cuda_checked = False

def normalize_device(device: Any) -> str:
    """'cpu', 'cuda', 'cuda:0' or an object with ``.type`` -> 'cpu' or 'cuda'."""
    dev = "cpu" if device is None else str(getattr(device, "type", device))
    if dev in ("cpu", "cuda") or dev.startswith("cuda:"):
        return dev[:4]
    raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")

def cuda_is_available() -> bool:
    """True when CuPy imports and a GPU answers. Never raises, never prints."""
    global _cuda, _cuda_checked
    if not _cuda_checked:
        _cuda_checked = True
        try:
            import cupy  # noqa: PLC0415 - optional: loaded on first use only
            _cuda = cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
        except Exception:  # no CuPy, no driver, no GPU: CUDA is simply unavailable
            _cuda = None
    return _cuda is not None

def array_module(device: str) -> Any:
    """The array module ``xp`` of a device: numpy for 'cpu', cupy for 'cuda'."""
    if device == "cpu":
        return np
    if not cuda_is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available (CuPy is not "
                           "installed or no GPU was found); install the 'gpu' extra on a "
                           "machine with a GPU, or use 'cpu'")
    return _cuda

def is_array(obj: Any) -> bool:
    """True for a NumPy array or scalar, or a (loaded) CuPy array."""
    return type(obj) is np.ndarray or isinstance(obj, (np.ndarray, np.generic)) or (
        _cuda is not None and isinstance(obj, _cuda.ndarray))

def module_of(arr: Any) -> Any:
    """The array module that owns ``arr``."""
    return np if isinstance(arr, (np.ndarray, np.generic)) else _cuda

def device_of(arr: Any) -> str:
    return "cpu" if isinstance(arr, (np.ndarray, np.generic)) else "cuda"

def asarray(data: Any, dtype: Any, device: str) -> Any:
    """An array on ``device`` from Python data or an array already there. Python floats
    become float32 (PyTorch's default), ints int64; anything but numbers is refused."""
    arr = array_module(device).asarray(data, dtype=dtype)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: expected numbers (bool, int or float), got {arr.dtype} "
                        f"from {type(data).__name__}")
    return arr.astype(DEFAULT_FLOAT) if dtype is None and arr.dtype == float64 and not \
        is_array(data) else arr

def to_host(arr: Any) -> Any:
    """The explicit device -> host copy (``Tensor.numpy()``); a host array is returned as is.
    A GPU input check still pending (:func:`check`) is reported first."""
    if isinstance(arr, (np.ndarray, np.generic)):
        return np.asarray(arr)
    for message, (ok, value, error) in list(_pending.items()):
        del _pending[message]
        if not ok.get():
            raise error(message.format(value.get()))
    return arr.get()

_pending: dict = {}     # message -> (all ok so far, first bad value, error): GPU checks

def check(ok: Any, message: str, value: Any, error: type = IndexError) -> None:
    """Assert that the bool array ``ok`` is all true, else ``error(message)`` naming the
    first bad entry of ``value``: at once on the host; on a GPU at the next transfer to
    the host, without waiting for the device now (PyTorch's device-side asserts)."""
    first_bad = value.ravel()[module_of(ok).argmin(ok.ravel())] if ok.size else value
    if module_of(ok) is np:
        if not ok.all():
            raise error(message.format(first_bad))
        return
    prev = _pending.get(message)
    good = ok.all() if prev is None else prev[0] & ok.all()
    _pending[message] = good, first_bad if prev is None else module_of(ok).where(
        prev[0], first_bad, prev[1]), error

def erf(arr: Any) -> Any:
    """The error function, elementwise (NumPy has none: each element goes to math.erf)."""
    if module_of(arr) is np:
        return np.vectorize(math.erf, otypes=[arr.dtype])(arr) if arr.size else arr.copy()
    import cupyx.scipy.special  # noqa: PLC0415 - only reached with CuPy loaded
    return cupyx.scipy.special.erf(arr)

def to_device(arr: Any, device: str) -> Any:
    """The explicit copy of an array to ``device`` (none if it is already there)."""
    if device_of(arr) == device:
        return arr
    return to_host(arr) if device == "cpu" else array_module(device).asarray(arr)

def array_to_string(arr: Any, prefix: str) -> str:
    return np.array2string(to_host(arr), separator=", ", prefix=prefix)

def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where a repeated index adds every time (``np.add.at``)."""
    if module_of(target) is not np and getattr(module_of(target), "__name__", "") == "cupy":
        import cupyx  # noqa: PLC0415 - only reached with CuPy loaded
        cupyx.scatter_add(target, index, values)
    else:
        module_of(target).add.at(target, index, values)

# ---------------------------------------------------------------- host arrays and files
def host_array(data: Any, dtype: Any = None) -> Any:
    """A NumPy array in host memory (index lists, the bytes of a file)."""
    return np.asarray(data, dtype=dtype)

def host_generator(seed: int) -> Any:
    """A random generator of its own, in host memory (a data loader's shuffling)."""
    return np.random.default_rng(seed)

def write_array(f: Any, arr: Any) -> None:
    """Write one host array to a binary file object in NumPy's .npy format (no pickles)."""
    np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)

def read_array(data: bytes) -> Any:
    """Read one .npy array from bytes; Python objects (pickles) are refused (ValueError)."""
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)

# ---------------------------------------------------------------- random numbers
_generators: dict = {}
_seed = [0]

def manual_seed(seed: int) -> None:
    """Seed the random generator of every device (``torch.manual_seed``)."""
    _seed[0] = seed
    _generators.clear()

def _generator(device: str) -> Any:
    if device not in _generators:
        xp = array_module(device)
        _generators[device] = (np.random.default_rng(_seed[0]) if xp is np else
                               xp.random.RandomState(_seed[0]))
    return _generators[device]

def random_normal(shape: tuple, dtype: Any, device: str) -> Any:
    return _generator(device).standard_normal(shape).astype(dtype, copy=False)

def random_uniform(shape: tuple, dtype: Any, device: str) -> Any:
    """U[0, 1), drawn in the target float dtype on the CPU."""
    gen = _generator(device)
    if device == "cpu" and dtype in (float32, float64):
        return gen.random(shape, dtype=dtype)
    return gen.uniform(0.0, 1.0, shape).astype(dtype, copy=False)

def random_integers(low: int, high: int, shape: tuple, device: str) -> Any:
    gen = _generator(device)
    return (gen.integers if device == "cpu" else gen.randint)(low, high, shape).astype(int64)

def random_permutation(n: int, device: str) -> Any:
    return _generator(device).permutation(n).astype(int64, copy=False)
