"""Pooling as a composite: sliding windows, then a reduction over each window.

Every pooling op here is the same three steps on the sliding-window primitive:

1. ``pad``             (N, C, H, W) -> (N, C, H', W')     (-inf for max, 0 for sums)
2. ``sliding_window``  -> (N, C, OH, OW, KH, KW)          a strided view, no copy
3. a reduction over the two window dims (KH, KW):
   max (``max_pool``), mean (``avg_pool``), (Σ xᵖ)^(1/p) (``lp_pool``).

The gradients come from the primitives: max sends the gradient to the largest
element of each window (the first of them at a tie), mean spreads it evenly, and
the window view's adjoint (``WindowFold``) adds the pieces of overlapping windows
back onto the input.

Output size per axis (PyTorch's rule)::

    out = floor((in + 2·padding - dilation·(kernel - 1) - 1) / stride) + 1
    ceil_mode=True: ceil instead of floor, but the last window must start inside the
                    input or its left padding (otherwise it is dropped).

``stride`` defaults to ``kernel_size`` (non-overlapping windows): a 2x2 pool with
stride 2 halves the height and the width.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.graph import lane
from tinygrad_edu.functional.convolution import check_positive, int_tuple
from tinygrad_edu.functional.creation import arange, ones, tensor
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import root_or_zero, sliding_window

IntOrTuple = Any  # int | tuple[int, ...]


def _pool_geometry(spatial: tuple, ksize: tuple, stride: tuple, pad: tuple, dil: tuple,
                   ceil_mode: bool, where: str) -> tuple:
    """Output sizes and the extra right padding that ceil_mode needs, per axis."""
    outs, extra = [], []
    for size, k, s, p, d in zip(spatial, ksize, stride, pad, dil):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{where}: padding {p} should be at most half of the kernel size "
                             f"{k} (padding {pad}, kernel_size {ksize})")
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise RuntimeError(f"{where}: kernel size {ksize} (span {span}) is larger than the "
                               f"padded input {tuple(x + 2 * q for x, q in zip(spatial, pad))} "
                               f"(input size {spatial}, padding {pad})")
        num = size + 2 * p - span
        out = (-(-num // s) if ceil_mode else num // s) + 1
        if ceil_mode and (out - 1) * s >= size + p:     # last window would start in the padding
            out -= 1
        outs.append(out)
        extra.append(max(0, (out - 1) * s + span - (size + 2 * p)))
    return tuple(outs), tuple(extra)


def _prepare(input: Tensor, kernel_size: IntOrTuple, stride: Any, padding: IntOrTuple,
             dilation: IntOrTuple, ceil_mode: bool, nd: int, where: str) -> tuple:
    """Validate the arguments; return (input batched, unbatched?, k, stride, pad, dil, extra)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(input).__name__}")
    unbatched = input.ndim == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != nd + 2:
        raise ValueError(f"{where}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got shape {tuple(input.shape)}")
    k = int_tuple(kernel_size, nd, "kernel_size", where)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        int_tuple(stride, nd, "stride", where)
    p = int_tuple(padding, nd, "padding", where)
    d = int_tuple(dilation, nd, "dilation", where)
    check_positive(k, "kernel_size", where)
    check_positive(s, "stride", where)
    check_positive(d, "dilation", where)
    if any(v < 0 for v in p):
        raise ValueError(f"{where}: padding must be non-negative, got {p}")
    _, extra = _pool_geometry(tuple(input.shape[2:]), k, s, p, d, ceil_mode, where)
    return input, unbatched, k, s, p, d, extra


def _windows(x: Tensor, k: tuple, s: tuple, p: tuple, d: tuple, extra: tuple,
             value: float) -> Tensor:
    """(N, C, *spatial) -> (KH·KW, N, C, *out): every window tap as one slab.

    Pads with ``value`` (and ceil_mode's extra), takes the sliding windows, and moves
    the taps in front. The reduction over a window is then a reduction over dim 0, which
    NumPy runs as a few elementwise passes over long slabs (a reduction over the two tiny
    trailing window dims of the strided view is tens of times slower).
    """
    nd = len(k)
    x = x.pad(((0, 0), (0, 0)) + tuple((a, a + e) for a, e in zip(p, extra)), value)
    win = sliding_window(x, tuple(range(2, 2 + nd)), k, s, d)   # (N, C, *out, *k)
    taps = win.permute(tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2 + nd)))  # (*k, N, C, *out)
    return taps.reshape((math.prod(k),) + tuple(taps.shape[nd:]))   # (KH·KW, N, C, *out)


