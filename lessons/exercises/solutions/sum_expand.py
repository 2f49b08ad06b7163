"""Reference solution: the backward of broadcasting (Expand), the adjoint of Sum."""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function


class Sum(Function):
    name = "sum"

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        self.in_shape = x.shape
        self.kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        return Expand.apply(grad.reshape(self.kept), shape=self.in_shape)


class Expand(Function):
    name = "expand"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        lead = grad.ndim - len(self.in_shape)           # dims that broadcasting added
        stretched = tuple(lead + i for i, s in enumerate(self.in_shape)
                          if s == 1 and grad.shape[lead + i] != 1)
        total = Sum.apply(grad, dims=tuple(range(lead)) + stretched, keepdim=True)
        return total.reshape(self.in_shape)
