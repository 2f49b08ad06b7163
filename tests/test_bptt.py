"""Back-propagation through time: the shared-weight identity, very long sequences,
truncated BPTT with detach(), and padded batches that change nothing."""
from __future__ import annotations

import resource
import tracemalloc

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from tinygrad_edu.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from conftest import torch_or_skip


def _t(arr, grad=False):
    return tg.tensor(arr, dtype=tg.float64, requires_grad=grad)


def test_shared_weight_gradient_is_the_sum_of_per_step_copies():
    """BPTT's defining identity: dL/dW = Σ_t dL/dW_t, where W_t is step t's own copy of W."""
    rng = np.random.default_rng(0)
    T, B, I, H = 6, 2, 3, 4
    xs = rng.standard_normal((T, B, I))
    w_ih_np, w_hh_np = rng.standard_normal((H, I)) * 0.5, rng.standard_normal((H, H)) * 0.5
    b_np = rng.standard_normal(H) * 0.1
    target = rng.standard_normal((B, H))
    h0 = rng.standard_normal((B, H))

    def unroll(w_ih_list, w_hh_list, b):
        h = _t(h0)
        for t in range(T):
            h = F.rnn_tanh_cell(_t(xs[t]), h, w_ih_list[t], w_hh_list[t], b)
        return ((h - _t(target)) ** 2).sum()

    # one shared weight, used at every step
    w_ih, w_hh, b = _t(w_ih_np, True), _t(w_hh_np, True), _t(b_np, True)
    unroll([w_ih] * T, [w_hh] * T, b).backward()
    # a separate copy per step: same forward values, one gradient per step
    ih_copies = [_t(w_ih_np, True) for _ in range(T)]
    hh_copies = [_t(w_hh_np, True) for _ in range(T)]
    unroll(ih_copies, hh_copies, _t(b_np)).backward()

    per_step = np.stack([c.grad.numpy() for c in hh_copies])
    assert np.all(np.abs(per_step).sum(axis=(1, 2)) > 0)
    np.testing.assert_allclose(w_hh.grad.numpy(), per_step.sum(0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w_ih.grad.numpy(), sum(c.grad.numpy() for c in ih_copies),
                               rtol=1e-12, atol=1e-14)
    # and the per-step gradients differ: the sum is not T times one of them
    assert not np.allclose(per_step[0], per_step[-1])


def test_layer_gradient_matches_a_numpy_bptt():
    """nn.RNN's weight gradient equals a hand-written NumPy BPTT loop."""
    rng = np.random.default_rng(1)
    T, B, I, H = 5, 2, 3, 4
    rnn = nn.RNN(I, H).double()
    x_np = rng.standard_normal((T, B, I))
    out, _ = rnn(_t(x_np))
    out.sum().backward()
    w_ih, w_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    b = rnn.bias_ih_l0.detach().numpy() + rnn.bias_hh_l0.detach().numpy()
    hs = [np.zeros((B, H))]
    for t in range(T):
        hs.append(np.tanh(x_np[t] @ w_ih.T + hs[-1] @ w_hh.T + b))
    d_hh = np.zeros_like(w_hh)
    dh_next = np.zeros((B, H))
    for t in reversed(range(T)):
        dh = np.ones((B, H)) + dh_next                  # from the output sum and from step t+1
        da = dh * (1 - hs[t + 1] ** 2)
        d_hh += da.T @ hs[t]
        dh_next = da @ w_hh
    np.testing.assert_allclose(rnn.weight_hh_l0.grad.numpy(), d_hh, atol=1e-12)


def test_2000_step_sequence_backpropagates(capsys):
    """A 2,000-step LSTM graph back-propagates without RecursionError; peak memory reported."""
    tg.manual_seed(0)
    lstm = nn.LSTM(4, 8)
    x = tg.randn(2000, 2, 4, requires_grad=True)
    tracemalloc.start()
    out, (h, c) = lstm(x)
    (out.sum() + h.sum()).backward()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[0]).sum() > 0        # the first step still gets a gradient
    assert lstm.weight_hh_l0.grad.shape == (32, 8)
    with capsys.disabled():
        print(f"\n[2000-step LSTM BPTT] traced peak {peak / 2**20:.1f} MiB, "
              f"process max RSS {rss_mb:.0f} MiB")
    assert peak < 500 * 2**20


