"""The fused LSTM step equals the composed one (forward, gradients, second derivatives).

``tinygrad_edu.fused`` exists only because ``tools/bench.py lstm`` showed the composed
step (about 15 small ops) to be dispatch-bound; these tests are its licence.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import fused
from tinygrad_edu import recurrent as R


def _inputs(b: int = 3, h: int = 4, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [tg.tensor(rng.standard_normal(shape), dtype=tg.float64, requires_grad=True)
            for shape in ((b, 4 * h), (b, h), (b, h), (h, 4 * h))]


def test_forward_equals_composed_step() -> None:
    xw, h, c, w = _inputs()
    hf, cf = fused.lstm_step(xw, h, c, w)
    hc, cc = R.lstm_step(xw, h, c, w)
    np.testing.assert_allclose(hf.detach().numpy(), hc.detach().numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(cf.detach().numpy(), cc.detach().numpy(), rtol=0, atol=1e-14)


@pytest.mark.parametrize("weights", [(1.0, 0.0), (0.0, 1.0), (0.7, -1.3)])
def test_gradients_equal_composed_step(weights: tuple) -> None:
    a, b = weights
    grads = []
    for step in (fused.lstm_step, R.lstm_step):
        xs = _inputs()
        hn, cn = step(*xs)
        ((hn * a).sum() + (cn * cn * b).sum()).backward()
        grads.append([x.grad.numpy() for x in xs])
    for gf, gc in zip(*grads):
        np.testing.assert_allclose(gf, gc, rtol=1e-12, atol=1e-14)


def test_two_chained_steps_and_gradcheck() -> None:
    def two_steps(xw, h, c, w):
        h1, c1 = fused.lstm_step(xw, h, c, w)
        return fused.lstm_step(xw * 0.5, h1, c1, w)
    assert tg.gradcheck(two_steps, _inputs(2, 3))


def test_second_derivatives_through_the_fused_step() -> None:
    assert tg.gradgradcheck(lambda xw, h, c, w: fused.lstm_step(xw, h, c, w),
                            _inputs(2, 2, seed=1))


def test_create_graph_gradient_equals_first_order_gradient() -> None:
    xs = _inputs(seed=2)
    hn, cn = fused.lstm_step(*xs)
    loss = (hn * cn).sum()
    fast = tg.grad(loss, xs, retain_graph=True)
    graph = tg.grad(loss, xs, create_graph=True)
    for a, b in zip(fast, graph):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_in_place_change_of_saved_input_is_caught() -> None:
    xw, h, c, w = _inputs()
    c2 = c * 1.0
    hn, _ = fused.lstm_step(xw, h, c2, w)
    with tg.no_grad():
        c2.detach().add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        hn.sum().backward()
