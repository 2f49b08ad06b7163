"""Exercise: the backward of the matrix product Z = A @ B, as a custom Function.

Lesson "Backpropagation in an MLP", slide "Backprop step 4: the hidden units' error terms,
sent backwards" (δ_hidden = Wᵀ δ_out is this backward); the engine's own version is
``MatMul`` in tinygrad_edu/engine/ops.py.
Check it: bash tools/course.sh --check matmul_backward
A hint:   bash tools/course.sh --hint matmul_backward
"""
from __future__ import annotations

from typing import Any

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function
from tinygrad_edu.engine.ops import sum_to


class MatMul(Function):
    """Z = A @ B for A (..., n, k) and B (..., k, m): Z (..., n, m), Z_ij = Σ_l A_il·B_lj.
    Use it as ``MatMul.apply(a, b)``; both have at least 2 dims.

    ``backward`` receives G = ∂L/∂Z (..., n, m) and returns (∂L/∂A, ∂L/∂B):

        ∂L/∂A = G @ Bᵀ     (..., n, m) @ (..., m, k) -> (..., n, k)
        ∂L/∂B = Aᵀ @ G     (..., k, n) @ (..., n, m) -> (..., k, m)

    where ᵀ swaps the last two dims (``t.mT``). With a batch of matrices A (b, n, k) and one
    shared B (k, m), B is used by every matrix of the batch, so ∂L/∂B adds up the batch:
    Aᵀ @ G has shape (b, k, m) and must be summed back to B's shape (``sum_to(g, shape)``).

    ``self.inputs`` holds (A, B) as tensors; compute with tensor operations.
    """
    name = "matmul"

    def forward(self, a: Any, b: Any) -> Any:
        return a @ b

    def backward(self, grad: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        raise NotImplementedError("return (∂L/∂A, ∂L/∂B) = (G @ Bᵀ, Aᵀ @ G), each summed back "
                                  "to its input's shape")
