"""Autograd semantics: backward/grad signatures, graph freeing, accumulation, no_grad,
version counters, deep graphs, unused inputs, and every error message."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import torch_or_skip

import tinygrad_edu as tg


# ---------------------------------------------------------------- backward
def test_backward_of_a_scalar_hand_derived() -> None:
    """y = Σ (x·w)² -> dy/dx = 2 (x·w) w, dy/dw = 2 (x·w) x."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    ((x * w) ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 4.0, 24.0])
    np.testing.assert_allclose(w.grad.numpy(), [1.0, -8.0, 36.0])
    assert x.grad.requires_grad is False and x.grad.grad_fn is None


def test_backward_with_an_explicit_gradient() -> None:
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 3
    y.backward(gradient=tg.tensor([[1.0, 0.0], [2.0, -1.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[3, 0], [6, -3]])


def test_backward_needs_a_gradient_for_a_non_scalar() -> None:
    y = tg.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: grad can be implicitly created only for "
                                           r"a scalar output, but output 0 has shape \(2, 3\)"):
        y.backward()


def test_backward_gradient_shape_must_match() -> None:
    y = tg.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"backward: gradient has shape \(3, 2\) but output 0 "
                                           r"has shape \(2, 3\)"):
        y.backward(tg.ones(3, 2))


def test_backward_of_a_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match=r"backward: output 0 \(shape \(\)\) does not require "
                                           r"grad"):
        (tg.ones(3) * 2).sum().backward()
    x = tg.ones(3, requires_grad=True)
    with tg.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="made under no_grad"):
        y.backward()


def test_leaf_gradients_accumulate() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_a_tensor_used_twice_gets_both_gradients() -> None:
    x = tg.tensor(3.0, requires_grad=True)
    y = x * x + x            # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == 7.0


def test_broadcast_gradients_are_reduced_to_each_input_shape() -> None:
    a = tg.ones(4, 1, 3, requires_grad=True)
    b = tg.ones(2, 1, requires_grad=True)
    c = tg.tensor(2.0, requires_grad=True)
    ((a + b) * c).sum().backward()           # result (4, 2, 3)
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (2, 1) and c.grad.shape == ()
    np.testing.assert_allclose(a.grad.numpy(), np.full((4, 1, 3), 4.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full((2, 1), 24.0))
    assert c.grad.item() == 48.0


def test_unreached_inputs_get_none_from_backward() -> None:
    a = tg.tensor(1.0, requires_grad=True)
    b = tg.tensor(2.0, requires_grad=True)
    (a * 2).backward()
    assert a.grad.item() == 2.0
    assert b.grad is None


def test_non_leaf_grad_only_when_retained() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h2 = (x * 3).retain_grad()
    (h * h2).sum().backward()
    assert h.grad is None
    np.testing.assert_allclose(h2.grad.numpy(), [2, 4])
    assert not h.is_leaf and x.is_leaf


def test_module_level_backward_function() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y1, y2 = x * 2, x * x
    tg.backward([y1, y2], [tg.ones(2), tg.tensor([1.0, 10.0])])
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2, 2 + 40])


# ---------------------------------------------------------------- graph freeing
def test_second_backward_through_a_freed_graph_raises() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"backward through the graph a second time.*"
                                           r"retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_grad_frees_the_graph_unless_retained() -> None:
    x = tg.tensor(2.0, requires_grad=True)
    y = x.exp()
    tg.grad(y, [x], retain_graph=True)
    tg.grad(y, [x])
    with pytest.raises(RuntimeError, match="second time"):
        tg.grad(y, [x])


def test_freed_graph_releases_saved_tensors() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    assert len(y.grad_fn.saved) == 2
    y.sum().backward()
    assert not y.grad_fn.saved          # the saved inputs are released (None)


# ---------------------------------------------------------------- tg.grad
def test_grad_returns_without_touching_dot_grad() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    gx, gw = tg.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), [3, 4])
    np.testing.assert_allclose(gw.numpy(), [1, 2])
    assert x.grad is None and w.grad is None


