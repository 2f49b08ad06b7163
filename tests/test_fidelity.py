"""PyTorch fidelity and hard inputs: one test per reproducer of issue 12.

Every expected value here is written down from PyTorch's documented behaviour or worked
out by hand (or with plain NumPy), never computed by tinygrad_edu itself. The op table
(tests/test_ops.py) checks the same ops over many shapes; PyTorch's own sample inputs run
in tests/test_torch_opdb.py. The device-side checks on CUDA are in
tests/test_device_transfers.py.
"""
from __future__ import annotations

import math
import os
import threading
import warnings
import zipfile

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from tinygrad_edu.engine import ops
from tinygrad_edu.models import LENET5_C3_TABLE, PartialConv2d

INF = math.inf


def _grad(fn, values, dtype=tg.float64):
    w = tg.tensor(values, dtype=dtype, requires_grad=True)
    fn(w).sum().backward()
    return w.grad.numpy()


# ---------------------------------------------------------------- silent wrong answers
def test_norm_inf_and_minus_inf_are_max_and_min_of_abs():
    x = tg.tensor([[1., -3.], [2., .5]])
    assert x.norm(INF).item() == 3.0
    assert x.norm(-INF).item() == 0.5
    np.testing.assert_array_equal(x.norm(INF, dim=1).numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(x.norm(-INF, dim=0).numpy(), [1.0, 0.5])


def test_var_and_std_take_a_bool_as_unbiased():
    x = tg.tensor([1., 2., 3., 4.], dtype=tg.float64)
    assert x.var(False).item() == pytest.approx(1.25)          # Σ(x - 2.5)² / 4
    assert x.std(False).item() == pytest.approx(math.sqrt(1.25))
    assert x.var(True).item() == pytest.approx(5 / 3)
    m = tg.tensor([[1., 2.], [3., 4.]])
    assert m.var(False).shape == ()
    assert m.var(False).item() == pytest.approx(1.25)


@pytest.mark.parametrize("name, fn, values, want", [
    ("norm**2 at 0", lambda w: w.norm() ** 2, [0., 0.], [0., 0.]),
    ("std of a constant", lambda w: w.std(), [1., 1., 1.], [0., 0., 0.]),
    ("x**0 at 0", lambda w: w ** 0, [0., 1.], [0., 0.]),
    ("lp_pool2d of an all-zero window", lambda w: F.lp_pool2d(w, 2, 2),
     np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2))),
    ("lp_pool1d p=3 at 0", lambda w: F.lp_pool1d(w, 3, 2), np.zeros((1, 1, 2)),
     np.zeros((1, 1, 2))),
    ("norm(dim) of a zero row", lambda w: w.norm(dim=1), [[0., 0.], [3., 4.]],
     [[0., 0.], [.6, .8]]),
])
def test_gradient_is_finite_where_pytorch_is(name, fn, values, want):
    np.testing.assert_allclose(_grad(fn, values), want, atol=1e-12, err_msg=name)


def test_normalize_of_a_zero_row_divides_by_eps():
    # x / max(‖x‖, eps): at x = 0 the norm is clamped, so dy/dx = 1/eps on the diagonal
    g = _grad(lambda w: F.normalize(w, dim=1, eps=1e-3), [[0., 0.], [3., 4.]])
    np.testing.assert_allclose(g[0], [1e3, 1e3])
    assert np.isfinite(g).all()


def test_relu_of_minus_inf_is_zero():
    np.testing.assert_array_equal(F.relu(tg.tensor([-INF, INF, -1.])).numpy(), [0., INF, 0.])


def test_tensor_power_with_negative_or_zero_base():
    x, y = tg.tensor([-2., 0., 3.]), tg.tensor([2., 0., 2.])
    np.testing.assert_array_equal((x ** y).numpy(), [4., 1., 9.])
    np.testing.assert_array_equal(((-2.0) ** tg.tensor([2., 3.])).numpy(), [4., -8.])
    np.testing.assert_array_equal((tg.tensor([-8.]) ** tg.tensor([1 / 3])).isnan().numpy(),
                                  [True])      # a real power of a negative base: NaN


