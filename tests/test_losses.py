"""Losses beyond the op table: hand-worked values and gradients, stability at logits of
±1e4 and probabilities 0 and 1, ignored targets, the loss modules (the same numbers as the
functions, class weights as buffers like PyTorch's), and every error message.

cross_entropy (class indices or probabilities, class weights, ignore_index, label
smoothing, spatial targets, every reduction), nll_loss, mse_loss, l1_loss,
binary_cross_entropy(_with_logits) (weight, pos_weight, logits at ±1e4) and kl_div are rows
of the op table in test_ops.py: values against NumPy formulas (the weighted mean divides by
the summed class weights), gradcheck, gradgradcheck, PyTorch parity and the CuPy
stand-in."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn
from conftest import torch_or_skip

pytestmark = pytest.mark.usefixtures("lane")      # every test: fast lane on and off

# ---------------------------------------------------------------- without torch
def test_cross_entropy_hand_value():
    # -log(e² / (e² + 2)) = log(1 + 2e⁻²)
    got = F.cross_entropy(tg.tensor([[2.0, 0.0, 0.0]]), tg.tensor([0])).item()
    assert got == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]])
    x = tg.tensor(logits, requires_grad=True)
    F.cross_entropy(x, tg.tensor([2, 0]), reduction="sum").backward()
    e = np.exp(logits - logits.max(1, keepdims=True))
    want = e / e.sum(1, keepdims=True) - np.eye(3)[[2, 0]]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_bce_with_logits_gradient_at_zero_is_half_minus_target():
    # d/dx [-(y log σ(x) + (1-y) log(1-σ(x)))] = σ(x) - y = 0.5 - y at x = 0
    x = tg.tensor([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(x, tg.tensor([0.0, 1.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5], rtol=1e-7)


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_cross_entropy_is_stable_at_huge_logits(scale):
    logits = np.array([[scale, 0.0, -scale], [0.0, scale, 1.0]], np.float32)
    x = tg.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([2, 1]))
    loss.backward()
    assert math.isfinite(loss.item())
    assert np.isfinite(x.grad.numpy()).all()
    # hand value: row 0 target logit is -scale below the max: loss = 2e4 for scale=+1e4
    want0 = (max(scale, 0, -scale) - (-scale))
    want1 = max(scale, 0, 1) - scale + math.log(sum(math.exp(v - max(scale, 0, 1))
                                                    for v in (0.0, scale, 1.0)))
    assert loss.item() == pytest.approx((want0 + want1) / 2, rel=1e-6)


def test_bce_is_finite_at_probabilities_zero_and_one():
    p = tg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, tg.tensor([0.0, 1.0, 1.0, 0.0]), reduction="none")
    loss.sum().backward()
    # log is clamped at -100 as in PyTorch: right answers cost 0, wrong ones 100
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, 100.0, 100.0], atol=1e-4)
    assert np.isfinite(p.grad.numpy()).all()


def test_sigmoid_of_huge_logit_through_bce_is_finite():
    x = tg.tensor([1e4, -1e4], requires_grad=True)
    loss = F.binary_cross_entropy(x.sigmoid(), tg.tensor([0.0, 1.0]))
    loss.backward()
    assert math.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()


def test_ignored_targets_contribute_nothing():
    x = tg.tensor([[1.0, 2.0], [5.0, -3.0], [0.3, 0.1]], requires_grad=True)
    full = F.cross_entropy(x, tg.tensor([1, -100, 0]), reduction="sum")
    part = F.cross_entropy(x[[0, 2]], tg.tensor([1, 0]), reduction="sum")
    assert full.item() == pytest.approx(part.item(), rel=1e-6)
    full.backward()
    np.testing.assert_array_equal(x.grad.numpy()[1], [0.0, 0.0])


# ---------------------------------------------------------------- the modules
def test_loss_modules_give_the_functions_numbers():
    """Each loss module, with its keyword arguments, gives what its function gives (the
    functions themselves are op-table rows with NumPy references)."""
    rng = np.random.default_rng(4)
    logits, target = tg.tensor(rng.standard_normal((5, 3))), tg.tensor([0, 2, -100, 1, 2])
    w = tg.tensor([0.5, 2.0, 1.0], dtype=tg.float64)
    p = tg.tensor(rng.uniform(0.05, 0.95, (5, 3)))
    y = tg.tensor(rng.uniform(0, 1, (5, 3)))
    pw = tg.tensor([1.0, 2.0, 0.5], dtype=tg.float64)
    cases = [
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1), F.cross_entropy(
            logits, target, w, label_smoothing=0.1), (logits, target)),
        (nn.CrossEntropyLoss(ignore_index=2, reduction="sum"), F.cross_entropy(
            logits, target.abs() % 3, ignore_index=2, reduction="sum"),
         (logits, target.abs() % 3)),
        (nn.NLLLoss(w, reduction="none"), F.nll_loss(logits, target, w, reduction="none"),
         (logits, target)),
        (nn.MSELoss(reduction="sum"), F.mse_loss(p, y, reduction="sum"), (p, y)),
        (nn.L1Loss(), F.l1_loss(p, y), (p, y)),
        (nn.BCELoss(w, reduction="none"), F.binary_cross_entropy(p, y, w, reduction="none"),
         (p, y)),
        (nn.BCEWithLogitsLoss(w, pos_weight=pw), F.binary_cross_entropy_with_logits(
            logits, y, w, pos_weight=pw), (logits, y)),
    ]
    for module, want, args in cases:
        got = module(*args)
        assert got.shape == want.shape, type(module).__name__
        np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=type(module).__name__)


# ---------------------------------------------------------------- error messages
def test_bad_reduction_is_named():
    x, t = tg.randn(3, 2), tg.tensor([0, 1, 1])
    with pytest.raises(ValueError, match="reduction must be one of .* got 'avg'"):
        F.cross_entropy(x, t, reduction="avg")
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of .* got 'avg'"):
        nn.MSELoss(reduction="avg")


def test_float_target_for_nll_is_refused():
    with pytest.raises(TypeError, match="nll_loss: target must hold int64 class indices"):
        F.nll_loss(tg.randn(3, 2), tg.tensor([0.0, 1.0, 1.0]))


def test_out_of_range_target_is_named():
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.cross_entropy(tg.randn(2, 3), tg.tensor([0, 5]))


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\).*got \(3,\)"):
        F.nll_loss(tg.randn(4, 3), tg.tensor([0, 1, 2]))


def test_class_weight_shape_is_checked():
    with pytest.raises(ValueError, match=r"weight has shape \(2,\), expected one weight per "
                                         r"class \(3,\)"):
        F.cross_entropy(tg.randn(4, 3), tg.tensor([0, 1, 2, 0]), weight=tg.ones(2))


def test_regression_shape_mismatch():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) and target shape "
                                         r"\(3,\) must match"):
        F.mse_loss(tg.randn(2, 3), tg.randn(3))


def test_bce_rejects_values_outside_zero_one():
    with pytest.raises(ValueError, match="must be probabilities in \\[0, 1\\].*with_logits"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), tg.tensor([0.0, 1.0]))


def test_loss_module_argument_errors():
    with pytest.raises(ValueError, match="label_smoothing must be between 0 and 1, got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(TypeError, match="weight must be a Tensor or None, got list"):
        nn.CrossEntropyLoss(weight=[1.0, 2.0])


def test_class_weight_is_a_buffer_like_torch():
    torch = torch_or_skip()
    w = np.array([1.0, 2.0], np.float32)
    ours = nn.CrossEntropyLoss(weight=tg.tensor(w)).state_dict()
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w)).state_dict()
    assert list(ours) == list(theirs)
    ours = nn.BCEWithLogitsLoss(pos_weight=tg.tensor(w)).state_dict()
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)).state_dict()
    assert list(ours) == list(theirs)
