"""Convolution: parity with PyTorch (forward and the gradients of input, weight and bias)
over a table of configurations, a plain NumPy loop as a second reference, float64
gradchecks, the true (flipped) convolution, the layers, and the error messages."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

# name, input shape, weight shape, kwargs
CONV2D_CASES = [
    ("basic", (2, 3, 8, 8), (4, 3, 3, 3), {}),
    ("batch1_odd", (1, 1, 7, 5), (2, 1, 3, 2), {}),
    ("stride2", (2, 2, 9, 9), (3, 2, 3, 3), {"stride": 2}),
    ("stride_gt_kernel", (2, 2, 11, 10), (3, 2, 2, 2), {"stride": 3}),
    ("stride_tuple", (1, 2, 9, 8), (2, 2, 3, 3), {"stride": (2, 1)}),
    ("pad1", (2, 3, 6, 7), (4, 3, 3, 3), {"padding": 1}),
    ("pad_h_only", (2, 2, 6, 7), (3, 2, 3, 3), {"padding": (2, 0)}),
    ("pad_w_only", (1, 2, 6, 7), (3, 2, 3, 3), {"padding": (0, 1)}),
    ("dilation2", (2, 2, 9, 9), (3, 2, 3, 3), {"dilation": 2}),
    ("dilation_tuple_pad", (1, 2, 9, 8), (3, 2, 2, 3), {"dilation": (1, 2), "padding": 1}),
    ("groups2", (2, 4, 7, 7), (6, 2, 3, 3), {"groups": 2}),
    ("depthwise", (2, 3, 6, 6), (3, 1, 3, 3), {"groups": 3, "padding": 1}),
    ("groups_stride_dil", (1, 4, 11, 9), (4, 2, 2, 3), {"groups": 2, "stride": 2,
                                                       "dilation": 2}),
    ("same", (2, 2, 7, 6), (3, 2, 3, 3), {"padding": "same"}),
    ("same_even_kernel", (1, 2, 7, 6), (3, 2, 4, 2), {"padding": "same"}),
    ("same_dilated", (1, 2, 8, 7), (2, 2, 3, 2), {"padding": "same", "dilation": 2}),
    ("valid", (1, 2, 6, 6), (2, 2, 5, 5), {"padding": "valid"}),
    ("kernel_eq_input", (2, 3, 5, 5), (4, 3, 5, 5), {}),
    ("1x1", (2, 5, 4, 3), (2, 5, 1, 1), {}),
]

CONV1D_CASES = [
    ("basic", (2, 3, 10), (4, 3, 3), {}),
    ("batch1", (1, 1, 7), (2, 1, 4), {}),
    ("stride_gt_kernel", (2, 2, 13), (3, 2, 2), {"stride": 3}),
    ("pad_dil", (2, 2, 9), (3, 2, 3), {"padding": 2, "dilation": 2}),
    ("groups", (2, 4, 8), (6, 2, 3), {"groups": 2, "padding": 1}),
    ("same", (2, 3, 9), (2, 3, 4), {"padding": "same"}),
]


def _run_tg(fn, x, w, b, kw):
    xt = tg.tensor(x, requires_grad=True)
    wt = tg.tensor(w, requires_grad=True)
    bt = tg.tensor(b, requires_grad=True)
    y = fn(xt, wt, bt, **kw)
    return xt, wt, bt, y


def _check_against_torch(ours_fn, torch_name, xs, ws, kw, seed):
    """Forward and the gradients of input, weight and bias, against torch on the same data."""
    torch = torch_or_skip()
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xt, wt, bt, y = _run_tg(ours_fn, x, w, b, kw)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = getattr(torch.nn.functional, torch_name)(tx, tw, tb, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    up = rng.standard_normal(y.shape)
    (y * tg.tensor(up)).sum().backward()
    (ty * torch.tensor(up)).sum().backward()
    for ours, theirs in ((xt, tx), (wt, tw), (bt, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10,
                                   atol=1e-10)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("name,xs,ws,kw", CONV2D_CASES, ids=[c[0] for c in CONV2D_CASES])
def test_conv2d_matches_torch(name, xs, ws, kw):
    _check_against_torch(F.conv2d, "conv2d", xs, ws, kw, seed=0)


@pytest.mark.parametrize("name,xs,ws,kw", CONV1D_CASES, ids=[c[0] for c in CONV1D_CASES])
def test_conv1d_matches_torch(name, xs, ws, kw):
    _check_against_torch(F.conv1d, "conv1d", xs, ws, kw, seed=1)


def _numpy_conv2d(x, w, b, stride, pad, dil, groups):
    """The definition, as four nested loops (the reference that needs no torch)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg,
                           i * stride[0]: i * stride[0] + dil[0] * (kh - 1) + 1: dil[0],
                           j * stride[1]: j * stride[1] + dil[1] * (kw - 1) + 1: dil[1]]
                y[:, oc, i, j] = (patch * w[oc]).sum(axis=(1, 2, 3)) + b[oc]
    return y


