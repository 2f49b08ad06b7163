"""The one place that knows NumPy from CuPy.

A device string names where a tensor's numbers live:

    'cpu'  -> NumPy arrays in host memory
    'cuda' -> CuPy arrays in GPU memory ('cuda:0' is accepted and means the same)

Every other module reaches arrays through :func:`array_module` (usually via
``tensor.xp``), so the same op code runs on both devices. CuPy is optional: it
is imported the first time someone asks for the 'cuda' device, never at
package import, and :func:`cuda_is_available` answers ``False`` quietly where
CuPy is missing or no GPU answers.

Nothing is ever copied between host and device implicitly: :func:`to_host`
(``Tensor.numpy()``) and :func:`to_device` (``Tensor.to()``) are the only
transfers.
"""
from __future__ import annotations

import types
from typing import Any

import numpy as np

# ---------------------------------------------------------------- dtypes
# Dtypes are NumPy dtype objects (CuPy uses the same ones).
float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32
DEFAULT_INT = int64

_DTYPE_NAMES = {
    "float16": float16, "half": float16, "float32": float32, "float": float32,
    "float64": float64, "double": float64, "int8": int8, "int16": int16,
    "int32": int32, "int": int32, "int64": int64, "long": int64, "uint8": uint8,
    "bool": bool_,
}


def as_dtype(dtype: Any) -> np.dtype:
    """Turn a dtype-like (``tg.float32``, ``'float64'``, ``float``, ``int``) into a dtype."""
    if dtype is None:
        return None
    if dtype is float:
        return DEFAULT_FLOAT
    if dtype is int:
        return DEFAULT_INT
    if dtype is bool:
        return bool_
    if isinstance(dtype, str):
        if dtype not in _DTYPE_NAMES:
            raise TypeError(f"dtype: unknown dtype name {dtype!r}; expected one of "
                            f"{sorted(_DTYPE_NAMES)}")
        return _DTYPE_NAMES[dtype]
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: cannot interpret {dtype!r} as a dtype") from None


def is_floating(dtype: np.dtype) -> bool:
    """True for float16/32/64."""
    return dtype.kind == "f"


def result_type(a: np.dtype, b: np.dtype) -> np.dtype:
    """Type promotion between two tensor dtypes (NumPy's rules)."""
    return np.result_type(a, b)


def constant_like(value: float, like: Any) -> Any:
    """``value`` in ``like``'s dtype, to combine with ``like`` in an elementwise op.

    For a NumPy array it is a read-only 0-d array: NumPy takes that operand on its
    fastest path (a NumPy scalar costs ~1.5x and a Python float ~2x as much per small
    ufunc call). Anything else (a CuPy array, a Tensor) gets a scalar of its dtype.
    """
    if type(like) is np.ndarray:
        k = np.array(value, dtype=like.dtype)
        k.flags.writeable = False
        return k
    return like.dtype.type(value)


# ---------------------------------------------------------------- host memory
def tune_host_allocator(trim_threshold: int = 256 * 2**20) -> bool:
    """Let glibc reuse freed memory for NumPy's large arrays (measured: LeNet-5 step 2x faster).

    By default glibc serves every allocation above 128 KiB-32 MiB (adaptive) with a fresh
    ``mmap`` and hands it back to the OS on free, so a training step that allocates the
    same activations every iteration page-faults through all of them each time. Raising
    the mmap and trim thresholds keeps freed blocks in the heap for the next step, which
    is what PyTorch's caching allocator achieves. Returns True if the setting took effect
    (Linux with glibc); elsewhere it does nothing.
    """
    try:
        import ctypes  # noqa: PLC0415 - only needed here
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4              # from glibc's malloc.h
        return bool(libc.mallopt(m_mmap_max, 0)            # large blocks from the heap too
                    and libc.mallopt(m_trim_threshold, trim_threshold))
    except (OSError, AttributeError):
        return False


tune_host_allocator()


# ---------------------------------------------------------------- devices
_cuda_module: Any = None        # CuPy (or a test stand-in) once loaded
_cuda_checked = False


