"""Exercise: one step of a GRU.

Lesson "LSTM and GRU", slide "The GRU: two gates and no separate cell". The library's own
version is ``F.gru_cell`` (tinygrad_edu/functional/recurrent_cells.py, PyTorch's form).
Check it: bash tools/course.sh --check gru_cell
A hint:   bash tools/course.sh --hint gru_cell
"""
from __future__ import annotations

import tinygrad_edu as tg


def gru_cell(x: tg.Tensor, h: tg.Tensor, w_ih: tg.Tensor, w_hh: tg.Tensor, b_ih: tg.Tensor,
             b_hh: tg.Tensor) -> tg.Tensor:
    """The new state h' from the input x and the previous state h (PyTorch's GRU):

        [x_r, x_z, x_n] = x W_ihᵀ + b_ih       three blocks of H columns, in this order
        [h_r, h_z, h_n] = h W_hhᵀ + b_hh
        r = σ(x_r + h_r)             reset gate: how much of the past feeds the candidate
        z = σ(x_z + h_z)             update gate: how much of the old state to keep
        n = tanh(x_n + r ⊙ h_n)      the candidate state (r multiplies h_n, bias included)
        h' = (1 − z) ⊙ n + z ⊙ h

    x (B, I), h (B, H), w_ih (3H, I), w_hh (3H, H), b_ih and b_hh (3H,): float64 tensors.
    Returns h' (B, H).
    """
    raise NotImplementedError("return h' = (1 − z)⊙n + z⊙h with the gates r, z and the candidate n "
                              "from the three blocks of x W_ihᵀ + b_ih and h W_hhᵀ + b_hh")
