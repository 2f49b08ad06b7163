"""The filter gradient's GEMM order: :class:`BatchedFilterGrad` stands in for ``MatMul``.

When A is broadcast over a batch (a conv's filters W against each image's patches
B_n), the reference computes dA = Σ_n G_n @ B_nᵀ. The same sum written as
Σ_n (B_n @ G_nᵀ)ᵀ runs faster on NumPy's batched GEMM for most conv shapes (the
measurements are in the README's benchmark section). Every other case is the reference.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine.ops import MatMul, inputs_of, run, sum_to, transposed


class BatchedFilterGrad(MatMul):
    """``MatMul`` whose A-gradient takes the transposed GEMM order when A is broadcast."""

    def backward(self, g: Any) -> tuple:
        a, b = inputs_of(self)
        if not self.parents[0].requires_grad or (a.ndim == g.ndim and
                                                 a.shape[:-2] == g.shape[:-2]):
            return super().backward(g)
        ga = sum_to(transposed(run(MatMul, b, transposed(g))), a.shape)
        gb = sum_to(run(MatMul, transposed(a), g), b.shape) if self.parents[1].requires_grad \
            else None
        return ga, gb
