"""Recurrent layers and cell modules: parity with PyTorch (values, states, every gradient),
a NumPy reference for whole layers, state_dict round trips, the peephole cell module,
scopes and error messages.

The cell functions F.rnn_tanh_cell, rnn_relu_cell, lstm_cell, gru_cell and
peephole_lstm_cell (batched or not, with or without biases) are rows of the op table in
test_ops.py: values against the gate equations in NumPy, gradcheck, gradgradcheck,
PyTorch parity and the CuPy stand-in."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from tinygrad_edu.functional import recurrent_cells as R
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

MODES = ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]


def _make(mode: str, lib, **kw):
    """The same layer in tinygrad_edu (lib=nn) or torch (lib=torch.nn)."""
    if mode == "RNN_TANH":
        return lib.RNN(**kw)
    if mode == "RNN_RELU":
        return lib.RNN(nonlinearity="relu", **kw)
    return getattr(lib, mode)(**kw)


def _loss(*parts):
    """A loss that weighs every element of every output differently (random upstream grads).

    ``parts`` are tensors or tuples of tensors, all torch or all tinygrad_edu.
    """
    rng = np.random.default_rng(7)
    parts = [q for p in parts for q in (p if isinstance(p, tuple) else (p,))]
    total = None
    for p in parts:
        w = rng.standard_normal(tuple(p.shape))
        term = (p * (tg.tensor(w) if isinstance(p, tg.Tensor) else _torch_tensor(p, w))).sum()
        total = term if total is None else total + term
    return total


def _torch_tensor(like, arr):
    import torch
    return torch.tensor(arr, dtype=like.dtype)


CONFIGS = list(itertools.product(MODES, [1, 2], [False, True], [False, True]))


@pytest.mark.parametrize("mode,layers,bidirectional,batch_first", CONFIGS)
def test_layer_parity_with_torch(mode, layers, bidirectional, batch_first):
    torch = torch_or_skip()
    torch.manual_seed(0)
    T, B, I, H = 5, 3, 4, 6
    kw = dict(input_size=I, hidden_size=H, num_layers=layers, bidirectional=bidirectional,
              batch_first=batch_first)
    ref = _make(mode, torch.nn, **kw).double()
    ours = _make(mode, nn, **kw).double()
    result = ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert list(ours.state_dict()) == list(ref.state_dict())

    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    d = 2 if bidirectional else 1
    h0_np = rng.standard_normal((d * layers, B, H))
    c0_np = rng.standard_normal((d * layers, B, H))
    with_state = layers == 2                  # half the table also passes an initial state
    xt = torch.tensor(x_np, requires_grad=True)
    x = tg.tensor(x_np, requires_grad=True)
    if with_state:
        h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (h0_np, c0_np))
        h0, c0 = (tg.tensor(a, requires_grad=True) for a in (h0_np, c0_np))
        out_t, st_t = ref(xt, (h0t, c0t) if mode == "LSTM" else h0t)
        out, st = ours(x, (h0, c0) if mode == "LSTM" else h0)
    else:
        out_t, st_t = ref(xt)
        out, st = ours(x)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    if mode == "LSTM":
        for a, b in zip(st, st_t):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    else:
        np.testing.assert_allclose(st.detach().numpy(), st_t.detach().numpy(), atol=1e-12)

    _loss(out_t, st_t).backward()
    _loss(out, st).backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    if with_state:
        np.testing.assert_allclose(h0.grad.numpy(), h0t.grad.numpy(), atol=1e-10)
        if mode == "LSTM":
            np.testing.assert_allclose(c0.grad.numpy(), c0t.grad.numpy(), atol=1e-10)
    for name, p in ref.named_parameters():
        g = getattr(ours, name).grad
        assert g is not None, f"{name} got no gradient"
        np.testing.assert_allclose(g.detach().numpy(), p.grad.numpy(), atol=1e-10, err_msg=name)


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_moves_to_torch_unchanged(mode):
    torch = torch_or_skip()
    ours = _make(mode, nn, input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    ref = _make(mode, torch.nn, input_size=3, hidden_size=5, num_layers=2, bidirectional=True)
    sd = {k: torch.tensor(v.detach().numpy()) for k, v in ours.state_dict().items()}
    ref.load_state_dict(sd, strict=True)
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), ours.state_dict()[k].detach().numpy())


def test_parameter_names_shapes_and_gate_blocks():
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    shapes = {k: tuple(v.shape) for k, v in lstm.state_dict().items()}
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_ih_l0_reverse"]
    assert shapes["weight_ih_l0"] == (80, 10)
    assert shapes["weight_hh_l0_reverse"] == (80, 20)
    assert shapes["weight_ih_l1"] == (80, 40)          # layer 1 reads both directions
    assert shapes["bias_hh_l1_reverse"] == (80,)
    assert len(shapes) == 16
    gru = nn.GRU(4, 3, bias=False)
    assert {k: tuple(v.shape) for k, v in gru.state_dict().items()} == {
        "weight_ih_l0": (9, 4), "weight_hh_l0": (9, 3)}


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_matches_torch(mode):
    torch = torch_or_skip()
    ref = _make(mode, torch.nn, input_size=3, hidden_size=4, num_layers=2).double()
    ours = _make(mode, nn, input_size=3, hidden_size=4, num_layers=2).double()
    ours.load_state_dict(ref.state_dict())
    x_np = np.random.default_rng(0).standard_normal((6, 3))
    out_t, st_t = ref(torch.tensor(x_np))
    out, st = ours(tg.tensor(x_np))
    assert out.shape == (6, 4)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    h, ht = (st[0], st_t[0]) if mode == "LSTM" else (st, st_t)
    assert h.shape == (2, 4)
    np.testing.assert_allclose(h.detach().numpy(), ht.detach().numpy(), atol=1e-12)


def test_bias_false_matches_torch():
    torch = torch_or_skip()
    ref = torch.nn.LSTM(3, 4, bias=False).double()
    ours = nn.LSTM(3, 4, bias=False).double()
    ours.load_state_dict(ref.state_dict())
    x_np = np.random.default_rng(0).standard_normal((4, 2, 3))
    out_t, _ = ref(torch.tensor(x_np))
    out, _ = ours(tg.tensor(x_np))
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), atol=1e-12)


def test_dropout_between_layers_only_in_training():
    torch = torch_or_skip()
    ref = torch.nn.GRU(3, 4, num_layers=2, dropout=0.5).double().eval()
    ours = nn.GRU(3, 4, num_layers=2, dropout=0.5).double()
    ours.load_state_dict(ref.state_dict())
    x_np = np.random.default_rng(0).standard_normal((5, 2, 3))
    ours.eval()
    out_eval, _ = ours(tg.tensor(x_np))
    ref_out = ref(torch.tensor(x_np))[0].detach().numpy()
    np.testing.assert_allclose(out_eval.detach().numpy(), ref_out, atol=1e-12)
    ours.train()
    tg.manual_seed(0)
    out_train, h_train = ours(tg.tensor(x_np))
    assert np.abs(out_train.detach().numpy() - out_eval.detach().numpy()).max() > 1e-3
    # dropout sits between layers, never on the first layer's own output/state
    ours.eval()
    _, h_eval = ours(tg.tensor(x_np))
    np.testing.assert_allclose(h_train.detach().numpy()[0], h_eval.detach().numpy()[0], atol=1e-12)


# ---------------------------------------------------------------- cells
CELL_CASES = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
              ("GRUCell", {})]


@pytest.mark.parametrize("name,kw", CELL_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_cell_parity_with_torch(name, kw, batched):
    torch = torch_or_skip()
    ref = getattr(torch.nn, name)(4, 5, **kw).double()
    ours = getattr(nn, name)(4, 5, **kw).double()
    ours.load_state_dict(ref.state_dict(), strict=True)
    rng = np.random.default_rng(3)
    shape = (3,) if batched else ()
    x_np = rng.standard_normal(shape + (4,))
    h_np = rng.standard_normal(shape + (5,))
    c_np = rng.standard_normal(shape + (5,))
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x_np, h_np, c_np))
    x, h, c = (tg.tensor(a, requires_grad=True) for a in (x_np, h_np, c_np))
    if name == "LSTMCell":
        out_t, out = ref(xt, (ht, ct)), ours(x, (h, c))
        assert isinstance(out, tuple) and len(out) == 2
    else:
        out_t, out = ref(xt, ht), ours(x, h)
    _loss(out_t).backward()
    _loss(out).backward()
    outs = out if name == "LSTMCell" else (out,)
    outs_t = out_t if name == "LSTMCell" else (out_t,)
    for a, b in zip(outs, outs_t):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(h.grad.numpy(), ht.grad.numpy(), atol=1e-10)
    for pname, p in ref.named_parameters():
        np.testing.assert_allclose(getattr(ours, pname).grad.numpy(), p.grad.numpy(),
                                   atol=1e-10, err_msg=pname)


def test_cell_default_state_is_zeros():
    cell = nn.LSTMCell(3, 2)
    x = tg.randn(4, 3)
    h, c = cell(x)
    h2, c2 = cell(x, (tg.zeros(4, 2), tg.zeros(4, 2)))
    np.testing.assert_array_equal(h.detach().numpy(), h2.detach().numpy())
    np.testing.assert_array_equal(c.detach().numpy(), c2.detach().numpy())
    assert nn.GRUCell(3, 2)(x).shape == (4, 2)
    assert nn.RNNCell(3, 2)(tg.randn(3)).shape == (2,)


def test_peephole_cell_follows_graves_equations():
    rng = np.random.default_rng(1)
    cell = nn.PeepholeLSTMCell(3, 4).double()
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    p = {k: v.detach().numpy() for k, v in cell.state_dict().items()}
    assert set(p) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ci", "weight_cf",
                      "weight_co"}
    a = x @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias_ih"] + p["bias_hh"]
    sig = lambda v: 1 / (1 + np.exp(-v))   # noqa: E731
    i = sig(a[:, :4] + p["weight_ci"] * c)
    f = sig(a[:, 4:8] + p["weight_cf"] * c)
    c_new = f * c + i * np.tanh(a[:, 8:12])
    o = sig(a[:, 12:] + p["weight_co"] * c_new)       # the output gate sees the new cell
    h_new = o * np.tanh(c_new)
    h2, c2 = cell(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
    np.testing.assert_allclose(c2.detach().numpy(), c_new, atol=1e-12)
    np.testing.assert_allclose(h2.detach().numpy(), h_new, atol=1e-12)


def test_peephole_with_zero_peepholes_is_the_lstm_cell():
    torch = torch_or_skip()
    ref = torch.nn.LSTMCell(3, 4).double()
    cell = nn.PeepholeLSTMCell(3, 4).double()
    sd = dict(ref.state_dict())
    for k in ("weight_ci", "weight_cf", "weight_co"):
        sd[k] = np.zeros(4)
    cell.load_state_dict(sd, strict=True)
    x_np = np.random.default_rng(2).standard_normal((2, 3))
    h_t, c_t = ref(torch.tensor(x_np))
    h, c = cell(tg.tensor(x_np))
    np.testing.assert_allclose(h.detach().numpy(), h_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_t.detach().numpy(), atol=1e-12)


# ---------------------------------------------------------------- labels for the graph views
@pytest.mark.parametrize("lane", ["lane off"], indirect=True)     # the views record plainly
def test_ops_are_scoped_by_layer_and_time_step(lane):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True)

        def forward(self, x):
            return self.lstm(x)

    x = tg.randn(4, 1, 2, requires_grad=True)
    out, (h, c) = Model()(x)
    scopes = set()
    stack, seen = [out], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        scopes.add(t.grad_fn.scope)
        stack.extend(t.grad_fn.parents)
    for layer in ("l0", "l1", "l0_reverse", "l1_reverse"):
        for t in range(4):
            assert f"Model/lstm/{layer}/t={t}" in scopes
    assert "Model/lstm/l0" in scopes          # the input projection of all steps at once
    assert all(s is None or s.startswith("Model/lstm") or s == "Model" for s in scopes)


@pytest.mark.parametrize("lane", ["lane on"], indirect=True)
def test_with_the_lane_on_a_layer_direction_is_one_node(lane):
    """The fused layer keeps the layer scopes, names its final states, and the views say
    to record with the lane off."""
    out, (h, c) = nn.LSTM(2, 3, bidirectional=True)(tg.randn(4, 1, 2, requires_grad=True))
    ops, stack, seen = [], [out, h, c], set()
    while stack:
        t = stack.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        ops.append((t.grad_fn.name, t.grad_fn.scope))
        stack.extend(t.grad_fn.parents)
    layers = sorted(s for name, s in ops if name == "lstm_layer")
    assert layers == ["LSTM/l0", "LSTM/l0_reverse"]
    with pytest.raises(ValueError, match=r"recorded with the fast lane on.*lstm_layer.*"
                                         r"tg.fast\(False\)"):
        tg.viz.draw_unrolled(out.sum())


@pytest.mark.parametrize("lane", ["lane off"], indirect=True)
def test_hidden_states_are_named(lane):
    out, (h, c) = nn.LSTM(2, 3)(tg.randn(3, 1, 2, requires_grad=True))
    names, stack, seen = [], [out, c], set()      # the last c_t is reached from c_n
    while stack:
        t = stack.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        names.append((t.name, t.grad_fn.scope))
        stack.extend(t.grad_fn.parents)
    for step in range(3):
        assert ("h", f"LSTM/l0/t={step}") in names
        assert ("c", f"LSTM/l0/t={step}") in names


def test_cells_push_no_scope_of_their_own():
    cell = nn.GRUCell(2, 3)
    x = tg.randn(1, 2, requires_grad=True)
    with tg.scope("t=0"):
        h = cell(x)
    assert h.grad_fn.scope == "t=0/GRUCell"
    assert h.name == "h"


# ---------------------------------------------------------------- errors
def test_layer_errors_name_the_problem():
    lstm = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input has 5 features .* expected input_size=3"):
        lstm(tg.randn(2, 1, 5))
    with pytest.raises(ValueError, match="expected a 3-D input"):
        lstm(tg.randn(2, 1, 1, 3))
    with pytest.raises(RuntimeError, match=r"h_0 has shape \(1, 1, 4\), expected \(2, 1, 4\)"):
        lstm(tg.randn(2, 1, 3), (tg.zeros(1, 1, 4), tg.zeros(2, 1, 4)))
    with pytest.raises(TypeError, match=r"hx must be a tuple \(h_0, c_0\)"):
        lstm(tg.randn(2, 1, 3), tg.zeros(2, 1, 4))
    with pytest.raises(TypeError, match="hx must be a Tensor h_0"):
        nn.GRU(3, 4)(tg.randn(2, 1, 3), (tg.zeros(1, 1, 4),))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        nn.GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="dropout must be a number in"):
        nn.LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.LSTM(3, 0)


def test_cell_errors_name_the_problem():
    with pytest.raises(ValueError, match="input has 2 features .* expected input_size=3"):
        nn.LSTMCell(3, 4)(tg.randn(5, 2))
    with pytest.raises(RuntimeError, match=r"hx has shape \(5, 3\), expected \(5, 4\)"):
        nn.GRUCell(3, 4)(tg.randn(5, 3), tg.zeros(5, 3))
    with pytest.raises(RuntimeError, match=r"w_co has shape \(3,\), expected \(4,\)"):
        F.peephole_lstm_cell(tg.randn(1, 2), (tg.zeros(1, 4), tg.zeros(1, 4)),
                             tg.randn(16, 2), tg.randn(16, 4), tg.zeros(4), tg.zeros(4),
                             tg.zeros(3))
    with pytest.raises(RuntimeError, match="weight_ih expects 2"):
        R.rnn_tanh_cell(tg.randn(1, 3), tg.zeros(1, 4), tg.randn(4, 2), tg.randn(4, 4))


# ---------------------------------------------------------------- a NumPy reference (no torch)
def _np_sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _np_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's equations in NumPy: the reference for the layer loop."""
    a = x @ w_ih.T + b_ih
    r = h @ w_hh.T + b_hh
    n = h.shape[-1]
    if mode == "RNN_TANH":
        return np.tanh(a + r), None
    if mode == "RNN_RELU":
        return np.maximum(a + r, 0), None
    if mode == "LSTM":
        z = a + r
        i, f = _np_sigmoid(z[:, :n]), _np_sigmoid(z[:, n:2 * n])
        g, o = np.tanh(z[:, 2 * n:3 * n]), _np_sigmoid(z[:, 3 * n:])
        c = f * c + i * g
        return o * np.tanh(c), c
    rg = _np_sigmoid(a[:, :n] + r[:, :n])
    zg = _np_sigmoid(a[:, n:2 * n] + r[:, n:2 * n])
    cand = np.tanh(a[:, 2 * n:] + rg * r[:, 2 * n:])
    return (1 - zg) * cand + zg * h, None


