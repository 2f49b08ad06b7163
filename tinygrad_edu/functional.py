"""Composite ops: written once in terms of primitives, differentiated for free.

Nothing here has a hand-written backward: ``softmax`` is exp, sum and div;
``cross_entropy`` is log_softmax and indexing; ``conv2d`` is a sliding-window
view, a reshape and a matmul. The gradient of each is whatever the chain
rule over its primitives gives, and the tests check it against central
differences and PyTorch.

Names, signatures and defaults follow ``torch.nn.functional``.
"""
from __future__ import annotations

from typing import Sequence

from tinygrad_edu import backend
from tinygrad_edu.tensor import Tensor, arange, rand, where
from tinygrad_edu.convolution import conv1d, conv2d, conv_output_size, true_conv2d  # noqa: F401
from tinygrad_edu.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,  # noqa: F401
                                  avg_pool1d, avg_pool2d, lp_pool1d, lp_pool2d, max_pool1d,
                                  max_pool2d)
from tinygrad_edu.recurrent import (gru_cell, lstm_cell, peephole_lstm_cell,  # noqa: F401
                                    rnn_relu_cell, rnn_tanh_cell)

# ---------------------------------------------------------------- activations


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


def softmax(input: Tensor, dim: int) -> Tensor:
    """softmax(x)_i = e**x_i / Σ_j e**x_j along ``dim``.

    Computed as e**(x - m) / Σ e**(x - m) with m = max(x): the shift cancels
    in the ratio but keeps e**(...) from overflowing for large logits. m is
    treated as a constant (its gradient contribution is exactly zero).

    >>> F.softmax(tg.tensor([1., 2., 3.]), dim=0)      # [0.090, 0.245, 0.665]
    """
    if input.numel() == 0:     # nothing to normalise (and no max to shift by)
        return input * 1.0
    e = (input - input.detach().amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """log softmax(x)_i = x_i - m - log Σ_j e**(x_j - m), with m = max(x) (stable)."""
    if input.numel() == 0:
        return input * 1.0
    shifted = input - input.detach().amax(dim, keepdim=True)
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


# ---------------------------------------------------------------- layers as functions
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
        lo, hi = int(input.data.min()), int(input.data.max())
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
        num_classes = int(tensor.data.max()) + 1 if tensor.numel() else 0
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


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖_p, eps) along ``dim``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


# ---------------------------------------------------------------- normalization
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


