"""The fast lane's Winograd F(2x2, 3x3) convolution equals the im2col reference.

``F.conv2d`` asks the lane for ``"conv3x3"`` on 3x3 stride-1 convolutions with enough
channels and a long enough output row (``_WINOGRAD_CHANNELS``, ``_WINOGRAD_ROW``); most
tests lower both limits to 1 so that small shapes take the Winograd path. Each shape runs
with the lane on (Winograd) and off (im2col): values and the gradients of input, weight
and bias must agree, tightly in float64 and to float32's rounding in float32.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu.engine import graph
from tinygrad_edu.fastlane import winograd
from tinygrad_edu.functional import convolution


@pytest.fixture
def small_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let every 3x3 stride-1 convolution take the Winograd path, however small."""
    monkeypatch.setattr(convolution, "_WINOGRAD_CHANNELS", 1)
    monkeypatch.setattr(convolution, "_WINOGRAD_ROW", 1)


def _conv(lane: bool, x0: np.ndarray, w0: np.ndarray, b0: Any, dtype: Any, **kw: Any) -> list:
    """y, δx, δw (and δb) of F.conv2d under a fixed random upstream gradient."""
    with tg.fast(lane):
        x = tg.tensor(x0, dtype=dtype, requires_grad=True)
        w = tg.tensor(w0, dtype=dtype, requires_grad=True)
        b = None if b0 is None else tg.tensor(b0, dtype=dtype, requires_grad=True)
        y = F.conv2d(x, w, b, **kw)
        up = tg.tensor(np.random.default_rng(7).standard_normal(y.shape), dtype=dtype)
        (y * up).sum().backward()
        out = [y.detach().numpy(), x.grad.numpy(), w.grad.numpy()]
        return out + ([] if b is None else [b.grad.numpy()])


def _compare(got: list, want: list, rtol: float) -> None:
    for name, a, e in zip(("y", "dx", "dw", "db"), got, want):
        assert a.shape == e.shape and a.dtype == e.dtype, name
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=name)


# N, C, O, H, W, padding, bias
SHAPES = [
    (2, 3, 4, 8, 8, 1, True),            # even output
    (2, 3, 4, 7, 9, 1, False),           # odd H and W: the tile grid is cropped
    (1, 2, 5, 6, 11, 1, True),           # N = 1, C != O, not square
    (3, 4, 2, 5, 5, 0, False),           # no padding: odd 3x3 output
    (2, 2, 3, 9, 4, 2, True),            # padding 2
    (1, 1, 1, 4, 4, "same", False),      # one channel
    (2, 5, 3, 12, 10, (1, 0), True),     # padding only along H
]


@pytest.mark.usefixtures("small_maps")
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
@pytest.mark.parametrize("dtype,rtol", [(tg.float64, 1e-10), (tg.float32, 1e-4)])
def test_winograd_equals_im2col(shape: tuple, dtype: Any, rtol: float) -> None:
    n, c, o, h, w, pad, bias = shape
    rng = np.random.default_rng(sum(shape[:5]))
    x0, w0 = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, 3, 3))
    b0 = rng.standard_normal(o) if bias else None
    got = _conv(True, x0, w0, b0, dtype, padding=pad)
    want = _conv(False, x0, w0, b0, dtype, padding=pad)
    _compare(got, want, rtol)


def test_a_large_layer_takes_winograd_unpatched(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real limits: 64 channels, a batch row of N·C·OW = 4·64·32 numbers."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(1)
    x0, w0 = rng.standard_normal((4, 64, 32, 32)), rng.standard_normal((64, 64, 3, 3)) * 0.05
    b0 = rng.standard_normal(64)
    got = _conv(True, x0, w0, b0, tg.float32, padding=1)
    assert calls == ["WinogradConv"]
    want = _conv(False, x0, w0, b0, tg.float32, padding=1)
    assert calls == ["WinogradConv"]
    _compare(got, want, 1e-4)


@pytest.mark.usefixtures("small_maps")
def test_unbatched_input() -> None:
    rng = np.random.default_rng(2)
    x0, w0 = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 3, 3))
    got = _conv(True, x0, w0, None, tg.float64, padding=1)
    want = _conv(False, x0, w0, None, tg.float64, padding=1)
    _compare(got, want, 1e-10)


@pytest.mark.usefixtures("small_maps")
def test_only_one_gradient_asked_for() -> None:
    """A frozen input or frozen filters: the other gradient alone, as the reference gives it."""
    rng = np.random.default_rng(3)
    x0, w0 = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    for need in ("x", "w"):
        got = []
        for lane in (True, False):
            with tg.fast(lane):
                x = tg.tensor(x0, requires_grad=need == "x")
                w = tg.tensor(w0, requires_grad=need == "w")
                F.conv2d(x, w, padding=1).sum().backward()
                got.append((x.grad if need == "x" else w.grad).numpy())
        np.testing.assert_allclose(got[0], got[1], rtol=1e-4, atol=1e-4)


