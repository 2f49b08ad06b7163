"""Reference solution: the delta rule by hand, for a whole batch."""
from __future__ import annotations

import tinygrad_edu as tg


def delta_rule(x: tg.Tensor, t: tg.Tensor, w: tg.Tensor, T: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
    net = x @ w - T                         # (B,)
    o = net.sigmoid()                       # (B,)
    dE_do = o - t                           # (B,)
    dE_dnet = dE_do * o * (1 - o)           # (B,)   σ' = o·(1 − o)
    dE_dw = x.T @ dE_dnet                   # (I,)   Σ_b x_b · ∂E/∂net_b
    dE_dT = -dE_dnet.sum()                  # ()
    return dE_dw, dE_dT
