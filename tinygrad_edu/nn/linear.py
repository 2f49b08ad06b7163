"""Fully connected layers: ``Linear`` (y = x Wᵀ + b), ``Identity`` and ``Flatten``."""
from __future__ import annotations

import math
from typing import Any

from tinygrad_edu import functional as F
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.creation import empty


class Linear(Module):
    """y = x Wᵀ + b.   x: (..., in_features) -> y: (..., out_features).

    W has shape (out_features, in_features): in_features·out_features
    weights plus out_features biases (784→256 holds 200,960 parameters).
    Initialised as PyTorch does: W, b ~ U(-1/√in, 1/√in).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = init.size_arg(in_features, "in_features", "Linear")
        self.out_features = init.size_arg(out_features, "out_features", "Linear")
        self.weight = Parameter(empty(self.out_features, self.in_features, device=device,
                                      dtype=dtype))
        if bias:
            self.bias = Parameter(empty(self.out_features, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """(N, C, H, W) -> (N, C·H·W): merges dims ``start_dim``..``end_dim``."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
