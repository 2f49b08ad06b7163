"""Reference solution: one step of a GRU."""
from __future__ import annotations

import tinygrad_edu as tg


def gru_cell(x: tg.Tensor, h: tg.Tensor, w_ih: tg.Tensor, w_hh: tg.Tensor, b_ih: tg.Tensor,
             b_hh: tg.Tensor) -> tg.Tensor:
    H = h.shape[1]
    xw = x @ w_ih.T + b_ih                              # (B, 3H): x_r, x_z, x_n
    hw = h @ w_hh.T + b_hh                              # (B, 3H): h_r, h_z, h_n
    rz = (xw[:, :2 * H] + hw[:, :2 * H]).sigmoid()
    r = rz[:, :H]
    z = rz[:, H:]
    n = (xw[:, 2 * H:] + r * hw[:, 2 * H:]).tanh()
    return n + z * (h - n)                              # = (1 − z)·n + z·h
