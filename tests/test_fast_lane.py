"""The fast lane: every override equals its reference, and the switch really switches.

For each entry of ``tinygrad_edu.fastlane.OVERRIDES`` a workload that reaches it runs
with the lane on and off: the values and the first derivatives must agree, and the
second derivatives pass gradgradcheck with the lane on. A spy counts calls into the
fast code itself (not into the registry), so it is called with the lane on, and never
with it off, even by a module that imported it directly.
"""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import fastlane, nn, optim
from tinygrad_edu import functional as F
from tinygrad_edu.engine import graph, ops
from tinygrad_edu.engine.graph import Function, lane
from tinygrad_edu.fastlane import allocator, elementwise, fold, gemm, hotpath, lstm, pool, rnn
from tinygrad_edu.fastlane import scatter
from tinygrad_edu.fastlane import stacking, winograd
from tinygrad_edu.functional import recurrent_cells as R
from tinygrad_edu.functional.convolution import conv3x3_im2col
from tinygrad_edu.viz.trace import forward_order


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _leaf(shape: tuple, seed: int = 0) -> tg.Tensor:
    return tg.tensor(_rng(seed).standard_normal(shape), dtype=tg.float64, requires_grad=True)


# workloads: (override key, fast code to spy on, builder of (fn, inputs)) -------------
def _fold(shape: tuple, axes: tuple, size: tuple, stride: tuple, dilation: tuple) -> Callable:
    def build() -> tuple:
        x = _leaf(shape)
        return (lambda a: tg.sliding_window(a, axes, size, stride, dilation) * 1.5), (x,)
    return build


FOLD_GEOMETRIES = {          # one per route of FoldPaths.forward
    "one window (LeNet's C5)": _fold((2, 3, 5, 5), (2, 3), (5, 5), (1, 1), (1, 1)),
    "disjoint tiled (2x2 pool)": _fold((2, 3, 4, 6), (2, 3), (2, 2), (2, 2), (1, 1)),
    "disjoint with a gap": _fold((1, 2, 5, 5), (2, 3), (2, 2), (3, 3), (1, 1)),
    "rows first (3x3 conv)": _fold((2, 3, 6, 7), (2, 3), (3, 3), (1, 1), (1, 1)),
    "rows first, column stride 2, dilated": _fold((2, 2, 7, 9), (2, 3), (3, 2), (1, 2), (1, 2)),
    "2-D input": _fold((6, 7), (0, 1), (3, 2), (1, 1), (1, 1)),
    "one axis": _fold((3, 10), (1,), (3,), (2,), (1,)),
}


def _matmul_broadcast() -> tuple:
    w, cols = _leaf((4, 6), 1), _leaf((3, 6, 5), 2)      # filters against each image's patches
    return (lambda a, b: a @ b), (w, cols)


def _matmul_stack() -> tuple:
    x, w = _leaf((3, 4, 6), 1), _leaf((6, 5), 2)         # a linear layer on a sequence
    return (lambda a, b: a @ b), (x, w)


def _linear_4d() -> tuple:
    x, w = _leaf((2, 3, 4, 6), 1), _leaf((5, 6), 2)      # x @ Wᵀ, W stored (out, in)
    return (lambda a, b: (a @ b.T).tanh()), (x, w)


def _elementwise(name: str) -> Callable:
    def build() -> tuple:
        return (lambda a: getattr(a, name)() * getattr(a, name)()), (_leaf((3, 4), 3),)
    return build


def _scalar(name: str) -> Callable:
    def build() -> tuple:
        return (lambda a: getattr(a, name)()), (_leaf((), 4),)
    return build


def test_relu_by_the_mask_is_exact_for_infinite_and_nan_gradients() -> None:
    """0·inf would be NaN where the reference's select gives 0: the override must notice."""
    x = tg.tensor([-1.0, 2.0, -3.0, 4.0], dtype=tg.float64, requires_grad=True)
    g = tg.tensor([np.inf, 1.0, np.nan, -np.inf], dtype=tg.float64)
    got = {}
    for lane in (True, False):
        with tg.fast(lane):
            x.grad = None
            x.relu().backward(g)
            got[lane] = x.grad.numpy()
    np.testing.assert_array_equal(got[True], [0.0, 1.0, 0.0, -np.inf])
    np.testing.assert_array_equal(got[True], got[False])


