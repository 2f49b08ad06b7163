"""Elementwise activations and the softmax family, composed of primitives.

Names, signatures and defaults follow ``torch.nn.functional``.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import where


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return input.relu()


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e**-x), squashing to (0, 1)."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """tanh(x), squashing to (-1, 1)."""
    return input.tanh()


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    return where(input > 0, input, input * negative_slope)


def softplus(input: Tensor, beta: float = 1.0) -> Tensor:
    """log(1 + e**(βx)) / β, a smooth ReLU."""
    return (input * beta).softplus() * (1.0 / beta) if beta != 1 else input.softplus()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return input.clamp(min_val, max_val)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """softmax(x)ᵢ = eˣⁱ / Σⱼ eˣʲ along ``dim`` (stable: see ``Tensor.softmax``).

    >>> F.softmax(tg.tensor([1., 2., 3.]), dim=0)      # [0.090, 0.245, 0.665]
    """
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """log softmax(x)ᵢ = xᵢ - m - log Σⱼ e^(xⱼ - m), with m = max(x) (stable)."""
    return input.log_softmax(dim, dtype=dtype)