# ---------------------------------------------------------------- losses
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, where_: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{where_}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_same_shape(input: Tensor, target: Tensor, where_: str) -> None:
    if input.shape != target.shape:
        raise ValueError(f"{where_}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} must match")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: loss_n = -w[y_n] · input[n, y_n] (input = log-probabilities).

    input (N, C) or (N, C, d1, ...) ; target (N,) or (N, d1, ...) int64 class indices.
    'mean' divides by Σ w[y_n] over non-ignored targets (PyTorch's weighted mean).
    """
    if backend.is_floating(target.dtype):
        raise TypeError(f"nll_loss: target must hold int64 class indices, got dtype "
                        f"{target.dtype} (for probabilities use cross_entropy with float targets)")
    if input.ndim < 1:
        raise ValueError("nll_loss: input needs a class dimension")
    out_shape = tuple(target.shape)     # the shape of the 'none' result
    if weight is not None and tuple(weight.shape) != (input.shape[1 if input.ndim > 1 else 0],):
        raise ValueError(f"nll_loss: weight has shape {tuple(weight.shape)}, expected one "
                         f"weight per class ({input.shape[1 if input.ndim > 1 else 0]},)")
    if input.ndim == 1:
        input, target = input.unsqueeze(0), target.reshape(1)
    if input.ndim > 2:       # (N, C, d1, ...) -> (N*d1*..., C)
        c = input.shape[1]
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
        target = target.reshape(-1)
    n, c = input.shape
    if target.shape != (n,):
        raise ValueError(f"nll_loss: expected target of shape ({n},) for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    valid = target != ignore_index
    safe = where(valid, target, 0).long()
    if target.numel() and target.device == "cpu":   # (no device -> host sync on a GPU)
        bad = (safe.data < 0) | (safe.data >= c)
        if bool(bad.any()):
            raise IndexError(f"nll_loss: target {int(target.data[bad.nonzero()[0][0]])} is out "
                             f"of bounds for {c} classes")
    picked = input[arange(n, device=input.device), safe]          # (N,)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * weight[safe]
    loss = -picked * w
    if reduction == "mean":
        return loss.sum() / w.sum()
    if reduction == "none":
        return loss.reshape(out_shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one stable step: -log softmax(x)[y].

    input: logits (N, C) or (N, C, d1, ...); target: int64 class indices
    (N,)/(N, d1, ...), or float class probabilities of the input's shape.

    >>> F.cross_entropy(tg.tensor([[2., 0., 0.]]), tg.tensor([0]))   # -log(e²/(e²+2)) ≈ 0.2395
    """
    logp = log_softmax(input, 1 if input.ndim > 1 else 0)
    if backend.is_floating(target.dtype):
        _check_same_shape(input, target, "cross_entropy")
        if label_smoothing:
            c = input.shape[1 if input.ndim > 1 else 0]
            target = target * (1 - label_smoothing) + label_smoothing / c
        cdim = 1 if input.ndim > 1 else 0
        w = 1.0 if weight is None else weight.reshape((-1,) + (1,) * (input.ndim - 2))
        loss = -(logp * target * w).sum(cdim)
        return _reduce(loss, reduction, "cross_entropy")
    loss = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing:
        c = input.shape[1 if input.ndim > 1 else 0]
        cdim = 1 if input.ndim > 1 else 0
        valid = (target != ignore_index).to(input.dtype)
        w = 1.0 if weight is None else weight.reshape((-1,) + (1,) * (input.ndim - 2))
        smooth = -(logp * w).sum(cdim) * valid
        if reduction == "mean":
            denom = valid.sum() if weight is None else (weight[where(target != ignore_index,
                                                                     target, 0)] * valid).sum()
            smooth = smooth.sum() / denom
        else:
            smooth = _reduce(smooth, reduction, "cross_entropy")
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / c)
    return loss


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((x - y)²)."""
    _check_same_shape(input, target, "mse_loss")
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean(|x - y|)."""
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def _log_clamped(p: Tensor) -> Tensor:
    """log p clamped at -100 (as PyTorch's BCE): finite at p = 0, and the gradient there is
    0 rather than 0·∞ = nan (log only ever sees p where p > 0, and 1 elsewhere)."""
    positive = p > 0
    return where(positive, where(positive, p, 1.0).log(), -100.0).clamp(min=-100.0)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-[y log p + (1 - y) log(1 - p)] for probabilities p in [0, 1].

    Each log is clamped at -100 (as PyTorch does) so p = 0 or 1 gives a finite loss.
    """
    _check_same_shape(input, target, "binary_cross_entropy")
    check = input.numel() and input.device == "cpu"   # (no device -> host sync on a GPU)
    lo = input.data.min() if check else 0
    hi = input.data.max() if check else 1
    if float(lo) < 0 or float(hi) > 1:
        raise ValueError("binary_cross_entropy: input must be probabilities in [0, 1], got "
                         f"values in [{float(lo):.4g}, {float(hi):.4g}]; use "
                         "binary_cross_entropy_with_logits for raw scores")
    loss = -(target * _log_clamped(input) + (1 - target) * _log_clamped(1 - input))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """BCE of σ(x), computed stably from the logit x:

        loss = (1 - y)·x + (1 + (pw - 1)·y)·log(1 + e**-x)
        with log(1 + e**-x) = softplus(-x), computed with a max-shift (no overflow for
        |x| = 1e4, and the gradient σ(x) - y is exact, also at x = 0)
    """
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    log1p_exp_neg = (-input).softplus()
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * log1p_exp_neg
    else:
        loss = (1 - target) * input + log1p_exp_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target ‖ exp(input)) pointwise: y (log y - x), input being log-probabilities."""
    if log_target:
        loss = target.exp() * (target - input)
    else:
        safe = where(target > 0, target, 1.0)
        loss = target * (safe.log() - input)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction, "kl_div")


__all__ = [
    "relu", "sigmoid", "tanh", "leaky_relu", "softplus", "hardtanh", "softmax",
    "log_softmax", "linear", "dropout", "embedding", "one_hot", "pad", "normalize", "nll_loss",
    "cross_entropy", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "batch_norm", "layer_norm",
    "conv1d", "conv2d", "true_conv2d", "conv_output_size", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "lp_pool1d", "lp_pool2d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell", "peephole_lstm_cell",
]
