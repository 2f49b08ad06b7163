"""Normalization: batch norm, layer norm, and rescaling to unit norm.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine.tensor import Tensor


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel over the batch (and spatial dims), then scale and shift:

        y = (x - μ_c) / √(σ²_c + eps) · γ_c + β_c

    input (N, C) or (N, C, L) or (N, C, H, W); μ_c, σ²_c are taken over every dim but C.
    Training: μ, σ² are the batch's (biased variance) and, when given, the running
    statistics move towards them:  running ← (1 - momentum)·running + momentum·batch
    (the running variance uses the unbiased batch variance, n/(n-1)·σ², as PyTorch does).
    Evaluation: the running statistics are used instead.
    """
    if input.numel() == 0:                 # an empty batch: an empty output, stats untouched
        return input * 1.0
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...) with at least 2 "
                         f"dims, got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} has shape {tuple(t.shape)}, expected ({c},) "
                             f"for an input with {c} channels (input shape "
                             f"{tuple(input.shape)})")
    dims = (0,) + tuple(range(2, input.ndim))       # every dim except the channels
    shape = (1, c) + (1,) * (input.ndim - 2)         # a (C,) vector broadcast over (N, C, ...)
    if training:
        n = input.numel() // c if c else 0
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input shape {tuple(input.shape)}")
        mean = input.mean(dims, keepdim=True)                 # (1, C, 1, ...)
        centred = input - mean
        var = (centred * centred).mean(dims, keepdim=True)   # biased: divides by n
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.detach().reshape(c) * momentum)
        if running_var is not None:
            unbiased = var.detach().reshape(c) * (n / (n - 1))
            running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when "
                             "training=False")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
        centred = input - mean
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(input: Tensor, normalized_shape: Sequence[int] | int,
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dims of each sample, then scale
    and shift elementwise:  y = (x - μ) / √(σ² + eps) · γ + β  (σ² biased).

    input (..., *normalized_shape); weight and bias have shape ``normalized_shape``.
    Unlike batch norm, nothing depends on the other samples of the batch.
    """
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != ns or input.ndim < k:
        raise ValueError(f"layer_norm: given normalized_shape={list(ns)}, expected input "
                         f"with shape [*, {', '.join(map(str, ns))}], but got input of shape "
                         f"{tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise ValueError(f"layer_norm: {name} has shape {tuple(t.shape)}, expected "
                             f"{ns} (normalized_shape)")
    dims = tuple(range(input.ndim - k, input.ndim))
    mean = input.mean(dims, keepdim=True)
    centred = input - mean
    var = (centred * centred).mean(dims, keepdim=True)
    out = centred / (var + eps).sqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖_p, eps) along ``dim``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