def _broadcast(op: str) -> Callable:
    def build() -> tuple:           # (3, 4) with (3, 1) for *, with (4,) for +: one summed back
        a, b = _leaf((3, 4), 25), _leaf((3, 1) if op == "mul" else (4,), 26)
        return (lambda x, y: (x * y if op == "mul" else x + y).tanh()), (a, b)
    return build


def _scatter_rows() -> tuple:
    table = _leaf((7, 3), 5)
    idx = tg.tensor([[0, 3, 3], [6, 0, 3]])                 # repeated rows add up
    return (lambda a: a[idx] * a[idx]), (table,)


def _lstm() -> tuple:
    gates, c = _leaf((2, 12), 6), _leaf((2, 3), 7)
    return (lambda g, cc: tg.cat(list(R.lstm_gates(g, cc) if not tg.is_fast()
                                      else lstm.fused_lstm_gates(g, cc)), -1)), (gates, c)


def _lstm_step() -> tuple:
    xw, h, c, w = _leaf((2, 12), 8), _leaf((2, 3), 9), _leaf((2, 3), 10), _leaf((3, 12), 11)
    return (lambda a, b, cc, ww: tg.cat(list(R.lstm_step(a, b, cc, ww)), -1)), (xw, h, c, w)


def _max_pool(stride: int) -> Callable:
    def build() -> tuple:
        return (lambda a: F.max_pool2d(a, 2, stride) * 1.5), (_leaf((2, 3, 5, 5), 12),)
    return build


def _layer(kind: str, reverse: bool) -> Callable:
    """One fused layer direction against its loop of steps (T = 3, B = 2, H = 2)."""
    def build() -> tuple:
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
        xw, h, w = _leaf((3, 2, 2 * gates), 13), _leaf((2, 2), 14), _leaf((2 * gates, 2), 15)
        if kind == "lstm":
            def fn(a: Any, b: Any, c: Any, ww: Any) -> Any:
                out, _, c_last = R.lstm_layer(a, b, c, ww, reverse)
                return tg.cat([out.reshape(-1), c_last.reshape(-1)])
            return fn, (xw, h, _leaf((2, 2), 16), w)
        if kind == "gru":
            return (lambda a, b, ww, bb: R.gru_layer(a, b, ww, bb, reverse)[0]), \
                (xw, h, w, _leaf((6,), 17))
        return (lambda a, b, ww: R.rnn_layer(a, b, ww, "tanh", reverse)[0]), (xw, h, w)
    return build


def _cell(kind: str, bias: bool) -> Callable:
    """One fused cell step (input projection included) against the composed cell."""
    def build() -> tuple:
        gates = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}[kind]
        x, h = _leaf((2, 3), 18), _leaf((2, 2), 19)
        w_ih, w_hh = _leaf((2 * gates, 3), 20), _leaf((2 * gates, 2), 21)
        bs = (_leaf((2 * gates,), 22), _leaf((2 * gates,), 23)) if bias else ()
        fn = getattr(R, f"{kind}_cell")
        if kind == "lstm":
            return (lambda a, b, c, wi, wh, *bb: tg.cat(list(fn(a, (b, c), wi, wh, *bb)), -1)), \
                (x, h, _leaf((2, 2), 24), w_ih, w_hh) + bs
        return (lambda a, b, wi, wh, *bb: fn(a, b, wi, wh, *bb)), (x, h, w_ih, w_hh) + bs
    return build


def _conv3x3() -> tuple:
    x, w = _leaf((2, 3, 6, 7), 13), _leaf((4, 3, 3, 3), 14)    # x: an already padded input
    return (lambda a, b: lane("conv3x3", conv3x3_im2col)(a, b) * 1.5), (x, w)


