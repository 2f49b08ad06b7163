"""Reference solution: a 2-D convolution on the sliding-window primitive."""
from __future__ import annotations

import tinygrad_edu as tg


def conv2d(x: tg.Tensor, w: tg.Tensor, b: tg.Tensor, stride: int = 1,
           padding: int = 0) -> tg.Tensor:
    n, c = x.shape[:2]
    o, _, kh, kw = w.shape
    p = padding
    x = x.pad(((0, 0), (0, 0), (p, p), (p, p)))                        # (N, C, H+2p, W+2p)
    win = tg.sliding_window(x, (2, 3), (kh, kw), (stride, stride), (1, 1))   # (N, C, OH, OW, KH, KW)
    oh, ow = win.shape[2:4]
    rows = win.permute(0, 2, 3, 1, 4, 5).reshape(n, oh * ow, c * kh * kw)   # one row per pixel
    y = rows @ w.reshape(o, c * kh * kw).T                              # (N, OH·OW, O)
    y = y + b
    return y.permute(0, 2, 1).reshape(n, o, oh, ow)
