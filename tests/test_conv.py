"""Convolution beyond the op table: the true (flipped) convolution by hand, the output-size
formula, the layers, the error messages, and the window fold (col2im) against its
definition.

conv1d, conv2d and true_conv2d themselves (stride, padding int/tuple/'same'/'valid',
dilation, groups, bias, unbatched input, float32) are rows of the op table in test_ops.py:
values against a NumPy loop over kernel taps, gradcheck, gradgradcheck, PyTorch parity
and the CuPy stand-in."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off


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