CASES = {
    **{f"fold: {k}": (fold.FoldPaths, "forward", v) for k, v in FOLD_GEOMETRIES.items()},
    "filter-gradient GEMM order": (gemm.GemmOrder, "backward", _matmul_broadcast),
    "a stack against one matrix, one GEMM": (gemm.GemmOrder, "backward", _matmul_stack),
    "a 4-d stack against a transposed matrix": (gemm.GemmOrder, "backward", _linear_4d),
    "in-place sigmoid": (elementwise.InplaceSigmoid, "forward", _elementwise("sigmoid")),
    "in-place sigmoid, 0-d": (elementwise.InplaceSigmoid, "forward", _scalar("sigmoid")),
    "tanh with a cached 1": (elementwise.CachedConstantTanh, "backward", _elementwise("tanh")),
    "relu backward by the mask": (elementwise.MaskRelu, "backward", _elementwise("relu")),
    "add backward on arrays, broadcast": (elementwise.ArrayAdd, "backward", _broadcast("add")),
    "mul backward on arrays, broadcast": (elementwise.ArrayMul, "backward", _broadcast("mul")),
    "scatter-add by sorted rows": (scatter.SortedRowsIndexAdd, "forward", _scatter_rows),
    "fused LSTM gates": (lstm.LSTMGates, "forward", _lstm_step),
    "max pooling, first maximum": (pool.FirstMax, "forward", _max_pool(2)),
    "max pooling, overlapping windows": (pool.FirstMax, "forward", _max_pool(1)),
    "LSTM layer": (rnn.LSTMLayer, "forward", _layer("lstm", False)),
    "LSTM layer, reverse": (rnn.LSTMLayer, "forward", _layer("lstm", True)),
    "GRU layer": (rnn.GRULayer, "forward", _layer("gru", False)),
    "GRU layer, reverse": (rnn.GRULayer, "forward", _layer("gru", True)),
    "RNN layer": (rnn.RNNLayer, "forward", _layer("rnn", False)),
    "LSTM cell": (rnn.LSTMCellStep, "forward", _cell("lstm", True)),
    "LSTM cell, no bias": (rnn.LSTMCellStep, "forward", _cell("lstm", False)),
    "GRU cell": (rnn.GRUCellStep, "forward", _cell("gru", True)),
    "GRU cell, no bias": (rnn.GRUCellStep, "forward", _cell("gru", False)),
    "RNN cell (tanh)": (rnn.RNNCellStep, "forward", _cell("rnn_tanh", True)),
    "RNN cell (relu)": (rnn.RNNCellStep, "forward", _cell("rnn_relu", True)),
    "winograd 3x3 conv": (winograd.WinogradConv, "forward", _conv3x3),
}


def _run(fn: Callable, inputs: tuple, fast: bool) -> tuple:
    with tg.fast(fast):
        out = fn(*inputs)
        weights = tg.tensor(_rng(99).standard_normal(out.shape), dtype=out.dtype)
        grads = tg.grad((out * weights).sum(), list(inputs))
    return out.detach().numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("case", list(CASES))
def test_override_equals_reference(case: str) -> None:
    """Values and first derivatives agree lane on and off; second derivatives hold on."""
    _, _, build = CASES[case]
    fn, inputs = build()
    out_fast, grads_fast = _run(fn, inputs, True)
    out_ref, grads_ref = _run(fn, inputs, False)
    np.testing.assert_allclose(out_fast, out_ref, rtol=1e-12, atol=1e-12)
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        np.testing.assert_allclose(g_fast, g_ref, rtol=1e-12, atol=1e-12)
    with tg.fast(True):
        assert tg.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("case, which", [("LSTM layer", 0), ("GRU layer, reverse", 0),
                                         ("LSTM cell", 5), ("GRU cell", 4)])