@pytest.mark.parametrize("stride,pad,dil,groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 3), (1, 0), (1, 1), 1), ((1, 2), (0, 2), (2, 1), 2),
])
def test_conv2d_matches_numpy_loops(stride, pad, dil, groups):
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((4, 4 // groups, 3, 2)), \
        rng.standard_normal(4)
    y = F.conv2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride, pad, dil, groups)
    np.testing.assert_allclose(y.numpy(), _numpy_conv2d(x, w, b, stride, pad, dil, groups),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "groups": 2},
                                {"padding": (0, 1), "stride": (1, 2)}])
def test_conv2d_gradcheck(kw):
    tg.manual_seed(0)
    x = tg.randn(2, 2, 5, 5, dtype=tg.float64, requires_grad=True)
    w = tg.randn(2, 2 // kw.get("groups", 1), 2, 2, dtype=tg.float64, requires_grad=True)
    b = tg.randn(2, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), (x, w, b))


def test_conv1d_gradcheck():
    tg.manual_seed(1)
    x = tg.randn(2, 2, 7, dtype=tg.float64, requires_grad=True)
    w = tg.randn(3, 2, 3, dtype=tg.float64, requires_grad=True)
    b = tg.randn(3, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2),
                        (x, w, b))


def test_conv2d_gradgradcheck():
    tg.manual_seed(2)
    x = tg.randn(1, 1, 4, 4, dtype=tg.float64, requires_grad=True)
    w = tg.randn(1, 1, 2, 2, dtype=tg.float64, requires_grad=True)
    assert tg.gradgradcheck(lambda x, w: F.conv2d(x, w, stride=2, padding=1), (x, w))


def test_window_and_fold_are_adjoint():
    """<Window(x), g> = <x, WindowFold(g)>: the fold is the transpose of the window view."""
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.standard_normal((2, 3, 9, 8)), requires_grad=True)
    win = tg.sliding_window(x, (2, 3), (3, 2), (2, 3), (2, 1))
    g = rng.standard_normal(win.shape)
    (win * tg.tensor(g)).sum().backward()
    lhs = float((win.detach().numpy() * g).sum())
    rhs = float((x.detach().numpy() * x.grad.numpy()).sum())
    assert math.isclose(lhs, rhs, rel_tol=1e-12)
    xs = tg.randn(1, 2, 5, 4, dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: tg.sliding_window(t, (2, 3), (2, 2), (2, 1), (1, 2)), (xs,))


def test_unbatched_input():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 6, 6)), rng.standard_normal((2, 3, 3, 3))
    y = F.conv2d(tg.tensor(x), tg.tensor(w), padding=1)
    yb = F.conv2d(tg.tensor(x[None]), tg.tensor(w), padding=1)
    assert y.shape == (2, 6, 6)
    np.testing.assert_allclose(y.numpy(), yb.numpy()[0])
    assert F.conv1d(tg.tensor(x[:, 0]), tg.tensor(w[:, :, 0])).shape == (2, 4)


def test_float32_stays_float32():
    y = F.conv2d(tg.randn(1, 2, 5, 5), tg.randn(3, 2, 3, 3), tg.randn(3))
    assert y.dtype == tg.float32


