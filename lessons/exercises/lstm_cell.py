"""Exercise: one step of an LSTM, gate by gate.

Lesson "LSTM and GRU", slide "The LSTM cell, gate by gate". The library's own version is
``F.lstm_cell`` (tinygrad_edu/functional/recurrent_cells.py, PyTorch's layout).
Check it: bash tools/course.sh --check lstm_cell
A hint:   bash tools/course.sh --hint lstm_cell
"""
from __future__ import annotations

import tinygrad_edu as tg


def lstm_cell(x: tg.Tensor, h: tg.Tensor, c: tg.Tensor, w_ih: tg.Tensor, w_hh: tg.Tensor,
              b_ih: tg.Tensor, b_hh: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
    """The new (h, c) from the input x and the previous (h, c):

        a = x W_ihᵀ + b_ih + h W_hhᵀ + b_hh          (B, 4H): four blocks of H columns
        [a_i, a_f, a_g, a_o] = a, in this order (PyTorch's)
        i = σ(a_i)      input gate: how much new content to write
        f = σ(a_f)      forget gate: how much of the old cell to keep
        g = tanh(a_g)   the candidate content
        o = σ(a_o)      output gate: how much of the cell to show
        c' = f ⊙ c + i ⊙ g
        h' = o ⊙ tanh(c')

    x (B, I), h and c (B, H), w_ih (4H, I), w_hh (4H, H), b_ih and b_hh (4H,): float64
    tensors. Returns (h', c'), both (B, H). A block of columns: ``a[:, H:2 * H]``.
    """
    raise NotImplementedError("return (h', c') with c' = f⊙c + i⊙g and h' = o⊙tanh(c'), the gates "
                              "i, f, g, o from the four blocks of x W_ihᵀ + b_ih + h W_hhᵀ + b_hh")
