"""The 'cuda' code path, exercised without a GPU through a CuPy stand-in (tests/fake_cupy.py).

The stand-in raises where CuPy raises: a host NumPy array mixed into a device op, or an
implicit device -> host conversion. A real workload (MLP, conv net, LSTM step) then runs
forward and backward on device='cuda' and must give the CPU's numbers, which shows the
engine never touches NumPy behind the tensor's back.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from fake_cupy import IMPLICIT_MSG, FakeDeviceArray, module

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn


# ---------------------------------------------------------------- the stand-in itself
def test_stand_in_raises_like_cupy() -> None:
    d = FakeDeviceArray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(d)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        d + np.ones(3)
    with pytest.raises(TypeError, match="numpy.ndarray"):
        np.ones(3) * d
    with pytest.raises(TypeError):
        np.exp(d)           # a NumPy function on a device array
    fake = module()
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fake.maximum(d, np.zeros(3))
    assert isinstance(d.get(), np.ndarray)
    np.testing.assert_array_equal((d * 2).get(), [0, 2, 4])
    assert "get()" in IMPLICIT_MSG


# ---------------------------------------------------------------- devices and transfers
def test_tensor_lives_on_cuda_and_numpy_returns_host_array(fake_cuda: Any) -> None:
    assert tg.cuda.is_available()
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    assert x.device == "cuda" and x.is_cuda
    assert isinstance(x.data, FakeDeviceArray)
    assert x.xp is fake_cuda
    host = x.numpy()
    assert type(host) is np.ndarray
    np.testing.assert_array_equal(host, [[1, 2], [3, 4]])
    back = x.cpu()
    assert back.device == "cpu" and type(back.data) is np.ndarray
    assert tg.tensor(np.ones(2)).to("cuda").device == "cuda"
    assert x.to("cuda:0") is x                      # already there: no copy
    assert x.sum().item() == 10.0
    assert "device='cuda'" in repr(x)


def test_device_mismatch_names_both_devices(fake_cuda: Any) -> None:
    a = tg.ones(2)
    b = tg.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"add: expected all tensors on the same device, "
                                           r"got input 0 on 'cpu', input 1 on 'cuda'"):
        a + b
    with pytest.raises(RuntimeError, match=r"input 0 on 'cuda', input 1 on 'cpu'"):
        b * a
    with pytest.raises(RuntimeError, match="'cpu'.*'cuda'"):
        a @ b
    with pytest.raises(RuntimeError, match="nothing is copied implicitly"):
        tg.cat([a, b])
    with pytest.raises(RuntimeError, match=r"index: .*input 0 on 'cuda', input 1 on 'cpu'"):
        b[tg.tensor([0, 1])]
    with pytest.raises(RuntimeError, match=r"where: .*'cpu'.*'cuda'"):
        tg.where(a > 0, a, b)
    with pytest.raises(RuntimeError, match=r"'cuda'.*'cpu'"):
        b == a
    with pytest.raises(RuntimeError, match=r"__setitem__: .*input 0 on 'cuda', input 1 on "
                                           r"'cpu'"):
        b[0] = tg.tensor(3.0)
    with pytest.raises(RuntimeError, match=r"gather: .*input 0 on 'cuda', input 1 on 'cpu'"):
        tg.ones(2, 2, device="cuda").gather(1, tg.tensor([[0], [1]]))
    with pytest.raises(RuntimeError, match=r"got a tensor on 'cuda' and a 'cpu' array"):
        b + np.ones(2)                        # a host array is never copied over implicitly
    with pytest.raises(RuntimeError, match=r"got a tensor on 'cuda' and a 'cpu' array"):
        np.ones(2) * b
    w = tg.ones(2, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: gradient is on 'cpu' but output 0 is on "
                                           r"'cuda'"):
        (w * 2).backward(tg.ones(2))


def test_gradient_flows_back_across_an_explicit_transfer(fake_cuda: Any) -> None:
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x.to("cuda") ** 2).sum()
    assert y.device == "cuda"
    y.backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2, 4, 6])


def test_random_and_creation_on_cuda(fake_cuda: Any) -> None:
    tg.manual_seed(0)
    for t in [tg.randn(2, 3, device="cuda"), tg.rand(4, device="cuda"),
              tg.zeros(2, device="cuda"), tg.ones(2, device="cuda"), tg.arange(3, device="cuda"),
              tg.randint(0, 5, (3,), device="cuda"), tg.full((2,), 1.5, device="cuda"),
              tg.eye(2, device="cuda")]:
        assert t.device == "cuda" and isinstance(t.data, FakeDeviceArray)
    assert tg.randn(2, 3, device="cuda").dtype == tg.float32


# ---------------------------------------------------------------- ops on the device
def _ops_suite(x: tg.Tensor, w: tg.Tensor, idx: tg.Tensor) -> tg.Tensor:
    """Touch every primitive once (elementwise, reductions, movement, indexing, windows)."""
    y = (x @ w).tanh() + x.sigmoid().sum(1, keepdim=True) - x.exp() * 0.1
    y = y / (x.abs() + 1) + x.relu() ** 2 + x.maximum(x * 0.5) + x.clamp(-0.2, 0.2)
    y = y + x.log1p().where(x > 0, x) + x.sin()
    z = y[idx] + y.flip(0)[:2].sum(0) + F.pad(y, (1, 1))[:, 1:-1]
    z = tg.cat([z, y[1:3]], 0) + tg.stack([y[0], y[1]]).amax(0)
    z = z.softmax(1) + z.log_softmax(0) + z.logsumexp(1, keepdim=True) + z.var(0) + z.norm()
    win = tg.sliding_window(z.unsqueeze(0), (1, 2), (2, 2), (1, 1), (1, 1))   # (1, 5, 2, 2, 2)
    u = z.unfold(1, 2, 1)                                                      # (6, 2, 2)
    m = y[y > 0.3]
    return win.mean() + u.max(1)[0].sum() + z.permute(1, 0).reshape(-1).sum() + m.sum() \
        + z.expand(2, 6, 3).sum() * 0.01


def test_every_primitive_runs_on_the_device_and_matches_cpu(fake_cuda: Any) -> None:
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (4, 3))
    ws = rng.uniform(-1, 1, (3, 3))
    idx = np.array([0, 3, 3, 1])
    outs, grads = {}, {}
    for dev in ["cpu", "cuda"]:
        x = tg.tensor(xs, dtype=tg.float64, device=dev, requires_grad=True)
        w = tg.tensor(ws, dtype=tg.float64, device=dev, requires_grad=True)
        out = _ops_suite(x, w, tg.tensor(idx, device=dev))
        assert out.device == dev
        out.backward()
        outs[dev] = out.item()
        grads[dev] = (x.grad.numpy(), w.grad.numpy())
        assert x.grad.device == dev
    assert outs["cuda"] == pytest.approx(outs["cpu"], rel=1e-12)
    for g_cuda, g_cpu in zip(grads["cuda"], grads["cpu"]):
        np.testing.assert_allclose(g_cuda, g_cpu, rtol=1e-12, atol=1e-14)


def test_gradcheck_on_the_device(fake_cuda: Any) -> None:
    x = tg.randn(2, 3, dtype=tg.float64, device="cuda").requires_grad_()
    assert tg.gradcheck(lambda t: (t * t).tanh().sum(0), (x,))
    assert tg.gradgradcheck(lambda t: (t * t).sigmoid(), (x,))


def test_inplace_updates_on_the_device(fake_cuda: Any) -> None:
    p = tg.ones(3, device="cuda", requires_grad=True)
    (p * 2).sum().backward()
    with tg.no_grad():
        p.sub_(p.grad * 0.5)
        p.mul_(2.0)
    np.testing.assert_allclose(p.detach().numpy(), [0, 0, 0])
    with pytest.raises(RuntimeError, match="'cuda'.*'cpu'"):
        with tg.no_grad():
            p.add_(tg.ones(3))


# ---------------------------------------------------------------- real workloads
def _compare_workload(build: Callable[[], nn.Module], make_inputs: Callable[[str], tuple],
                      loss_fn: Callable[..., tg.Tensor]) -> None:
    """Same seed, same model, same data on both devices: same loss and parameter grads."""
    results = {}
    for dev in ["cpu", "cuda"]:
        tg.manual_seed(0)
        model = build().to(dev)
        loss = loss_fn(model, *make_inputs(dev))
        assert loss.device == dev
        loss.backward()
        results[dev] = (loss.item(), {n: p.grad.numpy() for n, p in model.named_parameters()})
        for p in model.parameters():
            assert p.device == dev and p.grad.device == dev
    loss_cpu, g_cpu = results["cpu"]
    loss_cuda, g_cuda = results["cuda"]
    assert loss_cuda == pytest.approx(loss_cpu, rel=1e-5)
    assert g_cpu.keys() == g_cuda.keys() and g_cpu
    for name in g_cpu:
        assert type(g_cuda[name]) is np.ndarray
        np.testing.assert_allclose(g_cuda[name], g_cpu[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def _data(shape: tuple, labels: int, n: int) -> Callable[[str], tuple]:
    rng = np.random.default_rng(1)
    xs = rng.standard_normal(shape).astype(np.float32)
    ys = rng.integers(0, labels, n)
    return lambda dev: (tg.tensor(xs, device=dev), tg.tensor(ys, device=dev))


def test_mlp_forward_backward_matches_cpu(fake_cuda: Any) -> None:
    _compare_workload(lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)),
                      _data((6, 5), 3, 6), lambda m, x, y: F.cross_entropy(m(x), y))


def test_conv_net_forward_backward_matches_cpu(fake_cuda: Any) -> None:
    _compare_workload(lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(),
                                            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)),
                      _data((2, 1, 4, 4), 3, 2), lambda m, x, y: F.cross_entropy(m(x), y))


def test_lstm_forward_backward_matches_cpu(fake_cuda: Any) -> None:
    def loss(m: nn.Module, x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
        out, (h, c) = m(x)                    # x: (T=3, N=2, 4) -> out (3, 2, 5)
        return (out * out).mean() + h.sum() * 0.1 + c.sum() * 0.01
    _compare_workload(lambda: nn.LSTM(4, 5), _data((3, 2, 4), 2, 1), loss)


def test_embedding_uses_the_device_scatter_add(fake_cuda: Any) -> None:
    """Repeated indices accumulate through the backend's scatter_add on the device."""
    w = tg.ones(4, 2, device="cuda", requires_grad=True)
    F.embedding(tg.tensor([1, 1, 3], device="cuda"), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [2, 2], [0, 0], [1, 1]])
