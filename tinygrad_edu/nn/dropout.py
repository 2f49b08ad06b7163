"""``Dropout``: randomly silence units while training, so no unit can rely on another.

Each element is zeroed with probability p and the survivors are scaled by
1/(1-p) ("inverted" dropout), so the expected activation is unchanged and the
layer is the identity in evaluation mode (``model.eval()``).
"""
from __future__ import annotations

from tinygrad_edu import functional as F
from tinygrad_edu.nn.module import Module
from tinygrad_edu.engine.tensor import Tensor


class Dropout(Module):
    """y = x · m / (1 - p), m_i ~ Bernoulli(1 - p), in training; y = x in evaluation.

    >>> drop = nn.Dropout(p=0.5)
    >>> drop(tg.ones(8))          # about half the entries 2.0, the rest 0.0
    >>> drop.eval()(tg.ones(8))   # all 1.0
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, "
                             f"but got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
