"""Exercise: the delta rule by hand, for a whole batch.

Lesson "A neuron and its gradient", slide "The delta rule, derived by hand".
Check it: bash tools/course.sh --check delta_rule
A hint:   bash tools/course.sh --hint delta_rule
"""
from __future__ import annotations

import tinygrad_edu as tg


def delta_rule(x: tg.Tensor, t: tg.Tensor, w: tg.Tensor, T: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
    """The gradient of a sigmoid neuron's squared error, by the chain rule (no ``.backward()``).

        net_b = Σ_i x_bi·w_i − T           (B,)   one net input per example: x @ w − T
        o_b   = σ(net_b)                   (B,)
        E     = ½ Σ_b (t_b − o_b)²         ()     summed over the batch

    Walk back from E one factor at a time, as autograd does:

        ∂E/∂o_b   = o_b − t_b
        ∂E/∂net_b = ∂E/∂o_b · o_b·(1 − o_b)       because σ'(net) = σ(net)·(1 − σ(net))
        ∂E/∂w_i   = Σ_b x_bi · ∂E/∂net_b          a sum over the batch: xᵀ @ ∂E/∂net
        ∂E/∂T     = −Σ_b ∂E/∂net_b

    The lesson's δ = (t − o)·o·(1 − o) is −∂E/∂net, so its update Δw = R·δ·x is −R·∂E/∂w.

    x (B, I) inputs, t (B,) targets, w (I,) weights, T () the threshold; float64 tensors.
    Returns (∂E/∂w of shape (I,), ∂E/∂T of shape ()). Use tensor operations only: the
    checker also differentiates what you return (that gives E's second derivatives).
    """
    raise NotImplementedError("return (∂E/∂w, ∂E/∂T) for E = ½Σ_b (t_b − σ(x_b·w − T))², "
                              "worked out by the chain rule")