@pytest.mark.usefixtures("small_maps")
def test_no_grad_forward_and_mixed_dtypes() -> None:
    rng = np.random.default_rng(4)
    x0, w0 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 3, 3))
    outs = []
    for lane in (True, False):
        with tg.fast(lane), tg.no_grad():
            outs.append(F.conv2d(tg.tensor(x0), tg.tensor(w0), padding=1).numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-4, atol=1e-4)
    grads = []                                    # float32 input, float64 filters
    for lane in (True, False):
        with tg.fast(lane):
            x = tg.tensor(x0, dtype=tg.float32, requires_grad=True)
            w = tg.tensor(w0, dtype=tg.float64, requires_grad=True)
            y = F.conv2d(x, w, padding=1)
            y.sum().backward()
            grads.append((y.dtype, y.detach().numpy(), x.grad.dtype, x.grad.numpy(),
                          w.grad.numpy()))
    assert grads[0][0] == grads[1][0] and grads[0][2] == grads[1][2]
    for a, b in zip(grads[0][1::2], grads[1][1::2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("small_maps")
def test_second_derivatives(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_graph=True: the backward is recorded (im2col correlations), so gradgradcheck
    holds with the lane on."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((1, 2, 4, 5)), dtype=tg.float64, requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 2, 3, 3)), dtype=tg.float64, requires_grad=True)
    with tg.fast(True):
        assert tg.gradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
        assert tg.gradgradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
    assert calls


def _spy(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    original = winograd.WinogradConv.forward

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(winograd.WinogradConv, "forward", spy)
    return calls


@pytest.mark.usefixtures("small_maps")
def test_winograd_runs_with_the_lane_on_and_never_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    x0, w0 = np.ones((1, 2, 6, 6)), np.ones((3, 2, 3, 3))
    _conv(False, x0, w0, None, tg.float32, padding=1)
    assert calls == []
    _conv(True, x0, w0, None, tg.float32, padding=1)
    assert calls == ["WinogradConv"]


def test_other_convolutions_keep_im2col(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stride, dilation, groups, other kernels, few channels (LeNet's 5x5 convolutions)
    never ask for it, nor do small maps at the real limits."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(6)
    with tg.fast(True):
        for xs, ws, kw in [((2, 4, 9, 9), (4, 4, 3, 3), {"stride": 2}),
                           ((2, 4, 9, 9), (4, 4, 3, 3), {"dilation": 2}),
                           ((2, 4, 9, 9), (4, 2, 3, 3), {"groups": 2}),
                           ((2, 1, 32, 32), (6, 1, 5, 5), {"padding": 2}),       # LeNet C1
                           ((2, 6, 14, 14), (16, 6, 5, 5), {}),                 # LeNet C3
                           ((2, 16, 16, 16), (16, 16, 3, 3), {"padding": 1}),   # 16 channels
                           ((2, 64, 8, 8), (64, 64, 3, 3), {"padding": 1})]:    # short rows
            F.conv2d(tg.tensor(rng.standard_normal(xs)), tg.tensor(rng.standard_normal(ws)),
                     **kw)
    assert calls == []


@pytest.mark.usefixtures("small_maps")
@pytest.mark.parametrize("threads", [2, 3, 8])
def test_split_between_threads(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lane hands bands of tile rows and chunks of images out to several threads when
    BLAS has several (here forced, whatever the BLAS), each taking the next when it is
    done: the same sums, however the work falls."""
    rng = np.random.default_rng(8)
    x0, w0 = rng.standard_normal((5, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3))
    want = _conv(True, x0, w0, None, tg.float64, padding=1)
    monkeypatch.setattr(winograd, "lane_threads", lambda arr: threads)
    monkeypatch.setattr(winograd, "BAND_BYTES", 1)                 # one tile row a band
    got = _conv(True, x0, w0, None, tg.float64, padding=1)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


def test_chunks_and_parallel() -> None:
    assert winograd.chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert winograd.chunks(3, 5) == [(0, 3)]
    seen = winograd.parallel(3, lambda ranges: list(ranges), 10, 1)
    assert len(seen) == 3 and sorted(r for part in seen for r in part) == winograd.chunks(10, 1)


@pytest.mark.usefixtures("small_maps")
@pytest.mark.parametrize("table,row,col,value", [("BT", 1, 2, 0.5), ("G", 1, 1, 0.25),
                                                 ("AT", 1, 3, 1)])
def test_a_broken_transform_is_caught(table: str, row: int, col: int, value: float,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: one wrong coefficient in Bᵀ, G or Aᵀ is caught."""
    broken = [list(r) for r in getattr(winograd, table)]
    broken[row][col] = value
    monkeypatch.setattr(winograd, table, tuple(tuple(r) for r in broken))
    with pytest.raises(AssertionError):
        test_winograd_equals_im2col(SHAPES[0], tg.float64, 1e-10)


def test_the_transforms_are_wired_to_the_tables() -> None:
    """G w Gᵀ of a one-hot filter is the outer product of a column of G with another."""
    g = np.asarray(winograd.G, dtype=np.float64)
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 2, 1] = 1.0
    u = winograd.filter_transform(w)[:, :, 0, 0]
    np.testing.assert_array_equal(u, np.outer(g[:, 2], g[:, 1]))


def test_the_lane_hook_is_registered() -> None:
    assert graph._REGISTERED["conv3x3"] is winograd.conv3x3


@pytest.mark.usefixtures("small_maps")
def test_on_the_device_stand_in(fake_cuda: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the array module of the input is used: under the CuPy stand-in (which refuses
    host arrays in device ops) the Winograd path runs and matches the CPU."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(9)
    x0, w0 = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3))
    got = []
    for device in ("cuda", "cpu"):
        x = tg.tensor(x0, device=device, requires_grad=True)
        w = tg.tensor(w0, device=device, requires_grad=True)
        with tg.fast(True):                              # also under TG_FAST=0
            y = F.conv2d(x, w, padding=1)
            (y * y).sum().backward()
        got.append([t.numpy() for t in (y.detach(), x.grad, w.grad)])
    assert calls == ["WinogradConv", "WinogradConv"]
    for a, b in zip(*got):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


F23_AT = winograd.AT


@pytest.mark.parametrize("at", [F23_AT, ((1, 2, 1, 0), (0, 1, -1, 3))],
                         ids=["F(2,3)", "no single-entry rows"])
def test_output_adjoint_equals_its_definition(at: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    """A g Aᵀ per 2x2 tile, times the signs the shortcut leaves out, against einsum; a
    matrix without rows of one entry takes the plain route."""
    monkeypatch.setattr(winograd, "AT", at)
    g = np.random.default_rng(10).standard_normal((4, 6, 2, 3))          # (2·TH, 2·TW, N, O)
    adjoint = winograd.OutputAdjoint(g, 2)
    got = np.concatenate([adjoint(i, 1).copy() for i in range(2)], axis=2)
    got *= np.asarray(adjoint.signs, dtype=float)[:, :, None, None, None, None]
    tiles = g.reshape(2, 2, 3, 2, 2, 3).transpose(1, 3, 0, 2, 4, 5)       # (r, c, i, j, N, O)
    a = np.asarray(at, dtype=float).T
    np.testing.assert_allclose(got, np.einsum("ar,bc,rcijno->abijno", a, a, tiles),
                               rtol=1e-12, atol=1e-12)
    assert (adjoint.slots is None) == (at is not F23_AT)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
@pytest.mark.usefixtures("small_maps")
def test_threads_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A child forked after the lane made its thread pool gets a pool of its own (the
    parent's threads do not exist there), instead of waiting forever."""
    import os
    monkeypatch.setattr(winograd, "lane_threads", lambda arr: 2)
    x0, w0 = np.ones((2, 2, 6, 6)), np.ones((2, 2, 3, 3))
    want = _conv(True, x0, w0, None, tg.float64, padding=1)[0]
    pid = os.fork()
    if pid == 0:                                  # the child: exit 0 if it gets the same
        code = 1
        try:
            code = int(not np.array_equal(_conv(True, x0, w0, None, tg.float64, padding=1)[0],
                                          want))
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def _global_blas(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A stand-in OpenBLAS whose "local" thread setter is global (as in NumPy's wheels),
    started with 2 threads; returns its state."""
    state = {"count": 2}

    def set_local(n: int) -> int:
        prev, state["count"] = state["count"], n
        return prev
    monkeypatch.setattr(winograd, "_blas", [(lambda: state["count"], set_local, 2)])
    return state


@pytest.mark.parametrize("fail", [False, True], ids=["returns", "raises"])
def test_threads_keep_blas_on_one_thread_until_every_thread_is_done(
        monkeypatch: pytest.MonkeyPatch, fail: bool) -> None:
    """The calling thread finishes its share first while the pool's thread still works:
    that thread must still find BLAS on one thread (the count put back as soon as the
    first thread was done gave the other's GEMMs to OpenBLAS's own worker, which then spun
    and took a core from the lane), and once parallel() returns, or raises, BLAS has the
    count it started with."""
    import threading
    import time
    state, seen, main_done = _global_blas(monkeypatch), {}, threading.Event()

    def share(ranges: object) -> str:
        if threading.current_thread() is threading.main_thread():
            seen["main"] = state["count"]
            main_done.set()
            if fail:
                raise ValueError("the calling thread's share failed")
            return "main"
        main_done.wait(5)
        time.sleep(0.05)                          # the calling thread's share is over
        seen["pool"] = state["count"]
        return "pool"
    if fail:
        with pytest.raises(ValueError, match="share failed"):
            winograd.parallel(2, share, 2, 1)
    else:
        assert winograd.parallel(2, share, 2, 1) == ["main", "pool"]
    assert seen == {"main": 1, "pool": 1}
    assert state["count"] == 2 and winograd.lane_threads(np.ones(1)) == 2


def test_one_thread_runs_blas_on_one_thread_and_puts_the_count_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With one lane thread everything runs in the calling thread, BLAS on one thread
    inside, the starting count after."""
    state, seen = _global_blas(monkeypatch), []
    assert winograd.parallel(1, lambda ranges: seen.append((state["count"], list(ranges))),
                             3, 2) == [None]
    assert seen == [(1, [(0, 2), (2, 3)])] and state["count"] == 2
