"""Convolution as a composite: pad -> sliding windows -> one matrix product.

What a deep-learning library calls a 2-D "convolution" of an input x (C
channels) with a filter bank w (O filters, each C x KH x KW) is, for every
output channel o and position (i, j)::

    y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v  x[n, c, i·s + u·d, j·s + v·d] · w[o, c, u, v]

(s = stride, d = dilation, after zero padding). Written as code it is four
steps, each a primitive or a reshape of one:

1. ``pad``               (N, C, H, W)          -> (N, C, H+2p, W+2p)
2. ``sliding_window``    -> (N, C, OH, OW, KH, KW)   every KHxKW patch, a strided view
3. ``permute/reshape``   -> (N, C·KH·KW, OH·OW)      "im2col": one patch per column
4. ``w.reshape(O, C·KH·KW) @``  -> (N, O, OH·OW)     every filter on every patch
   (a batched matmul, one image at a time), then ``+ b`` and a reshape to (N, O, OH, OW).

For tiny output maps (LeNet's C5 gives 1x1) step 3 instead lays all N·OH·OW patches
out as rows of ONE (N·OH·OW, C·KH·KW) matrix and step 4 is a single matmul with the
transposed filters: the same sums, arranged for fewer and larger matrix products.

There is no hand-written backward here: the gradient of each step is the
adjoint of its primitive (matmul -> matmul with the transpose, the window view
-> ``WindowFold``, which sums each patch gradient back onto the pixels it read,
pad -> slice). Output size along each spatial axis::

    out = (in + 2·padding - dilation·(kernel - 1) - 1) // stride + 1

``groups=G`` splits the C input channels into G groups of C/G and the O
filters into G groups of O/G; group g's filters see only group g's channels
(G = C is a "depthwise" convolution). It is one batched matmul over groups.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine.graph import lane
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.gradients import scope
from tinygrad_edu.functional.tensor_methods import sliding_window

IntOrTuple = Any  # int | tuple[int, ...]

# Output maps with fewer pixels than this use one big (N·OH·OW, C·KH·KW) matmul; larger
# ones a matmul per image that yields NCHW directly (faster to copy and to fold back).
_SMALL_MAP = 16
# 3x3 stride-1 convolutions ask the fast lane for "conv3x3" (Winograd F(2x2, 3x3),
# tinygrad_edu/fastlane/winograd.py) where it was measured to pay off on the CPU: at least
# this many input and output channels (fewer make its 16 GEMMs too thin), and at least this
# many numbers in one output row of the batch, N·C·OW (its array ops work a row of 2x2
# tiles at a time; smaller ones cost more in calls than they save in multiplications).
_WINOGRAD_CHANNELS = 64
_WINOGRAD_ROW = 8192


def int_tuple(value: IntOrTuple, n: int, name: str, where: str) -> tuple:
    """``3`` -> ``(3, 3)``; ``(1, 2)`` stays; anything else is a clear error."""
    if isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{where}: {name} must be an int or a tuple of {n} ints, "
                        f"got {value!r}") from None
    if len(out) == 1:
        return out * n
    if len(out) != n:
        raise ValueError(f"{where}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _padding_pairs(padding: Any, ksize: tuple, stride: tuple, dilation: tuple,
                   where: str) -> tuple:
    """Padding as one (before, after) pair per spatial axis.

    ``'valid'`` is no padding; ``'same'`` pads d·(k-1) in total so that the output has the
    input's size (stride 1 only), the odd extra element going after, as PyTorch does.
    """
    n = len(ksize)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}); use an int padding")
            pairs = []
            for k, d in zip(ksize, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{where}: padding must be an int, a tuple, 'same' or 'valid', "
                         f"got {padding!r}")
    pad = int_tuple(padding, n, "padding", where)
    if any(p < 0 for p in pad):
        raise ValueError(f"{where}: padding must be non-negative, got {padding!r}")
    return tuple((p, p) for p in pad)


def check_positive(values: tuple, name: str, where: str) -> None:
    if any(v < 1 for v in values):
        raise ValueError(f"{where}: {name} must be positive, got {values}")


def _conv(input: Tensor, weight: Tensor, bias: Tensor | None, stride: IntOrTuple,
          padding: Any, dilation: IntOrTuple, groups: int, nd: int, where: str) -> Tensor:
    """N-d convolution (cross-correlation) for nd = 1 or 2 spatial dims; see the module doc."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{where}: input and weight must be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if weight.ndim != nd + 2:
        raise ValueError(f"{where}: weight must have {nd + 2} dims (out_channels, "
                         f"in_channels/groups, {'kH, kW' if nd == 2 else 'kW'}), got shape "
                         f"{tuple(weight.shape)}")
    unbatched = input.ndim == nd + 1
    if unbatched:                                    # (C, *spatial) -> (1, C, *spatial)
        input = input.unsqueeze(0)
    if input.ndim != nd + 2:
        raise ValueError(f"{where}: expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got shape {tuple(input.shape)}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    n, c = input.shape[:2]
    o, cg = weight.shape[:2]
    ksize = tuple(weight.shape[2:])
    if cg * groups != c:
        extra = f" ({groups} groups of {cg})" if groups > 1 else ""
        raise RuntimeError(f"{where}: input has {c} channels, weight expects {cg * groups}"
                           f"{extra} (weight shape {tuple(weight.shape)}); input shape "
                           f"{tuple(input.shape)}")
    if o % groups:
        raise RuntimeError(f"{where}: out_channels {o} (weight shape {tuple(weight.shape)}) "
                           f"is not divisible by groups={groups}")
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"{where}: bias must have shape ({o},) for {o} filters, got "
                           f"{tuple(bias.shape)}")
    stride_t = int_tuple(stride, nd, "stride", where)
    dil = int_tuple(dilation, nd, "dilation", where)
    check_positive(stride_t, "stride", where)
    check_positive(dil, "dilation", where)
    pads = _padding_pairs(padding, ksize, stride_t, dil, where)
    spatial = tuple(input.shape[2:])
    padded = tuple(s + a + b for s, (a, b) in zip(spatial, pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(ksize, dil))
    if any(sp > p for sp, p in zip(span, padded)):
        dilated = f" (dilated to {span})" if span != ksize else ""
        raise RuntimeError(f"{where}: kernel size {ksize}{dilated} is larger than the padded "
                           f"input {padded} (input shape {tuple(input.shape)}, padding "
                           f"{tuple(p for p, _ in pads)})")

    x = input.pad(((0, 0), (0, 0)) + pads)                       # (N, C, *padded)
    axes = tuple(range(2, 2 + nd))
    win = sliding_window(x, axes, ksize, stride_t, dil)          # (N, C, *out, *k)
    out_sp = tuple(win.shape[2:2 + nd])
    npos = n
    for s in out_sp:
        npos *= s
    kk = 1
    for k in ksize:
        kk *= k
    sp_dims = tuple(range(2, 2 + nd))
    k_dims = tuple(range(2 + nd, 2 + 2 * nd))
    if groups == 1 and npos // n < _SMALL_MAP:
        # Small output maps (LeNet's C5: 1x1): ONE matmul over all N·OH·OW patches.
        cols = win.permute((0,) + sp_dims + (1,) + k_dims)       # (N, *out, C, *k)
        cols = cols.reshape(npos, c * kk)                         # (N·OH·OW, C·KH·KW)
        y = cols @ weight.reshape(o, c * kk).T                   # (N·OH·OW, O)
        y = y.reshape((n,) + out_sp + (o,))                      # (N, *out, O)
        if bias is not None:
            y = y + bias                                         # broadcast over the last dim
        y = y.permute((0, nd + 1) + tuple(range(1, nd + 1)))     # (N, O, *out)
    else:
        if nd == 2 and groups == 1 and ksize == (3, 3) and stride_t == dil == (1, 1) and \
                min(c, o) >= _WINOGRAD_CHANNELS and n * min(c, o) * out_sp[-1] >= _WINOGRAD_ROW:
            y = lane("conv3x3", conv3x3_im2col)(x, weight)       # Winograd in the fast lane
            if bias is not None:
                y = y + bias.reshape((o,) + (1,) * nd)
        else:
            y = _conv_im2col(win, weight, groups, bias)          # (N, O, *out)
    return y.squeeze(0) if unbatched else y


def _conv_im2col(win: Tensor, weight: Tensor, groups: int,
                 bias: Tensor | None = None) -> Tensor:
    """Steps 3-4 of the module doc for output maps that are not tiny: per image, filters
    (O, C·KH·KW) @ patches (C·KH·KW, OH·OW) (+ bias), which leaves the result in
    (N, O, OH·OW) order, i.e. already NCHW.  win (N, C, *out, *k) -> (N, O, *out)"""
    nd = (win.ndim - 2) // 2
    n, c = win.shape[:2]
    o, cg = weight.shape[:2]
    out_sp, kk, npix = tuple(win.shape[2:2 + nd]), 1, 1
    for k in win.shape[2 + nd:]:
        kk *= k
    for s in out_sp:
        npix *= s
    sp_dims = tuple(range(2, 2 + nd))
    k_dims = tuple(range(2 + nd, 2 + 2 * nd))
    og = o // groups
    cols = win.permute((0, 1) + k_dims + sp_dims)                # (N, C, *k, *out)
    cols = cols.reshape(n, groups, cg * kk, npix)                 # (N, G, C/G·KH·KW, OH·OW)
    w = weight.reshape(groups, og, cg * kk)                      # (G, O/G, C/G·KH·KW)
    y = w @ cols                                                 # (N, G, O/G, OH·OW)
    if bias is not None:
        y = y + bias.reshape(groups, og, 1)
    return y.reshape((n, o) + out_sp)                            # (N, O, *out)


def conv3x3_im2col(x: Tensor, weight: Tensor) -> Tensor:
    """A 3x3 stride-1 convolution of an already padded x (N, C, H, W) by im2col: the
    reference that the fast lane's ``"conv3x3"`` (Winograd F(2x2, 3x3)) stands in for."""
    return _conv_im2col(sliding_window(x, (2, 3), (3, 3), (1, 1), (1, 1)), weight, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """2-D convolution (strictly: cross-correlation, as in every deep-learning library).

    input (N, C, H, W) or (C, H, W); weight (O, C/groups, KH, KW); bias (O,) -> (N, O, OH, OW)::

        y[n, o, i, j] = b[o] + Σ_{c,u,v} x_pad[n, c, i·sH + u·dH, j·sW + v·dW] · w[o, c, u, v]
        OH = (H + 2·pH - dH·(KH - 1) - 1) // sH + 1          (and the same for OW)

    ``stride``, ``padding`` and ``dilation`` are an int or an (h, w) pair; ``padding`` may
    also be ``'valid'`` (none) or ``'same'`` (output as large as the input; stride 1).
    The kernel is *not* flipped; :func:`true_conv2d` is the flipped (mathematical) version.

    >>> x = tg.ones(1, 1, 4, 4); w = tg.ones(1, 1, 3, 3)
    >>> F.conv2d(x, w).shape          # a 4x4 image and a 3x3 filter give a 2x2 map
    (1, 1, 2, 2)
    >>> F.conv2d(x, w, padding=1)[0, 0, 0, 0].item()   # a corner sees 4 pixels
    4.0
    """
    with scope("conv2d()"):                 # the graph views draw the call as one box
        return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrTuple = 1,
           padding: Any = 0, dilation: IntOrTuple = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over sequences.

    input (N, C, L) or (C, L); weight (O, C/groups, K); bias (O,) -> (N, O, OL)::

        y[n, o, i] = b[o] + Σ_{c,u} x_pad[n, c, i·s + u·d] · w[o, c, u]
        OL = (L + 2·p - d·(K - 1) - 1) // s + 1

    A sequence of embeddings (N, L, E) is fed as (N, E, L): the channels are the
    embedding features and a filter of width K reads K consecutive positions.

    >>> x = tg.tensor([[[1., 2., 3., 4.]]]); w = tg.tensor([[[1., 0., -1.]]])
    >>> F.conv1d(x, w)               # x[i] - x[i+2]
    tensor([[[-2., -2.]]])
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def true_conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                stride: IntOrTuple = 1, padding: Any = 0, dilation: IntOrTuple = 1,
                groups: int = 1) -> Tensor:
    """Convolution as mathematics and signal processing define it: the kernel is flipped.

    What :func:`conv2d` computes (and PyTorch, Keras, ... call "convolution") is the
    *cross-correlation*: slide the kernel over the image and take dot products::

        cross-correlation   y[i, j] = Σ_{u,v} x[i + u, j + v] · w[u, v]

    The convolution of image processing runs the kernel backwards::

        convolution         y[i, j] = Σ_{u,v} x[i - u, j - v] · w[u, v]

    which, after re-indexing the window, is the cross-correlation with the kernel
    flipped on both axes (w[u, v] -> w[KH-1-u, KW-1-v]). That is all this function
    does: ``conv2d(input, weight.flip((-2, -1)), ...)``. The two agree for symmetric
    kernels (box blur, Gaussian); for asymmetric ones they differ: a "shift" kernel
    moves the image one way under convolution and the other way under correlation.
    For a learned filter the difference does not matter (the network simply learns the
    flipped kernel), which is why libraries skip the flip.

    Shapes as :func:`conv2d`. For a single grayscale image and a single filter, 2-D
    tensors are accepted too: (H, W) with (KH, KW) -> (OH, OW).

    >>> img = tg.tensor([[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]])
    >>> k = tg.tensor([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]])
    >>> F.true_conv2d(img, k, padding=1)     # an impulse reproduces the kernel itself
    tensor([[1., 2., 3.],
            [4., 5., 6.],
            [7., 8., 9.]])
    """
    if input.ndim == 2 and weight.ndim == 2:                     # (H, W) and (KH, KW)
        out = conv2d(input.reshape((1, 1) + tuple(input.shape)),
                     weight.flip((0, 1)).reshape((1, 1) + tuple(weight.shape)),
                     bias, stride, padding, dilation, groups)
        return out.reshape(out.shape[2:])
    if weight.ndim != 4:
        raise ValueError(f"true_conv2d: weight must have shape (O, C/groups, KH, KW) or "
                         f"(KH, KW) with a 2-D input, got {tuple(weight.shape)}")
    return conv2d(input, weight.flip((2, 3)), bias, stride, padding, dilation, groups)


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """(size + 2·padding - dilation·(kernel_size - 1) - 1) // stride + 1 for one axis.

    >>> conv_output_size(32, 5)              # LeNet-5's C1: 32x32 -> 28x28
    28
    >>> conv_output_size(28, 2, stride=2)    # a 2x2 pool with stride 2 halves it
    14
    """
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


__all__: Sequence[str] = ["conv1d", "conv2d", "true_conv2d", "conv_output_size"]
