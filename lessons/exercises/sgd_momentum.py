"""Exercise: one step of SGD with momentum and weight decay, in NumPy.

Lesson "A Keras-style CNN", slide "The update rule: momentum and weight decay". The
library's own version is ``optim.SGD`` (tinygrad_edu/optim/sgd.py).
Check it: bash tools/course.sh --check sgd_momentum
A hint:   bash tools/course.sh --hint sgd_momentum
"""
from __future__ import annotations

import numpy as np


def sgd_step(w: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, lr: float,
             momentum: float, weight_decay: float) -> dict:
    """PyTorch's SGD step (``optim.SGD(params, lr, momentum, weight_decay=...)``):

        g   = grad + λ·w                      weight decay: pull every weight towards 0
        buf = g                 on the first step (buf is None)
        buf = μ·buf + g         on every later step: a running sum of past gradients
        w   = w − η·buf

    with η = lr, μ = momentum, λ = weight_decay. (The lesson writes the same rule as
    w ← w − η·∂E/∂w + μ·(last step) − λη·w.)

    w, grad: float64 arrays of one shape; buf: the array this function returned as "buf"
    on the step before, or None on the first step. Return dict(buf=..., w=...): new
    arrays (the checker feeds both back in on the next step and compares them with the
    library's after every step). Do not change the arrays you are given.
    """
    raise NotImplementedError("return dict(buf=μ·buf + (grad + λ·w) (just the gradient the first "
                              "time), w=w − η·buf)")