def test_rpow_gives_a_tensor_base_its_gradient():
    base = tg.tensor([2., 3.], dtype=tg.float64, requires_grad=True)
    exponent = tg.tensor([2., 1.], dtype=tg.float64)
    exponent.__rpow__(base).sum().backward()           # base ** exponent
    np.testing.assert_allclose(base.grad.numpy(), [4., 1.])   # y·b^(y-1)


def test_sign_and_rsqrt_at_special_values():
    np.testing.assert_array_equal(tg.tensor([math.nan, -0., 2.]).sign().numpy(), [0., 0., 1.])
    r = tg.tensor([-0., -INF, 0., 4.]).rsqrt().numpy()
    assert r[0] == -INF and math.isnan(r[1]) and r[2] == INF and r[3] == 0.5


def test_bce_refuses_nan_and_out_of_range_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must be probabilities "
                                         r"in \[0, 1\], got nan"):
        F.binary_cross_entropy(tg.tensor([0.5, math.nan]), tg.tensor([1., 0.]))
    with pytest.raises(ValueError, match=r"got 1\.5"):
        F.binary_cross_entropy(tg.tensor([1.5]), tg.tensor([1.]))


def test_kl_div_with_a_negative_target_is_nan():
    # target·(log target - input): log of a negative number is NaN, as in PyTorch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert math.isnan(F.kl_div(tg.tensor([0.1]), tg.tensor([-1.])).item())


def test_out_of_range_indices_are_refused():
    with pytest.raises(IndexError, match=r"one_hot: class 5 is out of range for 3 classes"):
        F.one_hot(tg.tensor([0, 5, 1]), 3)
    with pytest.raises(IndexError, match=r"one_hot: class -1 is out of range"):
        F.one_hot(tg.tensor([0, -1]), 3)
    with pytest.raises(IndexError, match=r"embedding: index -1 is out of range for 10 "
                                         r"embeddings \(weight shape \(10, 3\)\)"):
        nn.Embedding(10, 3)(tg.tensor([-1]))
    with pytest.raises(IndexError, match=r"embedding: index 10 is out of range"):
        nn.Embedding(10, 3)(tg.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"nll_loss: target 3 is out of bounds for 3 classes"):
        F.nll_loss(tg.zeros(2, 3), tg.tensor([0, 3]))


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: tg.zeros((2, 3.5)), TypeError, r"zeros: sizes must be ints, got \(2, 3\.5\)"),
    (lambda: nn.Linear(3.7, 2), TypeError, r"Linear: in_features must be an int, got 3\.7"),
    (lambda: nn.Conv2d(1, 2.0, 3), TypeError, r"Conv2d: out_channels must be an int"),
    (lambda: nn.Linear(-1, 2), ValueError, r"Linear: in_features must be >= 0, got -1"),
    (lambda: tg.tensor(["a", "b"]), TypeError, r"tensor: expected numbers"),
    (lambda: tg.randperm(-1), ValueError, r"randperm: n must be a non-negative int, got -1"),
    (lambda: tg.arange(0, 1, 0), ValueError, r"arange: step must be nonzero"),
])
def test_bad_sizes_and_values_are_refused(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_grad_mode_is_per_thread():
    """One thread's no_grad must not stop another thread's graph recording."""
    inside, done = threading.Event(), threading.Event()
    seen = {}

    def holder():
        with tg.no_grad():
            seen["holder"] = tg.is_grad_enabled()
            inside.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    assert inside.wait(10)
    x = tg.ones(2, requires_grad=True)
    y = (x * 3).sum()                       # recorded here while the other thread is in no_grad
    seen["main"] = tg.is_grad_enabled()
    done.set()
    t.join()
    assert seen == {"holder": False, "main": True}
    assert y.requires_grad
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3., 3.])