def normalize_device(device: Any) -> str:
    """'cpu', 'cuda', 'cuda:0' or an object with ``.type`` -> 'cpu' or 'cuda'."""
    if device is None:
        return "cpu"
    dev = str(getattr(device, "type", device))
    if dev == "cpu":
        return "cpu"
    if dev == "cuda" or dev.startswith("cuda:"):
        return "cuda"
    raise ValueError(f"device: expected 'cpu' or 'cuda', got {device!r}")


def is_device_like(obj: Any) -> bool:
    """True for 'cpu', 'cuda', 'cuda:N' or a device object with a string ``.type``."""
    if isinstance(obj, str):
        return obj == "cpu" or obj == "cuda" or obj.startswith("cuda:")
    return isinstance(getattr(obj, "type", None), str) and not isinstance(obj, np.dtype)


def _load_cuda() -> Any:
    global _cuda_module, _cuda_checked
    if not _cuda_checked:
        _cuda_checked = True
        try:
            import cupy  # noqa: PLC0415 - optional, imported on first use only
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cuda_module = cupy
        except Exception:  # no CuPy, no driver, no GPU: CUDA is simply unavailable
            _cuda_module = None
    return _cuda_module


def cuda_is_available() -> bool:
    """True when CuPy imports and at least one GPU answers. Never raises, never prints."""
    return _load_cuda() is not None


def set_cuda_module(module: Any) -> Any:
    """Install an array module for the 'cuda' device (tests use a CuPy stand-in).

    Returns the previous module so a test can restore it. Pass ``None`` to
    forget and re-detect CuPy on next use.
    """
    global _cuda_module, _cuda_checked
    previous = _cuda_module
    _cuda_module = module
    _cuda_checked = module is not None
    return previous


def array_module(device: str) -> Any:
    """The array module (``xp``) for a device: numpy for 'cpu', cupy for 'cuda'."""
    if device == "cpu":
        return np
    xp = _load_cuda()
    if xp is None:
        raise RuntimeError("device 'cuda' requested but CUDA is not available "
                           "(CuPy is not installed or no GPU was found); "
                           "install the 'gpu' extra on a machine with a GPU, or use 'cpu'")
    return xp


def device_of_array(arr: Any) -> str:
    """'cpu' for a NumPy array or scalar, 'cuda' for a CuPy (device) array."""
    if isinstance(arr, (np.ndarray, np.generic)):
        return "cpu"
    if _cuda_module is not None and isinstance(arr, _cuda_module.ndarray):
        return "cuda"
    raise TypeError(f"expected a NumPy or CuPy array, got {type(arr).__name__}")


def module_of(arr: Any) -> Any:
    """The array module that owns ``arr`` (numpy for host arrays and scalars, else cupy)."""
    if type(arr) is np.ndarray:             # the common case first: twice as fast as isinstance
        return np
    if isinstance(arr, (np.ndarray, np.generic)):
        return np
    if _cuda_module is not None and isinstance(arr, _cuda_module.ndarray):
        return _cuda_module
    raise TypeError(f"expected a NumPy or CuPy array, got {type(arr).__name__}")


def is_array(obj: Any) -> bool:
    """True for a NumPy or (loaded) CuPy ndarray."""
    if isinstance(obj, np.ndarray):
        return True
    return _cuda_module is not None and isinstance(obj, _cuda_module.ndarray)


def asarray(data: Any, dtype: Any = None, device: str = "cpu") -> Any:
    """Make an array on ``device`` from Python data or an array of the same device."""
    xp = array_module(device)
    if device == "cuda" and isinstance(data, np.ndarray):
        # host -> device is explicit here: only tensor creation and .to() reach it
        return xp.asarray(data, dtype=dtype)
    arr = xp.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype.kind == "f" and arr.dtype != float32 and not is_array(data):
        arr = arr.astype(DEFAULT_FLOAT)   # Python floats become float32, as in PyTorch
    return arr


