"""Exercise: max pooling and where its gradient goes, by hand in NumPy.

Lesson "Stride, padding, pooling", slide "Where does the gradient of a pool go?".
Check it: bash tools/course.sh --check max_pool2d
A hint:   bash tools/course.sh --hint max_pool2d
"""
from __future__ import annotations

import numpy as np


def max_pool2d(x: np.ndarray, g: np.ndarray, kernel_size: int, stride: int) -> dict:
    """Max pooling with k×k windows, ``stride`` apart (no padding), and its backward:

        "windows"   windows[n, c, i, j, u, v] = x[n, c, i·s + u, j·s + v]   (N, C, OH, OW, k, k)
                    OH = (H − k) // s + 1, and the same for OW
        "y"         y[n, c, i, j] = max over (u, v) of windows[n, c, i, j, u, v]
        "dwindows"  the gradient g[n, c, i, j] = ∂E/∂y goes to the maximum of its window; where
                    several entries tie for the maximum (think of zeros after a ReLU) all of
                    it goes to the first of them in reading order (PyTorch's rule, and ours)
        "dx"        every window's gradient added back onto the pixels it read (overlapping
                    windows, stride < k, add up), shape (N, C, H, W)

    x (N, C, H, W) and g (N, C, OH, OW): float64 arrays. Return a dict with the four arrays
    under those names; the checker compares them in that order.
    """
    raise NotImplementedError("return dict(windows=..., y=..., dwindows=..., dx=...): the max "
                              "of each window, and the gradient sent back to each maximum")