def test_load_state_dict_that_fails_late_copies_nothing():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    before = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    bad = {k: np.full(v.shape, 7.0) for k, v in before.items()}
    bad["1.bias"] = np.array(["x", "y"])            # right shape, cannot become a number
    with pytest.raises((TypeError, RuntimeError)):
        model.load_state_dict(bad)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k], err_msg=k)


def test_argmax_of_a_scalar_keeps_no_dim():
    s = tg.tensor(3.)
    assert s.argmax(dim=0, keepdim=True).shape == ()
    assert s.argmax(dim=-1).shape == ()
    assert s.argmax().item() == 0


# ---------------------------------------------------------------- deep crashes
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("name, fn, want", [
    ("sum", lambda s, d: s.sum(d), 2.0), ("mean", lambda s, d: s.mean(d), 2.0),
    ("amax", lambda s, d: s.amax(d), 2.0), ("amin", lambda s, d: s.amin(d), 2.0),
    ("softmax", lambda s, d: s.softmax(d), 1.0),
    ("log_softmax", lambda s, d: s.log_softmax(d), 0.0),
    ("logsumexp", lambda s, d: s.logsumexp(d), 2.0),
    ("max", lambda s, d: s.max(d)[0], 2.0), ("max.indices", lambda s, d: s.max(d)[1], 0),
    ("norm", lambda s, d: s.norm(dim=d), 2.0),
    ("normalize", lambda s, d: F.normalize(s, dim=d), 1.0),
    ("transpose", lambda s, d: s.transpose(d, d), 2.0),
    ("gather", lambda s, d: s.gather(d, tg.tensor(0)), 2.0),
    ("nn.Softmax", lambda s, d: nn.Softmax(d)(s), 1.0),
    ("nn.LogSoftmax", lambda s, d: nn.LogSoftmax(d)(s), 0.0),
])
def test_zero_dim_tensor_with_dim_0_or_minus_1(name, fn, want, dim):
    out = fn(tg.tensor(2.), dim)
    assert out.shape == (), name
    assert out.item() == pytest.approx(want), name


def test_unfold_of_a_scalar():
    out = tg.tensor(2.).unfold(0, 1, 1)
    assert out.shape == (1,) and out.item() == 2.0


def test_norm_variants():
    x = tg.tensor([[1., -3.], [2., .5]], dtype=tg.float64)
    assert x.norm("fro").item() == pytest.approx(math.sqrt(1 + 9 + 4 + .25))
    assert x.norm(0).item() == 4.0                      # count of non-zeros
    assert tg.tensor([0., 2., 0.]).norm(0).item() == 1.0
    np.testing.assert_array_equal(_grad(lambda w: w.norm(0), [1., 0., 2.]), [0., 0., 0.])
    with pytest.raises(NotImplementedError, match=r"norm: p='nuc' is not supported"):
        x.norm("nuc")
    np.testing.assert_array_equal(F.normalize(tg.tensor([[2., 0., 1.]]), p=0, dim=1).numpy(),
                                  [[1., 0., .5]])      # divided by the count of non-zeros, 2


def test_creation_forms_pytorch_accepts():
    np.testing.assert_allclose(tg.linspace(tg.tensor(0.), tg.tensor(1.), 3).numpy(),
                               [0., .5, 1.])
    r = tg.randint(10, (2, 2))
    assert r.shape == (2, 2) and r.dtype == tg.int64
    assert ((r.numpy() >= 0) & (r.numpy() < 10)).all()
    like = tg.randint_like(tg.ones(3, dtype=tg.float64), 2, 5)
    assert like.shape == (3,) and like.dtype == tg.float64
    assert set(like.numpy().tolist()) <= {2.0, 3.0, 4.0}
    assert tg.zeros_like(tg.ones(2), device="cpu").device == "cpu"


def test_pad_with_a_negative_amount_crops():
    x = tg.tensor([[0., 1., 2., 3., 4.]])
    np.testing.assert_array_equal(F.pad(x, (-1, -1)).numpy(), [[1., 2., 3.]])
    np.testing.assert_array_equal(F.pad(x, (-1, 2)).numpy(), [[1., 2., 3., 4., 0., 0.]])
    with pytest.raises(ValueError, match=r"pad: padding \(-3, -3\) of dim 1 \(size 5\) leaves "
                                         r"nothing"):
        F.pad(x, (-3, -3))


