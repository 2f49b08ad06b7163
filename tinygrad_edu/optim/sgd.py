"""Stochastic gradient descent with momentum, dampening, weight decay and Nesterov.

PyTorch's rule, for every parameter ``w`` with gradient ``g`` (``lr`` = η, ``momentum``
= μ, ``dampening`` = τ, ``weight_decay`` = λ)::

    g  <- g + λ·w                      (L2 weight decay, folded into the gradient)
    b  <- g                            on the first step,
    b  <- μ·b + (1 - τ)·g              afterwards          (the momentum buffer)
    g  <- g + μ·b  if nesterov else b
    w  <- w - η·g

With τ = 0 this is the lectures' rule (lesson 10): the step Δw_t = w_t - w_{t-1} obeys

    Δw_t = -η·∂E/∂w + μ·Δw_{t-1} - λη·w_{t-1},

because Δw_t = -η·b_t = -η(μ·b_{t-1} + ∂E/∂w + λ·w) and -η·b_{t-1} = Δw_{t-1}.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.optim.optimizer import Optimizer, _check_arg


class SGD(Optimizer):
    """``optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False)``.

    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        name = type(self).__name__
        _check_arg(name, "lr", lr, isinstance(lr, (int, float)) and lr >= 0, "a number >= 0")
        _check_arg(name, "momentum", momentum, momentum >= 0, "momentum >= 0")
        _check_arg(name, "weight_decay", weight_decay, weight_decay >= 0, "weight_decay >= 0")
        _check_arg(name, "nesterov", nesterov, not nesterov or (momentum > 0 and dampening == 0),
                   "Nesterov momentum with momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group: dict[str, Any]) -> None:
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        mu, damp = float(group["momentum"]), float(group["dampening"])
        nesterov, maximize = group["nesterov"], group["maximize"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._grad(p, maximize)
            if wd != 0:
                g = g + p * wd                                      # g + λ·w
            if mu != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.clone()      # b_1 = g
                else:
                    buf.mul_(mu).add_(g if damp == 0 else g * (1 - damp))   # μ·b + (1-τ)·g
                g = g + buf * mu if nesterov else buf
            p.sub_(g * lr)                                          # w - η·g
