"""Reference solution: backpropagation through time by hand."""
from __future__ import annotations

import numpy as np


def bptt(xs: np.ndarray, target: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray,
         V: np.ndarray) -> dict:
    T, H = len(xs), U.shape[0]
    hs = [np.zeros(H)]                                  # hs[t + 1] = h_t
    for t in range(T):
        hs.append(np.tanh(W @ xs[t] + U @ hs[t] + b))
    y = V @ hs[T]
    dV = np.outer(y - target, hs[T])
    delta = V.T @ (y - target)                          # δ_(T−1)
    deltas, dW_t, dU_t, db_t = [None] * T, [None] * T, [None] * T, [None] * T
    dW, dU, db = np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    for t in range(T - 1, -1, -1):
        deltas[t] = delta
        da = delta * (1 - hs[t + 1] ** 2)               # back through tanh
        dW_t[t] = np.outer(da, xs[t])
        dU_t[t] = np.outer(da, hs[t])                   # hs[t] is h_(t−1)
        db_t[t] = da
        dW += dW_t[t]
        dU += dU_t[t]
        db += db_t[t]
        delta = U.T @ da                                # δ_(t−1)
    return {"h": np.array(hs[1:]), "delta": np.array(deltas), "dW_t": np.array(dW_t),
            "dU_t": np.array(dU_t), "db_t": np.array(db_t), "dW": dW, "dU": dU, "db": db,
            "dV": dV}
