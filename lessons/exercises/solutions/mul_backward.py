"""Reference solution: the backward of z = x · y."""
from __future__ import annotations

from typing import Any

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function
from tinygrad_edu.engine.ops import sum_to


class Mul(Function):
    name = "mul"

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, grad: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        x, y = self.inputs
        dx = sum_to(grad * y, x.shape)
        dy = sum_to(grad * x, y.shape)
        return dx, dy