def _max_pool(input: Tensor, kernel_size: IntOrTuple, stride: Any, padding: IntOrTuple,
              dilation: IntOrTuple, ceil_mode: bool, return_indices: bool, nd: int,
              where: str) -> Any:
    x, unbatched, k, s, p, d, extra = _prepare(input, kernel_size, stride, padding, dilation,
                                               ceil_mode, nd, where)
    taps = _windows(x, k, s, p, d, extra, -math.inf)             # (KH·KW, N, C, *out)
    out = lane("first_max", first_max)(taps)                     # (N, C, *out)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    idx = _argmax_indices(taps.argmax(0), taps.shape[3:], x.shape[2:], k, s, p, d)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return out, idx


def first_max(taps: Tensor) -> Tensor:
    """The largest of the KH·KW taps of each window (dim 0), with all of its gradient
    going to the first maximal tap in reading order, PyTorch's rule at a tie: a one-hot
    mask of the argmax picks it, and the sum over the taps drops the zeros."""
    tap = taps.argmax(0)                                         # (N, C, *out): which tap
    first = arange(taps.shape[0], device=taps.device).reshape(
        (-1,) + (1,) * (taps.ndim - 1)) == tap                   # (KH·KW, N, C, *out)
    return taps.where(first, 0.0).sum(0)