@pytest.mark.parametrize("mode", MODES)
def test_layer_matches_a_numpy_reference(mode):
    """2 layers, bidirectional, batch_first: outputs and final states from a NumPy loop."""
    tg.manual_seed(4)
    layer = _make(mode, nn, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                  batch_first=True).double()
    p = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    x_np = np.random.default_rng(6).standard_normal((2, 5, 3))       # (B, T, I)
    seq = x_np.transpose(1, 0, 2)                                    # (T, B, I)
    h_n, c_n = [], []
    for layer_idx in range(2):
        outs = []
        for sfx in ("", "_reverse"):
            w = [p[f"{k}_l{layer_idx}{sfx}"] for k in ("weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh")]
            h, c = np.zeros((2, 4)), np.zeros((2, 4))
            out = [None] * 5
            for t in (range(5) if not sfx else range(4, -1, -1)):
                h, c = _np_step(mode, seq[t], h, c, *w)
                out[t] = h
            outs.append(np.stack(out))
            h_n.append(h)
            c_n.append(c)
        seq = np.concatenate(outs, -1)                               # (T, B, 2H)
    out, state = layer(tg.tensor(x_np))
    np.testing.assert_allclose(out.detach().numpy(), seq.transpose(1, 0, 2), atol=1e-12)
    h_ours = state[0] if mode == "LSTM" else state
    np.testing.assert_allclose(h_ours.detach().numpy(), np.stack(h_n), atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(state[1].detach().numpy(), np.stack(c_n), atol=1e-12)
