"""``stack`` as one join: a ``Cat`` along an existing dim, then one ``Reshape``.

The reference (``functional.tensor_methods.stack``) gives each of the n tensors a size-1
dim (a reshape node each) and joins those: n + 1 nodes, each with its own backward, so
a loop that stacks its T hidden states records T + 1. Joining them along the dim d that
is already there and splitting it, (n·size) -> (n, size), records two nodes whatever n
is: (B, H) x 64, d = 0 -> (64·B, H) -> (64, B, H). Row-major order makes the two equal:
entry k·size + j of the joined dim is entry j of tensor k. A new last dim has no dim
to split, so ``stack`` keeps the reference there.
"""
from __future__ import annotations

from tinygrad_edu.engine.ops import Cat, Reshape
from tinygrad_edu.engine.tensor import Tensor


def one_join_stack(tensors: list, d: int) -> Tensor:
    """n same-shaped tensors stacked along a new dim ``d`` (< their ndim) in two nodes."""
    shape = tensors[0].shape
    joined = tensors[0] if len(tensors) == 1 else Cat.apply(*tensors, dim=d)
    return Reshape.apply(joined, shape=shape[:d] + (len(tensors),) + shape[d:])