def _argmax_indices(tap: Tensor, out_sp: tuple, spatial: tuple, k: tuple, s: tuple,
                    p: tuple, d: tuple) -> Tensor:
    """Flat input index (into H·W, or L) of each window's maximum (``tap``: its number
    within the window), as PyTorch returns it."""
    nd = len(k)
    index = tap * 0
    for ax in range(nd):
        inner = math.prod(k[ax + 1:])
        u = (tap // inner) % k[ax]                               # the tap's offset on axis
        shape = [1] * (2 + nd)
        shape[2 + ax] = out_sp[ax]
        start = (arange(out_sp[ax], device=tap.device) * s[ax] - p[ax]).reshape(shape)
        index = index * spatial[ax] + start + u * d[ax]          # input coordinate on axis
    return index


def max_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """2-D max pooling: the largest value of each KHxKW window.

    (N, C, H, W) -> (N, C, OH, OW)
    y[n, c, i, j] = max_{u,v} x_pad[n, c, i·sH + u·dH, j·sW + v·dW]

    Padding is with -inf (a padded cell never wins). The gradient flows only to the
    element that was the maximum; when several elements of a window tie, all of it goes
    to the first of them in reading order (PyTorch's rule), picked by a one-hot mask of
    the window's argmax. ``return_indices=True`` also returns the flat index (into H·W)
    of each maximum (that same first one).

    >>> x = tg.tensor([[[[1., 2.], [3., 4.]]]])
    >>> F.max_pool2d(x, 2)
    tensor([[[[4.]]]])
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     2, "max_pool2d")


def max_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """1-D max pooling over sequences: (N, C, L) -> (N, C, OL), the max of each window."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     1, "max_pool1d")


def _divisor(x: Tensor, k: tuple, s: tuple, p: tuple, extra: tuple,
             count_include_pad: bool) -> Tensor:
    """How many cells each window averages over, as a constant of the output's shape.

    count_include_pad=True counts the zero padding but never ceil_mode's overhang;
    False counts only real input cells (PyTorch's two rules).
    """
    nd = len(k)
    cells = ones(tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
    if count_include_pad:
        cells = cells.pad(tuple((a, a) for a in p), 1.0).pad(tuple((0, e) for e in extra))
    else:
        cells = cells.pad(tuple((a, a + e) for a, e in zip(p, extra)))
    win = sliding_window(cells, tuple(range(nd)), k, s, (1,) * nd)
    return win.sum(tuple(range(nd, 2 * nd)))                     # (*out)


def _avg_pool(input: Tensor, kernel_size: IntOrTuple, stride: Any, padding: IntOrTuple,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None, nd: int,
              where: str) -> Tensor:
    x, unbatched, k, s, p, d, extra = _prepare(input, kernel_size, stride, padding, 1,
                                               ceil_mode, nd, where)
    total = _windows(x, k, s, p, d, extra, 0.0).sum(0)           # (N, C, *out)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{where}: divisor_override must not be zero")
        out = total * (1.0 / divisor_override)
    elif not any(p) and not any(extra):
        out = total * (1.0 / math.prod(k))                      # every window is full
    else:
        div = _divisor(x, k, s, p, extra, count_include_pad)     # (*out)
        out = total / div
    return out.squeeze(0) if unbatched else out


def avg_pool2d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """2-D average pooling: the mean of each KHxKW window.

    (N, C, H, W) -> (N, C, OH, OW)
    y[n, c, i, j] = (1/|window|) Σ_{u,v} x_pad[n, c, i·sH + u, j·sW + v]

    With padding, ``count_include_pad=True`` (PyTorch's default) divides by the window
    size including the zero padding; False divides by the number of real input cells.

    >>> x = tg.tensor([[[[1., 2.], [3., 4.]]]])
    >>> F.avg_pool2d(x, 2)
    tensor([[[[2.5]]]])
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def avg_pool1d(input: Tensor, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over sequences: (N, C, L) -> (N, C, OL)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     1, "avg_pool1d")


def _lp_pool(input: Tensor, norm_type: float, kernel_size: IntOrTuple, stride: Any,
             ceil_mode: bool, nd: int, where: str) -> Tensor:
    if norm_type <= 0:
        raise ValueError(f"{where}: norm_type must be positive, got {norm_type}")
    k = int_tuple(kernel_size, nd, "kernel_size", where)
    pow_x = input * input if norm_type == 2 else input ** norm_type
    mean = _avg_pool(pow_x, k, stride, 0, ceil_mode, True, None, nd, where)
    total = mean * float(math.prod(k))                           # Σ xᵖ over the window
    return root_or_zero(total, norm_type)          # gradient 0 at an all-zero window


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: IntOrTuple,
              stride: IntOrTuple | None = None, ceil_mode: bool = False) -> Tensor:
    """Power-average (Lp) pooling: y = (Σ_{window} xᵖ)^(1/p).

    p = 1 is sum pooling, p -> ∞ approaches max pooling, and p = 2 is the "L2 pooling"
    of the lectures: the Euclidean length of each window, sqrt(Σ x²). As in PyTorch,
    no padding; for odd p, negative inputs make the sum meaningless (the root is NaN).
    At an all-zero window (common after a ReLU) the gradient is 0, as in PyTorch.

    >>> x = tg.tensor([[[[3., 0.], [0., 4.]]]])
    >>> F.lp_pool2d(x, 2, 2)
    tensor([[[[5.]]]])
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride: int | None = None,
              ceil_mode: bool = False) -> Tensor:
    """1-D power-average pooling: (Σ_{window} xᵖ)^(1/p) over windows of a sequence."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def _adaptive_matrix(size: int, out: int, like: Tensor) -> Tensor:
    """(out, size) averaging matrix: row i averages the cells
    floor(i·size/out) .. ceil((i+1)·size/out) - 1."""
    rows = []
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0 for j in range(size)])
    return tensor(rows, dtype=like.dtype, device=like.device).reshape(out, size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size, whatever the input size.

    Output cell i along an axis of length L averages input cells
    floor(i·L/O) .. ceil((i+1)·L/O) - 1 (PyTorch's windows, which may overlap).
    ``output_size=1`` is global average pooling: (N, C, H, W) -> (N, C, 1, 1).
    Computed as two products with constant averaging matrices, A_h · x · A_wᵀ.
    ``None`` in ``output_size`` keeps that axis as it is.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"adaptive_avg_pool2d: input must be a Tensor, got "
                        f"{type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape "
                         f"{tuple(input.shape)}")
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size, output_size)
    if len(output_size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size!r}")
    h, w = input.shape[-2:]
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got "
                         f"{output_size!r}")
    if oh == 1 and ow == 1:
        return input.mean((-2, -1), keepdim=True)                 # global average pooling
    a_h = _adaptive_matrix(h, oh, input)                          # (OH, H)
    a_w = _adaptive_matrix(w, ow, input)                          # (OW, W)
    return (a_h @ input) @ a_w.T                                 # (..., OH, W) -> (..., OH, OW)


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:
    """1-D adaptive average pooling: (N, C, L) -> (N, C, output_size)."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input tensor, got "
                         f"{getattr(input, 'shape', type(input).__name__)}")
    if isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = output_size[0]
    if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
        raise ValueError(f"adaptive_avg_pool1d: output_size must be a positive int or a "
                         f"1-tuple, got {output_size!r}")
    a = _adaptive_matrix(input.shape[-1], output_size, input)        # (O, L)
    return input @ a.T                                           # (..., O)


__all__: Sequence[str] = [
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "lp_pool1d", "lp_pool2d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d",
]
