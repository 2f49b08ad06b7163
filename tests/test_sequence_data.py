"""Sequence data: contiguous streams for truncated BPTT, and padding/packing utilities."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import CharStream, batchify, bptt_batches
from tinygrad_edu.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                                       pad_packed_sequence, pad_sequence)
from conftest import torch_or_skip


def test_batchify_makes_contiguous_rows():
    s = batchify(list(range(23)), 4)
    assert s.dtype == tg.int64
    np.testing.assert_array_equal(s.numpy(), np.arange(20).reshape(4, 5))   # 3 ids dropped


def test_bptt_batches_shift_targets_and_continue_streams():
    ids = np.arange(26)
    streams = batchify(ids, 2)                       # rows 0..12 and 13..25
    chunks = list(bptt_batches(streams, 5))
    assert [x.shape for x, _ in chunks] == [(5, 2), (5, 2), (2, 2)]
    for x, y in chunks:
        np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)     # next id
    xs = np.concatenate([x.numpy() for x, _ in chunks], 0)         # (12, 2)
    np.testing.assert_array_equal(xs[:, 0], np.arange(12))         # row 0 continues
    np.testing.assert_array_equal(xs[:, 1], np.arange(13, 25))     # row 1 continues
    bf = list(bptt_batches(streams, 5, batch_first=True))
    assert bf[0][0].shape == (2, 5)
    np.testing.assert_array_equal(bf[1][0].numpy(), chunks[1][0].numpy().T)


def test_char_stream_len_iteration_and_offsets():
    ids = list(range(1000))
    cs = CharStream(ids, batch_size=4, seq_len=16)
    batches = list(cs)
    assert len(batches) == len(cs) == 16                             # ceil(249 / 16)
    x, y = batches[0]
    np.testing.assert_array_equal(x.numpy()[:, 1], np.arange(250, 266))
    shifted = CharStream(ids, 4, 16, random_offset=True, seed=1)
    first = [next(iter(shifted))[0].numpy()[0, 0] for _ in range(3)]
    assert all(0 <= f < 16 for f in first) and len(set(first)) > 1  # new shift each epoch


def test_sequence_data_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        batchify([1, 2, 3], 0)
    with pytest.raises(ValueError, match="3 ids are too few for batch_size=4"):
        batchify([1, 2, 3], 4)
    with pytest.raises(ValueError, match=r"expected a 1-D sequence of token ids, got shape"):
        batchify(np.zeros((2, 2), dtype=np.int64), 1)
    with pytest.raises(TypeError, match="token ids must be integers, got dtype float64"):
        batchify([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="seq_len must be a positive integer, got 0"):
        list(bptt_batches(batchify(list(range(10)), 2), 0))
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        CharStream(list(range(10)), 2, -1)


def test_pad_sequence_shapes_and_values():
    a, b = tg.tensor([1., 2., 3.]), tg.tensor([4.])
    np.testing.assert_array_equal(pad_sequence([a, b]).numpy(), [[1, 4], [2, 0], [3, 0]])
    np.testing.assert_array_equal(pad_sequence([a, b], batch_first=True, padding_value=-1)
                                  .numpy(), [[1, 2, 3], [4, -1, -1]])
    np.testing.assert_array_equal(pad_sequence([a, b], batch_first=True, padding_side="left")
                                  .numpy(), [[1, 2, 3], [0, 0, 4]])
    with pytest.raises(ValueError, match=r"sequences\[1\] has shape \(2, 3\), expected"):
        pad_sequence([tg.zeros(2, 2), tg.zeros(2, 3)])


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_torch(enforce_sorted, batch_first):
    torch = torch_or_skip()
    from torch.nn.utils import rnn as trnn
    lengths = [4, 3, 3, 1] if enforce_sorted else [3, 4, 1, 3]
    x_np = np.random.default_rng(0).standard_normal((4, 4, 2) if not batch_first else (4, 4, 2))
    xt = torch.tensor(x_np, requires_grad=True)
    x = tg.tensor(x_np, requires_grad=True)
    pt = trnn.pack_padded_sequence(xt, lengths, batch_first=batch_first,
                                   enforce_sorted=enforce_sorted)
    p = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert isinstance(p, PackedSequence)
    np.testing.assert_allclose(p.data.detach().numpy(), pt.data.detach().numpy())
    np.testing.assert_array_equal(p.batch_sizes.numpy(), pt.batch_sizes.numpy())
    if enforce_sorted:
        assert p.sorted_indices is None and pt.sorted_indices is None
    else:
        np.testing.assert_array_equal(p.sorted_indices.numpy(), pt.sorted_indices.numpy())
        np.testing.assert_array_equal(p.unsorted_indices.numpy(), pt.unsorted_indices.numpy())
    out_t, len_t = trnn.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-2.0,
                                            total_length=5)
    out, lens = pad_packed_sequence(p, batch_first=batch_first, padding_value=-2.0,
                                    total_length=5)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy())
    np.testing.assert_array_equal(lens.numpy(), len_t.numpy())
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    (out_t * torch.tensor(w)).sum().backward()
    (out * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_pack_sequence_round_trip():
    seqs = [tg.tensor([[1.], [2.], [3.]]), tg.tensor([[4.], [5.]])]
    packed = pack_sequence(seqs)
    np.testing.assert_array_equal(packed.data.numpy()[:, 0], [1, 4, 2, 5, 3])
    np.testing.assert_array_equal(packed.batch_sizes.numpy(), [2, 2, 1])
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    np.testing.assert_array_equal(padded.numpy()[:, :, 0], [[1, 2, 3], [4, 5, 0]])
    assert lengths.tolist() == [3, 2]


def test_packing_errors():
    x = tg.zeros(3, 2, 1)
    with pytest.raises(RuntimeError, match=r"lengths \[1, 3\] must be sorted in decreasing"):
        pack_padded_sequence(x, [1, 3])
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 2 sequences"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match=r"lengths must be in 1..3 \(the padded length\)"):
        pack_padded_sequence(x, [4, 1])
    with pytest.raises(ValueError, match="total_length=1 is shorter than the longest"):
        pad_packed_sequence(pack_padded_sequence(x, [3, 1]), total_length=1)
