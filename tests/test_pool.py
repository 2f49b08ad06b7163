"""Pooling beyond the op table: hand-worked cases (where the gradient goes, padding divisors,
ceil_mode sizes), the layers, the error messages, and LeNet-5's partial-connection C3 on the
device path.

max/avg/Lp/adaptive pooling in 1-D and 2-D (kernel, stride, padding, dilation, ceil_mode,
count_include_pad, divisor_override, return_indices, unbatched input) are rows of the op
table in test_ops.py: values and indices against NumPy loops over the window taps,
gradcheck, gradgradcheck, PyTorch parity and the CuPy stand-in."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off


def test_max_pool_gradient_goes_to_the_max():
    x = tg.tensor([[[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 9.0, 8.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1, 0, 0], [0, 0, 1, 0]]]])


def test_avg_pool_padding_divisors_by_hand():
    """A 3x3 window with padding 1 over a 2x2 image of ones: each corner window holds 4 real
    cells out of 9, so the mean is 4/9 counting the padding, 1 without it."""
    x = tg.ones(1, 1, 2, 2)
    incl = F.avg_pool2d(x, 3, stride=1, padding=1)
    excl = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
    np.testing.assert_allclose(incl.numpy(), np.full((1, 1, 2, 2), 4 / 9), rtol=1e-6)
    np.testing.assert_allclose(excl.numpy(), np.ones((1, 1, 2, 2)), rtol=1e-6)


def test_output_sizes_with_ceil_mode():
    x = tg.zeros(1, 1, 7, 7)
    assert F.max_pool2d(x, 2).shape == (1, 1, 3, 3)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 4, 4)
    # ceil would give a window starting in the right padding only: it is dropped
    assert F.max_pool2d(tg.zeros(1, 1, 6, 6), 2, 2, 1, ceil_mode=True).shape == (1, 1, 4, 4)


def test_pool_layers():
    x = tg.randn(2, 3, 8, 8)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    assert nn.MaxPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 8, 8)
    assert nn.AvgPool2d(2, ceil_mode=True)(tg.randn(1, 1, 5, 5)).shape == (1, 1, 3, 3)
    assert nn.LPPool2d(2, 2)(x).shape == (2, 3, 4, 4)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    assert nn.AdaptiveAvgPool2d((2, None))(x).shape == (2, 3, 2, 8)
    assert nn.MaxPool1d(2)(tg.randn(2, 3, 9)).shape == (2, 3, 4)
    assert nn.AvgPool1d(3, 1)(tg.randn(2, 3, 9)).shape == (2, 3, 7)
    assert nn.AdaptiveAvgPool1d(3)(tg.randn(2, 3, 9)).shape == (2, 3, 3)
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert out.shape == idx.shape == (2, 3, 4, 4)
    assert list(nn.MaxPool2d(2).parameters()) == []
    np.testing.assert_allclose(nn.AvgPool2d(2)(x).numpy(), F.avg_pool2d(x, 2).numpy())


def test_pool_errors():
    x = tg.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: padding 2 should be at most half of the "
                                         r"kernel size 3"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: kernel size \(5, 5\) \(span 5\) is "
                                           r"larger than the padded input \(4, 4\)"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 3-D \(unbatched\) or 4-D"):
        F.max_pool2d(tg.zeros(4, 4), 2)
    with pytest.raises(ValueError, match=r"kernel_size must be positive"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match=r"lp_pool2d: norm_type must be positive"):
        F.lp_pool2d(x, 0, 2)
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected a 3-D or 4-D input"):
        F.adaptive_avg_pool2d(tg.zeros(4), 2)


def test_lenet_runs_on_the_device_path(fake_cuda):
    """The classic LeNet-5 (index-table C3) keeps to the tensor's array module and gives the
    CPU's loss and C3 gradient (each pooling variant runs on the stand-in as an op-table
    row)."""
    from tinygrad_edu.models import LeNet5  # noqa: PLC0415
    tg.manual_seed(0)
    model = LeNet5("classic").double()
    imgs = np.random.default_rng(10).standard_normal((2, 1, 32, 32))
    labels = np.array([3, 7])
    want = F.cross_entropy(model(tg.tensor(imgs)), tg.tensor(labels))
    want.backward()
    grad_cpu = model.c3.weight.grad.numpy()
    model.zero_grad()
    model.to("cuda")
    got = F.cross_entropy(model(tg.tensor(imgs, device="cuda")), tg.tensor(labels,
                                                                              device="cuda"))
    got.backward()
    assert abs(got.item() - want.item()) < 1e-12
    np.testing.assert_allclose(model.c3.weight.grad.numpy(), grad_cpu, rtol=1e-10)
