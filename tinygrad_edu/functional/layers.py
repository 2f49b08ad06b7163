"""Layers as functions: linear, dropout, embedding, one-hot, padding.

Each is a composite of primitives (so its gradient comes for free). Names,
signatures and defaults follow ``torch.nn.functional``.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import where
from tinygrad_edu.functional.creation import arange, rand


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b.   x: (..., in), W: (out, in), b: (out,) -> y: (..., out)."""
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input has {input.shape[-1]} features (shape "
                           f"{tuple(input.shape)}) but weight expects {weight.shape[-1]} "
                           f"(weight shape {tuple(weight.shape)})")
    out = input @ weight.T
    return out + bias if bias is not None else out


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) ("inverted"
    dropout, so evaluation needs no rescaling). The identity when not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = rand(input.shape, dtype=input.dtype, device=input.device) >= p
    return input * keep.to(input.dtype) * (1.0 / (1.0 - p))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) by integer ``input`` (...,)
    -> (..., dim). The gradient of a row is the sum over every position that used it;
    the ``padding_idx`` row gets no gradient."""
    if backend.is_floating(input.dtype):
        raise TypeError(f"embedding: input must be an integer tensor of indices, got dtype "
                        f"{input.dtype}")
    n = weight.shape[0]
    if input.numel() and input.device == "cpu":   # on a GPU the check would cost a host sync
        lo, hi = input.min().item(), input.max().item()
        if lo < -n or hi >= n:
            raise IndexError(f"embedding: index {hi if hi >= n else lo} is out of range for "
                             f"{n} embeddings (weight shape {tuple(weight.shape)})")
    out = weight[input]
    if padding_idx is not None:
        keep = (input != padding_idx).unsqueeze(-1).to(weight.dtype)
        out = out * keep + out.detach() * (1 - keep)   # same values, no gradient at padding
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(...,) int64 class indices -> (..., num_classes) int64 with a single 1 per row."""
    if backend.is_floating(tensor.dtype):
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype "
                        f"{tensor.dtype}")
    if num_classes < 0:
        num_classes = tensor.max().item() + 1 if tensor.numel() else 0
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch-order padding: ``pad`` lists (left, right) for the last dim, then (top,
    bottom) for the one before, and so on. Only ``mode='constant'``."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of values for at most {input.ndim} "
                         f"dims, got {tuple(pad)}")
    pairs = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        pairs[input.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return input.pad(pairs, value)
