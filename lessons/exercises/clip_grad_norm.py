"""Exercise: gradient-norm clipping, in NumPy.

Lesson "Vanishing and exploding gradients", slide "Clipping bounds an exploding gradient".
The library's own version is ``nn.utils.clip_grad_norm_`` (tinygrad_edu/nn/utils/clip_grad.py).
Check it: bash tools/course.sh --check clip_grad_norm
A hint:   bash tools/course.sh --hint clip_grad_norm
"""
from __future__ import annotations

import numpy as np


def clip_grad_norm(grads: list, max_norm: float) -> dict:
    """Scale all gradients *together* so that their total norm is at most max_norm:

        total = sqrt(Σ_p Σ_i g_p,i²)              one norm over every parameter's gradient
        scale = min(1, max_norm / (total + 1e-6)) (the 1e-6 keeps zero gradients finite)
        g_p  ← scale · g_p                         for every parameter p

    Scaling them together keeps the gradient's direction; only its length is bounded.

    grads: a list of float64 arrays (any shapes, one per parameter). Return
    dict(total_norm=<a float: the norm before clipping>, grads=<the list of clipped arrays,
    in order>).
    """
    raise NotImplementedError("return dict(total_norm=‖all gradients‖, grads=[g·min(1, max_norm/"
                              "(total + 1e-6)) for each g])")
