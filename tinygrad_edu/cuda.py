"""``tg.cuda``: is a GPU usable here? (CuPy is optional and loaded on first use.)

>>> tg.cuda.is_available()     # False on a machine without CuPy or a GPU, quietly
False
"""
from __future__ import annotations

from tinygrad_edu.engine import backend


def is_available() -> bool:
    """True when CuPy imports and a GPU answers; never raises, never prints."""
    return backend.cuda_is_available()


def synchronize() -> None:
    """Wait for all queued GPU work to finish (needed before reading a timer)."""
    if is_available():
        backend.array_module("cuda").cuda.Device().synchronize()


def empty_cache() -> None:
    """Give CuPy's cached (freed) device memory back to the driver."""
    if is_available():
        backend.array_module("cuda").get_default_memory_pool().free_all_blocks()


def get_device_name() -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    xp = backend.array_module("cuda")
    props = xp.cuda.runtime.getDeviceProperties(xp.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def memory_allocated() -> int:
    """Bytes of device memory currently held by live CuPy arrays."""
    if not is_available():
        return 0
    return int(backend.array_module("cuda").get_default_memory_pool().used_bytes())
