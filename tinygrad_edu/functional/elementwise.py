"""Elementwise activations and the softmax family, composed of primitives.

Names, signatures and defaults follow ``torch.nn.functional``.
"""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu.engine import ops
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
    """x if x > 0 else negative_slope * x (the gradient at 0 is the slope, as in PyTorch)."""
    return where(input > 0, input, input * negative_slope)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx)) / β, a smooth ReLU; x itself where βx > threshold (as PyTorch)."""
    soft = (input * beta).softplus() * (1.0 / beta) if beta != 1 else input.softplus()
    return where(input * beta > threshold, input, soft)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x limited to [min_val, max_val]; gradient 1 strictly inside, 0 at and beyond the
    bounds (PyTorch's hardtanh, unlike clamp)."""
    return where(input <= min_val, min_val, where(input >= max_val, max_val, input))


def silu(input: Tensor) -> Tensor:
    """x · σ(x) (also called swish)."""
    return input * input.sigmoid()


def logsigmoid(input: Tensor) -> Tensor:
    """log σ(x) = -softplus(-x), computed without overflow."""
    return -(-input).softplus()


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else α(eˣ - 1). The exponential only sees x <= 0 (a second where), so
    a large x cannot put inf·0 = NaN into the gradient."""
    negative = where(input > 0, 0.0, input)
    return where(input > 0, input, (negative.exp() - 1) * alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x · Φ(x), Φ the standard normal's CDF: 0.5·x·(1 + erf(x/√2)); with
    ``approximate='tanh'``, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * (inner.tanh() + 1) * 0.5
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return input * (ops.Erf.apply(input * (1 / math.sqrt(2))) + 1) * 0.5


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """softmax(x)ᵢ = eˣⁱ / Σⱼ eˣʲ along ``dim`` (stable: see ``Tensor.softmax``).

    >>> F.softmax(tg.tensor([1., 2., 3.]), dim=0)      # [0.090, 0.245, 0.665]
    """
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:
    """log softmax(x)ᵢ = xᵢ - m - log Σⱼ e^(xⱼ - m), with m = max(x) (stable)."""
    return input.log_softmax(dim, dtype=dtype)
