"""Reference solution: the backward of Z = A @ B."""
from __future__ import annotations

from typing import Any

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function
from tinygrad_edu.engine.ops import sum_to


class MatMul(Function):
    name = "matmul"

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, grad: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        a, b = self.inputs
        da = sum_to(grad @ b.mT, a.shape)          # (..., n, m) @ (..., m, k)
        db = sum_to(a.mT @ grad, b.shape)          # (..., k, n) @ (..., n, m)
        return da, db
