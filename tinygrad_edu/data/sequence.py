"""Batches for language models on one long text: contiguous streams and truncated BPTT.

A character corpus is one long sequence of ids. To train on it in batches of
B, cut it into B equal, *contiguous* streams, one per batch row::

    ids  = a b c d e f g h i j k l m n o p q r s t u v w x      (24 ids)
    batchify(ids, 4) ->  row 0: a b c d e f
                         row 1: g h i j k l
                         row 2: m n o p q r
                         row 3: s t u v w x

Then walk along the streams seq_len steps at a time; the target is the input
shifted by one (predict the next character)::

    x = columns 0..2   [[a b c] [g h i] ...]     y = columns 1..3   [[b c d] [h i j] ...]
    x = columns 3..4   [[d e]   [j k]   ...]     y = columns 4..5   [[e f]   [k l]   ...]

Because row b of one batch continues exactly where row b of the previous batch
stopped, the final hidden state of one batch is the right initial state for the
next. That is **truncated back-propagation through time**: carry the state's
*values* forward, but cut the graph at the batch boundary so that backward only
runs through the last seq_len steps::

    state = None
    for x, y in CharStream(ids, batch_size=32, seq_len=64):
        out, state = lstm(embed(x), state)
        state = tuple(s.detach() for s in state)     # keep the values, drop the graph
        loss = F.cross_entropy(fc(out).reshape(-1, V), y.reshape(-1))
        ...

Without ``detach()`` each backward would run through every batch seen so far
(ever slower, and an error once the old graphs are freed).

Data readers may use NumPy; the batches come out as int64 tensors.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinygrad_edu.engine.tensor import Tensor


def _as_ids(ids: Any, where: str) -> np.ndarray:
    if isinstance(ids, Tensor):
        arr = ids.numpy()
    else:
        arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D sequence of token ids, got shape "
                         f"{arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{where}: token ids must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def batchify(ids: Any, batch_size: int, device: Any = None) -> Tensor:
    """Cut a 1-D sequence of ids into ``batch_size`` contiguous streams: (batch_size, N).

    Row b holds ids[b·N : (b+1)·N] with N = len(ids) // batch_size; the few ids
    left over at the end are dropped.

    >>> batchify(list(range(10)), 3)
    tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batchify: batch_size must be a positive integer, got {batch_size!r}")
    arr = _as_ids(ids, "batchify")
    n = arr.size // batch_size
    if n < 1:
        raise ValueError(f"batchify: {arr.size} ids are too few for batch_size={batch_size} "
                         "(each stream needs at least one id)")
    return Tensor(arr[:n * batch_size].reshape(batch_size, n), device=device)


def bptt_batches(streams: Tensor, seq_len: int,
                 batch_first: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
    """Walk ``seq_len`` steps at a time along (B, N) streams: yields (x, y), y = x shifted by 1.

    x and y are (T, B) (or (B, T) with ``batch_first``), T = seq_len except for
    a shorter last chunk. Consecutive batches continue each row's stream, so
    the last hidden state of one batch (detached) starts the next.
    """
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"bptt_batches: seq_len must be a positive integer, got {seq_len!r}")
    if streams.ndim != 2:
        raise ValueError(f"bptt_batches: expected (batch, length) streams from batchify, got "
                         f"shape {tuple(streams.shape)}")
    n = streams.shape[1]
    for start in range(0, n - 1, seq_len):
        t = min(seq_len, n - 1 - start)
        x = streams[:, start:start + t]                 # (B, T)
        y = streams[:, start + 1:start + 1 + t]         # (B, T), the next ids
        if batch_first:
            yield x, y
        else:
            yield x.T, y.T                              # (T, B)


class CharStream:
    """Iterable of truncated-BPTT batches over one long id sequence.

    ``CharStream(ids, batch_size, seq_len)`` = :func:`batchify` then
    :func:`bptt_batches`; iterate it once per epoch. With ``random_offset``, each
    epoch starts at a random shift in [0, seq_len) (seeded by ``seed`` and the
    epoch number), so the chunk boundaries differ between epochs.

    >>> stream = CharStream(ids, batch_size=32, seq_len=64)
    >>> x, y = next(iter(stream))        # (64, 32) each; y[t] == x[t + 1]
    """

    def __init__(self, ids: Any, batch_size: int, seq_len: int, batch_first: bool = False,
                 device: Any = None, random_offset: bool = False, seed: int = 0) -> None:
        self.ids = _as_ids(ids, "CharStream")
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.batch_first = batch_first
        self.device = device
        self.random_offset = random_offset
        self.seed = seed
        self.epoch = 0
        batchify(self.ids, batch_size)                  # validates the arguments early
        if not isinstance(seq_len, int) or seq_len < 1:
            raise ValueError(f"CharStream: seq_len must be a positive integer, got {seq_len!r}")

    def __len__(self) -> int:
        n = self.ids.size // self.batch_size
        return max(0, -(-(n - 1) // self.seq_len))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        ids = self.ids
        if self.random_offset:
            rng = np.random.default_rng((self.seed, self.epoch))
            ids = ids[int(rng.integers(0, self.seq_len)):]
        self.epoch += 1
        return bptt_batches(batchify(ids, self.batch_size, self.device), self.seq_len,
                            self.batch_first)


__all__ = ["batchify", "bptt_batches", "CharStream"]