@pytest.mark.parametrize("mode, want", [
    ("reflect", [2., 1., 0., 1., 2., 3., 4., 3.]),
    ("replicate", [0., 0., 0., 1., 2., 3., 4., 4.]),
    ("circular", [3., 4., 0., 1., 2., 3., 4., 0.]),
])
def test_pad_modes(mode, want):
    x = tg.tensor([[[0., 1., 2., 3., 4.]]], dtype=tg.float64, requires_grad=True)
    y = F.pad(x, (2, 1), mode=mode)
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], want)
    y.sum().backward()         # each input entry's gradient counts its copies in the output
    counts = np.bincount(np.array(want, dtype=int), minlength=5)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], counts)


def test_pad_mode_errors():
    x = tg.ones(1, 1, 3)
    with pytest.raises(ValueError, match=r"reflect padding \(3, 0\) of dim 2 needs a "
                                         r"non-empty dim and each amount < its size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match=r"mode 'wrap' is not supported"):
        F.pad(x, (1, 1), mode="wrap")


def test_repeated_list_index_adds_its_gradients():
    """x[[0, 0, 3], [1, 1, 3]] reads x[0, 1] twice: its gradient is the sum of both."""
    for lane in (True, False):
        with tg.fast(lane):
            x = tg.zeros(4, 4, dtype=tg.float64, requires_grad=True)
            (x[[0, 0, 3], [1, 1, 3]] * tg.tensor([1., 10., 100.], dtype=tg.float64)).sum() \
                .backward()
            want = np.zeros((4, 4))
            want[0, 1], want[3, 3] = 11., 100.
            np.testing.assert_array_equal(x.grad.numpy(), want)
            y = tg.zeros(3, dtype=tg.float64, requires_grad=True)
            y[[2, 2]].sum().backward()
            np.testing.assert_array_equal(y.grad.numpy(), [0., 0., 2.])


def test_adaptive_avg_pool1d_takes_a_one_tuple():
    out = F.adaptive_avg_pool1d(tg.tensor([[[1., 2., 3., 4.]]]), (2,))
    np.testing.assert_array_equal(out.numpy(), [[[1.5, 3.5]]])
    with pytest.raises(ValueError, match=r"output_size must be a positive int or a 1-tuple"):
        F.adaptive_avg_pool1d(tg.ones(1, 1, 4), (2, 2))


def test_layers_with_a_zero_size():
    lin = nn.Linear(0, 2)
    assert lin.weight.shape == (2, 0)
    np.testing.assert_array_equal(lin(tg.ones(1, 0)).detach().numpy(),   # x·W of nothing: b
                                  lin.bias.detach().numpy()[None])
    conv = nn.Conv2d(1, 0, 3)
    assert conv.weight.shape == (0, 1, 3, 3)
    assert conv(tg.ones(1, 1, 5, 5)).shape == (1, 0, 3, 3)
    assert nn.Conv2d(0, 2, 3).weight.shape == (2, 0, 3, 3)


def test_linear_with_a_wrong_bias_shape():
    with pytest.raises(RuntimeError, match=r"linear: bias has shape \(3,\), expected \(4,\)"):
        F.linear(tg.ones(2, 3), tg.ones(4, 3), tg.ones(3))


def test_lstm_on_an_empty_sequence():
    with pytest.raises(ValueError, match=r"LSTM: the sequence is empty \(input shape "
                                         r"\(0, 1, 3\)\)"):
        nn.LSTM(3, 4)(tg.ones(0, 1, 3))
    with pytest.raises(ValueError, match=r"GRU: the sequence is empty"):
        nn.GRU(3, 4, batch_first=True)(tg.ones(2, 0, 3))


def test_cat_skips_an_empty_1d_tensor_and_batch_norm_takes_an_empty_batch():
    out = tg.cat([tg.ones(2, 3), tg.zeros(0), tg.ones(1, 3)])
    assert out.shape == (3, 3)
    bn = F.batch_norm(tg.ones(0, 3), tg.zeros(3), tg.ones(3), training=True)
    assert bn.shape == (0, 3)


def test_to_takes_pytorchs_positional_flags():
    x = tg.ones(2)
    assert x.to(tg.float64, False, False).dtype == tg.float64
    assert x.to("cpu", tg.float64, True).dtype == tg.float64
    assert x.to(tg.float32) is x
    y = x.to(tg.float32, copy=True)
    assert y is not x and y.dtype == tg.float32
    y.add_(1)
    assert x.numpy().tolist() == [1., 1.]


# ---------------------------------------------------------------- missing API, by value
def test_new_api_values():
    x = tg.tensor([[3., 1., 2.], [-1., 5., 0.]])
    np.testing.assert_array_equal(x.cumsum(1).numpy(), [[3., 4., 6.], [-1., 4., 4.]])
    v, i = x.sort(1)
    np.testing.assert_array_equal(v.numpy(), [[1., 2., 3.], [-1., 0., 5.]])
    np.testing.assert_array_equal(i.numpy(), [[1, 2, 0], [0, 2, 1]])
    v, i = x.topk(2, dim=1)
    np.testing.assert_array_equal(v.numpy(), [[3., 2.], [5., 0.]])
    np.testing.assert_array_equal(i.numpy(), [[0, 2], [1, 2]])
    np.testing.assert_array_equal(x.tril().numpy(), [[3., 0., 0.], [-1., 5., 0.]])
    np.testing.assert_array_equal(x.triu(1).numpy(), [[0., 1., 2.], [0., 0., 0.]])
    np.testing.assert_array_equal(x.roll(1, 1).numpy(), [[2., 3., 1.], [0., -1., 5.]])
    y = tg.tensor([-2.5, -0.5, 0.5, 1.5, 2.7])
    np.testing.assert_array_equal(y.round().numpy(), [-2., -0., 0., 2., 3.])   # half to even
    np.testing.assert_array_equal(y.floor().numpy(), [-3., -1., 0., 1., 2.])
    np.testing.assert_array_equal(y.ceil().numpy(), [-2., -0., 1., 2., 3.])
    z = tg.tensor([-7., 7.])
    np.testing.assert_array_equal((z // 2).numpy(), [-4., 3.])
    np.testing.assert_array_equal((z % 3).numpy(), [2., 1.])          # sign of the divisor
    np.testing.assert_array_equal(z.div(2, rounding_mode="trunc").numpy(), [-3., 3.])
    np.testing.assert_array_equal(z.div(2, rounding_mode="floor").numpy(), [-4., 3.])
    a, b = tg.tensor([[1., 2.]]), tg.tensor([[3.], [4.]])
    np.testing.assert_array_equal(tg.matmul(a, b).numpy(), [[11.]])
    np.testing.assert_array_equal(tg.maximum(z, tg.zeros(2)).numpy(), [0., 7.])
    np.testing.assert_array_equal(tg.minimum(z, tg.zeros(2)).numpy(), [-7., 0.])
    assert tg.logsumexp(tg.tensor([0., 0.]), 0).item() == pytest.approx(math.log(2))
    assert tg.ones(3).softmax(0, dtype=tg.float64).dtype == tg.float64
    m = tg.tensor([[True, False], [True, True]])
    np.testing.assert_array_equal(m.all(dim=1).numpy(), [False, True])
    np.testing.assert_array_equal(m.any(dim=0).numpy(), [True, True])


def test_new_activations_by_formula():
    xs = [-2., -0.5, 0., 0.5, 2.]
    x = tg.tensor(xs, dtype=tg.float64)
    erf = np.vectorize(math.erf)
    a = np.array(xs)
    sig = 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(F.gelu(x).numpy(), a * 0.5 * (1 + erf(a / math.sqrt(2))))
    np.testing.assert_allclose(F.gelu(x, approximate="tanh").numpy(),
                               0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                      * (a + 0.044715 * a ** 3))))
    np.testing.assert_allclose(F.silu(x).numpy(), a * sig)
    np.testing.assert_allclose(F.elu(x).numpy(), np.where(a > 0, a, np.exp(a) - 1))
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), np.log(sig))
    np.testing.assert_allclose(tg.tensor(xs).erf().numpy(), erf(a), rtol=1e-6)


