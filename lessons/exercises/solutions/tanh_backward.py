"""Reference solution: the backward of tanh."""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function


class Tanh(Function):
    name = "tanh"

    def forward(self, x: Any) -> Any:
        return np.tanh(x)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        (x,) = self.inputs
        z = x.tanh()
        return grad * (1 - z * z)
