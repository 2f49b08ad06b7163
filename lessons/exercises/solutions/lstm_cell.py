"""Reference solution: one step of an LSTM."""
from __future__ import annotations

import tinygrad_edu as tg


def lstm_cell(x: tg.Tensor, h: tg.Tensor, c: tg.Tensor, w_ih: tg.Tensor, w_hh: tg.Tensor,
              b_ih: tg.Tensor, b_hh: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
    H = h.shape[1]
    a = x @ w_ih.T + (b_ih + b_hh) + h @ w_hh.T         # (B, 4H)
    s = a.sigmoid()                                     # i, f and o in one go
    i = s[:, :H]
    f = s[:, H:2 * H]
    g = a[:, 2 * H:3 * H].tanh()
    o = s[:, 3 * H:]
    c_new = f * c + i * g
    h_new = o * c_new.tanh()
    return h_new, c_new