def test_grad_with_grad_outputs_and_a_single_input() -> None:
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = tg.grad(x * x, x, grad_outputs=tg.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(g.numpy(), [2, 0, -6])


def test_grad_allow_unused_gives_zeros_else_raises() -> None:
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.ones(3, requires_grad=True)
    ga, gb = tg.grad((a * 2).sum(), [a, b], allow_unused=True)
    np.testing.assert_allclose(ga.numpy(), [2, 2])
    np.testing.assert_array_equal(gb.numpy(), np.zeros(3))
    assert gb.shape == (3,) and gb.dtype == tg.float32
    with pytest.raises(RuntimeError, match=r"grad: inputs\[1\] \(shape \(3,\)\) was not used to "
                                           r"compute the outputs; pass allow_unused=True"):
        tg.grad((a * 2).sum(), [a, b])


def test_grad_rejects_bad_inputs() -> None:
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"grad: inputs\[0\] must be a Tensor, got list"):
        tg.grad((x * 2).sum(), [[1.0]])
    with pytest.raises(RuntimeError, match=r"grad: inputs\[1\] \(shape \(2,\)\) does not "
                                           r"require grad"):
        tg.grad((x * 2).sum(), [x, tg.ones(2)])


def test_second_derivative_with_create_graph() -> None:
    """y = x³: dy/dx = 3x² = 27 at x=3, d²y/dx² = 6x = 18, d³y/dx³ = 6."""
    x = tg.tensor(3.0, dtype=tg.float64, requires_grad=True)
    (d1,) = tg.grad(x ** 3, [x], create_graph=True)
    assert d1.requires_grad and d1.item() == 27.0
    (d2,) = tg.grad(d1, [x], create_graph=True)
    assert d2.item() == pytest.approx(18.0)
    (d3,) = tg.grad(d2, [x])
    assert d3.item() == pytest.approx(6.0)


def test_backward_create_graph_makes_grad_differentiable() -> None:
    """x.grad = d(sin x · x)/dx = cos x · x + sin x, then its derivative is
    -sin x · x + 2 cos x."""
    x = tg.tensor(0.7, dtype=tg.float64, requires_grad=True)
    (x.sin() * x).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.item(), np.cos(0.7) * 0.7 + np.sin(0.7))
    (d2,) = tg.grad(g, [x])
    np.testing.assert_allclose(d2.item(), -np.sin(0.7) * 0.7 + 2 * np.cos(0.7))


def test_hessian_vector_product_matches_torch() -> None:
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    xs, vs = rng.standard_normal(4), rng.standard_normal(4)

    def f(m, x):   # works for both libraries
        return ((x * x).sum().tanh() + x.sigmoid().log().sum()) * x.exp().mean()
    x = tg.tensor(xs, dtype=tg.float64, requires_grad=True)
    (g,) = tg.grad(f(None, x), [x], create_graph=True)
    (hv,) = tg.grad((g * tg.tensor(vs, dtype=tg.float64)).sum(), [x])
    tx = torch.tensor(xs, requires_grad=True)
    (tgd,) = torch.autograd.grad(f(None, tx), [tx], create_graph=True)
    (thv,) = torch.autograd.grad((tgd * torch.tensor(vs)).sum(), [tx])
    np.testing.assert_allclose(g.detach().numpy(), tgd.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(hv.numpy(), thv.numpy(), rtol=1e-10)


# ---------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_enable_grad_reenables() -> None:
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator_and_set_grad_enabled() -> None:
    x = tg.ones(2, requires_grad=True)

    @tg.no_grad()
    def step() -> tg.Tensor:
        return x * 2

    assert not step().requires_grad
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_restores_mode_after_an_exception() -> None:
    with pytest.raises(ValueError):
        with tg.no_grad():
            raise ValueError("boom")
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x.detach()).sum()               # d/dx treats the detached copy as a constant
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 2.0])


# ---------------------------------------------------------------- deep graphs
def test_a_10000_op_chain_backpropagates_without_recursion() -> None:
    x = tg.tensor(1.0, dtype=tg.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 10_000, rel=1e-9)


def test_a_5000_step_recurrence_matches_hand_written_bptt() -> None:
    """h_t = tanh(w·h_{t-1} + x_t), loss = h_T. BPTT by hand in NumPy:
    dh_{t-1} = dh_t · (1 - h_t²) · w,  dw += dh_t · (1 - h_t²) · h_{t-1}."""
    steps = 5000
    xs = np.random.default_rng(0).uniform(-0.5, 0.5, steps)
    w = tg.tensor(0.9, dtype=tg.float64, requires_grad=True)
    h = tg.tensor(0.0, dtype=tg.float64)
    xt = tg.tensor(xs)
    for t in range(steps):
        h = (w * h + xt[t]).tanh()
    h.backward()
    hs = [0.0]
    for t in range(steps):
        hs.append(np.tanh(0.9 * hs[-1] + xs[t]))
    dh, dw = 1.0, 0.0
    for t in range(steps, 0, -1):
        da = dh * (1 - hs[t] ** 2)
        dw += da * hs[t - 1]
        dh = da * 0.9
    assert h.item() == pytest.approx(hs[-1], rel=1e-12)
    assert w.grad.item() == pytest.approx(dw, rel=1e-9)