def test_truncated_bptt_detach_cuts_the_graph():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 4)
    x1 = tg.randn(5, 2, 3, requires_grad=True)
    x2 = tg.randn(5, 2, 3, requires_grad=True)
    _, state = lstm(x1)
    carried = tuple(s.detach() for s in state)
    out2, _ = lstm(x2, carried)
    out2.sum().backward()
    assert x1.grad is None                      # nothing flowed into the previous chunk
    assert x2.grad is not None
    # the values still carry over: chunk 2 from the carried state != chunk 2 from zeros
    out_zero, _ = lstm(x2)
    assert np.abs(out_zero.detach().numpy() - out2.detach().numpy()).max() > 1e-4
    # without detach, the gradient reaches the first chunk
    _, state = lstm(x1)
    out3, _ = lstm(x2, state)
    out3.sum().backward()
    assert x1.grad is not None and np.abs(x1.grad.numpy()).sum() > 0


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_steps_change_neither_outputs_nor_gradients(mode, bidirectional):
    """A padded batch gives each sequence exactly what running it alone gives."""
    rng = np.random.default_rng(2)
    tg.manual_seed(3)
    layer = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=bidirectional).double()
    lengths = [5, 2, 4]
    T = max(lengths)
    seqs = [rng.standard_normal((n, 3)) for n in lengths]
    padded = np.zeros((T, len(seqs), 3))
    for b, s in enumerate(seqs):
        padded[:len(s), b] = s
        padded[len(s):, b] = 100.0                 # garbage on the padded steps
    w_out = [rng.standard_normal((n, 4 * (2 if bidirectional else 1))) for n in lengths]

    x = _t(padded, True)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out_p, state = layer(packed)
    out, out_lengths = pad_packed_sequence(out_p)
    assert out_lengths.tolist() == lengths
    h_n = state[0] if mode == "LSTM" else state
    loss = sum((out[:n, b] * _t(w_out[b])).sum() for b, n in enumerate(lengths)) + \
        (h_n * h_n).sum()
    layer.zero_grad()
    loss.backward()
    grads_batch = {k: p.grad.numpy().copy() for k, p in layer.named_parameters()}
    x_grad = x.grad.numpy()
    assert np.all(out.detach().numpy()[T - 1, 1] == 0)          # padded outputs are zero
    for b, n in enumerate(lengths):
        assert np.all(x_grad[n:, b] == 0)                        # padding gets no gradient

    grads_alone = {k: 0.0 for k in grads_batch}
    for b, s in enumerate(seqs):
        xb = _t(s[:, None, :], True)
        ob, st = layer(xb)
        hb = st[0] if mode == "LSTM" else st
        np.testing.assert_allclose(out.detach().numpy()[:len(s), b], ob.detach().numpy()[:, 0],
                                   atol=1e-12)
        np.testing.assert_allclose(h_n.detach().numpy()[:, b], hb.detach().numpy()[:, 0],
                                   atol=1e-12)
        layer.zero_grad()
        ((ob[:, 0] * _t(w_out[b])).sum() + (hb * hb).sum()).backward()
        np.testing.assert_allclose(x_grad[:len(s), b], xb.grad.numpy()[:, 0], atol=1e-10)
        for k, p in layer.named_parameters():
            grads_alone[k] = grads_alone[k] + p.grad.numpy()
    for k in grads_batch:
        np.testing.assert_allclose(grads_batch[k], grads_alone[k], atol=1e-10, err_msg=k)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_packed_sequence_parity_with_torch(mode):
    torch = torch_or_skip()
    from torch.nn.utils import rnn as trnn
    ref = getattr(torch.nn, mode)(3, 4, num_layers=2, bidirectional=True).double()
    ours = getattr(nn, mode)(3, 4, num_layers=2, bidirectional=True).double()
    ours.load_state_dict(ref.state_dict())
    rng = np.random.default_rng(5)
    lengths = [2, 5, 3, 5]
    x_np = rng.standard_normal((5, 4, 3))
    h0_np = rng.standard_normal((4, 4, 4))
    xt = torch.tensor(x_np, requires_grad=True)
    x = _t(x_np, True)
    h0t = torch.tensor(h0_np)
    h0 = _t(h0_np)
    hx_t = (h0t, h0t * 0.5) if mode == "LSTM" else h0t
    hx = (h0, h0 * 0.5) if mode == "LSTM" else h0
    out_t, st_t = ref(trnn.pack_padded_sequence(xt, lengths, enforce_sorted=False), hx_t)
    out, st = ours(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)
    np.testing.assert_array_equal(out.batch_sizes.numpy(), out_t.batch_sizes.numpy())
    np.testing.assert_allclose(out.data.detach().numpy(), out_t.data.detach().numpy(),
                               atol=1e-12)
    h, ht = (st[0], st_t[0]) if mode == "LSTM" else (st, st_t)
    np.testing.assert_allclose(h.detach().numpy(), ht.detach().numpy(), atol=1e-12)
    w = rng.standard_normal(tuple(out_t.data.shape))
    ((out_t.data * torch.tensor(w)).sum() + (ht ** 2).sum()).backward()
    ((out.data * _t(w)).sum() + (h ** 2).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(),
                                   atol=1e-10, err_msg=name)


def test_unbind_equals_slicing_in_values_and_gradients():
    rng = np.random.default_rng(4)
    for n in (1, 3, 4, 5, 17):
        x_np = rng.standard_normal((n, 2, 3))
        w = rng.standard_normal((n, 2, 3))
        a = _t(x_np, True)
        pieces = a.unbind(0)
        assert len(pieces) == n
        for t, p in enumerate(pieces):
            np.testing.assert_array_equal(p.detach().numpy(), x_np[t])
        sum((p * _t(w[t])).sum() for t, p in enumerate(pieces)).backward()
        np.testing.assert_array_equal(a.grad.numpy(), w)
