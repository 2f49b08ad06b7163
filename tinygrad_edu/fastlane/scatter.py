"""Scatter-add by sorted rows: :class:`SortedRowsIndexAdd` stands in for ``IndexAdd``.

The gradient of an embedding lookup (or of ``logp[arange(N), target]``) adds many
rows into a table, some rows several times. The reference uses ``np.add.at``, which
is slow per element. When the index is integer arrays for the leading dims, this
version sorts the row numbers, sums the values of equal rows with ``add.reduceat``,
then adds each distinct row once: the same sums, much faster (host arrays only).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.ops import IndexAdd


class SortedRowsIndexAdd(IndexAdd):
    """``IndexAdd`` through :func:`scatter_add_rows` where it applies; same backward."""

    def forward(self, x: Any, shape: tuple, index: Any) -> Any:
        self.index = index
        out = backend.module_of(x).zeros(shape, dtype=x.dtype)
        if scatter_add_rows(out, index if isinstance(index, tuple) else (index,), x):
            return out
        return super().forward(x, shape, index)


def scatter_add_rows(target: Any, index: tuple, values: Any) -> bool:
    """``target[index] += values`` for integer-array ``index`` on the leading dims of a
    host array, summing repeated rows first. False (nothing done) for any other case."""
    k = len(index)
    if backend.device_of(target) != "cpu" or not 0 < k <= target.ndim or not all(
            backend.is_array(a) and a.ndim and a.dtype.kind in "iu" for a in index):
        return False
    xp = backend.module_of(target)
    arrays = xp.broadcast_arrays(*index)
    if values.shape != arrays[0].shape + target.shape[k:]:
        return False
    if arrays[0].size == 0:
        return True
    lead = target.shape[:k]
    flat = xp.ravel_multi_index([a.ravel() % n for a, n in zip(arrays, lead)], lead)
    rows = target.reshape((-1,) + target.shape[k:])
    vals = values.reshape((len(flat),) + target.shape[k:])
    order = xp.argsort(flat, kind="stable")
    sorted_rows = flat[order]
    starts = xp.flatnonzero(xp.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
    rows[sorted_rows[starts]] += xp.add.reduceat(vals[order], starts, axis=0)
    return True
