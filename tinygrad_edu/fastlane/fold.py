"""Fast col2im: :class:`FoldPaths` stands in for the primitive ``WindowFold``.

The reference adds the (N, C, OH, OW) slab of every tap (u, v) into zeros, one strided
add per tap. That is right for every geometry, but NumPy pays per row it touches, and
a conv's rows are short (OW floats). Three geometries have a cheaper route to the
same sums:

* **one window** that spans the whole trailing block (LeNet's C5): the fold is a reshape;
* **windows that never overlap** (2x2 pooling with stride 2): every cell is read at most
  once, so each slab is written rather than added, into ``empty`` where the windows
  tile the input exactly;
* **stride 1 along the rows**: :func:`fold_rows_first` sums the KH row taps on whole
  flattened planes first (long contiguous rows), then adds the result into the output
  columns, a few images at a time so the scratch stays in the cache.

``tests/test_fast_lane.py`` checks each route against the reference fold (values,
first and second derivatives) on the geometries that select it.
"""
from __future__ import annotations

import itertools
from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.ops import WindowFold, window_counts

SCRATCH_BYTES = 512 * 1024      # fold_rows_first's scratch rows should stay in the L2 cache


class FoldPaths(WindowFold):
    """``WindowFold`` with the three faster routes above; same sums, same backward."""

    def forward(self, g: Any, shape: tuple, axes: tuple, size: tuple, stride: tuple,
                dilation: tuple) -> Any:
        self.geometry = (axes, size, stride, dilation)
        xp = backend.module_of(g)
        counts = window_counts(shape, axes, size, stride, dilation)
        nd = len(shape)
        disjoint = all(n == 1 or s >= d * (k - 1) + 1
                       for k, s, d, n in zip(size, stride, dilation, counts))
        tiled = disjoint and all((n == 1 or s == k) and d == 1 and n * k == shape[a]
                                 for a, n, k, s, d in zip(axes, counts, size, stride, dilation))
        trailing = tuple(axes) == tuple(range(nd - len(axes), nd))
        if tiled and trailing and all(n == 1 for n in counts):
            return g.reshape(shape)                      # one window: the whole trailing block
        if not disjoint and len(axes) == 2 and tuple(axes) == (nd - 2, nd - 1) and stride[0] == 1:
            return fold_rows_first(g, shape, size, counts, stride[1], dilation)
        out = xp.empty(shape, dtype=g.dtype) if tiled else xp.zeros(shape, dtype=g.dtype)
        for taps in itertools.product(*[range(k) for k in size]):
            index = [slice(None)] * nd
            for a, t, n, s, d in zip(axes, taps, counts, stride, dilation):
                index[a] = slice(t * d, t * d + s * (n - 1) + 1, s)
            if disjoint:
                out[tuple(index)] = g[(Ellipsis,) + taps]
            else:
                out[tuple(index)] += g[(Ellipsis,) + taps]
        return out


def fold_rows_first(g: Any, shape: tuple, size: tuple, counts: list, stride_w: int,
                    dilation: tuple) -> Any:
    """WindowFold over the last two axes (H, W) when the row stride is 1, in two passes.

    With row stride 1, row tap u only shifts the (OH·OW) plane down by u·dH rows, so for
    each column tap v the KH row taps are summed into S (..., H, OW) on whole flattened
    planes (long, contiguous); then S is added into the output columns v·dW, v·dW + sW,
    ... Same sums as the reference, with about KH times fewer short rows.
    """
    xp = backend.module_of(g)
    (kh, kw), (oh, ow), (dh, dw) = size, counts, dilation
    if len(shape) == 2:                                   # no leading axis to split
        return fold_rows_first(g[None], (1,) + tuple(shape), size, counts, stride_w,
                               dilation)[0]
    h, plane = shape[-2], oh * ow
    out = xp.empty(shape, dtype=g.dtype)
    per_item = h * ow * g.dtype.itemsize
    for d in shape[1:-2]:
        per_item *= d
    step = max(1, SCRATCH_BYTES // max(per_item, 1))      # a few leading items at a time
    for i in range(0, shape[0], step):
        gi, oi = g[i:i + step], out[i:i + step]
        lead = oi.shape[:-2]
        s = xp.empty(lead + (h * ow,), dtype=g.dtype)     # (..., H·OW)
        for v in range(kw):
            s[..., :plane] = gi[..., 0, v].reshape(lead + (plane,))        # tap u = 0
            s[..., plane:] = 0
            for u in range(1, kh):                                          # tap u: u·dH down
                s[..., u * dh * ow:u * dh * ow + plane] += gi[..., u, v].reshape(lead + (plane,))
            rows = s.reshape(lead + (h, ow))
            if v == 0 and stride_w == 1:                  # columns 0..OW-1: write, zero the rest
                oi[..., :ow] = rows
                oi[..., ow:] = 0
                continue
            if v == 0:
                oi[...] = 0
            oi[..., v * dw:v * dw + stride_w * (ow - 1) + 1:stride_w] += rows
    return out
