"""Variable-length sequences in one batch: padding and packing (``torch.nn.utils.rnn``).

Sentences have different lengths, but a batch is a rectangle. Two ways to bridge that:

* **Padding**: stack the sequences into (T_max, B, *) and fill the tail of the
  short ones with a padding value (:func:`pad_sequence`). The recurrent layer
  must then be told where each sequence ends, or it would keep updating the
  state on padding and return a final state that depends on it.
* **Packing**: :func:`pack_padded_sequence` takes the padded batch and the
  lengths and keeps only the real steps, time-major, longest sequence first::

      lengths 3, 2, 1        step 0: a0 b0 c0   batch_sizes = [3, 2, 1]
      a0 a1 a2               step 1: a1 b1      data = [a0 b0 c0 a1 b1 a2]
      b0 b1 .                step 2: a2
      c0 . .

  An ``nn.RNN``/``nn.LSTM``/``nn.GRU`` given a :class:`PackedSequence` returns a
  packed output and, as ``h_n``, each sequence's state at *its own* last step.

Inside the layers this is done with a per-step mask m_t (1 on real steps, 0 on padding):

    h_t = m_t · h_new + (1 - m_t) · h_{t-1}        the state stands still on padding
    out_t = m_t · h_new                            outputs are zero on padding

so padded steps change neither the outputs nor any gradient.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from tinygrad_edu.engine import backend
from tinygrad_edu.engine.tensor import Tensor
from tinygrad_edu.functional.tensor_methods import cat
from tinygrad_edu.functional.creation import full
from tinygrad_edu.functional.tensor_methods import stack


class PackedSequence(NamedTuple):
    """A batch of variable-length sequences with the padding removed (PyTorch's fields).

    data: (Σ lengths, *) the real steps, time-major; batch_sizes: int64 (T_max,),
    how many sequences are still running at each step; sorted_indices: the batch
    order used (longest first), or None if the input was already sorted;
    unsorted_indices: its inverse permutation.
    """
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _int_list(values: Any, where: str) -> list[int]:
    if isinstance(values, Tensor):
        if backend.is_floating(values.dtype):
            raise TypeError(f"{where}: lengths must be integers, got a tensor of dtype "
                            f"{values.dtype}")
        return [int(v) for v in values.tolist()]
    if hasattr(values, "tolist"):          # a NumPy array or a torch tensor
        values = values.tolist()
    return [int(v) for v in values]


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes (L_i, *) into (T_max, B, *) (or (B, T_max, *)), padding each
    with ``padding_value`` up to the longest L_i.

    >>> pad_sequence([tg.ones(3), tg.ones(1)]).T     # [[1, 1, 1], [1, 0, 0]]
    """
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got "
                         f"{padding_side!r}")
    trail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.ndim == 0 or tuple(s.shape[1:]) != trail:
            raise ValueError(f"pad_sequence: sequences[{i}] has shape {tuple(s.shape)}, "
                             f"expected (L, {', '.join(map(str, trail))}) like sequences[0]")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        extra = longest - s.shape[0]
        before, after = (0, extra) if padding_side == "right" else (extra, 0)
        padded.append(s.pad(((before, after),) + ((0, 0),) * len(trail), padding_value))
    return stack(padded, 1 if not batch_first else 0)


def _batch_sizes(lengths: list[int]) -> list[int]:
    """Number of sequences longer than t, for t = 0 .. max(lengths)-1."""
    return [sum(1 for n in lengths if n > t) for t in range(max(lengths))]


def _packed_rows(batch_sizes: list[int]) -> tuple[list[int], list[int]]:
    """(time index, sorted batch index) of every row of a packed ``data`` tensor."""
    times, rows = [], []
    for t, n in enumerate(batch_sizes):
        times += [t] * n
        rows += list(range(n))
    return times, rows


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Remove the padding of a (T, B, *) batch (or (B, T, *) with ``batch_first``).

    ``lengths`` lists each sequence's true length. With ``enforce_sorted=True``
    they must be decreasing; otherwise the batch is sorted here and the order
    remembered in ``sorted_indices``. Gradients flow back to ``input``'s real steps.
    """
    lens = _int_list(lengths, "pack_padded_sequence")
    x = input.transpose(0, 1) if batch_first else input          # (T, B, *)
    if x.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have a time and a batch dim, got "
                         f"shape {tuple(input.shape)}")
    if len(lens) != x.shape[1]:
        raise ValueError(f"pack_padded_sequence: got {len(lens)} lengths for a batch of "
                         f"{x.shape[1]} sequences (input shape {tuple(input.shape)}, "
                         f"batch_first={batch_first})")
    if any(n <= 0 for n in lens) or max(lens) > x.shape[0]:
        raise ValueError(f"pack_padded_sequence: lengths must be in 1..{x.shape[0]} (the "
                         f"padded length), got {lens}")
    if enforce_sorted:
        if any(a < b for a, b in zip(lens, lens[1:])):
            raise RuntimeError(f"pack_padded_sequence: lengths {lens} must be sorted in "
                               "decreasing order when enforce_sorted=True; sort the batch or "
                               "pass enforce_sorted=False")
        order = list(range(len(lens)))
        sorted_t = unsorted_t = None
    else:
        order = sorted(range(len(lens)), key=lambda b: -lens[b])   # stable, longest first
        inverse = [0] * len(order)
        for pos, b in enumerate(order):
            inverse[b] = pos
        sorted_t = Tensor(order, dtype=backend.int64, device="cpu")
        unsorted_t = Tensor(inverse, dtype=backend.int64, device="cpu")
    sizes = _batch_sizes([lens[b] for b in order])
    times, rows = _packed_rows(sizes)
    batch_idx = Tensor([order[r] for r in rows], dtype=backend.int64, device=x.device)
    data = x[Tensor(times, dtype=backend.int64, device=x.device), batch_idx]   # (Σ lengths, *)
    return PackedSequence(data, Tensor(sizes, dtype=backend.int64, device="cpu"), sorted_t,
                          unsorted_t)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: (padded (T, B, *), lengths int64 (B,)).

    The batch comes back in its original order; padded steps hold ``padding_value``.
    """
    data, batch_sizes, _, unsorted = sequence
    sizes = _int_list(batch_sizes, "pad_packed_sequence")
    steps, batch = len(sizes), sizes[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter "
                             f"than the longest sequence ({steps} steps)")
        steps = total_length
    inverse = (_int_list(unsorted, "pad_packed_sequence") if unsorted is not None
               else list(range(batch)))
    offsets = [0]
    for n in sizes:
        offsets.append(offsets[-1] + n)
    total = offsets[-1]
    # Row of `data` for each (t, b); padded positions read an extra row of padding_value.
    index = [[offsets[t] + inverse[b] if t < len(sizes) and inverse[b] < sizes[t] else total
              for b in range(batch)] for t in range(steps)]
    pad_row = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                   device=data.device)
    padded = cat([data, pad_row], 0)[Tensor(index, dtype=backend.int64, device=data.device)]
    sorted_lengths = [sum(1 for n in sizes if n > j) for j in range(batch)]
    lengths = [sorted_lengths[inverse[b]] for b in range(batch)]
    lengths_t = Tensor(lengths, dtype=backend.int64, device="cpu")
    return (padded.transpose(0, 1) if batch_first else padded), lengths_t


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors directly: pad_sequence + pack_padded_sequence."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence"]