def test_smooth_l1_and_huber_by_formula():
    x, t = tg.tensor([0., 0., 0.], dtype=tg.float64), tg.tensor([0.5, 2., -3.], dtype=tg.float64)
    # |d| = .5, 2, 3; beta = delta = 1: smooth_l1 = [.125, 1.5, 2.5], huber the same at δ=1
    assert F.smooth_l1_loss(x, t).item() == pytest.approx((0.125 + 1.5 + 2.5) / 3)
    assert F.huber_loss(x, t, delta=2.0).item() == pytest.approx((0.125 + 2.0 + 4.0) / 3)
    assert F.smooth_l1_loss(x, t, beta=2.0).item() == pytest.approx((0.0625 + 1.0 + 2.0) / 3)


def test_embedding_padding_idx_gets_no_gradient():
    emb = nn.Embedding(4, 2, padding_idx=0)
    np.testing.assert_array_equal(emb.weight.detach().numpy()[0], [0., 0.])
    emb(tg.tensor([0, 1, 0, 2])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy(), [[0, 0], [1, 1], [1, 1], [0, 0]])


def test_lstm_proj_size_against_numpy():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 5, proj_size=2).double()
    assert lstm.weight_hr_l0.shape == (2, 5) and lstm.weight_hh_l0.shape == (20, 2)
    x = np.random.default_rng(0).standard_normal((4, 1, 3))
    out, (h, c) = lstm(tg.tensor(x))
    assert out.shape == (4, 1, 2) and h.shape == (1, 1, 2) and c.shape == (1, 1, 5)
    w = {k: v.detach().numpy() for k, v in lstm.state_dict().items()}
    sig = lambda z: 1 / (1 + np.exp(-z))                        # noqa: E731
    hh, cc = np.zeros((1, 2)), np.zeros((1, 5))
    for t in range(4):
        g = x[t] @ w["weight_ih_l0"].T + w["bias_ih_l0"] + hh @ w["weight_hh_l0"].T \
            + w["bias_hh_l0"]
        i, f, gg, o = np.split(g, 4, axis=1)
        cc = sig(f) * cc + sig(i) * np.tanh(gg)
        hh = (sig(o) * np.tanh(cc)) @ w["weight_hr_l0"].T
        np.testing.assert_allclose(out.detach().numpy()[t], hh, rtol=1e-12)
    np.testing.assert_allclose(c.detach().numpy()[0], cc, rtol=1e-12)
    with pytest.raises(ValueError, match=r"proj_size must be an int in \[0, hidden_size=5\)"):
        nn.LSTM(3, 5, proj_size=5)


