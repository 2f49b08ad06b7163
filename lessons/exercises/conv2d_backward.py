"""Exercise: the gradients of a convolution with respect to its filters and its input, by
hand in NumPy.

Lesson "Convolution by hand", slide "Learning the filter from examples" (there autograd
found ∂E/∂w; here you find it, and ∂E/∂x, yourself).
Check it: bash tools/course.sh --check conv2d_backward
A hint:   bash tools/course.sh --hint conv2d_backward
"""
from __future__ import annotations

import numpy as np


def conv2d_backward(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int = 1,
                    padding: int = 0) -> dict:
    """The forward pass is y = conv2d(x, w) (no bias), i.e. for every window:

        windows[n, c, i, j, u, v] = x_pad[n, c, i·s + u, j·s + v]       (N, C, OH, OW, KH, KW)
        y[n, o, i, j] = Σ_{c,u,v} windows[n, c, i, j, u, v] · w[o, c, u, v]

    Given g = ∂E/∂y (N, O, OH, OW), compute, in this order:

        "windows"   the windows of the zero-padded input (s = stride, p = padding)
        "dw"        ∂E/∂w[o, c, u, v]  = Σ_{n,i,j} g[n, o, i, j] · windows[n, c, i, j, u, v]
        "dwindows"  ∂E/∂windows[n, c, i, j, u, v] = Σ_o g[n, o, i, j] · w[o, c, u, v]
        "dx"        ∂E/∂x: every window's gradient added back onto the pixels it was read
                    from (where windows overlap, the pixel gets the sum), then the padding
                    cut off again: shape (N, C, H, W)

    x (N, C, H, W), w (O, C, KH, KW), g (N, O, OH, OW): float64 arrays. Return a dict with
    the four arrays under those names; the checker compares them in that order and names
    the first one that differs. ``np.einsum`` and ``np.lib.stride_tricks.sliding_window_view``
    are handy, a loop over the KH·KW taps is fine for the last step.
    """
    raise NotImplementedError("return dict(windows=..., dw=..., dwindows=..., dx=...), the "
                              "gradients of y = conv2d(x, w) given g = ∂E/∂y")
