"""Max pooling's reduction over each window in one node, its gradient to the first maximum.

The reference (``functional.window_pooling.first_max``) takes each window's argmax,
compares it with every tap number to get a one-hot mask and sums ``where(mask, taps, 0)``:
an argmax along a strided axis and three recorded ops. :class:`FirstMax` takes ``max``
of a contiguous copy, and finds the first maximum of each window only in backward, with
one comparison per tap. ``tests/test_fast_lane.py`` proves it equal to the reference
(values, first and second derivatives, ties and NaN included).
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.ops import Primitive
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.fastlane.elementwise import masked


class FirstMax(Primitive):
    """z = max over dim 0 of the taps (K, ...) -> (...).  Backward: g to the first tap
    that equals z (a NaN tap counts as the maximum, as ``max`` returns it), 0 elsewhere."""
    name = "first_max"

    def forward(self, taps: Any) -> Any:
        self.taps = backend.module_of(taps).ascontiguousarray(taps)
        self.m = self.taps.max(axis=0)
        return self.m

    def first(self) -> Any:
        """(K, ...) bool: True at the first maximal tap of each window."""
        xp = backend.module_of(self.taps)
        hit = (self.taps == self.m) | (self.taps != self.taps)     # NaN != NaN
        seen = xp.zeros(self.m.shape, dtype=bool)
        for k in range(hit.shape[0]):
            hit[k] &= ~seen
            seen |= hit[k]
        return hit

    def backward(self, g: Any) -> Any:
        return masked(self.first(), g)                    # g broadcast over the K taps


def first_max(taps: Tensor) -> Tensor:
    """The largest tap of each window (dim 0), its gradient to the first of them."""
    return FirstMax.apply(taps)
