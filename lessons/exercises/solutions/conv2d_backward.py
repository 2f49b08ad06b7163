"""Reference solution: the gradients of a convolution, by hand in NumPy."""
from __future__ import annotations

import numpy as np


def conv2d_backward(x: np.ndarray, w: np.ndarray, g: np.ndarray, stride: int = 1,
                    padding: int = 0) -> dict:
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    s, p = stride, padding
    oh, ow = g.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    windows = view[:, :, ::s, ::s]                                    # (N, C, OH, OW, KH, KW)
    dw = np.einsum("noij,ncijuv->ocuv", g, windows)
    dwindows = np.einsum("noij,ocuv->ncijuv", g, w)
    dxp = np.zeros_like(xp)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + s * oh:s, v:v + s * ow:s] += dwindows[:, :, :, :, u, v]
    dx = dxp[:, :, p:p + h, p:p + wd]
    return {"windows": windows, "dw": dw, "dwindows": dwindows, "dx": dx}
