"""Exercise: softmax + negative log-likelihood (the cross-entropy loss), numerically stable.

Lesson "A Keras-style CNN", slide "Softmax + negative log-likelihood". The library's own
version is ``F.cross_entropy`` (tinygrad_edu/functional/loss_functions.py).
Check it: bash tools/course.sh --check cross_entropy
A hint:   bash tools/course.sh --hint cross_entropy
"""
from __future__ import annotations

import tinygrad_edu as tg


def cross_entropy(logits: tg.Tensor, target: tg.Tensor) -> tg.Tensor:
    """The mean over the batch of −log softmax(logits_n)[target_n]:

        log softmax(z)_k = z_k − log Σ_j e^(z_j)
        loss = −(1/N) Σ_n log softmax(logits_n)[target_n]

    e^1000 overflows, so take the log-sum-exp with the row's maximum m pulled out:

        log Σ_j e^(z_j) = m + log Σ_j e^(z_j − m),     m = max_j z_j

    (every exponent is then ≤ 0). m is only a shift: it may be a constant
    (``.detach()``) or not, the gradient is the same.

    logits (N, C) float64, target (N,) int64 class indices -> a 0-d tensor.
    Picking one entry per row: ``logp[tg.arange(N), target]``.
    """
    raise NotImplementedError("return the mean over the batch of −log softmax(logits)[target], "
                              "with the max-shift so that large logits do not overflow")