# ---------------------------------------------------------------- checks that cannot pass
def test_gradcheck_fails_a_nan_backward(monkeypatch):
    monkeypatch.setattr(ops.Exp, "backward", lambda self, g: g * math.nan)
    x = tg.tensor([0.1, 0.2], dtype=tg.float64, requires_grad=True)
    with pytest.raises(AssertionError, match=r"entries differ"):
        tg.gradcheck(lambda t: t.exp(), (x,))
    assert not tg.gradcheck(lambda t: t.exp(), (x,), raise_exception=False)
    assert not tg.gradgradcheck(lambda t: t.exp(), (x,), raise_exception=False)


def test_gradcheck_fails_a_sign_error(monkeypatch):
    monkeypatch.setattr(ops.Sin, "backward",                 # -cos instead of cos
                        lambda self, g: -g * np.cos(ops.inputs_of(self)[0]))
    x = tg.tensor([0.1, 0.2], dtype=tg.float64, requires_grad=True)
    assert not tg.gradcheck(lambda t: t.sin(), (x,), raise_exception=False)


def _conv_same_numpy(x, w, dilation):
    """'same' cross-correlation in NumPy: total padding d·(k-1), the smaller half on the
    left (PyTorch's rule for even kernels), then a direct sum."""
    k = w.shape[-1]
    total = dilation * (k - 1)
    left = total // 2
    xp = np.pad(x, ((0, 0), (0, 0), (left, total - left)))
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2]))
    for j in range(x.shape[2]):
        taps = xp[:, :, j: j + total + 1: dilation]               # (N, C, k)
        out[:, :, j] = np.einsum("nck,ock->no", taps, w)
    return out


