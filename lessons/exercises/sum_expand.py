"""Exercise: broadcasting and its backward, the pair sum <-> expand, as custom Functions.

Lesson "Backpropagation through time", slide "A shared weight's gradient is the sum over its
copies": a tensor broadcast to many places is a weight shared by them, so its gradient is
the sum of theirs. The engine's own versions are ``Sum``, ``Expand`` and ``sum_to`` in
tinygrad_edu/engine/ops.py.
Check it: bash tools/course.sh --check sum_expand
A hint:   bash tools/course.sh --hint sum_expand
"""
from __future__ import annotations

from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function


class Sum(Function):
    """z = Σ x over ``dims`` (given, as an example): ``Sum.apply(x, dims=(0,), keepdim=False)``.

    Backward: every element that went into a sum gets that sum's gradient, so the gradient
    is reshaped to keep the summed dims (as size 1) and expanded back to x's shape. Its
    backward is built on yours: ``Expand`` below.
    """
    name = "sum"

    def forward(self, x: Any, dims: tuple, keepdim: bool) -> Any:
        self.in_shape = x.shape
        self.kept = tuple(1 if i in dims else s for i, s in enumerate(x.shape))
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        return Expand.apply(grad.reshape(self.kept), shape=self.in_shape)


class Expand(Function):
    """z = x broadcast to ``shape`` (NumPy's rules): ``Expand.apply(x, shape=(3, 4))``.

    Broadcasting (a) adds leading dims, (4,) -> (2, 3, 4), and (b) stretches dims of size 1,
    (3, 1) -> (3, 4). Each element of x is then used at many places of z, so its gradient
    is the sum of grad over those places:

        sum grad over the leading dims that were added, and over every dim where x had
        size 1 and z does not; keep the stretched dims (``keepdim=True``) and reshape the
        result to x's shape.

    ``self.in_shape`` is x's shape, ``grad`` has the shape of z. Use ``Sum.apply`` (above)
    for the sum and ``.reshape`` for the shape, so that the pair stays differentiable: the
    checker tests the second derivatives of Sum and Expand, which run through each other.
    """
    name = "expand"

    def forward(self, x: Any, shape: tuple) -> Any:
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad: tg.Tensor) -> tg.Tensor:
        raise NotImplementedError("sum grad over the dims that broadcasting added or stretched, "
                                  "and reshape it to the input's shape")
