"""Reference solution: one step of SGD with momentum and weight decay."""
from __future__ import annotations

import numpy as np


def sgd_step(w: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, lr: float,
             momentum: float, weight_decay: float) -> dict:
    g = grad + weight_decay * w
    buf = g if buf is None else momentum * buf + g
    return {"buf": buf, "w": w - lr * buf}
