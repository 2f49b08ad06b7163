"""Pooling: parity with PyTorch (values and input gradients) over a table of
configurations, NumPy references, float64 gradchecks, layers, and error messages."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

# name, function name, input shape, positional args, kwargs
POOL_CASES = [
    ("max2d_2x2", "max_pool2d", (2, 3, 8, 8), (2,), {}),
    ("max2d_batch1_odd", "max_pool2d", (1, 2, 7, 5), (2,), {}),
    ("max2d_3s2p1", "max_pool2d", (2, 2, 9, 8), (3, 2, 1), {}),
    ("max2d_stride_gt_kernel", "max_pool2d", (2, 2, 11, 10), (2, 3), {}),
    ("max2d_tuple_pad_h_only", "max_pool2d", (1, 2, 7, 8), ((3, 2), (2, 1), (1, 0)), {}),
    ("max2d_dilation", "max_pool2d", (2, 2, 9, 9), (2, 1, 1), {"dilation": 2}),
    ("max2d_ceil", "max_pool2d", (2, 2, 8, 7), (3, 2), {"ceil_mode": True}),
    ("max2d_ceil_pad", "max_pool2d", (1, 2, 8, 9), (3, 2, 1), {"ceil_mode": True}),
    ("max1d", "max_pool1d", (2, 3, 10), (3, 2, 1), {}),
    ("max1d_ceil_dil", "max_pool1d", (2, 2, 11), (2, 3), {"dilation": 2, "ceil_mode": True}),
    ("avg2d_2x2", "avg_pool2d", (2, 3, 8, 8), (2,), {}),
    ("avg2d_odd_stride_gt_kernel", "avg_pool2d", (1, 2, 9, 7), (2, 3), {}),
    ("avg2d_pad_incl", "avg_pool2d", (2, 2, 7, 6), (3, 2, 1), {}),
    ("avg2d_pad_excl", "avg_pool2d", (2, 2, 7, 6), (3, 2, 1), {"count_include_pad": False}),
    ("avg2d_pad_w_only", "avg_pool2d", (1, 2, 6, 7), ((2, 3), 1, (0, 1)), {}),
    ("avg2d_ceil_incl", "avg_pool2d", (1, 2, 8, 7), (3, 2, 1), {"ceil_mode": True}),
    ("avg2d_ceil_excl", "avg_pool2d", (1, 2, 8, 7), (3, 2, 1),
     {"ceil_mode": True, "count_include_pad": False}),
    ("avg2d_divisor", "avg_pool2d", (1, 2, 6, 6), (2,), {"divisor_override": 3}),
    ("avg1d_pad", "avg_pool1d", (2, 3, 10), (4, 3, 2), {}),
    ("avg1d_ceil_excl", "avg_pool1d", (2, 3, 10), (4, 3, 2),
     {"ceil_mode": True, "count_include_pad": False}),
    ("lp2_2x2", "lp_pool2d", (2, 3, 8, 8), (2, 2), {}),
    ("lp2_3s1", "lp_pool2d", (1, 2, 7, 6), (2, 3, 1), {}),
    ("lp2_ceil", "lp_pool2d", (1, 2, 7, 6), (2, 3, 2), {"ceil_mode": True}),
    ("lp1", "lp_pool2d", (1, 2, 6, 6), (1, 2), {}),
    ("lp3_pos", "lp_pool2d", (1, 2, 6, 6), (3, (2, 3)), {}),
    ("lp2_1d", "lp_pool1d", (2, 3, 9), (2, 3, 2), {}),
    ("adaptive_exact", "adaptive_avg_pool2d", (2, 3, 8, 6), ((4, 3),), {}),
    ("adaptive_uneven", "adaptive_avg_pool2d", (2, 3, 7, 5), ((3, 4),), {}),
    ("adaptive_global", "adaptive_avg_pool2d", (2, 3, 7, 5), (1,), {}),
    ("adaptive_none", "adaptive_avg_pool2d", (1, 2, 7, 5), ((None, 2),), {}),
    ("adaptive_1d", "adaptive_avg_pool1d", (2, 3, 10), (4,), {}),
]


def _input(name, shape, rng):
    x = rng.standard_normal(shape)
    if name.startswith("lp3"):
        x = np.abs(x) + 0.1     # odd p: PyTorch's Lp pooling is defined for x >= 0 only
    return x


@pytest.mark.parametrize("name,fn,shape,args,kw", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_matches_torch(name, fn, shape, args, kw):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x = _input(name, shape, rng)
    ours_x = tg.tensor(x, requires_grad=True)
    theirs_x = torch.tensor(x, requires_grad=True)
    y = getattr(F, fn)(ours_x, *args, **kw)
    ty = getattr(torch.nn.functional, fn)(theirs_x, *args, **kw)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    up = rng.standard_normal(y.shape)
    (y * tg.tensor(up)).sum().backward()
    (ty * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-10,
                               atol=1e-10)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_return_indices_match_torch(ceil_mode):
    torch = torch_or_skip()
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8))
    y, idx = F.max_pool2d(tg.tensor(x), 3, 2, 1, ceil_mode=ceil_mode, return_indices=True)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=ceil_mode,
                                              return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert idx.dtype == tg.int64
    y1, idx1 = F.max_pool1d(tg.tensor(x[:, :, 0]), 2, return_indices=True)
    _, tidx1 = torch.nn.functional.max_pool1d(torch.tensor(x[:, :, 0]), 2, return_indices=True)
    np.testing.assert_array_equal(idx1.numpy(), tidx1.numpy())


def test_max_pool_matches_numpy_reshape():
    """2x2/stride-2 max pooling is a max over a (H/2, 2, W/2, 2) reshape."""
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 8))
    want = x.reshape(2, 3, 3, 2, 4, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(F.max_pool2d(tg.tensor(x), 2).numpy(), want)
    want_avg = x.reshape(2, 3, 3, 2, 4, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(F.avg_pool2d(tg.tensor(x), 2).numpy(), want_avg, rtol=1e-12)
    want_l2 = np.sqrt((x ** 2).reshape(2, 3, 3, 2, 4, 2).sum(axis=(3, 5)))
    np.testing.assert_allclose(F.lp_pool2d(tg.tensor(x), 2, 2).numpy(), want_l2, rtol=1e-12)


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


@pytest.mark.parametrize("fn,args,kw", [
    ("max_pool2d", (2, 1, 1), {}),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("lp_pool2d", (2, 2, 1), {}),
    ("adaptive_avg_pool2d", ((2, 3),), {}),
    ("max_pool1d", (3, 2, 1), {"dilation": 1}),
    ("avg_pool1d", (2, 1, 1), {}),
])
def test_pool_gradcheck(fn, args, kw):
    tg.manual_seed(0)
    shape = (1, 2, 5, 5) if "2d" in fn else (2, 2, 6)
    x = tg.rand(*shape, dtype=tg.float64) + 0.5
    x.requires_grad_(True)
    assert tg.gradcheck(lambda t: getattr(F, fn)(t, *args, **kw), (x,))


def test_unbatched_pooling():
    x = np.random.default_rng(3).standard_normal((3, 6, 6))
    y = F.max_pool2d(tg.tensor(x), 2)
    assert y.shape == (3, 3, 3)
    np.testing.assert_array_equal(y.numpy(), F.max_pool2d(tg.tensor(x[None]), 2).numpy()[0])
    assert F.avg_pool1d(tg.tensor(x[0]), 2).shape == (6, 3)


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


def test_pools_and_lenet_run_on_the_device_path(fake_cuda):
    """Every pooling variant (padding divisors, ceil_mode, indices, adaptive matrices) and
    the classic LeNet-5 (index-table C3) keep to the tensor's array module."""
    from tinygrad_edu.models import LeNet5  # noqa: PLC0415
    x = np.random.default_rng(9).standard_normal((2, 3, 9, 8))
    calls = [
        lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True, return_indices=True)[1],
        lambda t: F.lp_pool2d(t.abs() + 0.1, 2, 2),
        lambda t: F.adaptive_avg_pool2d(t, (4, 3)),
        lambda t: F.conv1d(t[:, :, 0], tg.ones(2, 3, 2, dtype=t.dtype, device=t.device)),
        lambda t: F.conv2d(t, tg.ones(6, 1, 3, 2, dtype=t.dtype, device=t.device), groups=3,
                           padding="same"),
    ]
    for fn in calls:
        cpu = fn(tg.tensor(x)).numpy()
        dev = fn(tg.tensor(x, device="cuda"))
        assert dev.device == "cuda"
        np.testing.assert_allclose(dev.numpy(), cpu, rtol=1e-12)
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
