"""Exercise: one step of a simple (Elman) RNN, in NumPy.

Lesson "RNN: from a NumPy loop to autograd", slide "A recurrent layer is a for-loop that
carries a state". The library's own version is ``F.rnn_tanh_cell``.
Check it: bash tools/course.sh --check rnn_step
A hint:   bash tools/course.sh --hint rnn_step
"""
from __future__ import annotations

import numpy as np


def rnn_step(x: np.ndarray, h: np.ndarray, W: np.ndarray, U: np.ndarray,
             b: np.ndarray) -> np.ndarray:
    """The new state from this step's input and the previous state, for a batch of rows:

        h_t = tanh(W x_t + U h_(t−1) + b)          for each example of the batch

    With the examples as rows, x (B, I) and h (B, H), "W x_t" for every row at once is
    x @ Wᵀ (B, H), and "U h_(t−1)" is h @ Uᵀ.

    x (B, I), h (B, H), W (H, I), U (H, H), b (H,): float64 arrays -> the new h (B, H).
    The checker runs your step over whole sequences (up to 50 steps), feeding each state
    back in, and names the first step whose state differs from the library's.
    """
    raise NotImplementedError("return h_t = tanh(x Wᵀ + h Uᵀ + b) for the batch of rows x (B, I), "
                              "h (B, H)")
