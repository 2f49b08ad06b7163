"""Loss modules: thin module forms of the loss functions in ``functional``.

A loss module only stores its options (``reduction``, class ``weight``,
``ignore_index`` ...) and calls the function: ``nn.CrossEntropyLoss()(logits,
target) == F.cross_entropy(logits, target)``. Class weights are buffers, so
they move with ``.to(device)`` and appear in ``state_dict()`` as in PyTorch.

``reduction``: 'mean' (default), 'sum', or 'none' (one loss per element).
"""
from __future__ import annotations

from tinygrad_edu import functional as F
from tinygrad_edu.nn.module import Module
from tinygrad_edu.engine.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, "
                             f"got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(f"{type(self).__name__}: weight must be a Tensor or None, got "
                            f"{type(weight).__name__}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """-log softmax(x)[y], averaged: logits (N, C) or (N, C, d1, ...) and class ids (N, ...).

    ``weight`` (C,) rescales each class; ``ignore_index`` targets add nothing;
    'mean' divides by the total weight of the targets that count.

    >>> nn.CrossEntropyLoss()(tg.tensor([[2., 0., 0.]]), tg.tensor([0]))   # 0.2395
    """

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0 and 1, got "
                             f"{label_smoothing}")
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                               self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """-input[n, y_n] for log-probabilities input (use after ``LogSoftmax``)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """(x - y)², averaged: the regression loss (½ of its gradient is x - y per element)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """|x - y|, averaged."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class BCELoss(_WeightedLoss):
    """-[y log p + (1 - y) log(1 - p)] for probabilities p (after a ``Sigmoid``)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + BCE in one stable step, from the logit x (prefer it to Sigmoid + BCELoss).

    ``pos_weight`` (C,) multiplies the loss of positive targets (more recall).
    """

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class SmoothL1Loss(_Loss):
    """0.5·d²/β where d = |x - y| < β, else d - 0.5·β."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5·d² where d = |x - y| < δ, else δ·(d - 0.5·δ)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(Module):
    """y (log y - x) for log-probabilities x (``log_target``: y given as log y too);
    ``reduction`` also takes 'batchmean' (the sum divided by the batch size)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)
