"""Exercise: backpropagation through time by hand, in NumPy.

Lesson "Backpropagation through time", slide "BPTT by hand".
Check it: bash tools/course.sh --check bptt
A hint:   bash tools/course.sh --hint bptt
"""
from __future__ import annotations

import numpy as np


def bptt(xs: np.ndarray, target: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray,
         V: np.ndarray) -> dict:
    """Forward through T steps, then backward through them:

        h_t = tanh(W x_t + U h_(t−1) + b),   t = 0 .. T−1,   h_(−1) = 0
        y = V h_(T−1)            E = ½ ‖y − target‖²

    Going back, with δ_t = ∂E/∂h_t and a_t = W x_t + U h_(t−1) + b:

        δ_(T−1) = Vᵀ (y − target)
        ∂E/∂a_t = δ_t ⊙ (1 − h_t²)                     back through tanh
        step t's share of the shared weights:
            ∂E/∂W at step t = ∂E/∂a_t x_tᵀ     ∂E/∂U at step t = ∂E/∂a_t h_(t−1)ᵀ
            ∂E/∂b at step t = ∂E/∂a_t
        δ_(t−1) = Uᵀ ∂E/∂a_t                            and on to the step before
        ∂E/∂W = the sum of W's shares over all steps (the same for U and b)

    xs (T, I), target (O,), W (H, I), U (H, H), b (H,), V (O, H): float64 arrays.
    Return a dict of float64 arrays (a list of per-step arrays is fine too):

        "h"     (T, H)      h_t for every step          "dV"    (O, H)   ∂E/∂V
        "delta" (T, H)      δ_t = ∂E/∂h_t
        "dW_t"  (T, H, I)   W's share at each step      "dW"    (H, I)   ∂E/∂W
        "dU_t"  (T, H, H)   U's share at each step      "dU"    (H, H)   ∂E/∂U
        "db_t"  (T, H)      b's share at each step      "db"    (H,)     ∂E/∂b

    The checker compares the states forward in time, then dV, then going back in time
    each step's δ and shares, then the sums, and names the first that differs.
    """
    raise NotImplementedError("run the RNN forward over xs, then back through time: return the "
                              "states, the δ_t, every step's share of dW, dU, db, and the sums")