@pytest.mark.parametrize("k, dilation", [(2, 1), (4, 1), (3, 2), (2, 3)])
def test_same_padding_against_numpy(k, dilation):
    rng = np.random.default_rng(k + dilation)
    x, w = rng.standard_normal((2, 3, 7)), rng.standard_normal((4, 3, k))
    got = F.conv1d(tg.tensor(x), tg.tensor(w), padding="same", dilation=dilation).numpy()
    np.testing.assert_allclose(got, _conv_same_numpy(x, w, dilation), rtol=1e-12, atol=1e-12)


def test_weighted_cross_entropy_mean_divides_by_the_weight_sum():
    logits = np.array([[2., 0., 0.], [0., 1., 0.], [0., 0., 3.]])
    target, weight = np.array([0, 1, 2]), np.array([1., 2., 0.5])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    picked = -logp[np.arange(3), target] * weight[target]
    got = F.cross_entropy(tg.tensor(logits), tg.tensor(target), weight=tg.tensor(weight))
    assert got.item() == pytest.approx(picked.sum() / weight[target].sum(), rel=1e-12)
    assert got.item() != pytest.approx(picked.sum() / 3, rel=1e-3)


def test_cross_entropy_with_every_target_ignored():
    x = tg.tensor([[1., 2., 3.]], dtype=tg.float64, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([-100]))
    assert math.isnan(loss.item())            # 0/0, as PyTorch
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0., 0., 0.]])   # but a zero gradient


def test_partial_connection_layer_itself_passes_gradcheck():
    tg.manual_seed(2)
    layer = PartialConv2d(6, 16, 3, LENET5_C3_TABLE).double()
    x = tg.randn(1, 6, 4, 4, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: layer(x), (x, layer.weight, layer.bias))


# ---------------------------------------------------------------- hard inputs
def test_load_caps_the_unpacked_size(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, w=np.zeros(2_000_000))          # 16 MB of zeros, a few kB packed
    assert os.path.getsize(path) < 100_000
    with pytest.raises(ValueError, match=r"would expand from [\d,]+ to 16,000,\d+ bytes "
                                         r"\(ratio [\d,]+:1\), beyond max_bytes=1,000,000"):
        tg.load(path, max_bytes=1_000_000)
    assert tg.load(path, max_bytes=20_000_000)["w"].shape == (2_000_000,)
    from tinygrad_edu.serialization import MAX_BYTES
    assert 2 ** 30 <= MAX_BYTES < 2 ** 31        # far above a checkpoint; a 2 GiB bomb refused


def test_save_removes_temp_files_left_by_a_killed_save(tmp_path):
    path = tmp_path / "ckpt.npz"
    stale = tmp_path / "ckpt.npz.tmp-999999"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / "other.npz.tmp-999999"
    other.write_bytes(b"not ours")
    with pytest.warns(UserWarning, match=r"removed 1 temporary file\(s\) left by an "
                                         r"interrupted save"):
        tg.save({"w": tg.ones(2)}, path)
    assert not stale.exists() and other.exists()
    with zipfile.ZipFile(path) as z:
        assert "w.npy" in z.namelist()