def array_to_string(arr: Any, prefix: str = "") -> str:
    """The values as NumPy prints them (an explicit device -> host copy for a GPU array)."""
    return np.array2string(to_host(arr), separator=", ", prefix=prefix)


def to_host(arr: Any) -> np.ndarray:
    """The explicit device -> host copy (``Tensor.numpy()``)."""
    if isinstance(arr, np.ndarray):
        return arr
    if isinstance(arr, np.generic):
        return np.asarray(arr)
    return arr.get()


def to_device(arr: Any, device: str) -> Any:
    """The explicit copy of an array to ``device`` (a no-op if it is already there)."""
    src = device_of_array(arr)
    if src == device:
        return arr
    if device == "cpu":
        return to_host(arr)
    return array_module(device).asarray(arr)


def as_strided(xp: Any, arr: Any, shape: tuple, strides: tuple) -> Any:
    """A strided view (read-only use only): the sliding-window primitive builds on it."""
    return xp.lib.stride_tricks.as_strided(arr, shape=shape, strides=strides)


def _scatter_add_rows(target: np.ndarray, index: tuple, values: np.ndarray) -> bool:
    """NumPy fast path of scatter_add when ``index`` is integer arrays for the leading dims
    (an embedding lookup, ``logp[arange(N), target]``): sort the row numbers, sum the
    values of equal rows with ``add.reduceat``, then add each distinct row once. Much
    faster than ``np.add.at``. Returns False when the index has another form."""
    k = len(index)
    if k == 0 or k > target.ndim or not all(
            isinstance(a, np.ndarray) and a.dtype.kind in "iu" for a in index):
        return False
    lead = target.shape[:k]
    arrays = np.broadcast_arrays(*index)
    if values.shape != arrays[0].shape + target.shape[k:]:
        return False
    if arrays[0].size == 0:
        return True                                           # nothing to add
    flat = np.ravel_multi_index([a.ravel() % n for a, n in zip(arrays, lead)], lead)
    rows = target.reshape((-1,) + target.shape[k:])          # a view: target is contiguous
    vals = values.reshape((len(flat),) + target.shape[k:])
    order = np.argsort(flat, kind="stable")
    sorted_rows = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
    rows[sorted_rows[starts]] += np.add.reduceat(vals[order], starts, axis=0)
    return True


