"""The encoder-decoder model: PyTorch parity of teacher forcing, greedy decoding, learning."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu.models import Seq2Seq
from conftest import torch_or_skip


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_teacher_forcing_matches_torch(cell):
    torch = torch_or_skip()
    tg.manual_seed(0)
    model = Seq2Seq(9, 7, embed_dim=5, hidden_size=6, num_layers=2, cell=cell).double()
    sd = {k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()}
    rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    src_emb, tgt_emb = torch.nn.Embedding(9, 5).double(), torch.nn.Embedding(7, 5).double()
    enc, dec = rnn(5, 6, 2).double(), rnn(5, 6, 2).double()
    out = torch.nn.Linear(6, 7).double()
    for prefix, m in (("src_embed", src_emb), ("tgt_embed", tgt_emb), ("encoder", enc),
                      ("decoder", dec), ("out", out)):
        m.load_state_dict({k[len(prefix) + 1:]: v for k, v in sd.items()
                           if k.startswith(prefix + ".")}, strict=True)
    rng = np.random.default_rng(0)
    src = rng.integers(0, 9, (4, 3))
    tgt = rng.integers(0, 7, (5, 3))
    _, state = enc(src_emb(torch.tensor(src)))
    dec_out, _ = dec(tgt_emb(torch.tensor(tgt)), state)
    ref = out(dec_out)
    got = model(tg.tensor(src), tg.tensor(tgt))
    assert got.shape == (5, 3, 7)
    np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), atol=1e-12)


def test_greedy_decode_feeds_back_its_own_argmax():
    """Each greedy token is the argmax of teacher forcing on the tokens decoded before it."""
    tg.manual_seed(1)
    model = Seq2Seq(8, 8, embed_dim=4, hidden_size=8, eos_idx=7)
    src = tg.randint(3, 8, (5, 2))
    ids = model.greedy_decode(src, max_len=6)
    assert ids.shape == (6, 2) and ids.dtype == tg.int64
    tokens = ids.numpy()
    tgt_in = np.concatenate([np.full((1, 2), model.sos_idx), tokens[:-1]], 0)
    with tg.no_grad():
        logits = model(src, tg.tensor(tgt_in))
    expected = logits.argmax(-1).numpy()
    for b in range(2):
        for t in range(6):
            if t > 0 and tokens[t - 1, b] == model.eos_idx:
                assert tokens[t, b] == model.eos_idx          # stays <eos> once finished
                break
            assert tokens[t, b] == expected[t, b]


def test_batch_first_layout():
    tg.manual_seed(2)
    a = Seq2Seq(6, 6, 4, 5)
    b = Seq2Seq(6, 6, 4, 5, batch_first=True)
    b.load_state_dict(a.state_dict())
    src = tg.randint(0, 6, (4, 3))
    tgt = tg.randint(0, 6, (2, 3))
    np.testing.assert_allclose(b(src.T, tgt.T).detach().numpy(),
                               a(src, tgt).detach().numpy().transpose(1, 0, 2), atol=1e-6)
    np.testing.assert_array_equal(b.greedy_decode(src.T, 3).numpy(),
                                  a.greedy_decode(src, 3).numpy().T)


def test_source_lengths_ignore_padding():
    tg.manual_seed(3)
    model = Seq2Seq(6, 6, 4, 5)
    src = tg.tensor([[1, 2], [3, 4], [5, 0], [0, 0]])           # lengths 3 and 2
    other = tg.tensor([[1, 2], [3, 4], [5, 5], [4, 3]])         # different padding
    tgt = tg.tensor([[1, 1], [2, 2]])
    a = model(src, tgt, src_lengths=[3, 2]).detach().numpy()
    b = model(other, tgt, src_lengths=[3, 2]).detach().numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_learns_to_reverse_short_sequences():
    """Trained with teacher forcing, greedy decoding reverses unseen sequences."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    sos, eos, vocab, n = 1, 2, 8, 4
    model = Seq2Seq(vocab, vocab, embed_dim=16, hidden_size=48, sos_idx=sos, eos_idx=eos)
    params = list(model.parameters())
    m = [np.zeros(p.shape, dtype=np.float32) for p in params]
    v = [np.zeros(p.shape, dtype=np.float32) for p in params]

    def batch(size):
        src = rng.integers(3, vocab, (n, size))
        tgt = np.concatenate([src[::-1], np.full((1, size), eos)], 0)     # reversed + <eos>
        tgt_in = np.concatenate([np.full((1, size), sos), tgt[:-1]], 0)
        return tg.tensor(src), tg.tensor(tgt_in), tg.tensor(tgt)

    for step in range(1, 301):                     # a plain Adam loop, lr 1e-2
        src, tgt_in, tgt = batch(32)
        loss = F.cross_entropy(model(src, tgt_in).reshape(-1, vocab), tgt.reshape(-1))
        model.zero_grad()
        loss.backward()
        with tg.no_grad():
            for i, p in enumerate(params):
                g = p.grad.numpy()
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                upd = 1e-2 * (m[i] / (1 - 0.9 ** step)) / (np.sqrt(v[i] / (1 - 0.999 ** step))
                                                           + 1e-8)
                p.sub_(tg.tensor(upd.astype(np.float32)))
    src, _, tgt = batch(64)
    pred = model.greedy_decode(src, max_len=n + 1).numpy()
    exact = (pred == tgt.numpy()).all(0).mean()
    assert loss.item() < 0.5
    assert exact > 0.8, f"only {exact:.2f} of the sequences reversed exactly"


def test_errors():
    with pytest.raises(ValueError, match="cell must be 'gru' or 'lstm', got 'rnn'"):
        Seq2Seq(5, 5, cell="rnn")
    with pytest.raises(ValueError, match=r"eos_idx=9 is not a token of the target vocabulary"):
        Seq2Seq(5, 5, eos_idx=9)
    model = Seq2Seq(5, 5, 3, 4)
    with pytest.raises(ValueError, match=r"src must be a 2-D \(time, batch\) tensor"):
        model(tg.tensor([1, 2]), tg.tensor([[1]]))
    with pytest.raises(ValueError, match="max_len must be a positive integer, got 0"):
        model.greedy_decode(tg.tensor([[1]]), 0)
