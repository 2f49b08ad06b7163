"""``Embedding``: a trainable lookup table from integer ids to vectors.

Row i of the weight (num_embeddings, embedding_dim) is the vector of token i.
Looking rows up is indexing, so the gradient of a row is the sum of the
gradients of every position that used it; rows nobody used get zero.
"""
from __future__ import annotations

from typing import Any

from tinygrad_edu.engine import graph
from tinygrad_edu.functional import gradients
from tinygrad_edu import functional as F
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import where
from tinygrad_edu.functional.creation import empty


class Embedding(Module):
    """ids (...,) int64 -> vectors (..., embedding_dim).

    Initialised as PyTorch does: weight ~ N(0, 1), and the ``padding_idx`` row
    (if any) set to zeros and kept out of the gradient.

    >>> emb = nn.Embedding(10, 3)          # 10 tokens, 3 numbers each: 30 parameters
    >>> emb(tg.tensor([[1, 2], [4, 9]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"Embedding: num_embeddings and embedding_dim must be positive, "
                             f"got ({num_embeddings}, {embedding_dim})")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings "
                                 f"(-{num_embeddings}..{num_embeddings - 1}), got {padding_idx}")
            if padding_idx < 0:
                padding_idx += num_embeddings
        if scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: scale_grad_by_freq and sparse gradients are "
                                      "not supported; leave them False")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, device=device,
                                          dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {tuple(_weight.shape)}, "
                                 f"expected ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with gradients.no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0) -> "Embedding":
        """An Embedding whose table is ``embeddings`` (rows, dim); frozen by default."""
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (rows, dim), "
                             f"got shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   _weight=embeddings.detach(), _freeze=freeze)

    def _renorm(self, input: Tensor) -> None:
        """Rescale (in place, no gradient) each looked-up row whose norm exceeds max_norm."""
        with gradients.no_grad():
            rows = self.weight[input.reshape(-1)]                         # (n, dim)
            norms = rows.norm(self.norm_type, dim=-1, keepdim=True)      # (n, 1)
            scale = where(norms > self.max_norm, self.max_norm / (norms + 1e-7), 1.0)
            self.weight[input.reshape(-1)] = rows * scale

    def forward(self, input: Tensor) -> Tensor:
        if self.max_norm is not None and input.numel():
            F.embedding(input, self.weight.detach())   # validates the ids first
            self._renorm(input)
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        return s