def scatter_add(xp: Any, target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` where repeated indices accumulate (np.add.at)."""
    if xp is np and target.flags.c_contiguous and _scatter_add_rows(
            target, index if isinstance(index, tuple) else (index,), values):
        return
    if getattr(xp, "__name__", "") == "cupy":
        import cupyx  # noqa: PLC0415 - only reached with CuPy loaded
        cupyx.scatter_add(target, index, values)
    else:   # NumPy, or a stand-in array module (tests) that provides ufunc.at
        xp.add.at(target, index, values)


# ---------------------------------------------------------------- random numbers
_generators: dict[str, Any] = {}


def manual_seed(seed: int) -> None:
    """Seed the random generator of every device (like ``torch.manual_seed``)."""
    _generators["cpu"] = np.random.default_rng(seed)
    if _cuda_module is not None:
        _generators["cuda"] = _cuda_module.random.RandomState(seed)


def generator(device: str) -> Any:
    """The seeded generator for ``device`` (created with seed 0 if never seeded)."""
    gen = _generators.get(device)
    if gen is None:
        if device == "cpu":
            gen = np.random.default_rng(0)
        else:
            gen = array_module(device).random.RandomState(0)
        _generators[device] = gen
    return gen


def random_normal(shape: tuple, dtype: np.dtype, device: str) -> Any:
    """Standard normal samples."""
    gen = generator(device)
    if device == "cpu":
        return gen.standard_normal(shape, dtype=np.float64).astype(dtype, copy=False)
    return gen.standard_normal(shape, dtype=dtype)


def random_uniform(shape: tuple, dtype: np.dtype, device: str, low: float = 0.0,
                   high: float = 1.0) -> Any:
    """Uniform samples in [low, high)."""
    gen = generator(device)
    if device == "cpu" and dtype in (float32, float64):   # draw in the target dtype directly
        out = gen.random(shape, dtype=dtype)
        if low != 0.0 or high != 1.0:
            out *= dtype.type(high - low)
            out += dtype.type(low)
        return out
    return gen.uniform(low, high, shape).astype(dtype, copy=False)


def random_integers(low: int, high: int, shape: tuple, device: str) -> Any:
    """Integers in [low, high) as int64."""
    gen = generator(device)
    if device == "cpu":
        return gen.integers(low, high, shape, dtype=np.int64)
    return gen.randint(low, high, shape).astype(int64)


def random_permutation(n: int, device: str = "cpu") -> Any:
    """A random permutation of range(n)."""
    gen = generator(device)
    return gen.permutation(n)


def is_host_module(xp: Any) -> bool:
    """True when ``xp`` is NumPy (used to pick host-only fast paths)."""
    return xp is np


numpy_module: types.ModuleType = np   # for data readers that build arrays on the host


# ---------------------------------------------------------------- checkpoint files (.npz)
_NPZ_KINDS = "biufc"    # bool, signed/unsigned int, float, complex: plain numbers only


def save_npz(path: Any, arrays: dict) -> None:
    """Write ``{name: host array}`` as an uncompressed .npz archive, atomically.

    The archive is written to ``path + '.tmp-<pid>'`` in the same folder,
    flushed and fsync'ed, then renamed over ``path`` (``os.replace``): a crash
    leaves either the old file or the new one, never half a file. Arrays are
    written with ``allow_pickle=False``, so object arrays are refused.
    """
    import contextlib  # noqa: PLC0415 - only checkpoint code needs these
    import os  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    path = os.fspath(path)
    host = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype.kind not in _NPZ_KINDS:
            raise TypeError(f"save: array {name!r} has dtype {a.dtype}; a checkpoint holds "
                            "only numeric and bool arrays")
        host[name] = a
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as zf:
                for name, a in host.items():
                    with zf.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, a, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):      # make the rename itself durable (POSIX)
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def load_npz(path: Any) -> dict:
    """Read a .npz archive into ``{name: NumPy array}`` with ``allow_pickle=False``.

    Nothing in the file is ever executed. A pickle, a truncated or corrupt
    archive, an entry that is not a .npy array, or an object array gives a
    ValueError naming the file (and the entry).
    """
    import os  # noqa: PLC0415
    import zipfile  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    path = os.fspath(path)
    with open(path, "rb") as f:          # FileNotFoundError speaks for itself
        head = f.read(8)
    if not head.startswith(b"PK"):
        if head[:1] == b"\x80":
            what = "it holds a Python pickle, which could run code when loaded; refused"
        elif head.startswith(b"\x93NUMPY"):
            what = "it is a single .npy array, not an .npz archive"
        elif not head:
            what = "the file is empty"
        else:
            what = "it is not a zip archive"
        raise ValueError(f"load: {path!r} is not an .npz checkpoint: {what}")
    out = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                try:
                    arr = archive[name]
                except ValueError as e:
                    if "pickle" in str(e) or "Object arrays" in str(e):
                        raise ValueError(f"load: {path!r}: entry {name!r} holds Python objects "
                                         "(pickled data), which could run code when loaded; "
                                         "refused: a checkpoint holds plain numeric arrays") \
                            from None
                    raise ValueError(f"load: {path!r}: entry {name!r} is corrupt ({e})") from e
                if not isinstance(arr, np.ndarray):
                    raise ValueError(f"load: {path!r}: entry {name!r} is not a NumPy array "
                                     "(is this a torch .pt file or another zip archive?); "
                                     "refused")
                if arr.dtype.kind not in _NPZ_KINDS:
                    raise ValueError(f"load: {path!r}: entry {name!r} has dtype {arr.dtype}; "
                                     "only numeric and bool arrays are accepted")
                out[name] = arr
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
        raise ValueError(f"load: {path!r} is truncated or corrupt, not a readable .npz "
                         f"archive ({type(e).__name__}: {e})") from e
    return out
