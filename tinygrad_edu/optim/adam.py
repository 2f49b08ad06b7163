"""Adam and AdamW: steps scaled by running estimates of the gradient's mean and spread.

PyTorch's rule (Kingma & Ba 2015), step t = 1, 2, ... for a parameter ``w`` with
gradient ``g`` (``betas`` = (β1, β2), ``lr`` = η, ``weight_decay`` = λ)::

    g  <- g + λ·w                         Adam (L2 decay in the gradient), or
    w  <- w·(1 - η·λ)                     AdamW (decoupled decay, Loshchilov & Hutter 2019)
    m  <- β1·m + (1 - β1)·g               first moment  ("exp_avg")
    v  <- β2·v + (1 - β2)·g²              second moment ("exp_avg_sq")
    v̂max <- max(v̂max, v)                  amsgrad only ("max_exp_avg_sq"); use it for v below
    w  <- w - η/(1 - β1^t) · m / (√v / √(1 - β2^t) + ε)

The bias corrections 1 - β^t undo the pull towards 0 of moments that start at 0.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.optim.optimizer import Optimizer, _check_arg, _step_tensor, _zeros_state


class Adam(Optimizer):
    """``optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False)``; ``decoupled_weight_decay=True`` makes it AdamW."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        name = type(self).__name__
        _check_arg(name, "lr", lr, isinstance(lr, (int, float)) and lr >= 0, "a number >= 0")
        _check_arg(name, "eps", eps, eps >= 0, "eps >= 0")
        _check_arg(name, "betas", betas, len(betas) == 2 and all(0 <= b < 1 for b in betas),
                   "two numbers in [0, 1)")
        _check_arg(name, "weight_decay", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, decoupled = group["amsgrad"], group["decoupled_weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = _step_tensor()
                state["exp_avg"] = _zeros_state(p)
                state["exp_avg_sq"] = _zeros_state(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = _zeros_state(p)
            t = state["step"].add_(1).item()
            if wd != 0:
                if decoupled:
                    p.mul_(1 - lr * wd)                     # AdamW: w·(1 - η·λ)
                else:
                    g = g + p * wd                          # Adam: g + λ·w
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.add_((g - m) * (1 - beta1))                   # m = β1·m + (1-β1)·g  (a lerp)
            v.mul_(beta2).add_(g * g * (1 - beta2))
            if amsgrad:
                v = state["max_exp_avg_sq"].copy_(state["max_exp_avg_sq"].maximum(v))
            denom = v.sqrt() / (1 - beta2 ** t) ** 0.5 + eps
            p.sub_(m / denom * (lr / (1 - beta1 ** t)))


class AdamW(Adam):
    """``optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False)``: Adam whose weight decay shrinks ``w`` directly, w <- w·(1 - η·λ),
    instead of adding λ·w to the gradient (where Adam's scaling would weaken it)."""

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
