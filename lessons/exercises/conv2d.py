"""Exercise: a 2-D convolution built on the sliding-window primitive.

Lesson "Convolution by hand", slide "Sliding the filter over a whole image" (stride and
padding: lesson "Stride, padding, pooling", slide "How big is the output?"). The library's
own version is ``F.conv2d`` in tinygrad_edu/functional/convolution.py.
Check it: bash tools/course.sh --check conv2d
A hint:   bash tools/course.sh --hint conv2d
"""
from __future__ import annotations

import tinygrad_edu as tg


def conv2d(x: tg.Tensor, w: tg.Tensor, b: tg.Tensor, stride: int = 1,
           padding: int = 0) -> tg.Tensor:
    """Every filter's dot product with every window of the (zero-padded) input, plus its bias:

        y[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v  x_pad[n, c, i·s + u, j·s + v] · w[o, c, u, v]

        x (N, C, H, W), w (O, C, KH, KW), b (O,)  ->  y (N, O, OH, OW)
        OH = (H + 2·padding − KH) // stride + 1, and the same for OW

    Build it from four tensor operations, the way the library does:

    1. ``x.pad(((0, 0), (0, 0), (p, p), (p, p)))``: zeros around each image;
    2. ``tg.sliding_window(x, (2, 3), (KH, KW), (s, s), (1, 1))``: every KH×KW window, as a
       view of shape (N, C, OH, OW, KH, KW);
    3. ``permute`` and ``reshape`` the windows into rows (N, OH·OW, C·KH·KW), one row per
       output pixel, in the order of w's last three dims;
    4. one matrix product with the filters as columns, ``w.reshape(O, C·KH·KW).T``, then the
       bias, and back to (N, O, OH, OW).

    No loops over pixels: the checker differentiates your function, and the gradient of
    every step comes for free.
    """
    raise NotImplementedError("compute y[n,o,i,j] = b[o] + Σ_{c,u,v} x_pad[n,c,i·s+u,j·s+v]·w[o,c,u,v] "
                              "with tg.sliding_window and one matrix product")
