"""Two GEMM shapes: :class:`GemmOrder` stands in for ``MatMul``.

* **A stack against one matrix** (a linear layer on a (T, B, in) sequence: A (..., n, k)
  @ B (k, m)). NumPy runs one small GEMM per leading index. Here the leading dims are
  folded into the rows, A (N, k) @ B, one GEMM, as PyTorch's ``linear`` does; B's
  gradient Σ_i A_iᵀ G_i is then one GEMM too, A(N, k)ᵀ @ G(N, m), with no (..., k, m)
  stack of products to sum.
* **One matrix against a stack** (a conv's filters W against each image's patches B_n):
  the reference computes dA = Σ_n G_n @ B_nᵀ; the same sum written as Σ_n (B_n @ G_nᵀ)ᵀ
  runs faster on NumPy's batched GEMM for most conv shapes.

The measurements are in the README's benchmark section. Every other case is the reference.
"""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu.engine.ops import MatMul, Reshape, inputs_of, run, sum_to, transposed


def _rows(a: Any) -> Any:
    """(..., k) as one (N, k) matrix."""
    return run(Reshape, a, shape=(math.prod(a.shape[:-1]), a.shape[-1]))


class GemmOrder(MatMul):
    """``MatMul`` with a stack against one matrix folded into one GEMM, and the filter
    gradient's order when one matrix meets a stack."""

    def forward(self, a: Any, b: Any) -> Any:
        if a.ndim > 2 and b.ndim == 2:                   # (..., n, k) @ (k, m)
            rows = a.reshape(math.prod(a.shape[:-1]), a.shape[-1])
            return (rows @ b).reshape(a.shape[:-1] + b.shape[-1:])
        return a @ b

    def backward(self, g: Any) -> tuple:
        a, b = inputs_of(self)
        want_a, want_b = self.parents[0].requires_grad, self.parents[1].requires_grad
        if a.ndim > 2 and b.ndim == 2:                   # dB = A(N, k)ᵀ @ G(N, m)
            ga = run(MatMul, g, transposed(b)) if want_a else None     # folded, as forward
            return ga, run(MatMul, transposed(_rows(a)), _rows(g)) if want_b else None
        if not want_a or (a.ndim == g.ndim and a.shape[:-2] == g.shape[:-2]):
            return super().backward(g)
        ga = sum_to(transposed(run(MatMul, b, transposed(g))), a.shape)
        gb = sum_to(run(MatMul, transposed(a), g), b.shape) if want_b else None
        return ga, gb