# ---------------------------------------------------------------- true convolution
def test_true_conv2d_flips_the_kernel():
    """Convolution = cross-correlation with the kernel flipped on both axes, checked against
    the definition y[i, j] = Σ x[i - u, j - v] w[u, v] (full output, then cropped)."""
    rng = np.random.default_rng(5)
    img, k = rng.standard_normal((6, 7)), rng.standard_normal((3, 3))
    full = np.zeros((8, 9))
    for i in range(8):
        for j in range(9):
            for u in range(3):
                for v in range(3):
                    if 0 <= i - u < 6 and 0 <= j - v < 7:
                        full[i, j] += img[i - u, j - v] * k[u, v]
    got = F.true_conv2d(tg.tensor(img), tg.tensor(k), padding=2)
    np.testing.assert_allclose(got.numpy(), full, rtol=1e-12, atol=1e-12)
    valid = F.true_conv2d(tg.tensor(img), tg.tensor(k))
    np.testing.assert_allclose(valid.numpy(), full[2:6, 2:7], rtol=1e-12, atol=1e-12)
    corr = F.conv2d(tg.tensor(img[None, None]), tg.tensor(k[None, None]))
    assert not np.allclose(corr.numpy()[0, 0], valid.numpy())


def test_true_conv2d_shift_kernel_moves_the_other_way():
    img = np.zeros((5, 5))
    img[2, 2] = 1.0
    shift = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # tap at (1, 0)
    conv = F.true_conv2d(tg.tensor(img), tg.tensor(shift), padding=1).numpy()
    corr = F.conv2d(tg.tensor(img[None, None]), tg.tensor(shift[None, None]),
                    padding=1).numpy()[0, 0]
    assert corr[2, 3] == 1.0 and corr.sum() == 1.0    # y[i, j] = x[i, j-1]: moved right
    assert conv[2, 1] == 1.0 and conv.sum() == 1.0    # flipped tap: x[i, j+1], moved left


def test_true_conv2d_4d_matches_torch_with_flip():
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((3, 2, 3, 2))
    got = F.true_conv2d(tg.tensor(x), tg.tensor(w), stride=2).numpy()
    want = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w).flip((2, 3)), stride=2)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_output_size():
    assert F.conv_output_size(32, 5) == 28
    assert F.conv_output_size(28, 2, stride=2) == 14
    assert F.conv_output_size(7, 3, stride=2, padding=1, dilation=2) == 3


# ---------------------------------------------------------------- layers
def test_conv2d_layer_shapes_params_and_init():
    tg.manual_seed(0)
    conv = nn.Conv2d(1, 6, 5)
    assert conv.weight.shape == (6, 1, 5, 5) and conv.bias.shape == (6,)
    assert sum(p.numel() for p in conv.parameters()) == 156
    bound = 1 / math.sqrt(25)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert conv.weight.detach().numpy().std() > bound / 3     # filled, not all zeros
    assert conv(tg.zeros(2, 1, 32, 32)).shape == (2, 6, 28, 28)
    grouped = nn.Conv2d(4, 8, (3, 2), stride=2, padding="valid", groups=2, bias=False)
    assert grouped.weight.shape == (8, 2, 3, 2) and grouped.bias is None
    assert [k for k, _ in grouped.named_parameters()] == ["weight"]
    assert nn.Conv1d(16, 32, 5, padding="same")(tg.zeros(2, 16, 40)).shape == (2, 32, 40)


def test_conv_layer_matches_torch_with_copied_weights():
    torch = torch_or_skip()
    ours = nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1, groups=1)
    theirs = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    x = np.random.default_rng(7).standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- errors
def test_channel_mismatch_message():
    with pytest.raises(RuntimeError, match=r"conv2d: input has 3 channels, weight expects 1 "
                                           r"\(weight shape \(6, 1, 5, 5\)\)"):
        F.conv2d(tg.zeros(1, 3, 32, 32), tg.zeros(6, 1, 5, 5))
    with pytest.raises(RuntimeError, match=r"conv1d: input has 5 channels, weight expects 4 "
                                           r"\(2 groups of 2\)"):
        F.conv1d(tg.zeros(1, 5, 8), tg.zeros(4, 2, 3), groups=2)


def test_kernel_larger_than_padded_input_message():
    with pytest.raises(RuntimeError, match=r"conv2d: kernel size \(5, 5\) is larger than the "
                                           r"padded input \(5, 4\)"):
        F.conv2d(tg.zeros(1, 1, 3, 2), tg.zeros(1, 1, 5, 5), padding=1)
    with pytest.raises(RuntimeError, match=r"dilated to \(5, 5\)"):
        F.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 3, 3), dilation=2)


