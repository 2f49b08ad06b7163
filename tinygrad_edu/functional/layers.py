"""Layers as functions: linear, dropout, embedding, one-hot, padding.

Each is a composite of primitives (so its gradient comes for free). Names,
signatures and defaults follow ``torch.nn.functional``.
"""
from __future__ import annotations

import operator
from typing import Any, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor, check
from tinygrad_edu.functional.tensor_methods import where
from tinygrad_edu.functional.creation import arange, rand, tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x Wᵀ + b.   x: (..., in), W: (out, in), b: (out,) -> y: (..., out)."""
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input has {input.shape[-1]} features (shape "
                           f"{tuple(input.shape)}) but weight expects {weight.shape[-1]} "
                           f"(weight shape {tuple(weight.shape)})")
    if bias is not None and tuple(bias.shape) not in ((), (weight.shape[0],)):
        raise RuntimeError(f"linear: bias has shape {tuple(bias.shape)}, expected "
                           f"({weight.shape[0]},), one per output feature (weight shape "
                           f"{tuple(weight.shape)})")
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
    check((input >= 0) & (input < n), f"embedding: index {{}} is out of range for {n} "
          f"embeddings (weight shape {tuple(weight.shape)}); indices must be in [0, {n})",
          input)
    out = weight[input]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ValueError(f"embedding: padding_idx must be within [-{n}, {n}) for {n} "
                             f"embeddings, got {padding_idx}")
        padding_idx = padding_idx % n                 # -1 is the last row, as in PyTorch
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
    check((tensor >= 0) & (tensor < num_classes), f"one_hot: class {{}} is out of range for "
          f"{num_classes} classes; class values must be in [0, {num_classes})", tensor)
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def _edge_indices(n: int, before: int, after: int, mode: str) -> list[int]:
    """Where each padded position reads from, for a dim of size n: 'reflect' mirrors
    without repeating the edge (d c b | a b c d | c b a), 'replicate' repeats the edge,
    'circular' wraps around."""
    out = []
    for i in range(-before, n + after):
        if mode == "replicate":
            out.append(min(max(i, 0), n - 1))
        elif mode == "circular":
            out.append(i % n)
        else:
            period = 2 * (n - 1) or 1
            j = i % period
            out.append(j if j < n else period - j)
    return out


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch-order padding: ``pad`` lists (left, right) for the last dim, then (top,
    bottom) for the one before, and so on. A negative amount crops.

    ``mode``: 'constant' (fill with ``value``), 'reflect', 'replicate' or 'circular'
    (these read the border values by indexing, so the gradient adds up every copy):

    >>> F.pad(tg.tensor([[[0., 1, 2]]]), (2, 1), mode="reflect")   # [[[2, 1, 0, 1, 2, 1]]]
    """
    modes = ("constant", "reflect", "replicate", "circular")
    if mode not in modes:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; use one of {modes}")
    pad = [operator.index(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of values for at most {input.ndim} "
                         f"dims, got {tuple(pad)}")
    if mode != "constant" and (value or len(pad) // 2 > max(input.ndim - 1, 1)):
        raise ValueError(f"pad: mode {mode!r} pads at most the last {max(input.ndim - 1, 1)} "
                         f"dims of an input of shape {tuple(input.shape)} and takes no value; "
                         f"got pad={tuple(pad)}, value={value}")
    for i in range(len(pad) // 2):
        d, (a, b) = input.ndim - 1 - i, pad[2 * i: 2 * i + 2]
        n = input.shape[d]
        if n + a + b < 1 if mode != "constant" else n + min(a, 0) + min(b, 0) < 0:
            raise ValueError(f"pad: padding {(a, b)} of dim {d} (size {n}) leaves nothing "
                             f"(input shape {tuple(input.shape)})")
        if mode in ("constant", "circular") and (a < 0 or b < 0):    # crop first
            input = input[(slice(None),) * d + (slice(-min(a, 0), n + min(b, 0)),)]
            a, b, n = max(a, 0), max(b, 0), input.shape[d]
        if mode == "constant":
            pairs = [(0, 0)] * input.ndim
            pairs[d] = (a, b)
            input = input.pad(pairs, value)
            continue
        if n == 0 or mode == "reflect" and max(a, b) >= n:
            raise ValueError(f"pad: {mode} padding {(a, b)} of dim {d} needs a non-empty dim"
                             + (f" and each amount < its size {n}" if mode == "reflect" else "")
                             + f" (input shape {tuple(input.shape)})")
        if a or b:                   # read the border; a negative amount crops as it reads
            index = tensor(_edge_indices(n, a, b, mode), device=input.device)
            input = input[(slice(None),) * d + (index,)]
    return input
