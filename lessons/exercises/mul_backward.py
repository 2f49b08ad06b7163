"""Exercise: the backward of the product z = x · y, as a custom Function.

Lesson "Backpropagation in an MLP", slide "Autograd computes the same error terms"; the
engine's own version is ``Mul`` in tinygrad_edu/engine/ops.py (read it after you are done).
Check it: bash tools/course.sh --check mul_backward
A hint:   bash tools/course.sh --hint mul_backward
"""
from __future__ import annotations

from typing import Any

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function
from tinygrad_edu.engine.ops import sum_to


class Mul(Function):
    """z = x · y, elementwise, with NumPy's broadcasting: use it as ``Mul.apply(x, y)``.

    ``forward`` runs on the raw arrays (given). ``backward`` receives grad = ∂L/∂z, a
    tensor of z's shape, and returns one gradient per input, each of its input's shape:

        ∂L/∂x = grad · y        ∂L/∂y = grad · x

    When an input was broadcast (x (4,) times y (3, 4): x is used by all 3 rows), its
    gradient adds up the contributions of every place it was used: sum grad · y over the
    broadcast dims. The engine's helper ``sum_to(g, shape)`` does exactly that
    (``sum_to(g, x.shape)``; you write it yourself in the sum_expand exercise).

    ``self.inputs`` holds the input tensors (x, y). Compute with tensor operations, so
    that your gradient can be differentiated again (the checker tests second derivatives).
    """
    name = "mul"

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, grad: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        raise NotImplementedError("return (∂L/∂x, ∂L/∂y) = (grad·y, grad·x), each summed back "
                                  "to its input's shape")