def test_argument_errors():
    x, w = tg.zeros(1, 2, 6, 6), tg.zeros(2, 2, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D \(unbatched\) or 4-D"):
        F.conv2d(tg.zeros(6, 6), w)
    with pytest.raises(ValueError, match=r"conv2d: weight must have 4 dims"):
        F.conv2d(x, tg.zeros(2, 2, 3))
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        F.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be an int, a tuple, 'same' or 'valid'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match=r"stride must be positive"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match=r"stride must be an int or a tuple of 2 ints"):
        F.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(RuntimeError, match=r"bias must have shape \(2,\)"):
        F.conv2d(x, w, tg.zeros(3))
    with pytest.raises(RuntimeError, match=r"out_channels 3 .* not divisible by groups=2"):
        F.conv2d(x, tg.zeros(3, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) and out_channels \(4\) "
                                         r"must both be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(NotImplementedError, match=r"padding_mode 'reflect' is not supported"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")


def _naive_fold(g, in_shape, axes, size, stride, dilation):
    """col2im by definition: every window tap adds its gradient onto the cell it read."""
    out = np.zeros(in_shape)
    nd = len(in_shape)
    lead_shape = g.shape[:nd]
    for idx in np.ndindex(*lead_shape):
        for taps in np.ndindex(*size):
            pos = list(idx)
            for j, a in enumerate(axes):
                pos[a] = idx[a] * stride[j] + taps[j] * dilation[j]
            out[tuple(pos)] += g[idx + taps]
    return out


@pytest.mark.parametrize("in_shape,axes,size,stride,dilation", [
    ((2, 3, 7, 6), (2, 3), (3, 2), (1, 1), (1, 1)),      # conv col2im, stride 1
    ((2, 3, 9, 8), (2, 3), (3, 3), (2, 2), (1, 1)),      # overlapping stride 2
    ((1, 2, 11, 10), (2, 3), (2, 2), (3, 3), (1, 1)),    # stride > kernel
    ((2, 2, 9, 9), (2, 3), (2, 3), (1, 2), (2, 1)),      # dilation
    ((1, 2, 8, 9), (2, 3), (2, 2), (1, 3), (6, 2)),      # row dilation > OH: rows no tap reaches
    ((3, 4, 5), (1, 2), (3, 2), (1, 1), (1, 1)),         # 3-D input, last two axes
    ((2, 3, 5, 5), (2, 3), (5, 5), (1, 1), (1, 1)),      # one window, the whole map (C5)
    ((2, 3, 6, 5), (2, 3), (5, 5), (1, 3), (1, 1)),      # one window across, two down
    ((7, 6), (0, 1), (3, 2), (1, 1), (1, 1)),            # a 2-D input, no leading axis
    ((2, 3, 8, 8), (2, 3), (2, 2), (2, 2), (1, 1)),      # disjoint tiles (2x2 pooling)
    ((2, 3, 9, 7), (2, 3), (2, 3), (2, 3), (1, 1)),      # disjoint tiles with a remainder
    ((2, 3, 10), (2,), (3,), (2,), (1,)),                # 1-D, generic loop
    ((3, 7, 5), (0, 1), (2, 2), (1, 1), (1, 1)),         # leading axes, generic loop
])
def test_window_fold_equals_the_definition(in_shape, axes, size, stride, dilation):
    """WindowFold (one strided add per tap) = the definition, cell by cell."""
    rng = np.random.default_rng(8)
    x = tg.tensor(rng.standard_normal(in_shape), requires_grad=True)
    win = tg.sliding_window(x, axes, size, stride, dilation)
    g = rng.standard_normal(win.shape)
    win.backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(),
                               _naive_fold(g, in_shape, axes, size, stride, dilation),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride", [(1, 1), (1, 2)])
def test_window_fold_in_chunks_equals_the_definition(monkeypatch, stride):
    """The stride-1-rows fold works on a few leading items at a time (to stay in cache);
    with a tiny scratch budget every item is its own chunk, and the sums must not change."""
    from tinygrad_edu.fastlane import fold
    monkeypatch.setattr(fold, "SCRATCH_BYTES", 1)
    rng = np.random.default_rng(9)
    in_shape, size, dilation = (3, 2, 7, 8), (3, 2), (1, 2)
    x = tg.tensor(rng.standard_normal(in_shape), requires_grad=True)
    win = tg.sliding_window(x, (2, 3), size, stride, dilation)
    g = rng.standard_normal(win.shape)
    win.backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(),
                               _naive_fold(g, in_shape, (2, 3), size, stride, dilation),
                               rtol=1e-12, atol=1e-12)