def test_saturated_gates_equal_the_reference_without_warnings(case: str, which: int,
                                                              dtype: Any) -> None:
    """Gate inputs past ±10⁴ (input ``which``, xw or b_ih, set to ±10⁴; e^-a overflows to
    inf inside the fused σ): the gates are 0 or 1, as in the reference, with no overflow
    warning, no inf and no NaN."""
    fn, inputs = CASES[case][2]()
    inputs = tuple(tg.tensor(np.sign(t.detach().numpy()) * (1e4 if i == which else 1),
                             dtype=dtype, requires_grad=True) for i, t in enumerate(inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out_fast, grads_fast = _run(fn, inputs, True)
    out_ref, grads_ref = _run(fn, inputs, False)
    for fast, ref in zip([out_fast] + grads_fast, [out_ref] + grads_ref):
        assert np.isfinite(fast).all()
        np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("values", [
    [[1., 1.], [1., 1.]],                           # a four-way tie: the first gets it all
    [[0., 2.], [2., -1.]],                          # a tie after the first tap
    [[-np.inf, -np.inf], [-np.inf, -np.inf]],       # all -inf (a padded corner)
    [[1., np.nan], [np.nan, 3.]],                   # NaN wins, the first NaN
])
@pytest.mark.parametrize("upstream", [1.0, np.inf])
def test_first_max_equals_the_reference_at_ties_and_nan(values: list, upstream: float) -> None:
    """Ties, NaN and an infinite upstream gradient (where a masked product would leak
    inf·0 = NaN into the other taps) route exactly as the reference does."""
    got = []
    for lane in (True, False):
        with tg.fast(lane):
            x = tg.tensor([[values]], dtype=tg.float64, requires_grad=True)
            y = F.max_pool2d(x, 2)
            (y * upstream).sum().backward()
            got.append((y.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])
    assert np.count_nonzero(got[0][1]) == 1          # one tap gets the gradient


@pytest.mark.parametrize("count", [1, 4])
@pytest.mark.parametrize("dim", [0, 1, -2, 2])
def test_stack_as_one_join_equals_the_reference(dim: int, count: int) -> None:
    """Values, first and second derivatives agree; the lane records a Cat and a Reshape
    (one node when there is nothing to join), the reference a reshape per tensor and a
    Cat; a new last dim (2 here) keeps the reference in both lanes."""
    inputs = tuple(_leaf((2, 3), 30 + i) for i in range(count))
    fn = lambda *ts: tg.stack(list(ts), dim) * 1.5        # noqa: E731
    out_fast, grads_fast = _run(fn, inputs, True)
    out_ref, grads_ref = _run(fn, inputs, False)
    by_numpy = np.stack([t.detach().numpy() for t in inputs], dim) * 1.5
    np.testing.assert_array_equal(out_fast, by_numpy)
    np.testing.assert_array_equal(out_fast, out_ref)
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        np.testing.assert_array_equal(g_fast, g_ref)
    with tg.fast(True):
        assert tg.gradgradcheck(fn, inputs)
    for fast, expected in ((True, ["cat", "reshape"] if count > 1 else ["reshape"]),
                           (False, ["reshape"] * count + (["cat"] if count > 1 else []))):
        if dim == 2:                                      # a new last dim: the reference
            expected = ["reshape"] * count + (["cat"] if count > 1 else [])
        with tg.fast(fast):
            out = tg.stack(list(inputs), dim)
        names = [t.grad_fn.name for t in forward_order([out]) if t.grad_fn is not None]
        assert names == expected, (fast, names)


def test_the_composed_and_fused_lstm_gates_agree_directly() -> None:
    fn, inputs = _lstm()
    out_fast, grads_fast = _run(fn, inputs, True)
    out_ref, grads_ref = _run(fn, inputs, False)
    np.testing.assert_allclose(out_fast, out_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_fast, grads_ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_override_is_called_with_the_lane_on_and_never_off(case: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cls, method, build = CASES[case]
    calls: list = []
    original = getattr(cls, method)

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(cls, method, spy)
    fn, inputs = build()
    _run(fn, inputs, False)
    assert calls == [], f"{cls.__name__}.{method} ran with the lane off"
    _run(fn, inputs, True)
    assert calls, f"{cls.__name__}.{method} never ran with the lane on"


def test_every_override_has_cases() -> None:
    """A new entry in the registry must come with a workload here."""
    covered = {cls for cls, _, _ in CASES.values()} | {
        lstm.fused_lstm_gates, pool.first_max, allocator.tune_host_allocator, rnn.lstm_cell,
        rnn.gru_cell, rnn.rnn_cell, rnn.lstm_layer, rnn.gru_layer, rnn.rnn_layer,
        winograd.conv3x3, stacking.one_join_stack, hotpath.run_backward,     # (tested below)
        fastlane.OVERRIDES["apply"]}
    assert set(fastlane.OVERRIDES.values()) <= covered, set(fastlane.OVERRIDES.values()) - covered


@pytest.mark.parametrize("fast,tuned", [("1", True), ("0", False)])
def test_allocator_tuning_waits_for_the_first_optimizer_step(fast: str, tuned: bool) -> None:
    """Nothing changes at import; the first Optimizer.step() with the lane on tunes glibc's
    allocator, once; with TG_FAST=0 it never does (a fresh process each time)."""
    code = ("import tinygrad_edu as tg\nfrom tinygrad_edu import nn, optim\n"
            "from tinygrad_edu.fastlane import allocator\n"
            "print('import', allocator._done)\n"
            "m = nn.Linear(2, 1); opt = optim.SGD(m.parameters(), lr=0.1)\n"
            "m(tg.ones(1, 2)).sum().backward(); opt.step()\n"
            "print('step', bool(allocator._done))\n")
    env = dict(os.environ, TG_FAST=fast)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout.split("\n")
    assert out[0] == "import []"
    assert out[1] == f"step {tuned}"


def test_allocator_is_left_alone_where_pytorch_is_loaded() -> None:
    """PyTorch allocates its CPU tensors from the same glibc heap: in a process where it is
    loaded, the first lane-on step tunes nothing (a fresh process)."""
    pytest.importorskip("torch")
    code = ("import torch\nimport tinygrad_edu as tg\nfrom tinygrad_edu import nn, optim\n"
            "from tinygrad_edu.fastlane import allocator\n"
            "m = nn.Linear(2, 1); opt = optim.SGD(m.parameters(), lr=0.1)\n"
            "m(tg.ones(1, 2)).sum().backward(); opt.step()\n"
            "print(allocator._done, allocator.tune_host_allocator())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, TG_FAST="1"), timeout=120, check=True).stdout
    assert out.split("\n")[0] == "[False] False"


def test_allocator_override_is_asked_for_by_the_optimizer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list = []
    monkeypatch.setitem(tg.engine.graph._REGISTERED, "host_allocator", lambda: calls.append(1))
    m = nn.Linear(2, 1)
    opt = optim.SGD(m.parameters(), lr=0.1)
    m(tg.ones(1, 2)).sum().backward()
    with tg.fast(False):
        opt.step()
    assert calls == []
    with tg.fast(True):
        opt.step()
    assert calls == [1]


def test_tg_fast_switch_restores_and_reports() -> None:
    before = tg.is_fast()
    with tg.fast(False):
        assert not tg.is_fast()
        with tg.fast(True):
            assert tg.is_fast()
        assert not tg.is_fast()
    assert tg.is_fast() == before


def test_drawing_shows_the_plain_lstm_graph_with_the_lane_off() -> None:
    """With the lane off an LSTM's graph holds σ, tanh and ⊙; with it on, one fused node."""
    tg.manual_seed(0)
    layer = nn.LSTM(3, 4)
    x = tg.randn(5, 2, 3)
    with tg.fast(False):
        out, _ = layer(x)
    names = {t.grad_fn.name for t in forward_order([out]) if t.grad_fn}
    assert {"sigmoid", "tanh", "mul"} <= names and not names & {"lstm_gates", "lstm_layer"}
    with tg.fast(True):
        out, _ = layer(x)
    names = {t.grad_fn.name for t in forward_order([out]) if t.grad_fn}
    assert "lstm_layer" in names and not names & {"sigmoid", "tanh"}


def test_fold_in_chunks_equals_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """fold_rows_first works on a few leading items at a time; with a tiny scratch budget
    every item is its own chunk, and the sums must not change."""
    monkeypatch.setattr(fold, "SCRATCH_BYTES", 1)
    fn, inputs = FOLD_GEOMETRIES["rows first (3x3 conv)"]()
    out_fast, grads_fast = _run(fn, inputs, True)
    out_ref, grads_ref = _run(fn, inputs, False)
    np.testing.assert_allclose(grads_fast[0], grads_ref[0], rtol=1e-12, atol=1e-12)


def test_a_broken_override_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: an override that drops one tap's contribution is caught."""
    original = fold.FoldPaths.forward

    def broken(self: Any, g: Any, *args: Any, **kwargs: Any) -> Any:
        out = original(self, g, *args, **kwargs)
        out[..., 0] = 0                                   # loses the first column
        return out
    monkeypatch.setattr(fold.FoldPaths, "forward", broken)
    with pytest.raises(AssertionError):
        test_override_equals_reference("fold: rows first (3x3 conv)")


# the engine's hot path: Function.apply and the backward walk ---------------------------
class _Twice(Function):
    """A custom Function (its backward gets Tensors): z = 2x."""
    name = "twice"

    def forward(self, x: Any) -> Any:
        return x * 2

    def backward(self, g: Any) -> Any:
        return g * 2


def _hot_path_results() -> list:
    """What one workload gives: gradients of leaves and of a retained intermediate, through
    views, slices, broadcasts, saved outputs, a three-input op, a custom Function, a 0-d
    result, a second backward adding into .grad, and the two errors of a freed graph."""
    w, b, x = _leaf((4, 3), 30), _leaf((3,), 31), _leaf((2, 4), 32)
    h = (x @ w + b).tanh()
    h.retain_grad()
    v = h.reshape(-1)[2:5]                                  # a view, then a slice
    loss = (v.sigmoid() * v).sum() + tg.where(h > 0, h, h * 0.5).mean() + \
        _Twice.apply(h[1, 2]) ** 2 - (b.exp() / 3).sum()
    loss.backward()
    (w * w).sum().backward()                                # adds into w.grad
    out: list = [t.grad.numpy() for t in (w, b, x, h)]
    y = x.exp()
    s = y.sum()
    with tg.no_grad():
        y.reshape(-1).add_(1)                               # changes what Exp saved
    z = b.exp().sum()
    z.backward()
    for again in (s.backward, z.backward):                 # refused: changed, then freed
        try:
            again()
            out.append("no error")
        except RuntimeError as e:
            out.append(str(e))
    return out


def _equal(fast: list, ref: list) -> None:
    assert len(fast) == len(ref)
    for u, v in zip(fast, ref):
        if isinstance(u, str):
            assert u == v, f"the hot path differs: {u!r} against {v!r}"
        else:
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12,
                                       err_msg="the hot path differs")


def test_hot_path_equals_the_reference() -> None:
    """hotpath.apply and hotpath.run_backward give the reference's gradients and errors."""
    with tg.fast(True):
        assert vars(Function)["apply"] is graph.ACTIVE["apply"]      # swapped by the switch
        fast = _hot_path_results()
    with tg.fast(False):
        assert vars(Function)["apply"] is vars(Function)["plain_apply"]
        ref = _hot_path_results()
    assert "modified by an in-place operation" in ref[4] and "second time" in ref[5]
    _equal(fast, ref)


def _calls_into(code: Any, fn: Callable) -> int:
    """How many times ``fn()`` entered the function whose code object is ``code``, however
    it was reached (a spy on the fast code itself, not on the registry)."""
    calls = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            calls[0] += 1
    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls[0]


@pytest.mark.parametrize("fast_code", [hotpath.apply.__code__, hotpath.run_backward.__code__],
                         ids=["apply", "run_backward"])
def test_hot_path_runs_with_the_lane_on_and_never_off(fast_code: Any) -> None:
    def work() -> None:
        x = _leaf((3,), 33)
        (x * 2 + 1).tanh().sum().backward()
    with tg.fast(False):
        assert _calls_into(fast_code, work) == 0
    with tg.fast(True):
        assert _calls_into(fast_code, work) > 0


def test_a_broken_hot_path_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """An apply that gives a saved output a counter of its own (not the tensor's) misses
    the in-place change: the comparison with the reference fails."""
    def broken(cls: Any, *inputs: Any, **kwargs: Any) -> Any:
        out = hotpath.apply(cls, *inputs, **kwargs)
        if out._ctx is not None and cls.save_output:
            out._ctx.out_vc = [0, 0]
        return out
    monkeypatch.setitem(graph._REGISTERED, "apply", classmethod(broken))
    try:
        with pytest.raises(AssertionError, match="the hot path differs"):
            test_hot_path_equals_the_reference()
    finally:
        monkeypatch.undo()
        graph.set_fast(graph.is_fast())