# ---------------------------------------------------------------- kinks and ties (README table)
@pytest.mark.parametrize("name, fn, values, want", [
    ("relu at 0", F.relu, [0., -0., 1.], [0., 0., 1.]),
    ("abs at 0", lambda w: w.abs(), [0., 1.], [0., 1.]),
    ("clamp at its bounds", lambda w: w.clamp(0, 1), [0., 1., .5, 2.], [1., 1., 1., 0.]),
    ("max() tie: shared", lambda w: w.max(), [3., 3., 1.], [.5, .5, 0.]),
    ("amax(dim) tie: shared", lambda w: w.amax(0), [3., 3., 1.], [.5, .5, 0.]),
    ("max(dim) tie: the first", lambda w: w.max(0)[0], [3., 3., 1.], [1., 0., 0.]),
    ("maximum(x, x): each side", lambda w: tg.maximum(w, w), [1., 2.], [1., 1.]),
    ("maximum tie with a constant", lambda w: tg.maximum(w, tg.ones(2, dtype=tg.float64)),
     [1., 2.], [.5, 1.]),
    ("norm at 0", lambda w: w.norm(), [0., 0.], [0., 0.]),
    ("sqrt at 0", lambda w: w.sqrt(), [0., 4.], [INF, .25]),
    ("max pooling tie: the first", lambda w: F.max_pool2d(w, 2), [[[[2., 2.], [2., 1.]]]],
     [[[[1., 0.], [0., 0.]]]]),
    ("topk tie: the first", lambda w: w.topk(1)[0], [2., 2., 0.], [1., 0., 0.]),
    ("sort tie: stable", lambda w: w.sort()[0] * tg.tensor([1., 2., 3.], dtype=tg.float64),
     [1., 1., 0.], [2., 3., 1.]),
])
def test_gradient_conventions_at_kinks_and_ties(name, fn, values, want):
    """The README's table of conventions (PyTorch's), entry by entry."""
    np.testing.assert_array_equal(_grad(fn, values), want, err_msg=name)


def test_zero_dim_results_are_arrays_that_in_place_ops_can_write():
    """NumPy returns a 0-d result as a scalar; a tensor must hold an array, so that an
    optimizer's in-place update of a 0-d parameter works (found by the exercises)."""
    from tinygrad_edu import optim
    s = tg.tensor(1.) + tg.tensor(2.)
    s.add_(1)
    assert s.item() == 4.0
    p = nn.Parameter(tg.tensor(1.0))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(2):
        p.grad = tg.tensor(0.5)
        opt.step()
    # by hand: g = .5 + .1·1 = .6, p = .94; g = .5 + .094, buf = .54 + .594, p = .94 - .1134
    assert p.item() == pytest.approx(0.8266, abs=1e-6)


def test_kl_div_batchmean_of_a_scalar_is_the_sum():
    x, y = tg.tensor(-0.5, dtype=tg.float64), tg.tensor(0.25, dtype=tg.float64)
    want = 0.25 * (np.log(0.25) + 0.5)
    np.testing.assert_allclose(F.kl_div(x, y, reduction="batchmean").item(), want)
    np.testing.assert_allclose(nn.KLDivLoss(reduction="batchmean")(x, y).item(), want)


@pytest.mark.parametrize("module, function", [
    (lambda: nn.GELU(), lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    (lambda: nn.ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (lambda: nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (lambda: nn.Softplus(2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
])
def test_activation_modules_by_formula(module, function):
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(module()(tg.tensor(x)).numpy(), function(x), rtol=1e-12,
                               atol=1e-12)


def test_regression_loss_modules_by_formula():
    x, y = np.array([0.0, 0.5, 3.0]), np.array([0.2, 2.0, 0.0])
    d = np.abs(x - y)
    huber = np.where(d < 2.0, 0.5 * d * d, 2.0 * (d - 1.0)).mean()
    smooth = np.where(d < 2.0, 0.25 * d * d, d - 1.0).mean()
    np.testing.assert_allclose(nn.HuberLoss(delta=2.0)(tg.tensor(x), tg.tensor(y)).item(), huber)
    np.testing.assert_allclose(nn.SmoothL1Loss(beta=2.0)(tg.tensor(x), tg.tensor(y)).item(),
                               smooth)
