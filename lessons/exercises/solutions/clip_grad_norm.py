"""Reference solution: gradient-norm clipping."""
from __future__ import annotations

import numpy as np


def clip_grad_norm(grads: list, max_norm: float) -> dict:
    total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return {"total_norm": total, "grads": [g * scale for g in grads]}
