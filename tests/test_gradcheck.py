"""gradcheck and gradgradcheck must catch wrong derivatives, and say where they are wrong.

Each test defines a custom primitive (a Function subclass) with a deliberately wrong
backward and checks that the check fails with a message naming the output and the input
that disagree.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine.graph import Function
from tinygrad_edu.gradcheck import analytical_jacobian, numerical_jacobian
from tinygrad_edu.engine.tensor import Tensor


class _Saving(Function):
    """A two-input primitive that saves both inputs (like ops.Mul)."""

    @classmethod
    def apply(cls, x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        out = super().apply(x, y)
        if out._ctx is not None:
            out._ctx.save_for_backward(x, y)
        return out


class WrongMul(_Saving):
    """z = x * y with dy = g * y (should be g * x): wrong for input 1 only."""
    name = "wrong_mul"

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, g: Tensor) -> tuple:
        x, y = self.saved
        return g * y, g * y


class SquaredUpstreamMul(_Saving):
    """z = x * y with dx = g² * y: right for every one-hot upstream gradient (1² = 1,
    0² = 0), wrong for a general one: only the random-v vector-Jacobian product sees it."""
    name = "squared_upstream_mul"

    def forward(self, x: Any, y: Any) -> Any:
        return x * y

    def backward(self, g: Tensor) -> tuple:
        x, y = self.saved
        return g * g * y, g * x


class FlatSquare(Function):
    """z = x² with a correct first derivative computed on raw arrays: the gradient is a
    constant, so its own derivative (2) is lost. Only gradgradcheck notices."""
    name = "flat_square"

    def forward(self, x: Any) -> Any:
        self.x = x
        return x * x

    def backward(self, g: Tensor) -> Tensor:
        return (g * Tensor(self.x, device=g.device) * 2).detach()


class SlightlyOff(Function):
    """z = 3x with dx = (3 + delta) g."""
    name = "slightly_off"
    delta = 0.0

    def forward(self, x: Any) -> Any:
        return x * 3

    def backward(self, g: Tensor) -> Tensor:
        return g * (3 + self.delta)


def _inputs(*shapes: tuple, seed: int = 0) -> list[Tensor]:
    rng = np.random.default_rng(seed)
    return [tg.tensor(rng.uniform(0.5, 1.5, s), dtype=tg.float64, requires_grad=True)
            for s in shapes]


def test_correct_primitives_pass() -> None:
    x, y = _inputs((2, 3), (3,))
    assert tg.gradcheck(lambda a, b: (a * b).tanh() / (b + 1), (x, y))
    assert tg.gradgradcheck(lambda a, b: (a * b).tanh() / (b + 1), (x, y))


def test_wrong_backward_names_output_0_and_input_1() -> None:
    x, y = _inputs((2, 2), (2, 2))
    with pytest.raises(AssertionError, match=r"Jacobian mismatch for output 0 with respect to "
                                             r"input 1: 4 of 16 entries differ"):
        tg.gradcheck(lambda a, b: WrongMul.apply(a, b), (x, y))


def test_wrong_backward_in_a_second_output_names_output_1() -> None:
    x, y = _inputs((3,), (3,))
    with pytest.raises(AssertionError, match="Jacobian mismatch for output 1 with respect to "
                                             "input 1"):
        tg.gradcheck(lambda a, b: (a * b, WrongMul.apply(a, b)), (x, y))


def test_mismatch_message_gives_the_numbers() -> None:
    x, y = _inputs((1,), (1,))
    with pytest.raises(AssertionError) as info:
        tg.gradcheck(lambda a, b: WrongMul.apply(a, b), (x, y))
    msg = str(info.value)
    # d(xy)/dy = x numerically; the wrong backward gives y
    assert f"numerical {x.item():.8g}" in msg and f"analytical {y.item():.8g}" in msg


def test_the_random_upstream_gradient_catches_what_one_hot_rows_miss() -> None:
    x, y = _inputs((2, 3), (2, 3))
    num = numerical_jacobian(lambda a, b: SquaredUpstreamMul.apply(a, b), (x, y))
    ana = analytical_jacobian(lambda a, b: SquaredUpstreamMul.apply(a, b), (x, y))
    np.testing.assert_allclose(ana[0][0], num[0][0], atol=1e-6)     # rows look right ...
    with pytest.raises(AssertionError, match=r"vector-Jacobian product mismatch with respect "
                                             r"to input 0 for a random upstream gradient"):
        tg.gradcheck(lambda a, b: SquaredUpstreamMul.apply(a, b), (x, y))   # ... but vᵀJ isn't


def test_gradgradcheck_catches_a_non_differentiable_backward() -> None:
    (x,) = _inputs((3,))
    assert tg.gradcheck(lambda a: FlatSquare.apply(a), (x,))
    with pytest.raises(AssertionError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0"):
        tg.gradgradcheck(lambda a: FlatSquare.apply(a), (x,))


@pytest.mark.parametrize("delta,ok", [(1e-8, True), (1e-2, False)])
def test_tolerance_is_atol_plus_rtol_times_numerical(delta: float, ok: bool) -> None:
    SlightlyOff.delta = delta
    try:
        (x,) = _inputs((4,))
        assert tg.gradcheck(lambda a: SlightlyOff.apply(a), (x,), raise_exception=False) is ok
    finally:
        SlightlyOff.delta = 0.0


def test_numerical_jacobian_of_a_known_function() -> None:
    """f(x) = x² elementwise: J = diag(2x)."""
    x = tg.tensor([1.0, -2.0, 0.5], dtype=tg.float64, requires_grad=True)
    (row,) = numerical_jacobian(lambda a: a * a, (x,))
    np.testing.assert_allclose(row[0], np.diag([2.0, -4.0, 1.0]), atol=1e-8)
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, -2.0, 0.5])   # restored


def test_non_contiguous_inputs_are_perturbed_correctly() -> None:
    base = np.asfortranarray(np.arange(6.0).reshape(2, 3) + 1)
    x = tg.from_numpy(base).requires_grad_()
    (row,) = numerical_jacobian(lambda a: a * 3, (x,))
    np.testing.assert_allclose(row[0], np.eye(6) * 3, atol=1e-8)
    assert tg.gradcheck(lambda a: (a * a).sum(1), (x,))


def test_gradcheck_needs_float64() -> None:
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=r"gradcheck: inputs\[0\] has dtype float32; central "
                                        r"differences need float64 inputs"):
        tg.gradcheck(lambda a: a * 2, (x,))
    with pytest.raises(TypeError, match=r"gradgradcheck: inputs\[0\] has dtype float32"):
        tg.gradgradcheck(lambda a: a * 2, (x,))
    with pytest.raises(TypeError, match=r"gradcheck: inputs\[0\] must be a Tensor, got list"):
        tg.gradcheck(lambda a: a, ([1.0],))


def test_inputs_without_grad_are_skipped() -> None:
    x = _inputs((3,))[0]
    c = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)
    assert tg.gradcheck(lambda a, b: a * b, (x, c))
    assert tg.gradgradcheck(lambda a, b: (a * b).exp(), (x, c))
