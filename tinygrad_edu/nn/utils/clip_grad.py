"""Gradient clipping: keep one bad batch (or an exploding RNN) from wrecking the weights.

* ``clip_grad_norm_``: if the norm of all gradients together, ‖g‖ = (Σ_p ‖g_p‖²)^½,
  exceeds ``max_norm``, scale every gradient by max_norm / ‖g‖. The direction of
  the step is kept; only its length is capped.
* ``clip_grad_value_``: clamp each gradient element to [-clip_value, clip_value]
  (changes the direction too).

Both act in place on ``p.grad`` and skip parameters without a gradient.
"""
from __future__ import annotations

import math
from typing import Iterable

from tinygrad_edu.engine import graph
from tinygrad_edu.functional import gradients
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import tensor
from tinygrad_edu.functional.tensor_methods import stack


def _grads(parameters: Tensor | Iterable[Tensor], where: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameters must be Tensors, item {i} is "
                            f"{type(p).__name__}")
        if p.grad is not None:
            out.append(p.grad)
    return out


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their total ``norm_type``-norm is <= max_norm.

        total = ‖(‖g_1‖, ‖g_2‖, ...)‖          (the norm of the concatenated gradients)
        g_p ← g_p · min(1, max_norm / (total + 1e-6))

    Returns the total norm *before* clipping (a 0-d tensor), handy for logging.

    >>> tg.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    grads = _grads(parameters, "clip_grad_norm_")
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return tensor(0.0)
    device = grads[0].device
    with gradients.no_grad():
        if norm_type == math.inf:
            norms = [g.abs().amax().to(device) for g in grads]
            total = stack(norms).amax()
        else:
            norms = [g.norm(norm_type).to(device) for g in grads]
            total = stack(norms).norm(norm_type)
        if error_if_nonfinite and not bool(total.isfinite().item()):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} for "
                               f"gradients from `parameters` is non-finite ({total.item()}), "
                               "so it cannot be clipped; set error_if_nonfinite=False to "
                               "clip anyway")
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device).to(g.dtype))
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for g in _grads(parameters, "clip_grad_value_"):
        with gradients.no_grad():
            g.clamp_(-clip_value, clip_value)
