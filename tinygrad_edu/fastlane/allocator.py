"""Host memory for training: glibc keeps freed blocks for the next step.

By default glibc serves every allocation above 128 KiB - 32 MiB (adaptive) with a
fresh ``mmap`` and returns it to the operating system on free, so a training step
that allocates the same activations every iteration page-faults through them each
time. Raising the mmap and trim thresholds keeps freed blocks in the heap, which is
what PyTorch's caching allocator achieves for itself.

This changes the whole process and, once applied, stays for the rest of it: it
happens only on the first ``Optimizer.step()`` with the fast lane on, never at import
and never with the lane off. PyTorch allocates its CPU tensors from the same glibc
heap, so in a process where PyTorch is loaded the tuning is skipped: nothing we set
may change PyTorch's allocator (a PyTorch imported only after the tuning would share
the tuned heap; ``tools/bench.py`` runs PyTorch in a process of its own).
"""
from __future__ import annotations

import ctypes
import sys

_done: list = []


def tune_host_allocator(trim_threshold: int = 256 * 2**20) -> bool:
    """Keep freed memory in glibc's heap (Linux with glibc, PyTorch not loaded; elsewhere
    nothing). Once per process; returns whether the setting is in effect."""
    if not _done and "torch" in sys.modules:
        _done.append(False)                     # PyTorch's allocator is not ours to change
    if not _done:
        try:
            libc = ctypes.CDLL("libc.so.6")
            m_trim_threshold, m_mmap_max = -1, -4              # from glibc's malloc.h
            ok = bool(libc.mallopt(m_mmap_max, 0) and libc.mallopt(m_trim_threshold,
                                                                  trim_threshold))
        except (OSError, AttributeError):
            ok = False
        _done.append(ok)
    return _done[0]
