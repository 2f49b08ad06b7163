"""Exercise: the backward of tanh, as a custom Function.

Lesson "Vanishing and exploding gradients", slide "With tanh: J_t = diag(1 − h_t²) U"
(the diag(1 − h_t²) is this backward). The engine's own version is ``Tanh`` in
tinygrad_edu/engine/ops.py.
Check it: bash tools/course.sh --check tanh_backward
A hint:   bash tools/course.sh --hint tanh_backward
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function


class Tanh(Function):
    """z = tanh x = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ), elementwise: ``Tanh.apply(x)``.

    Its derivative is written with its own output: d tanh(x)/dx = 1 − tanh²(x) = 1 − z², so

        ∂L/∂x = grad · (1 − z²)

    Far from 0 (|x| > 5) z is ±1 and the gradient all but vanishes: the reason deep tanh
    RNNs forget. ``self.inputs`` holds (x,) as a tensor. Recompute z from it with tensor
    operations (``x.tanh()``) rather than keeping the NumPy array from ``forward``: then
    your gradient can be differentiated again (the checker tests second derivatives).
    """
    name = "tanh"

    def forward(self, x: Any) -> Any:
        return np.tanh(x)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        raise NotImplementedError("return ∂L/∂x = grad · (1 − z²) with z = tanh(x)")