# ---------------------------------------------------------------- in-place and versions
def test_modifying_a_saved_tensor_in_place_makes_backward_raise() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h * h                                   # saves h
    with tg.no_grad():
        h.mul_(10)
    with pytest.raises(RuntimeError, match=r"backward: a tensor of shape \(2,\) saved by op "
                                           r"'mul' for its gradient was modified by an in-place "
                                           r"operation after it was saved \(it is at version 1 now\)"):
        y.sum().backward()


def test_modifying_the_base_of_a_saved_view_is_detected() -> None:
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    base = x * 1
    v = base.reshape(4)
    y = (v * v).sum()                          # saves the view
    with tg.no_grad():
        base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid"])
def test_modifying_a_saved_output_in_place_makes_backward_raise(op: str) -> None:
    """exp, tanh and sigmoid keep their *output* for the gradient (e**x, 1 - z², z(1 - z))."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = getattr(x, op)()
    loss = y.sum()
    with tg.no_grad():
        y.detach().mul_(0)                     # a view of y: same memory, same version counter
    with pytest.raises(RuntimeError, match=rf"backward: the output of shape \(2,\) saved by "
                                           rf"op '{op}' for its gradient was modified by an "
                                           r"in-place operation after it was saved \(it is at "
                                           r"version 1 now\)"):
        loss.backward()


def test_in_place_on_a_leaf_that_requires_grad_raises_under_grad_mode() -> None:
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad can't be "
                                           r"modified in place while grad mode is on"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="__setitem__: a leaf tensor"):
        w[0] = 5.0
    with tg.no_grad():
        w.add_(1)
    np.testing.assert_array_equal(w.detach().numpy(), [2, 2, 2])
    assert w._version == 1


def test_in_place_without_saved_use_is_fine() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x + 1                                  # add saves nothing
    y = h.sum()
    with tg.no_grad():
        h.mul_(3)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


# ---------------------------------------------------------------- other errors
def test_requires_grad_only_for_floats() -> None:
    with pytest.raises(RuntimeError, match=r"requires_grad_: only floating-point tensors can "
                                           r"require gradients, this one has dtype int64"):
        tg.tensor([1, 2], requires_grad=True)


def test_requires_grad_false_on_a_non_leaf_raises() -> None:
    y = tg.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="can't turn off requires_grad of a non-leaf"):
        y.requires_grad_(False)


def test_numpy_on_a_tensor_that_requires_grad_raises() -> None:
    with pytest.raises(RuntimeError, match=r"use tensor.detach\(\).numpy\(\)"):
        tg.ones(2, requires_grad=True).numpy()


def test_item_of_a_multi_element_tensor_raises() -> None:
    with pytest.raises(ValueError, match=r"item: only one-element tensors .* shape \(2,\)"):
        tg.ones(2).item()


def test_grad_with_respect_to_an_intermediate_tensor() -> None:
    """y = Σ h², h = 3x: dy/dh = 2h, dy/dx = 18x."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    gh, gx = tg.grad((h * h).sum(), [h, x])
    np.testing.assert_allclose(gh.numpy(), [6, 12])
    np.testing.assert_allclose(gx.numpy(), [18, 36])


def test_retain_grads_keeps_every_intermediate_gradient() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    with tg.retain_grads():
        y.backward()
    np.testing.assert_allclose(h.grad.numpy(), [6, 12])
    assert y.grad.item() == 1.0
    np.testing.assert_allclose(x.grad.numpy(), [18, 36])


def test_in_place_change_before_saving_is_fine_and_after_is_caught() -> None:
    """The check compares *when* a tensor changed with when the op saved it."""
    a = tg.tensor([1.0, 2.0])
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    with tg.no_grad():
        a.add_(1.0)                           # before it is saved: harmless
    (a * w).sum().backward()
    assert w.grad.tolist() == [2.0, 3.0]
    y = (a * w).sum()
    with tg.no_grad():
        a.mul_(2.0)                           # after it is saved: the gradient would be wrong
    with pytest.raises(RuntimeError, match="modified by an in-place operation after it was saved"):
        y.backward()


def test_contiguous_copies_only_a_strided_tensor() -> None:
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.contiguous() is x
    t = x.T                                     # a transposed view
    c = t.contiguous()
    assert c is not t and c.data.flags.c_contiguous
    np.testing.assert_array_equal(c.detach().numpy(), np.arange(6.0).reshape(2, 3).T)
    (c * tg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
