"""Loss functions, composed of primitives (``torch.nn.functional``'s names and defaults).

Each returns the per-element loss reduced by ``reduction``: 'mean' (the default),
'sum' or 'none'.
"""
from __future__ import annotations

from typing import Any, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor, check
from tinygrad_edu.functional.tensor_methods import where
from tinygrad_edu.functional.creation import arange
from tinygrad_edu.functional.elementwise import log_softmax
from tinygrad_edu.functional.gradients import scope


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
    check((safe >= 0) & (safe < c), f"nll_loss: target {{}} is out of bounds for {c} classes "
          f"(targets must be in [0, {c}) or equal ignore_index={ignore_index})", target)
    picked = input[arange(n, device=input.device), safe]          # (N,)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * weight[safe]
    loss = -picked * w
    if reduction == "mean":     # all ignored: NaN loss (0/0), but a zero gradient (PyTorch)
        total = w.sum()
        return where(total == 0, float("nan"), loss.sum() / where(total == 0, 1.0, total))
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
    with scope("cross_entropy()"):          # the graph views draw the call as one box
        cdim = 1 if input.ndim > 1 else 0                       # the class dim
        logp = log_softmax(input, cdim)
        w = None if weight is None else weight.reshape((-1,) + (1,) * (input.ndim - 2))
        if backend.is_floating(target.dtype):
            _check_same_shape(input, target, "cross_entropy")
            if label_smoothing:
                target = target * (1 - label_smoothing) + label_smoothing / input.shape[cdim]
            loss = -(logp * target * (1.0 if w is None else w)).sum(cdim)
            return _reduce(loss, reduction, "cross_entropy")
        loss = nll_loss(logp, target, weight, ignore_index, reduction)
        if label_smoothing:
            valid = (target != ignore_index).to(input.dtype)
            smooth = -(logp * (1.0 if w is None else w)).sum(cdim) * valid
            if reduction == "mean":
                denom = valid.sum() if weight is None else (weight[where(target != ignore_index,
                                                                         target, 0)] * valid).sum()
                smooth = smooth.sum() / denom
            else:
                smooth = _reduce(smooth, reduction, "cross_entropy")
            loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / input.shape[cdim])
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


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5·d²/β where d = |x - y| < β, else d - 0.5·β: quadratic near 0, linear beyond
    (β = 0 is the L1 loss)."""
    _check_same_shape(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    return _reduce(where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta), reduction,
                   "smooth_l1_loss")


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """0.5·d² where d = |x - y| < δ, else δ·(d - 0.5·δ): smooth_l1_loss scaled by δ."""
    _check_same_shape(input, target, "huber_loss")
    d = (input - target).abs()
    return _reduce(where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta), reduction,
                   "huber_loss")


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
    check((input >= 0) & (input <= 1), "binary_cross_entropy: input must be probabilities in "
          "[0, 1], got {}; use binary_cross_entropy_with_logits for raw scores",
          input.detach(), ValueError)
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
    else:                                   # y·log y as 0 at y = 0 (and NaN for y < 0)
        y_log_y = where(target == 0, 0.0, target * where(target == 0, 1.0, target).log())
        loss = y_log_y - target * input
    if reduction == "batchmean":                   # the sum over the batch size (a 0-d input:
        return loss.sum() / (input.shape[0] if input.ndim else 1)       # the sum itself)
    return _reduce(loss, reduction, "kl_div")


