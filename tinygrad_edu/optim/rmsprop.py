"""RMSprop: divide each step by a running root-mean-square of recent gradients.

PyTorch's rule (Hinton's lecture 6e; ``alpha`` = ρ, ``lr`` = η, ``weight_decay`` = λ,
``momentum`` = μ)::

    g   <- g + λ·w
    s   <- ρ·s + (1 - ρ)·g²                 ("square_avg")
    ḡ   <- ρ·ḡ + (1 - ρ)·g                  centered only ("grad_avg")
    d   <- √(s - ḡ²) + ε   if centered      (an estimate of the gradient's std)
           √s + ε          otherwise
    b   <- μ·b + g / d;  w <- w - η·b       with momentum ("momentum_buffer")
    w   <- w - η·g / d                      without
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.optim.optimizer import Optimizer, _check_arg, _step_tensor, _zeros_state


class RMSprop(Optimizer):
    """``optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False)``."""

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        name = type(self).__name__
        _check_arg(name, "lr", lr, isinstance(lr, (int, float)) and lr >= 0, "a number >= 0")
        _check_arg(name, "eps", eps, eps >= 0, "eps >= 0")
        _check_arg(name, "alpha", alpha, 0 <= alpha <= 1, "0 <= alpha <= 1")
        _check_arg(name, "momentum", momentum, momentum >= 0, "momentum >= 0")
        _check_arg(name, "weight_decay", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        wd, mu = float(group["weight_decay"]), float(group["momentum"])
        centered = group["centered"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, group["maximize"])
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = _step_tensor()
                state["square_avg"] = _zeros_state(p)
                if mu > 0:
                    state["momentum_buffer"] = _zeros_state(p)
                if centered:
                    state["grad_avg"] = _zeros_state(p)
            state["step"].add_(1)
            if wd != 0:
                g = g + p * wd
            s = state["square_avg"].mul_(alpha).add_(g * g * (1 - alpha))
            if centered:
                ga = state["grad_avg"]
                ga.add_((g - ga) * (1 - alpha))
                avg = (s - ga * ga).sqrt() + eps
            else:
                avg = s.sqrt() + eps
            if mu > 0:
                b = state["momentum_buffer"].mul_(mu).add_(g / avg)
                p.sub_(b * lr)
            else:
                p.sub_(g / avg * lr)
