"""Reference solution: max pooling and its gradient, by hand in NumPy."""
from __future__ import annotations

import numpy as np


def max_pool2d(x: np.ndarray, g: np.ndarray, kernel_size: int, stride: int) -> dict:
    k, s = kernel_size, stride
    oh, ow = g.shape[2:]
    view = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    windows = view[:, :, ::s, ::s][:, :, :oh, :ow]                   # (N, C, OH, OW, k, k)
    y = windows.max(axis=(4, 5))
    flat = windows.reshape(windows.shape[:4] + (k * k,))
    first = np.arange(k * k) == flat.argmax(axis=-1)[..., None]     # the first maximum only
    dwindows = (g[..., None] * first).reshape(windows.shape)
    dx = np.zeros_like(x)
    for u in range(k):
        for v in range(k):
            dx[:, :, u:u + s * oh:s, v:v + s * ow:s] += dwindows[:, :, :, :, u, v]
    return {"windows": windows, "y": y, "dwindows": dwindows, "dx": dx}
